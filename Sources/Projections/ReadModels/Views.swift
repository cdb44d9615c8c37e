import Foundation
import Referrals

// The shapes the read models answer with. Field names are those of API.md; times are RFC 3339
// strings in UTC; an absent optional is encoded as `null` (the key is always present).

/// `GET /v1/cases/{caseId}`.
public struct CaseSummary: Codable, Sendable, Hashable {
    public var caseId: String
    /// `open` or `closed`.
    public var status: String
    public var identificationStatus: String
    public var riskLevel: String?
    public var openedBy: String
    public var openedAt: String
    public var child: Bool
    /// The case stream's version.
    public var version: Int
    /// When the case's last event was recorded.
    public var lastEventAt: String
    public var closedAt: String?
    public var closureReason: String?
    public var parties: [String]
    public var openReferrals: [ReferralView]
    public var deadlines: [DeadlineView]

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(caseId, forKey: .caseId)
        try c.encode(status, forKey: .status)
        try c.encode(identificationStatus, forKey: .identificationStatus)
        try c.encode(riskLevel, forKey: .riskLevel)
        try c.encode(openedBy, forKey: .openedBy)
        try c.encode(openedAt, forKey: .openedAt)
        try c.encode(child, forKey: .child)
        try c.encode(version, forKey: .version)
        try c.encode(lastEventAt, forKey: .lastEventAt)
        try c.encode(closedAt, forKey: .closedAt)
        try c.encode(closureReason, forKey: .closureReason)
        try c.encode(parties, forKey: .parties)
        try c.encode(openReferrals, forKey: .openReferrals)
        try c.encode(deadlines, forKey: .deadlines)
    }
}

/// A referral (the inbox and a case's open referrals).
public struct ReferralView: Codable, Sendable, Hashable {
    public var caseId: String
    public var referralId: String
    public var from: String
    public var to: String
    public var purpose: String
    /// `routine` or `urgent`.
    public var urgency: String
    /// `issued`, `acknowledged`, `accepted`, `declined`, `completed` or `withdrawn`.
    public var status: String
    public var issuedAt: String
    public var issuedEventId: String
    public var acknowledgedAt: String?
    public var acceptedAt: String?
    public var declinedAt: String?
    public var declineReason: String?
    public var completedAt: String?
    public var outcome: String?
    /// When the issuer withdrew the referral, and why (`ReferralWithdrawn`).
    public var withdrawnAt: String? = nil
    public var withdrawalReason: String? = nil

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(caseId, forKey: .caseId)
        try c.encode(referralId, forKey: .referralId)
        try c.encode(from, forKey: .from)
        try c.encode(to, forKey: .to)
        try c.encode(purpose, forKey: .purpose)
        try c.encode(urgency, forKey: .urgency)
        try c.encode(status, forKey: .status)
        try c.encode(issuedAt, forKey: .issuedAt)
        try c.encode(issuedEventId, forKey: .issuedEventId)
        try c.encode(acknowledgedAt, forKey: .acknowledgedAt)
        try c.encode(acceptedAt, forKey: .acceptedAt)
        try c.encode(declinedAt, forKey: .declinedAt)
        try c.encode(declineReason, forKey: .declineReason)
        try c.encode(completedAt, forKey: .completedAt)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(withdrawnAt, forKey: .withdrawnAt)
        try c.encode(withdrawalReason, forKey: .withdrawalReason)
    }
}

/// One SOP deadline (`GET /v1/deadlines`), its status as of the query's `now`.
public struct DeadlineView: Codable, Sendable, Hashable {
    public var caseId: String
    public var ruleId: String
    public var title: String
    public var dueAt: String
    public var warnAt: String
    /// `pending`, `due-soon`, `overdue`, `met`, `met-late` or `cancelled`.
    public var status: String
    /// An institution id (a role's holder, or the opener while nobody holds the role).
    public var responsible: String
    public var triggerEventId: String
    public var satisfiedAt: String?
    public var referralId: String?
    public var rulesetId: String
    public var rulesetVersion: Int
    /// Whether the rule's figure is confirmed from its source.
    public var confirmed: Bool
    /// The `SopDeadlineMissed` event about this deadline, once the watcher appended it.
    public var missedNoticeEventId: String?
    /// Whether it counts in the compliance figures (``Deadline/counted``).
    public var counted: Bool

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(caseId, forKey: .caseId)
        try c.encode(ruleId, forKey: .ruleId)
        try c.encode(title, forKey: .title)
        try c.encode(dueAt, forKey: .dueAt)
        try c.encode(warnAt, forKey: .warnAt)
        try c.encode(status, forKey: .status)
        try c.encode(responsible, forKey: .responsible)
        try c.encode(triggerEventId, forKey: .triggerEventId)
        try c.encode(satisfiedAt, forKey: .satisfiedAt)
        try c.encode(referralId, forKey: .referralId)
        try c.encode(rulesetId, forKey: .rulesetId)
        try c.encode(rulesetVersion, forKey: .rulesetVersion)
        try c.encode(confirmed, forKey: .confirmed)
        try c.encode(missedNoticeEventId, forKey: .missedNoticeEventId)
        try c.encode(counted, forKey: .counted)
    }
}

/// A registered institution.
public struct InstitutionView: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    /// Primary kind first.
    public var kinds: [String]
    public var registeredAt: String
}

/// A published SOP ruleset version.
public struct RulesetView: Codable, Sendable, Hashable {
    public var id: String
    public var version: Int
    public var title: String
    /// `YYYY-MM-DD`.
    public var effectiveFrom: String
    public var rules: Int
    public var publishedAt: String
}

/// A statistics cell: a count, or `"<5"` when small counts are suppressed.
public enum StatCount: Codable, Sendable, Hashable {
    case count(Int)
    /// 0 to 4, not shown.
    case suppressed

    /// Counts under 5 become `.suppressed` when `suppress` is set (``DisclosureControl/isSmall(_:)``).
    public init(_ n: Int, suppress: Bool) {
        self = suppress && DisclosureControl.isSmall(n) ? .suppressed : .count(n)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .count(let n): try c.encode(n)
        case .suppressed: try c.encode("<5")
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self) {
            self = .count(n)
        } else if try c.decode(String.self) == "<5" {
            self = .suppressed
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "a count or \"<5\"")
        }
    }
}

/// Deadline outcomes of one rule or one responsible institution.
public struct ComplianceCounts: Codable, Sendable, Hashable {
    public var met: StatCount
    public var metLate: StatCount
    /// Past due and unmet (including those missed before the case closed).
    public var overdue: StatCount
    public var dueSoon: StatCount
    public var pending: StatCount
    public var cancelled: StatCount
}

/// `GET /v1/stats?year=`: counts of cases opened in `year` (every year when nil).
public struct Stats: Codable, Sendable, Hashable {
    public var year: Int?
    /// Whether cells under 5 are shown as `"<5"` (every role but auditor).
    public var suppressed: Bool
    public var cases: StatCount
    public var bySex: [String: StatCount]
    public var byAgeBand: [String: StatCount]
    public var byNationality: [String: StatCount]
    /// A case with several forms counts once for each.
    public var byExploitation: [String: StatCount]
    /// The current (corrected) identification status.
    public var byIdentificationStatus: [String: StatCount]
    public var deadlineCompliance: DeadlineCompliance

    public struct DeadlineCompliance: Codable, Sendable, Hashable {
        public var byRule: [String: ComplianceCounts]
        public var byResponsible: [String: ComplianceCounts]
    }
}
