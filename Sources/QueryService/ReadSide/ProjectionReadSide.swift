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

    /// The document `ReadModels.caseSummary` describes (`CaseSummary`: the same members, order
    /// and formats; a test holds the two equal), read with one statement instead of four: one
    /// round trip, one plan, one snapshot. Times travel as PostgreSQL's text and are formatted
    /// as the read models format them.
    public func caseSummary(caseId: String, now: Date) async throws -> JSONValue? {
        let result = try await models.pool.query(
            """
            SELECT s.case_id, s.status, s.identification_status, s.risk_level, s.opened_by, s.opened_at, s.child,
                   s.version, s.last_event_at, s.closed_at, s.closure_reason,
                   (SELECT json_agg(p.institution ORDER BY p.ordinal) FROM handoff.case_parties p
                     WHERE p.case_id = s.case_id)::text,
                   (SELECT json_agg(json_build_array(
                               r.case_id, r.referral_id, r.from_institution, r.to_institution, r.purpose, r.urgency,
                               r.status, r.issued_at::text, r.issued_event_id::text, r.acknowledged_at::text,
                               r.accepted_at::text, r.declined_at::text, r.decline_reason, r.completed_at::text,
                               r.outcome) ORDER BY r.ordinal)
                      FROM handoff.referrals r
                     WHERE r.case_id = s.case_id AND r.status IN ('issued', 'acknowledged', 'accepted'))::text,
                   (SELECT json_agg(json_build_array(
                               d.case_id, d.rule_id, d.title, d.due_at::text, d.warn_at::text,
                               handoff.deadline_status(d.satisfied_at, d.due_at, d.warn_at, d.cancelled_at,
                                                       d.missed_at_closure, \(now)),
                               d.responsible, d.trigger_event_id::text, d.satisfied_at::text, d.referral_id,
                               d.ruleset_id, d.ruleset_version, d.confirmed,
                               (SELECT n.event_id::text FROM handoff.deadline_notices n
                                 WHERE n.case_id = d.case_id AND n.rule_id = d.rule_id
                                   AND n.trigger_event_id = d.trigger_event_id
                                 ORDER BY n.recorded_at LIMIT 1)) ORDER BY d.due_at, d.case_id, d.ordinal)
                      FROM handoff.deadlines d WHERE d.case_id = s.case_id)::text
              FROM handoff.case_summary s WHERE s.case_id = \(caseId)
            """)
        guard let row = result.first else { return nil }
        func time(_ column: Int) throws -> JSONValue { .string(Timestamp.format(try row.decode(column, as: Date.self))) }
        func optionalTime(_ column: Int) throws -> JSONValue {
            try row.decodeOptional(column, as: Date.self).map { .string(Timestamp.format($0)) } ?? .null
        }
        func optionalText(_ column: Int) throws -> JSONValue {
            try row.decodeOptional(column, as: String.self).map(JSONValue.string) ?? .null
        }
        func list(_ column: Int) throws -> [JSONValue] {
            guard let text = try row.decodeOptional(column, as: String.self) else { return [] }
            guard let items = try JSONValue.parse(text).arrayValue else { throw SummaryShapeError() }
            return items
        }
        let parties = try list(11)
        let referrals = try list(12).map { item -> JSONValue in
            let f = try Self.fields(item, count: 15)
            return .object(
                JSONObject([
                    ("caseId", f[0]), ("referralId", f[1]), ("from", f[2]), ("to", f[3]), ("purpose", f[4]),
                    ("urgency", f[5]), ("status", f[6]), ("issuedAt", try Self.time(f[7])), ("issuedEventId", f[8]),
                    ("acknowledgedAt", try Self.time(f[9])), ("acceptedAt", try Self.time(f[10])),
                    ("declinedAt", try Self.time(f[11])), ("declineReason", f[12]),
                    ("completedAt", try Self.time(f[13])), ("outcome", f[14]),
                ]))
        }
        let deadlines = try list(13).map { item -> JSONValue in
            let f = try Self.fields(item, count: 14)
            return .object(
                JSONObject([
                    ("caseId", f[0]), ("ruleId", f[1]), ("title", f[2]), ("dueAt", try Self.time(f[3])),
                    ("warnAt", try Self.time(f[4])), ("status", f[5]), ("responsible", f[6]),
                    ("triggerEventId", f[7]), ("satisfiedAt", try Self.time(f[8])), ("referralId", f[9]),
                    ("rulesetId", f[10]), ("rulesetVersion", f[11]), ("confirmed", f[12]),
                    ("missedNoticeEventId", f[13]),
                ]))
        }
        return .object(
            JSONObject([
                ("caseId", .string(try row.decode(0))), ("status", .string(try row.decode(1))),
                ("identificationStatus", .string(try row.decode(2))), ("riskLevel", try optionalText(3)),
                ("openedBy", .string(try row.decode(4))), ("openedAt", try time(5)),
                ("child", .bool(try row.decode(6))), ("version", .number(JSONNumber(try row.decode(7, as: Int.self)))),
                ("lastEventAt", try time(8)), ("closedAt", try optionalTime(9)), ("closureReason", try optionalText(10)),
                ("parties", .array(parties)), ("openReferrals", .array(referrals)), ("deadlines", .array(deadlines)),
            ]))
    }

    struct SummaryShapeError: Error {}

    /// The members of a `json_build_array` row.
    static func fields(_ item: JSONValue, count: Int) throws -> [JSONValue] {
        guard let fields = item.arrayValue, fields.count == count else { throw SummaryShapeError() }
        return fields
    }

    /// A timestamptz sent as PostgreSQL text, formatted as the read models format times.
    static func time(_ value: JSONValue) throws -> JSONValue {
        if value == .null { return .null }
        guard let text = value.stringValue, let date = Date(postgresText: text) else { throw SummaryShapeError() }
        return .string(Timestamp.format(date))
    }

    public func deadlines(_ filter: DeadlineFilter, visibleTo institution: String?) async throws -> [DeadlineRow] {
        try await models.deadlines(
            status: filter.status?.rawValue, caseId: filter.caseId, responsible: filter.responsible, visibleTo: institution
        ).compactMap { d in
            guard let status = DeadlineFilter.Status(rawValue: d.status), let due = Timestamp.parse(d.dueAt),
                let trigger = UUID(uuidString: d.triggerEventId)
            else { return nil }
            return DeadlineRow(
                caseId: d.caseId, ruleId: d.ruleId, title: d.title, dueAt: due, status: status,
                responsible: d.responsible, triggerEventId: trigger,
                satisfiedAt: d.satisfiedAt.flatMap(Timestamp.parseDate))
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
                let trigger = UUID(uuidString: try row.decode(6))
            else { continue }
            rows.append(
                DeadlineRow(
                    caseId: try row.decode(0), ruleId: try row.decode(1), title: try row.decode(2),
                    dueAt: try row.decode(3, as: Date.self), status: status, responsible: try row.decode(5),
                    triggerEventId: trigger, satisfiedAt: try row.decodeOptional(7, as: Date.self)))
            cursors.append(
                DeadlineCursor(
                    dueAtMicroseconds: try row.decode(9), caseId: try row.decode(0), ordinal: try row.decode(8)))
        }
        guard rows.count > limit else { return DeadlinePage(rows: rows, next: nil) }
        return DeadlinePage(rows: Array(rows.prefix(limit)), next: cursors[limit - 1])
    }

    public func deadlinesPage(_ filter: DeadlineFilter, visibleTo institution: String?, after: DeadlineCursor?, limit: Int)
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
                    ruleId: o.ruleId, institution: o.responsible, met: 0, metLate: 0, overdue: 0, pending: 0, cancelled: 0)
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

    /// What each status means, as conditions on a row (`handoff.deadline_status` at `$1` = now).
    /// Open = neither met nor cancelled; overdue is two ranges (see `sql`).
    static func conditions(_ status: DeadlineFilter.Status?) -> [String] {
        let open = "d.satisfied_at IS NULL AND d.cancelled_at IS NULL"
        switch status {
        case nil: return ["TRUE"]
        case .overdue:
            return ["\(open) AND d.due_at <= $1", "\(open) AND d.missed_at_closure AND d.due_at > $1"]
        case .dueSoon: return ["\(open) AND NOT d.missed_at_closure AND d.due_at > $1 AND d.warn_at <= $1"]
        case .pending: return ["\(open) AND NOT d.missed_at_closure AND d.due_at > $1 AND d.warn_at > $1"]
        case .met: return ["d.satisfied_at IS NOT NULL AND d.satisfied_at <= d.due_at"]
        case .metLate: return ["d.satisfied_at IS NOT NULL AND d.satisfied_at > d.due_at"]
        case .cancelled: return ["d.satisfied_at IS NULL AND d.cancelled_at IS NOT NULL"]
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
                    handoff.deadline_status(d.satisfied_at, d.due_at, d.warn_at, d.cancelled_at, d.missed_at_closure, $1)
                      AS status,
                    d.responsible, d.trigger_event_id::text, d.satisfied_at, d.ordinal,
                    (extract(epoch FROM d.due_at) * 1000000)::bigint AS due_us
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
