import Foundation

/// The banded, pseudonymous profile recorded when a case is opened. Never a name, a date of
/// birth, an address or a story.
public struct Profile: Sendable, Hashable {
    public var sex: Sex
    public var ageBand: AgeBand
    /// Whether the person is a child; must agree with `ageBand` unless the band is `unknown`.
    public var child: Bool
    /// ISO 3166-1 alpha-2 (see ``CountryCodes``).
    public var nationality: String
    /// Forms of exploitation, each at most once (may be empty while unknown).
    public var exploitation: [Exploitation]

    public init(sex: Sex, ageBand: AgeBand, child: Bool, nationality: String, exploitation: [Exploitation]) {
        self.sex = sex
        self.ageBand = ageBand
        self.child = child
        self.nationality = nationality
        self.exploitation = exploitation
    }
}

/// The typed `data` of a case event: what a JSON body becomes once it passed
/// ``CaseEventBody/decode(type:data:)``.
///
/// Field rules common to all: unknown fields are rejected, codes come from the lists in
/// `Codes.swift`, and the vocabulary has no free-text field — reasons and outcomes are codes,
/// because text typed under time pressure is where names and stories slip in.
public enum CaseEventBody: Sendable, Hashable {
    /// `{identificationStatus: presumed|potential|identified, profile: {...}}`
    case caseOpened(identificationStatus: IdentificationStatus, profile: Profile)
    /// `{referralId, to, purpose, urgency?}`; `urgency` defaults to `routine`.
    case referralIssued(
        referralId: String, to: String, purpose: ReferralPurpose, urgency: Urgency,
        consentOverride: ConsentOverrideReason? = nil)
    /// `{referralId}`
    case referralAcknowledged(referralId: String)
    /// `{referralId}`
    case referralAccepted(referralId: String)
    /// `{referralId, reason}`
    case referralDeclined(referralId: String, reason: DeclineReason)
    /// `{referralId, outcome}`
    case referralCompleted(referralId: String, outcome: CompletionOutcome)
    /// `{referralId, reason}`: the issuer takes the referral back (sent in error, no longer needed).
    case referralWithdrawn(referralId: String, reason: WithdrawalReason)
    /// `{level}`
    case riskAssessed(level: RiskLevel)
    /// `{status}`
    case identificationStatusChanged(status: IdentificationStatus)
    /// `{purpose, recipients: [institution], given}`
    case consentRecorded(purpose: ConsentPurpose, recipients: [String], given: Bool)
    /// `{}`
    case guardianAppointed
    /// `{days?}`: 1–365; absent means the rule's default (90 in the Kosovo ruleset).
    case reflectionPeriodStarted(days: Int?)
    /// `{outcome}`
    case reflectionPeriodEnded(outcome: ReflectionOutcome)
    /// `{}`
    case caseReviewed
    /// `{reason}`
    case caseClosed(reason: ClosureReason)
    /// `{reason}`
    case caseReopened(reason: ReopenReason)
    /// `{correctsEventId, reason, correction}`: `correction` is a partial `data` object of the
    /// corrected event, merged over it (objects merge, other values replace).
    case recordCorrected(correctsEventId: UUID, reason: CorrectionReason, correction: JSONObject)

    /// The event type of this body.
    public var type: CaseEventType {
        switch self {
        case .caseOpened: .caseOpened
        case .referralIssued: .referralIssued
        case .referralAcknowledged: .referralAcknowledged
        case .referralAccepted: .referralAccepted
        case .referralDeclined: .referralDeclined
        case .referralCompleted: .referralCompleted
        case .referralWithdrawn: .referralWithdrawn
        case .riskAssessed: .riskAssessed
        case .identificationStatusChanged: .identificationStatusChanged
        case .consentRecorded: .consentRecorded
        case .guardianAppointed: .guardianAppointed
        case .reflectionPeriodStarted: .reflectionPeriodStarted
        case .reflectionPeriodEnded: .reflectionPeriodEnded
        case .caseReviewed: .caseReviewed
        case .caseClosed: .caseClosed
        case .caseReopened: .caseReopened
        case .recordCorrected: .recordCorrected
        }
    }

    /// The referral this event is about, if any.
    public var referralId: String? {
        switch self {
        case .referralIssued(let id, _, _, _, _), .referralAcknowledged(let id), .referralAccepted(let id),
            .referralDeclined(let id, _), .referralCompleted(let id, _), .referralWithdrawn(let id, _):
            id
        default: nil
        }
    }

