import Foundation
import Postgres
import Projections
import Referrals

/// The read side over the `Projections` read models in PostgreSQL.
public struct ProjectionReadSide: ReadSide {
    public let models: ReadModels

    public init(pool: ConnectionPool) { models = ReadModels(pool: pool) }

    public func caseSummary(caseId: String) async throws -> JSONValue? {
        try await caseSummary(caseId: caseId, now: Date())
    }

    public func annualReport(year: Int, timeZone: TimeZone) async throws -> AnnualReport {
        try await models.annualReport(year: year, timeZone: timeZone)
    }

    /// ``caseSummaryDocument(caseId:now:)`` as a `JSONValue`.
    public func caseSummary(caseId: String, now: Date) async throws -> JSONValue? {
        guard let document = try await caseSummaryDocument(caseId: caseId, now: now) else { return nil }
        return try JSONValue.parse(document.json)
    }

    public func caseSummaryDocument(caseId: String) async throws -> CaseSummaryDocument? {
        try await caseSummaryDocument(caseId: caseId, now: Date())
    }

    /// The case's pre-rendered summary document (`ReadModels.caseDocument`, written by the `cases`
    /// projector): one primary-key lookup, the statuses of its unsettled deadlines filled in as of
    /// `now`. The same members, order and formats as `ReadModels.caseSummary` (a test holds the two
    /// equal), which answers instead for a case that has rows but no document yet (a store upgraded
    /// to Migrations/0031 whose projector has not rendered it).
    public func caseSummaryDocument(caseId: String, now: Date) async throws -> CaseSummaryDocument? {
        if let document = try await models.caseDocument(caseId, now: now) {
            return CaseSummaryDocument(json: document.json, parties: document.parties)
        }
        guard let summary = try await models.caseSummary(caseId, now: now) else { return nil }
        return CaseSummaryDocument(json: Array(try JSONEncoder().encode(summary)), parties: summary.parties)
    }

    public func deadlines(_ filter: DeadlineFilter, visibleTo institution: String?) async throws -> [DeadlineRow] {
        try await models.deadlines(
            status: filter.status?.rawValue, caseId: filter.caseId, responsible: filter.responsible,
            visibleTo: institution, caseStatus: filter.caseStatus?.rawValue
        ).compactMap { d in
            guard let status = DeadlineFilter.Status(rawValue: d.status), let due = Timestamp.parse(d.dueAt),
                let trigger = UUID(uuidString: d.triggerEventId)
            else { return nil }
            return DeadlineRow(
                caseId: d.caseId, ruleId: d.ruleId, title: d.title, dueAt: due, status: status,
                responsible: d.responsible, triggerEventId: trigger,
                satisfiedAt: d.satisfiedAt.flatMap(Timestamp.parseDate), counted: d.counted)
        }
    }

    /// A page of deadlines by keyset: a range scan of an index on (due_at, case_id, ordinal)
    /// (Migrations/0006) that starts after the cursor and stops after `limit + 1` rows. Status
    /// filters are spelled as the conditions `handoff.deadline_status` tests, so that the open
    /// deadlines' partial index serves overdue, due-soon and pending; overdue reads the deadlines
    /// missed at closure from their own small index and merges the two ordered ranges.
    public func deadlinesPage(
        _ filter: DeadlineFilter, visibleTo institution: String?, after: DeadlineCursor?, limit: Int, now: Date
    ) async throws -> DeadlinePage {
        let limit = max(1, limit)
        let result = try await models.pool.query(
            DeadlinePageQuery(filter: filter, visibleTo: institution, after: after, limit: limit + 1, now: now).sql)
        var rows: [DeadlineRow] = []
        var cursors: [DeadlineCursor] = []
        for row in result.all {
            guard let status = DeadlineFilter.Status(rawValue: try row.decode(4)),
                let trigger = UUID(postgresText: try row.decode(6))
            else { continue }
            rows.append(
                DeadlineRow(
                    caseId: try row.decode(0), ruleId: try row.decode(1), title: try row.decode(2),
                    dueAt: try row.decode(3, as: Date.self), status: status, responsible: try row.decode(5),
                    triggerEventId: trigger, satisfiedAt: try row.decodeOptional(7, as: Date.self),
                    counted: try row.decode(10)))
            cursors.append(
                DeadlineCursor(
                    dueAtMicroseconds: try row.decode(9), caseId: try row.decode(0), ordinal: try row.decode(8)))
        }
        guard rows.count > limit else { return DeadlinePage(rows: rows, next: nil) }
        return DeadlinePage(rows: Array(rows.prefix(limit)), next: cursors[limit - 1])
    }

    public func deadlinesPage(
        _ filter: DeadlineFilter, visibleTo institution: String?, after: DeadlineCursor?, limit: Int
    )
        async throws -> DeadlinePage
    {
        try await deadlinesPage(filter, visibleTo: institution, after: after, limit: limit, now: Date())
    }

