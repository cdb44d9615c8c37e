import Foundation
import HTTP
import Referrals

/// What a deadline table shows: the status choice, the institution and rule filters and the
/// sort order, read from the page's query (`?status=overdue&institution=kp-dthb&sort=due&dir=desc`).
///
/// Unknown values fall back to the defaults rather than failing the page: the query comes from
/// the page's own links and form, and a stale bookmark should still open.
struct DeadlineBoard: Sendable, Hashable {
    /// Which deadlines: the two that need attention (the default), one status, or all.
    enum StatusChoice: String, Sendable, CaseIterable {
        case attention
        case overdue
        case dueSoon = "due-soon"
        case pending
        case met
        case metLate = "met-late"
        case cancelled
        case all

        /// The choice's name in the page's language.
        func label(_ t: Localizer) -> String { t("choice." + rawValue) }

        /// The read-side queries to run (nil: every status).
        var statuses: [DeadlineFilter.Status?] {
            switch self {
            case .attention: [.overdue, .dueSoon]
            case .overdue: [.overdue]
            case .dueSoon: [.dueSoon]
            case .pending: [.pending]
            case .met: [.met]
            case .metLate: [.metLate]
            case .cancelled: [.cancelled]
            case .all: [nil]
            }
        }
    }

    enum SortKey: String, Sendable, CaseIterable {
        case due
        case caseId = "case"
        case rule
        case responsible
        case status
    }

    var status: StatusChoice = .attention
    /// Only deadlines of cases with this status; `open` by default (work for someone today),
    /// nil for all cases (`?caseStatus=all`). Closed cases' missed deadlines stay in the figures.
    var caseStatus: CaseStatus? = .open
    /// Only deadlines this institution (or `role:<kind>`) is responsible for.
    var institution: String?
    /// Only deadlines of this rule.
    var rule: String?
    var sort: SortKey = .due
    var descending = false

    /// The most rows one table shows; the caption says when there were more.
    static let rowLimit = 500

    /// At most `limit` of `rows` (in their order), shared among the institutions responsible:
    /// each keeps up to the same number of its first rows, the most that fits, so that one
    /// institution's many rows cannot push everyone else's off the board (an attack pass opened
    /// 130 cases dated 2014: their 520 overdue deadlines, due first, hid every other
    /// institution's). Also how many rows of each institution were left out.
    static func fairShare(_ rows: [DeadlineRow], limit: Int) -> (rows: [DeadlineRow], leftOut: [String: Int]) {
        guard rows.count > limit else { return (rows, [:]) }
        var counts: [String: Int] = [:]
        for row in rows { counts[row.responsible, default: 0] += 1 }
        // The highest level each institution may fill to, by water-filling the sorted counts.
        var level = 0
        var left = limit
        var remaining = counts.values.sorted()
        while let smallest = remaining.first, left >= (smallest - level) * remaining.count {
            left -= (smallest - level) * remaining.count
            level = smallest
            remaining.removeAll { $0 == smallest }
        }
        if !remaining.isEmpty { level += left / remaining.count }
        var taken: [String: Int] = [:]
        var kept: [DeadlineRow] = []
        for row in rows where taken[row.responsible, default: 0] < level {
            taken[row.responsible, default: 0] += 1
            kept.append(row)
        }
        var leftOut: [String: Int] = [:]
        for (institution, count) in counts where count > taken[institution, default: 0] {
            leftOut[institution] = count - taken[institution, default: 0]
        }
        return (kept, leftOut)
    }

    init() {}

    init(query: QueryItems) {
        status = query["status"].flatMap(StatusChoice.init(rawValue:)) ?? .attention
        let cases = query["caseStatus"]
        caseStatus = cases == "all" ? nil : cases.flatMap(CaseStatus.init(rawValue:)) ?? .open
        institution = query["institution"].flatMap { $0.isEmpty || $0.count > 80 ? nil : $0 }
        rule = query["rule"].flatMap { $0.isEmpty || $0.count > 80 ? nil : $0 }
        sort = query["sort"].flatMap(SortKey.init(rawValue:)) ?? .due
        descending = query["dir"] == "desc"
    }

    /// The rows that pass the institution and rule filters, sorted.
    func apply(_ rows: [DeadlineRow]) -> [DeadlineRow] {
        let kept = rows.filter { row in
            (institution == nil || row.responsible == institution) && (rule == nil || row.ruleId == rule)
        }
        return kept.sorted { a, b in
            let order = compare(a, b)
            if order != .orderedSame { return descending ? order == .orderedDescending : order == .orderedAscending }
            // Ties: soonest due first, then by case and rule, whatever the direction.
            return (a.dueAt, a.caseId, a.ruleId) < (b.dueAt, b.caseId, b.ruleId)
        }
    }

    private func compare(_ a: DeadlineRow, _ b: DeadlineRow) -> ComparisonResult {
        func order<T: Comparable>(_ x: T, _ y: T) -> ComparisonResult {
            x < y ? .orderedAscending : x > y ? .orderedDescending : .orderedSame
        }
        switch sort {
        case .due: return order(a.dueAt, b.dueAt)
        case .caseId: return order(a.caseId, b.caseId)
        case .rule: return order(a.ruleId, b.ruleId)
        case .responsible: return order(a.responsible, b.responsible)
        case .status: return order(Self.urgency(a.status), Self.urgency(b.status))
        }
    }

    /// Most urgent first: overdue, due soon, pending, then the settled ones.
    static func urgency(_ status: DeadlineFilter.Status) -> Int {
        switch status {
        case .overdue: 0
        case .dueSoon: 1
        case .pending: 2
        case .metLate: 3
        case .met: 4
        case .cancelled: 5
        }
    }

    /// The query string of this board (without `?`), leaving out defaults.
    var queryString: String {
        var items: [(String, String)] = []
        if status != .attention { items.append(("status", status.rawValue)) }
        if caseStatus != .open { items.append(("caseStatus", caseStatus?.rawValue ?? "all")) }
        if let institution { items.append(("institution", institution)) }
        if let rule { items.append(("rule", rule)) }
        if sort != .due { items.append(("sort", sort.rawValue)) }
        if descending { items.append(("dir", "desc")) }
        return items.map { $0.0 + "=" + HTML.queryValue($0.1) }.joined(separator: "&")
    }

    /// The board sorted by `key`: ascending, or flipped when it is already sorted by it.
    func sorted(by key: SortKey) -> DeadlineBoard {
        var next = self
        next.descending = sort == key ? !descending : false
        next.sort = key
        return next
    }
}
