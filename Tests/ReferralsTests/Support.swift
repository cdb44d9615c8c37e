import Foundation
import Testing

@testable import Referrals

/// The start of most test cases: 2026-03-01T08:00:00Z.
let t0 = Timestamp.parse("2026-03-01T08:00:00Z")!

func at(hours: Double) -> Date { t0.addingTimeInterval(hours * 3600) }
func at(days: Double) -> Date { t0.addingTimeInterval(days * 86_400) }

/// `date` plus `days` calendar days in Europe/Belgrade (the default ruleset's zone): the same
/// local time of day, 23 or 25 hours for a day across a DST change.
func belgrade(_ date: Date, days: Int) -> Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "Europe/Belgrade")!
    return calendar.date(byAdding: .day, value: days, to: date)!
}

let adultOpening: JSONValue = [
    "identificationStatus": "presumed",
    "profile": ["sex": "female", "ageBand": "18-24", "child": false, "nationality": "XK", "exploitation": ["sexual"]],
]

let childOpening: JSONValue = [
    "identificationStatus": "potential",
    "profile": [
        "sex": "male", "ageBand": "12-14", "child": true, "nationality": "AL", "exploitation": ["forced-begging"],
    ],
]

/// Appends events to one case through ``CaseAdmission`` and the fold, as the service would.
struct CaseScript {
    var caseId = "KS-2026-000001"
    var state: CaseState?
    var events: [CaseEvent] = []
    var rng = SplitMix64(seed: 7)
    var now: Date

    init(now: Date = at(days: 400)) { self.now = now }

    /// The registry admission checks against (the demo institutions unless a test adds some).
    var registered = Institution.demo

    var context: AdmissionContext { AdmissionContext(registered: registered, now: now) }

    /// Admits and applies; throws what admission throws.
    @discardableResult
    mutating func append(_ institution: String, _ type: String, _ data: JSONValue = [:], at date: Date)
        throws(ReferralsError)
        -> CaseEvent
    {
        let event = try CaseAdmission.admit(
            principal: .institution(institution, user: "user-1"), caseId: caseId, state: state, id: rng.nextUUID(),
            type: type, data: data, occurredAt: date, context: context)
        state = CaseState.applying(event, to: state, caseId: caseId)
        events.append(event)
        return event
    }

    /// Admission's verdict without applying.
    func attempt(_ principal: Principal, _ type: String, _ data: JSONValue = [:], at date: Date? = nil)
        -> ReferralsError?
    {
        var copy = rng
        do {
            _ = try CaseAdmission.admit(
                principal: principal, caseId: caseId, state: state, id: copy.nextUUID(), type: type, data: data,
                occurredAt: date ?? events.last?.occurredAt ?? t0, context: context)
            return nil
        } catch {
            return error
        }
    }

    /// A case opened by police with referral R-1 to OPAV issued (and optionally further steps).
    static func withReferral(urgency: String = "routine", child: Bool = false) throws -> CaseScript {
        var script = CaseScript()
        try script.append("kp-dthb", "CaseOpened", child ? childOpening : adultOpening, at: t0)
        try script.append(
            "kp-dthb", "ReferralIssued",
            ["referralId": "R-1", "to": "opav", "purpose": "victim-advocacy", "urgency": .string(urgency)],
            at: at(hours: 1))
        return script
    }
}

/// Compares a thrown error's code and field.
func expectError(
    _ error: ReferralsError?, _ code: ReferralsError.Code, _ field: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error else {
        Issue.record(
            "expected \(code.rawValue) at \(field ?? "-"), but it was admitted", sourceLocation: sourceLocation)
        return
    }
    #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    if let field { #expect(error.field == field, "\(error)", sourceLocation: sourceLocation) }
}