    /// Decodes and structurally validates the `data` of a case event of type `type`.
    ///
    /// Checks everything that needs no context: the type is known, `data` is an object, every
    /// field is present with the right JSON type, codes are in their lists, nationality is an
    /// ISO 3166-1 alpha-2 code, ids have their format, and no unknown field is present. Context
    /// (does the referral exist? is the recipient registered?) is ``CaseAdmission``'s job.
    ///
    /// - Throws: ``ReferralsError`` with code `invalid_event` and `field` such as `type`,
    ///   `data.profile.nationality` or `data.recipients[1]`.
    public static func decode(type: String, data: JSONValue) throws(ReferralsError) -> CaseEventBody {
        guard let eventType = CaseEventType(rawValue: type) else {
            throw .invalidEvent("type", "is not a known case event type")
        }
        return try decode(type: eventType, data: data)
    }

    /// ``decode(type:data:)`` for an already known type.
    public static func decode(type: CaseEventType, data: JSONValue) throws(ReferralsError) -> CaseEventBody {
        var r = try FieldReader(data, path: "data")
        let body: CaseEventBody
        switch type {
        case .caseOpened:
            let status = try r.code("identificationStatus", IdentificationStatus.self)
            guard status != .notAVictim else {
                throw r.error("identificationStatus", "must be presumed, potential or identified when a case is opened")
            }
            var p = try r.object("profile")
            let sex = try p.code("sex", Sex.self)
            let ageBand = try p.code("ageBand", AgeBand.self)
            let child = try p.bool("child")
            if let bandIsChild = ageBand.isChild, bandIsChild != child {
                throw p.error("child", "does not agree with ageBand")
            }
            let nationality = try p.string("nationality", maxLength: 2)
            guard CountryCodes.isValidNationality(nationality) else {
                throw p.error("nationality", "must be an ISO 3166-1 alpha-2 code such as XK or AL")
            }
            let exploitation = try p.codeList("exploitation", Exploitation.self, allowEmpty: true)
            try p.finish()
            body = .caseOpened(
                identificationStatus: status,
                profile: Profile(
                    sex: sex, ageBand: ageBand, child: child, nationality: nationality, exploitation: exploitation))
        case .referralIssued:
            let id = try referralId(&r)
            let to = try institutionId(&r, "to")
            let purpose = try r.code("purpose", ReferralPurpose.self)
            let urgency = try r.optionalCode("urgency", Urgency.self) ?? .routine
            var override: ConsentOverrideReason?
            if r.object["consentOverride"] != nil {
                var o = try r.object("consentOverride")
                override = try o.code("reason", ConsentOverrideReason.self)
                try o.finish()
            }
            body = .referralIssued(
                referralId: id, to: to, purpose: purpose, urgency: urgency, consentOverride: override)
        case .referralAcknowledged:
            body = .referralAcknowledged(referralId: try referralId(&r))
        case .referralAccepted:
            body = .referralAccepted(referralId: try referralId(&r))
        case .referralDeclined:
            let id = try referralId(&r)
            body = .referralDeclined(referralId: id, reason: try r.code("reason", DeclineReason.self))
        case .referralCompleted:
            let id = try referralId(&r)
            body = .referralCompleted(referralId: id, outcome: try r.code("outcome", CompletionOutcome.self))
        case .referralWithdrawn:
            let id = try referralId(&r)
            body = .referralWithdrawn(referralId: id, reason: try r.code("reason", WithdrawalReason.self))
        case .riskAssessed:
            body = .riskAssessed(level: try r.code("level", RiskLevel.self))
        case .identificationStatusChanged:
            body = .identificationStatusChanged(status: try r.code("status", IdentificationStatus.self))
        case .consentRecorded:
            let purpose = try r.code("purpose", ConsentPurpose.self)
            let elements = try r.array("recipients", maxCount: 64)
            guard !elements.isEmpty else { throw r.error("recipients", "must not be empty") }
            var recipients: [String] = []
            for (i, element) in elements.enumerated() {
                let path = "data.recipients[\(i)]"
                guard let id = element.stringValue, Identifiers.isValidInstitutionId(id) else {
                    throw .invalidEvent(path, "must be an institution id")
                }
                guard !recipients.contains(id) else { throw .invalidEvent(path, "is listed twice") }
                recipients.append(id)
            }
            body = .consentRecorded(purpose: purpose, recipients: recipients, given: try r.bool("given"))
        case .guardianAppointed:
            body = .guardianAppointed
        case .reflectionPeriodStarted:
            body = .reflectionPeriodStarted(days: try r.optionalInt("days", in: 1...365))
        case .reflectionPeriodEnded:
            body = .reflectionPeriodEnded(outcome: try r.code("outcome", ReflectionOutcome.self))
        case .caseReviewed:
            body = .caseReviewed
        case .caseClosed:
            body = .caseClosed(reason: try r.code("reason", ClosureReason.self))
        case .caseReopened:
            body = .caseReopened(reason: try r.code("reason", ReopenReason.self))
        case .recordCorrected:
            let idText = try r.string("correctsEventId", maxLength: 36)
            guard let id = UUID(uuidString: idText) else { throw r.error("correctsEventId", "must be a UUID") }
            let reason = try r.code("reason", CorrectionReason.self)
            guard let correction = try r.value("correction").objectValue, !correction.isEmpty else {
                throw r.error("correction", "must be a non-empty object")
            }
            for key in correction.keys where ["referralId", "to", "correctsEventId"].contains(key) {
                throw .invalidEvent("data.correction.\(key)", "identifies a record and cannot be corrected")
            }
            // What admission decided on when the record was made (consent for the purpose, the
            // recipient's deadline for the urgency, a consent override and its reason, a consent
            // given or refused and to whom): a referral made for another purpose or urgency is
            // withdrawn and issued again, a consent recorded anew, never rewritten.
            for key in correction.keys
            where ["purpose", "urgency", "consentOverride", "given", "recipients"].contains(key) {
                throw .invalidEvent(
                    "data.correction.\(key)", "was decided on when the record was made and cannot be corrected")
            }
            body = .recordCorrected(correctsEventId: id, reason: reason, correction: correction)
        }
        try r.finish()
        return body
    }

