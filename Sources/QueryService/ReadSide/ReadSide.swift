import EventStore
import Foundation
import Projections
import Referrals
import ServiceStore

/// What the query service needs from the read models (the `Projections` module). The service
/// does validation, authorization, access logging and rendering; a `ReadSide` only answers.
///
/// Party-ship is decided by the service. Where it uses the read side's answer (the `parties` of
/// a case summary) it relies on parties only ever being added, so a lagging answer can only fail
/// to name a party, never name one wrongly; the service then asks the event log itself.
///
/// Errors: throw anything; a database outage or a statement past its deadline
/// (`PostgresError.isUnavailable` or `EventStoreError.unavailable`) becomes 503, everything else 500.
public protocol ReadSide: Sendable {
    /// The case summary (`GET /v1/cases/{caseId}`) as a JSON object with at least `caseId`,
    /// `status`, `identificationStatus`, `riskLevel`, `parties`, `openReferrals`, `deadlines` and
    /// `version`; nil when the case is not (yet) in the read model. It is fetched before the
    /// caller is authorized (its `parties` are the first need-to-know check) and sent only after.
    func caseSummary(caseId: String) async throws -> JSONValue?

    /// ``caseSummary(caseId:)`` ready to send: its JSON bytes and its `parties`. The default
    /// serializes ``caseSummary(caseId:)``; a read side over a database may write the bytes directly.
    func caseSummaryDocument(caseId: String) async throws -> CaseSummaryDocument?

    /// Deadlines matching `filter`; with `visibleTo` set, only those of cases that institution is
    /// party to. All of them, soonest due first (the dashboard's boards).
    func deadlines(_ filter: DeadlineFilter, visibleTo institution: String?) async throws -> [DeadlineRow]

    /// One page of ``deadlines(_:visibleTo:)`` for `GET /v1/deadlines`: at most `limit` rows in
    /// (dueAt, caseId, position in the case) order, starting after `after`, and the cursor of
    /// the next page when there may be more. The default pages in memory over
    /// ``deadlines(_:visibleTo:)``; a read side over a database should seek with an index.
    func deadlinesPage(_ filter: DeadlineFilter, visibleTo institution: String?, after: DeadlineCursor?, limit: Int)
        async throws -> DeadlinePage

    /// Open referrals addressed to `institution`, oldest first.
    func inbox(institution: String) async throws -> [InboxItem]

    /// Counts for `year` (all years when nil), unsuppressed: the service suppresses small cells.
    func stats(year: Int?) async throws -> StatsReport

    /// The National Authority's annual report for the calendar `year` in `timeZone`, from the
    /// read models and unsuppressed: the route applies disclosure control for the caller's role.
    /// The default has none (503 `unavailable`): only a read side over the read models makes one.
    func annualReport(year: Int, timeZone: TimeZone) async throws -> AnnualReport
}

extension ReadSide {
    public func annualReport(year: Int, timeZone: TimeZone) async throws -> AnnualReport {
        throw ServiceError.unavailable
    }
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
    /// Only deadlines of cases with this status (`?caseStatus=open|closed`); nil: all cases.
    public var caseStatus: CaseStatus?

    public init(
        status: Status? = nil, caseId: String? = nil, responsible: String? = nil, caseStatus: CaseStatus? = nil
    ) {
        self.status = status
        self.caseId = caseId
        self.responsible = responsible
        self.caseStatus = caseStatus
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
    /// Whether it counts in the compliance figures (``Deadline/counted``).
    public var counted: Bool

    public init(
        caseId: String, ruleId: String, title: String, dueAt: Date, status: DeadlineFilter.Status,
        responsible: String, triggerEventId: UUID, satisfiedAt: Date?, counted: Bool = true
    ) {
        self.caseId = caseId
        self.ruleId = ruleId
        self.title = title
        self.dueAt = dueAt
        self.status = status
        self.responsible = responsible
        self.triggerEventId = triggerEventId
        self.satisfiedAt = satisfiedAt
        self.counted = counted
    }
}

/// A case summary ready to send.
public struct CaseSummaryDocument: Sendable, Hashable {
    /// The summary as a JSON object.
    public var json: [UInt8]
    /// Its `parties` member; nil when it lists none as strings.
    public var parties: [String]?

