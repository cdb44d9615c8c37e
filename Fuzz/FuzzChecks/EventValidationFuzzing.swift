import Foundation
import Referrals

/// The fuzz check of JSON parsing and case-event validation.
///
/// The input is parsed with ``JSONValue/parse(_:maxDepth:)``. A parsed value must serialize
/// to text that parses back to an equal value and serializes to the same bytes (compact and
/// sorted-keys). When the value is an object it is taken as the `data` of an event of every
/// case event type: ``CaseEventBody/decode(type:data:)`` must either fail with
/// `invalid_event` or give a body whose `data` decodes to the same body; and
/// ``CaseAdmission/admit(principal:caseId:state:id:type:data:occurredAt:context:)`` runs against
/// a missing case and a fixed synthetic case (open and closed) as the opener and two referral
/// recipients. An object of the form `{"type": …, "data": …, "occurredAt": …}` is also admitted
/// as that event. Everything here is synthetic; no input reaches a database.
public enum EventValidationFuzzing {
    public static func check(_ input: [UInt8]) throws(InvariantViolation) {
        let value: JSONValue
        do {
            value = try JSONValue.parse(input)
        } catch {
            try expect(error.code == .invalidJSON, "parse failed with \(error.code), not invalid_json")
            return
        }
        try checkRoundTrip(value)
        guard case .object(let object) = value else { return }

        for type in CaseEventType.allCases {
            try checkDecode(type: type, data: value)
            try checkAdmission(type: type.rawValue, data: value, occurredAt: FixedCase.now)
        }
        if case .string(let type)? = object["type"], let data = object["data"] {
            var occurredAt = FixedCase.now
            if case .string(let text)? = object["occurredAt"] {
                guard let parsed = Timestamp.parse(text) else { return }
                occurredAt = parsed
            }
            try checkAdmission(type: type, data: data, occurredAt: occurredAt)
        }
    }

    static func checkRoundTrip(_ value: JSONValue) throws(InvariantViolation) {
        for sortedKeys in [false, true] {
            let text = value.serialized(sortedKeys: sortedKeys)
            let reparsed: JSONValue
            do {
                reparsed = try JSONValue.parse(text)
            } catch {
                throw InvariantViolation("serialized JSON (sortedKeys \(sortedKeys)) does not parse: \(error)")
            }
            try expect(reparsed == value, "serialize → parse (sortedKeys \(sortedKeys)) changed the value")
            try expect(
                reparsed.serialized(sortedKeys: sortedKeys) == text,
                "serialize → parse → serialize (sortedKeys \(sortedKeys)) changed the bytes")
        }
    }

    static func checkDecode(type: CaseEventType, data: JSONValue) throws(InvariantViolation) {
        let body: CaseEventBody
        do {
            body = try CaseEventBody.decode(type: type, data: data)
        } catch {
            try expect(error.code == .invalidEvent, "\(type.rawValue): decode failed with \(error.code)")
            return
        }
        try expect(body.type == type, "\(type.rawValue): decoded a \(body.type.rawValue)")
        // Documented on CaseEventBody.data.
        do {
            let again = try CaseEventBody.decode(type: body.type, data: body.data)
            try expect(again == body, "\(type.rawValue): decode(data) of a decoded body differs")
        } catch let error as ReferralsError {
            throw InvariantViolation("\(type.rawValue): the data of a decoded body does not decode: \(error)")
        } catch let violation as InvariantViolation {
            throw violation
        } catch {
            throw InvariantViolation("unexpected error \(error)")
        }
    }

    static let admissionCodes: Set<ReferralsError.Code> = [.invalidEvent, .forbidden, .notFound, .wrongExpectedVersion]

    static func checkAdmission(type: String, data: JSONValue, occurredAt: Date) throws(InvariantViolation) {
        let attempts: [(CaseState?, String)] = [
            (nil, "kp-dthb"), (FixedCase.open, "kp-dthb"), (FixedCase.open, "opav"),
            (FixedCase.open, "isf"), (FixedCase.closed, "kp-dthb"),
        ]
        for (state, institution) in attempts {
            let event: CaseEvent
            do {
                event = try CaseAdmission.admit(
                    principal: .institution(institution, user: "officer-1"), caseId: FixedCase.caseId,
                    state: state, id: FixedCase.eventId(100), type: type, data: data, occurredAt: occurredAt,
                    context: FixedCase.context)
            } catch {
                try expect(admissionCodes.contains(error.code), "\(type): admission failed with \(error.code)")
                continue
            }
            try expect(event.type.rawValue == type, "\(type): admitted as \(event.type.rawValue)")
            try expect(event.actor.institution == institution, "\(type): admitted for another actor")
            let folded = CaseState.applying(event, to: state, caseId: FixedCase.caseId)
            try expect(
                folded?.version == (state?.version ?? 0) + 1, "\(type): the fold did not take the admitted event")
        }
    }
}