    private static func referralId(_ r: inout FieldReader) throws(ReferralsError) -> String {
        let id = try r.string("referralId", maxLength: 64)
        guard Identifiers.isValidReferralId(id) else {
            throw r.error("referralId", "must be 1-64 characters of A-Z, a-z, 0-9 and -")
        }
        return id
    }

    private static func institutionId(_ r: inout FieldReader, _ key: String) throws(ReferralsError) -> String {
        let id = try r.string(key, maxLength: 64)
        guard Identifiers.isValidInstitutionId(id) else { throw r.error(key, "must be an institution id") }
        return id
    }

    /// The `data` object of this body; `decode(type: body.type, data: body.data) == body`.
    public var data: JSONValue {
        switch self {
        case .caseOpened(let status, let p):
            return [
                "identificationStatus": .string(status.rawValue),
                "profile": [
                    "sex": .string(p.sex.rawValue), "ageBand": .string(p.ageBand.rawValue), "child": .bool(p.child),
                    "nationality": .string(p.nationality),
                    "exploitation": .array(p.exploitation.map { .string($0.rawValue) }),
                ],
            ]
        case .referralIssued(let id, let to, let purpose, let urgency, let override):
            var data = JSONObject([
                ("referralId", .string(id)), ("to", .string(to)), ("purpose", .string(purpose.rawValue)),
                ("urgency", .string(urgency.rawValue)),
            ])
            if let override { data["consentOverride"] = ["reason": .string(override.rawValue)] }
            return .object(data)
        case .referralAcknowledged(let id), .referralAccepted(let id):
            return ["referralId": .string(id)]
        case .referralDeclined(let id, let reason):
            return ["referralId": .string(id), "reason": .string(reason.rawValue)]
        case .referralCompleted(let id, let outcome):
            return ["referralId": .string(id), "outcome": .string(outcome.rawValue)]
        case .referralWithdrawn(let id, let reason):
            return ["referralId": .string(id), "reason": .string(reason.rawValue)]
        case .riskAssessed(let level):
            return ["level": .string(level.rawValue)]
        case .identificationStatusChanged(let status):
            return ["status": .string(status.rawValue)]
        case .consentRecorded(let purpose, let recipients, let given):
            return [
                "purpose": .string(purpose.rawValue), "recipients": .array(recipients.map(JSONValue.string)),
                "given": .bool(given),
            ]
        case .guardianAppointed, .caseReviewed:
            return [:]
        case .reflectionPeriodStarted(let days):
            return days.map { ["days": .int($0)] } ?? [:]
        case .reflectionPeriodEnded(let outcome):
            return ["outcome": .string(outcome.rawValue)]
        case .caseClosed(let reason):
            return ["reason": .string(reason.rawValue)]
        case .caseReopened(let reason):
            return ["reason": .string(reason.rawValue)]
        case .recordCorrected(let id, let reason, let correction):
            return [
                "correctsEventId": .string(id.uuidString.lowercased()), "reason": .string(reason.rawValue),
                "correction": .object(correction),
            ]
        }
    }
}

extension JSONValue {
    /// `self` with `patch` merged over it: objects merge member by member, anything else is
    /// replaced. Used to apply a `RecordCorrected.correction`.
    public func merging(_ patch: JSONValue) -> JSONValue {
        guard case .object(var base) = self, case .object(let overlay) = patch else { return patch }
        for (key, value) in overlay {
            base[key] = (base[key] ?? .null).merging(value)
        }
        return .object(base)
    }
}
