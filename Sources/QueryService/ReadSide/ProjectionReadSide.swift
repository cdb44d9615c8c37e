import Foundation
import Postgres
import Projections
import Referrals

/// The read side over the `Projections` read models in PostgreSQL.
public struct ProjectionReadSide: ReadSide {
    public let models: ReadModels

    public init(pool: ConnectionPool) { models = ReadModels(pool: pool) }

    public func caseSummary(caseId: String) async throws -> JSONValue? {
        guard let summary = try await models.caseSummary(caseId) else { return nil }
        return try JSONValue.parse(Array(try JSONEncoder().encode(summary)))
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
