/// The closed code lists of the v1 vocabulary (DESIGN.md "Domain vocabulary").
///
/// Where the vocabulary has a reason or an outcome, v1 takes a code from a list rather than free
/// text: a code cannot carry a name, an address or a life story by accident, and it can be
/// counted. Every list has an `other` code for what it does not foresee.

/// How sure the institutions are that the person is a victim of trafficking.
public enum IdentificationStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case presumed, potential, identified
    case notAVictim = "not-a-victim"
}

/// Sex as recorded in the banded profile.
public enum Sex: String, Sendable, Hashable, CaseIterable, Codable {
    case female, male, other, unknown
}

/// Age band of the profile; never a date of birth.
public enum AgeBand: String, Sendable, Hashable, CaseIterable, Codable {
    case age0to11 = "0-11"
    case age12to14 = "12-14"
    case age15to17 = "15-17"
    case age18to24 = "18-24"
    case age25to34 = "25-34"
    case age35to49 = "35-49"
    case age50plus = "50+"
    case unknown

    /// `true` for bands under 18, `false` for adult bands, `nil` for `unknown`.
    public var isChild: Bool? {
        switch self {
        case .age0to11, .age12to14, .age15to17: true
        case .age18to24, .age25to34, .age35to49, .age50plus: false
        case .unknown: nil
        }
    }
}

/// Forms of exploitation.
public enum Exploitation: String, Sendable, Hashable, CaseIterable, Codable {
    case sexual
    case forcedLabour = "forced-labour"
    case forcedBegging = "forced-begging"
    case forcedCriminality = "forced-criminality"
    case forcedMarriage = "forced-marriage"
    case organRemoval = "organ-removal"
    case other
}

/// How fast a referral must be handled; `urgent` selects a rule's urgent variant.
public enum Urgency: String, Sendable, Hashable, CaseIterable, Codable {
    case routine, urgent
}

/// The outcome of a risk assessment.
public enum RiskLevel: String, Sendable, Hashable, CaseIterable, Codable {
    case low, medium, high
}

/// What a referral (or a consent) is for.
public enum ReferralPurpose: String, Sendable, Hashable, CaseIterable, Codable {
    case victimAdvocacy = "victim-advocacy"
    case shelter, medical, psychosocial
    case legalAid = "legal-aid"
    case investigation, prosecution
    case socialWelfare = "social-welfare"
    case guardianship
    case returnAssistance = "return-assistance"
    case reintegration, other

    /// The institution kinds a referral of this purpose may go to; nil: any institution that works
    /// on cases. The purposes that carry powers are tied to the kinds that serve them: a
    /// victim-advocacy referral makes its recipient the case's victim advocate (who may close the
    /// case, and whose referral meets the opener's deadline), and investigation, prosecution and
    /// guardianship need no victim consent by the default policy — sent to anyone else, such a
    /// referral would pass consent by and give a stranger the case (docs/time-of-record.md).
    public var recipientKinds: [InstitutionKind]? {
        switch self {
        case .victimAdvocacy: [.victimAdvocate]
        case .investigation: [.police, .prosecution]
        case .prosecution: [.prosecution]
        case .guardianship: [.socialWork]
        default: nil
        }
    }
}

/// Why a recipient declined a referral (`ReferralDeclined.reason`).
public enum DeclineReason: String, Sendable, Hashable, CaseIterable, Codable {
    case noCapacity = "no-capacity"
    case notEligible = "not-eligible"
    case outsideMandate = "outside-mandate"
    case victimDeclined = "victim-declined"
    case duplicate, other
}

/// Why the issuer withdrew a referral (`ReferralWithdrawn.reason`).
public enum WithdrawalReason: String, Sendable, Hashable, CaseIterable, Codable {
    /// Sent to the wrong institution or with the wrong purpose.
    case issuedInError = "issued-in-error"
    case duplicate
    /// The need the referral was for no longer exists (met elsewhere, victim moved on).
    case noLongerNeeded = "no-longer-needed"
    /// The victim withdrew the consent the referral relied on.
    case consentWithdrawn = "consent-withdrawn"
    /// The person was found not to be a victim.
    case notAVictim = "not-a-victim"
    case other
}

