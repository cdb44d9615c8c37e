/// The event types of a case stream (`case-<caseId>`), vocabulary v1.
public enum CaseEventType: String, Sendable, Hashable, CaseIterable, Codable {
    case caseOpened = "CaseOpened"
    case referralIssued = "ReferralIssued"
    case referralAcknowledged = "ReferralAcknowledged"
    case referralAccepted = "ReferralAccepted"
    case referralDeclined = "ReferralDeclined"
    case referralCompleted = "ReferralCompleted"
    case referralWithdrawn = "ReferralWithdrawn"
    case riskAssessed = "RiskAssessed"
    case identificationStatusChanged = "IdentificationStatusChanged"
    case consentRecorded = "ConsentRecorded"
    case guardianAppointed = "GuardianAppointed"
    case reflectionPeriodStarted = "ReflectionPeriodStarted"
    case reflectionPeriodEnded = "ReflectionPeriodEnded"
    case caseReviewed = "CaseReviewed"
    case caseClosed = "CaseClosed"
    case caseReopened = "CaseReopened"
    case recordCorrected = "RecordCorrected"

    /// Whether events of this type carry a `referralId` naming an existing referral (all
    /// referral events but `ReferralIssued`, which creates one).
    public var refersToExistingReferral: Bool {
        switch self {
        case .referralAcknowledged, .referralAccepted, .referralDeclined, .referralCompleted, .referralWithdrawn: true
        default: false
        }
    }

    /// Whether events of this type carry a `referralId`.
    public var carriesReferralId: Bool { self == .referralIssued || refersToExistingReferral }
}

/// The system event types: `SopDeadlineMissed` in `sop-<caseId>`, `InstitutionRegistered` in
/// `institutions`, `SopRulesetPublished` in `sop-rulesets`.
public enum SystemEventType: String, Sendable, Hashable, CaseIterable, Codable {
    case sopDeadlineMissed = "SopDeadlineMissed"
    case institutionRegistered = "InstitutionRegistered"
    case sopRulesetPublished = "SopRulesetPublished"
}