    public func inbox(institution: String) async throws -> [InboxItem] {
        try await models.inbox(institution: institution).compactMap { r in
            guard let issued = Timestamp.parse(r.issuedAt) else { return nil }
            return InboxItem(
                caseId: r.caseId, referralId: r.referralId, from: r.from, purpose: r.purpose, urgency: r.urgency,
                status: r.status, issuedAt: issued)
        }
    }

    public func stats(year: Int?) async throws -> StatsReport {
        let raw = try await models.statsCounts(year: year)
        var cells: [String: ComplianceCell] = [:]
        for o in raw.outcomes {
            let key = o.ruleId + "\u{0}" + o.responsible
            var cell =
                cells[key]
                ?? ComplianceCell(
                    ruleId: o.ruleId, institution: o.responsible, met: 0, metLate: 0, overdue: 0, pending: 0,
                    cancelled: 0)
            switch o.status {
            case "met": cell.met += o.count
            case "met-late": cell.metLate += o.count
            case "overdue": cell.overdue += o.count
            case "cancelled": cell.cancelled += o.count
            default: cell.pending += o.count  // pending and due-soon: still running
            }
            cells[key] = cell
        }
        return StatsReport(
            cases: raw.cases, counts: raw.counts,
            compliance: cells.values.sorted { ($0.ruleId, $0.institution) < ($1.ruleId, $1.institution) })
    }
}

/// The SQL of one deadline page, assembled from fixed fragments; every value is a bind parameter.
struct DeadlinePageQuery {
    var filter: DeadlineFilter
    var visibleTo: String?
    var after: DeadlineCursor?
    var limit: Int
    var now: Date

    /// What each status means, as conditions on a row's stored decision (`settled`, written by the
    /// evaluator: Deadline.settled) and, for the unsettled, its times against `$1` = now — the same
    /// comparisons `handoff.deadline_status` makes. Overdue is two ranges (see `sql`).
    static func conditions(_ status: DeadlineFilter.Status?) -> [String] {
        let unsettled = "d.settled IS NULL"
        switch status {
        case nil: return ["TRUE"]
        case .overdue: return ["\(unsettled) AND d.due_at <= $1", "d.settled = 'overdue'"]
        case .dueSoon: return ["\(unsettled) AND d.due_at > $1 AND d.warn_at <= $1"]
        case .pending: return ["\(unsettled) AND d.due_at > $1 AND d.warn_at > $1"]
        case .met: return ["d.settled = 'met'"]
        case .metLate: return ["d.settled = 'met-late'"]
        case .cancelled: return ["d.settled = 'cancelled'"]
        }
    }

    var sql: SQL {
        var parameters: [PostgresValue] = [now.postgresValue]
        func bind(_ value: some PostgresEncodable) -> String {
            parameters.append(value.postgresValue)
            return "$\(parameters.count)"
        }
        var extra = ""
        if let after {
            // The cursor's instant, exactly: whole seconds and microseconds as integers.
            var seconds = after.dueAtMicroseconds / 1_000_000
            var micros = after.dueAtMicroseconds % 1_000_000
            if micros < 0 {
                micros += 1_000_000
                seconds -= 1
            }
            extra += """
                 AND (d.due_at, d.case_id, d.ordinal) > (timestamptz 'epoch' + \(bind(seconds))::float8 * interval '1 second' \
                + \(bind(micros))::float8 * interval '1 microsecond', \(bind(after.caseId))::text, \(bind(after.ordinal))::int)
                """
        }
        if let caseId = filter.caseId { extra += " AND d.case_id = \(bind(caseId))::text" }
        if let responsible = filter.responsible { extra += " AND d.responsible = \(bind(responsible))::text" }
        // An equality on the leading column of Migrations/0020's indexes: still a range scan in page order.
        if let caseStatus = filter.caseStatus { extra += " AND d.case_status = \(bind(caseStatus.rawValue))::text" }
        if let visibleTo {
            extra += """
                 AND EXISTS (SELECT 1 FROM handoff.case_parties p WHERE p.case_id = d.case_id \
                AND p.institution = \(bind(visibleTo))::text)
                """
        }
        let limitParameter = bind(limit)
        let order = "ORDER BY due_at, case_id, ordinal"
        let branches = Self.conditions(filter.status).map { condition in
            """
            (SELECT d.case_id, d.rule_id, d.title, d.due_at,
                    handoff.deadline_status(d.settled, d.due_at, d.warn_at, $1)
                      AS status,
                    d.responsible, d.trigger_event_id::text, d.satisfied_at, d.ordinal,
                    (extract(epoch FROM d.due_at) * 1000000)::bigint AS due_us,
                    \(ReadModels.deadlineCounted) AS counted
               FROM handoff.deadlines d
              WHERE \(condition)\(extra)
              ORDER BY d.due_at, d.case_id, d.ordinal
              LIMIT \(limitParameter))
            """
        }
        let text =
            branches.count == 1
            ? branches[0]
            : "SELECT * FROM (\(branches.joined(separator: "\nUNION ALL\n"))) u \(order) LIMIT \(limitParameter)"
        return SQL(text: text, parameters: parameters)
    }
}