    public init(json: [UInt8], parties: [String]?) {
        self.json = json
        self.parties = parties
    }
}

/// A position in the deadline order: (dueAt, caseId, the deadline's position among its case's
/// deadlines). Sent to clients as an opaque string (`after`, `next`).
public struct DeadlineCursor: Sendable, Hashable {
    /// `dueAt` in microseconds since 1970 (PostgreSQL's `timestamptz` resolution).
    public var dueAtMicroseconds: Int64
    public var caseId: String
    public var ordinal: Int

    public init(dueAtMicroseconds: Int64, caseId: String, ordinal: Int) {
        self.dueAtMicroseconds = dueAtMicroseconds
        self.caseId = caseId
        self.ordinal = ordinal
    }

    /// The range of `dueAtMicroseconds` a cursor may carry: years 0001 to 9999.
    static let microsecondRange: ClosedRange<Int64> = -62_135_596_800_000_000...253_402_300_799_999_999

    /// The opaque form: base64url (no padding) of `<microseconds>|<ordinal>|<caseId>`.
    public var encoded: String {
        let plain = "\(dueAtMicroseconds)|\(ordinal)|\(caseId)"
        return Data(plain.utf8).base64URLEncoded
    }

    /// Parses the opaque form strictly; nil for anything ``encoded`` would not produce.
    public init?(encoded text: String) {
        guard let data = Data(base64URLEncoded: text, maximumLength: 200),
            let plain = String(data: data, encoding: .utf8)
        else { return nil }
        let parts = plain.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let micros = Self.integer(parts[0]), Self.microsecondRange.contains(micros),
            let ordinal = Self.integer(parts[1]), (0...Int64(Int32.max)).contains(ordinal),
            StreamName.isValidCaseId(String(parts[2]))
        else { return nil }
        self.init(dueAtMicroseconds: micros, caseId: String(parts[2]), ordinal: Int(ordinal))
        // Only the canonical spelling (no leading zeros or "+"), so a cursor has one form.
        guard encoded == text else { return nil }
    }

    private static func integer(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 20 else { return nil }
        return Int64(text)
    }
}

/// One page of deadlines and the cursor of the next (nil on the last page).
public struct DeadlinePage: Sendable, Hashable {
    public var rows: [DeadlineRow]
    public var next: DeadlineCursor?

    public init(rows: [DeadlineRow], next: DeadlineCursor?) {
        self.rows = rows
        self.next = next
    }
}

extension ReadSide {
    public func caseSummaryDocument(caseId: String) async throws -> CaseSummaryDocument? {
        guard let summary = try await caseSummary(caseId: caseId) else { return nil }
        var parties: [String]?
        if let items = summary["parties"]?.arrayValue {
            let strings = items.compactMap(\.stringValue)
            if strings.count == items.count { parties = strings }
        }
        return CaseSummaryDocument(json: summary.serialized(), parties: parties)
    }

    /// Pages in memory over ``deadlines(_:visibleTo:)``: a row's position in its case is its
    /// position among that case's rows as returned, and pages follow the cursor order.
    public func deadlinesPage(
        _ filter: DeadlineFilter, visibleTo institution: String?, after: DeadlineCursor?, limit: Int
    )
        async throws -> DeadlinePage
    {
        let all = try await deadlines(filter, visibleTo: institution)
        var seen: [String: Int] = [:]
        let keyed = all.map { row -> (DeadlineCursor, DeadlineRow) in
            let ordinal = seen[row.caseId, default: 0]
            seen[row.caseId] = ordinal + 1
            let micros = Int64((row.dueAt.timeIntervalSince1970 * 1_000_000).rounded())
            return (DeadlineCursor(dueAtMicroseconds: micros, caseId: row.caseId, ordinal: ordinal), row)
        }
        func before(_ a: DeadlineCursor, _ b: DeadlineCursor) -> Bool {
            (a.dueAtMicroseconds, a.caseId, a.ordinal) < (b.dueAtMicroseconds, b.caseId, b.ordinal)
        }
        let ordered = keyed.enumerated().sorted { a, b in
            before(a.element.0, b.element.0) || (!before(b.element.0, a.element.0) && a.offset < b.offset)
        }.map(\.element)
        let rest = after.map { cursor in ordered.filter { before(cursor, $0.0) } } ?? ordered
        let page = Array(rest.prefix(max(0, limit)))
        return DeadlinePage(rows: page.map(\.1), next: rest.count > page.count ? page.last?.0 : nil)
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
    /// value → number of cases; and the consent findings (docs/time-of-record.md):
    /// `consentOverride` → reason → referrals issued without consent under that override, and
    /// `consentWithdrawn` → `openReferrals` → referrals whose consent was withdrawn while open.
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
