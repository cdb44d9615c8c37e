import Foundation
import Referrals

/// What the query service needs from the read models (the `Projections` module). The service
/// does validation, authorization, access logging and rendering; a `ReadSide` only answers.
///
/// Party-ship is decided by the service. Where it uses the read side's answer (the `parties` of
/// a case summary) it relies on parties only ever being added, so a lagging answer can only fail
/// to name a party, never name one wrongly; the service then asks the event log itself.
///
/// Errors: throw anything; a database outage (`PostgresError.isConnectionProblem` or
/// `EventStoreError.unavailable`) becomes 503, everything else 500.
public protocol ReadSide: Sendable {
    /// The case summary (`GET /v1/cases/{caseId}`) as a JSON object with at least `caseId`,
    /// `status`, `identificationStatus`, `riskLevel`, `parties`, `openReferrals`, `deadlines` and
    /// `version`; nil when the case is not (yet) in the read model. It is fetched before the
    /// caller is authorized (its `parties` are the first need-to-know check) and sent only after.
    func caseSummary(caseId: String) async throws -> JSONValue?

    /// Deadlines matching `filter`; with `visibleTo` set, only those of cases that institution is
    /// party to.
    func deadlines(_ filter: DeadlineFilter, visibleTo institution: String?) async throws -> [DeadlineRow]

    /// Open referrals addressed to `institution`, oldest first.
    func inbox(institution: String) async throws -> [InboxItem]

    /// Counts for `year` (all years when nil), unsuppressed: the service suppresses small cells.
    func stats(year: Int?) async throws -> StatsReport
}

/// The filters of `GET /v1/deadlines`, validated.
public struct DeadlineFilter: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case overdue
        case dueSoon = "due-soon"
        case pending
        case met
        case metLate = "met-late"
        case cancelled
    }

    public var status: Status?
    public var caseId: String?
    /// An institution id or `role:<kind>`, as deadlines name who is responsible.
    public var responsible: String?

    public init(status: Status? = nil, caseId: String? = nil, responsible: String? = nil) {
        self.status = status
        self.caseId = caseId
        self.responsible = responsible
    }
}

/// One deadline as `GET /v1/deadlines` returns it.
public struct DeadlineRow: Sendable, Hashable {
    public var caseId: String
    public var ruleId: String
    public var title: String
    public var dueAt: Date
    public var status: DeadlineFilter.Status
    public var responsible: String
    public var triggerEventId: UUID
    public var satisfiedAt: Date?

    public init(
        caseId: String, ruleId: String, title: String, dueAt: Date, status: DeadlineFilter.Status,
        responsible: String, triggerEventId: UUID, satisfiedAt: Date?
    ) {
        self.caseId = caseId
        self.ruleId = ruleId
        self.title = title
        self.dueAt = dueAt
        self.status = status
        self.responsible = responsible
        self.triggerEventId = triggerEventId
        self.satisfiedAt = satisfiedAt
    }
}

/// An open referral addressed to the caller (`GET /v1/inbox`).
public struct InboxItem: Sendable, Hashable {
    public var caseId: String
    public var referralId: String
    public var from: String
    public var purpose: String
    public var urgency: String
    /// `issued` or `acknowledged` (accepted referrals are still open until completed).
    public var status: String
    public var issuedAt: Date

    public init(
        caseId: String, referralId: String, from: String, purpose: String, urgency: String, status: String,
        issuedAt: Date
    ) {
        self.caseId = caseId
        self.referralId = referralId
        self.from = from
        self.purpose = purpose
        self.urgency = urgency
        self.status = status
        self.issuedAt = issuedAt
    }
}

/// Aggregate counts for `GET /v1/stats`, before suppression.
public struct StatsReport: Sendable, Hashable {
    /// Cases counted.
    public var cases: Int
    /// Dimension (`sex`, `ageBand`, `nationality`, `exploitation`, `identificationStatus`) →
    /// value → number of cases.
    public var counts: [String: [String: Int]]
    /// Deadline compliance per rule and responsible institution.
    public var compliance: [ComplianceCell]

    public init(cases: Int, counts: [String: [String: Int]], compliance: [ComplianceCell]) {
        self.cases = cases
        self.counts = counts
        self.compliance = compliance
    }
}

/// Deadline outcomes of one rule for one responsible institution.
public struct ComplianceCell: Sendable, Hashable {
    public var ruleId: String
    public var institution: String
    public var met: Int
    public var metLate: Int
    public var overdue: Int
    public var pending: Int
    public var cancelled: Int

    public init(ruleId: String, institution: String, met: Int, metLate: Int, overdue: Int, pending: Int, cancelled: Int)
    {
        self.ruleId = ruleId
        self.institution = institution
        self.met = met
        self.metLate = metLate
        self.overdue = overdue
        self.pending = pending
        self.cancelled = cancelled
    }
}

/// A read side with no read models: summaries are nil, lists empty. For running the service
/// before projections exist, and for tests of the routes that do not need them.
public struct EmptyReadSide: ReadSide {
    public init() {}
    public func caseSummary(caseId: String) async throws -> JSONValue? { nil }
    public func deadlines(_ filter: DeadlineFilter, visibleTo institution: String?) async throws -> [DeadlineRow] { [] }
    public func inbox(institution: String) async throws -> [InboxItem] { [] }
    public func stats(year: Int?) async throws -> StatsReport { StatsReport(cases: 0, counts: [:], compliance: []) }
}