/// How a referral ended (`ReferralCompleted.outcome`).
public enum CompletionOutcome: String, Sendable, Hashable, CaseIterable, Codable {
    case servicesProvided = "services-provided"
    case victimWithdrew = "victim-withdrew"
    case transferred
    case notReached = "not-reached"
    case other
}

/// How a reflection period ended (`ReflectionPeriodEnded.outcome`).
public enum ReflectionOutcome: String, Sendable, Hashable, CaseIterable, Codable {
    case cooperationAgreed = "cooperation-agreed"
    case cooperationDeclined = "cooperation-declined"
    case returnedHome = "returned-home"
    case residencePermit = "residence-permit"
    case victimWithdrew = "victim-withdrew"
    case other
}

/// Why a case was closed (`CaseClosed.reason`).
public enum ClosureReason: String, Sendable, Hashable, CaseIterable, Codable {
    case reintegrated
    case returnedHome = "returned-home"
    case transferredAbroad = "transferred-abroad"
    case notAVictim = "not-a-victim"
    case lostContact = "lost-contact"
    case victimWithdrew = "victim-withdrew"
    case duplicate, other
}

/// Why a case was reopened (`CaseReopened.reason`).
public enum ReopenReason: String, Sendable, Hashable, CaseIterable, Codable {
    case newInformation = "new-information"
    case victimReturned = "victim-returned"
    case reTrafficked = "re-trafficked"
    case closedInError = "closed-in-error"
    case other
}

/// Why a record was corrected (`RecordCorrected.reason`).
public enum CorrectionReason: String, Sendable, Hashable, CaseIterable, Codable {
    case dataEntryError = "data-entry-error"
    case newInformation = "new-information"
    case lateInformation = "late-information"
    case other
}

/// What a consent covers (`ConsentRecorded.purpose`): a referral purpose, or sharing the case
/// record itself.
/// Why a referral that needs consent went out without it (`ReferralIssued.consentOverride.reason`).
/// Every override is a finding: the coordinator's board and the statistics show it.
public enum ConsentOverrideReason: String, Sendable, Hashable, CaseIterable, Codable {
    case imminentDanger = "imminent-danger"
    case childBestInterest = "child-best-interest"
    case legalObligation = "legal-obligation"
    case other
}

public enum ConsentPurpose: String, Sendable, Hashable, CaseIterable, Codable {
    case victimAdvocacy = "victim-advocacy"
    case shelter, medical, psychosocial
    case legalAid = "legal-aid"
    case investigation, prosecution
    case socialWelfare = "social-welfare"
    case guardianship
    case returnAssistance = "return-assistance"
    case reintegration
    case informationSharing = "information-sharing"
    case other
}

/// Identifier formats shared by the vocabulary.
public enum Identifiers {
    /// A referral id or case id: 1–64 characters of `A-Z a-z 0-9 -`.
    public static func isValidReferralId(_ s: String) -> Bool { isValidCaseId(s) }

    /// A case id: 1–64 characters of `A-Z a-z 0-9 -` (API.md).
    public static func isValidCaseId(_ s: String) -> Bool {
        let utf8 = s.utf8
        return !utf8.isEmpty && utf8.count <= 64
            && utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D
            }
    }

    /// A person's name as events record it (`actor.user`), for an account and for a token alike:
    /// 1–64 of `a-z 0-9 . _ -`, beginning with a letter or digit (sign-in lowercases what is typed).
    /// It goes into the record for good: no spaces, controls, direction overrides or markup.
    public static func isValidUserName(_ name: String) -> Bool {
        let u = Array(name.utf8)
        guard (1...64).contains(u.count) else { return false }
        func allowed(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
        return allowed(u[0]) && u.allSatisfy { allowed($0) || $0 == 46 || $0 == 95 || $0 == 45 }
    }

    /// An institution id: 1–64 characters of `a-z 0-9 -`, e.g. `kp-dthb`.
    public static func isValidInstitutionId(_ s: String) -> Bool {
        let utf8 = s.utf8
        return !utf8.isEmpty && utf8.count <= 64
            && utf8.allSatisfy { b in (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7A) || b == 0x2D }
    }
}
