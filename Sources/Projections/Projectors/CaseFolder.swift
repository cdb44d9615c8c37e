import EventStore
import Foundation
import Postgres
import Referrals

/// The work of ``CaseProjector`` on one batch, and — in a rebuild — what it remembers between
/// batches.
///
/// For each case a batch touches it needs the case's whole stream up to the batch's cursor. The
/// live projector (`complete == false`) reads those streams from `handoff.events`, as it always
/// did. A rebuild's replay (`complete == true`) has seen every earlier batch since the start of the
/// log, so it keeps the streams in memory: a case's history at this batch is its history at the
/// previous batch plus the case's events in this batch — exactly the events at or before the
/// cursor, whatever order the global log delivered them in. When more than `memory` events are
/// kept, the cases used least recently are forgotten and read from the table again the next time
/// a batch touches them. Rulesets and institutions are read again only when a batch holds one of
/// their events.
///
/// Rows are computed first and written afterwards (delete the touched cases' old rows, insert the
/// new ones: one statement per table), so the batch's write transaction holds its transaction id
/// only while PostgreSQL writes. A replay deletes only rows it wrote before: it fills tables that
/// were empty when it started.
final class CaseFolder: ProjectorReplay {
    /// Whether this folder has seen every event of the log from its start, so that a case it does
    /// not know has no earlier events.
    let complete: Bool
    /// How many events to keep in memory (only when `complete`).
    let memory: Int
    /// How many cases to compute before writing their rows.
    let flushCases = 500

    private struct Remembered {
        var history: History.CaseHistory
        /// The batch that last touched it, for forgetting the least recently used.
        var lastUse: Int
        /// Whether the tables hold rows of the case (written by this folder).
        var hasRows: Bool
    }

    private var cases: [String: Remembered] = [:]
    private var remembered = 0
    /// Cases forgotten to save memory: their rows may exist, their stream must be read.
    private var forgotten: Set<String> = []
    private var rulesets: [Ruleset]?
    private var institutions: [Institution]?
    private var batches = 0

    init(complete: Bool, memory: Int) {
        self.complete = complete
        self.memory = memory
    }

    /// The events this folder keeps in memory (for tests).
    var rememberedEvents: Int { remembered }
    /// The cases it has forgotten (for tests).
    var forgottenCases: Int { forgotten.count }

    func apply(_ events: [RecordedEvent], through cursor: Cursor, on connection: Connection, tables: ProjectionTables)
        async throws
    {
        batches += 1
        // 1. What the batch touches.
        var touched: [String: [RecordedEvent]] = [:]
        var order: [String] = []
        var everything = false
        var registryChanged = rulesets == nil || institutions == nil || !complete
        var notices = CaseProjector.notices.rows()
        for event in events {
            if event.stream.hasPrefix("case-") {
                let caseId = String(event.stream.dropFirst(5))
                if touched[caseId] == nil { order.append(caseId) }
                touched[caseId, default: []].append(event)
            } else if event.stream == "sop-rulesets" || event.stream == "institutions" {
                everything = true
                registryChanged = true
            } else if event.stream.hasPrefix("sop-"), event.type == "SopDeadlineMissed",
                let data = try? JSONValue.parse(event.data),
                case .sopDeadlineMissed(let ruleId, let dueAt, let trigger, let responsible)? =
                    try? SystemEventBody.decode(type: event.type, data: data)
            {
                CaseProjector.addNotice(
                    event, caseId: String(event.stream.dropFirst(4)), ruleId: ruleId, dueAt: dueAt, trigger: trigger,
                    responsible: responsible, to: &notices)
            }
        }
        var ids = Set(order)
        if everything {
            let all = try await connection.query(
                SQL(text: "SELECT case_id FROM \(tables.qualified("case_summary"))", parameters: []))
            for row in all.all { ids.insert(try row.decode(0)) }
        }
        if ids.isEmpty {
            try await CaseProjector.notices.insert(notices, on: connection, tables: tables)
            return
        }
        if registryChanged {
            rulesets = try await History.rulesets(through: cursor, on: connection)
            institutions = try await History.institutions(through: cursor, on: connection)
        }

        // 2. Each touched case's history up to the cursor, its rows, written a few hundred cases at a time.
        let sorted = ids.sorted()
        var start = 0
        while start < sorted.count {
            let slice = Array(sorted[start..<min(start + flushCases, sorted.count)])
            start += flushCases
            let histories = try await self.histories(slice, batch: touched, through: cursor, on: connection)
            var summaries = CaseProjector.summary.rows()
            var parties = CaseProjector.parties.rows()
            var referrals = CaseProjector.referrals.rows()
            var deadlines = CaseProjector.deadlines.rows()
            var stale: [String] = []
            for caseId in slice {
                if !complete || forgotten.contains(caseId) || cases[caseId]?.hasRows == true { stale.append(caseId) }
                let history = histories[caseId]
                let state = history.flatMap { CaseState.fold(caseId: caseId, events: $0.events) }
                if complete, history != nil { remember(caseId, history!, hasRows: state != nil) }
                guard let history, let state else { continue }
                CaseProjector.addSummary(state, history: history, to: &summaries)
                CaseProjector.addParties(state, to: &parties)
                CaseProjector.addReferrals(state, to: &referrals)
                let evaluated = DeadlineEvaluator.evaluate(
                    caseId: caseId, events: history.events, rulesets: rulesets ?? [],
                    now: Date(timeIntervalSince1970: 0), institutions: institutions ?? [])
                CaseProjector.addDeadlines(evaluated, to: &deadlines)
            }
            for writer in [CaseProjector.summary, CaseProjector.parties, CaseProjector.referrals, CaseProjector.deadlines] {
                try await writer.delete(stale, on: connection, tables: tables)
            }
            try await CaseProjector.summary.insert(summaries, on: connection, tables: tables)
            try await CaseProjector.parties.insert(parties, on: connection, tables: tables)
            try await CaseProjector.referrals.insert(referrals, on: connection, tables: tables)
            try await CaseProjector.deadlines.insert(deadlines, on: connection, tables: tables)
        }
        try await CaseProjector.notices.insert(notices, on: connection, tables: tables)
        if complete { forgetIfNeeded() }
    }

    /// The history of each case in `slice` up to `cursor`: from memory plus the batch, or read.
    private func histories(
        _ slice: [String], batch: [String: [RecordedEvent]], through cursor: Cursor, on connection: Connection
    ) async throws -> [String: History.CaseHistory] {
        var out: [String: History.CaseHistory] = [:]
        var read: [String] = []
        for caseId in slice {
            let known = cases[caseId]?.history
            guard complete, known != nil || !forgotten.contains(caseId) else {
                read.append(caseId)
                continue
            }
            var history = known ?? History.CaseHistory()
            var sure = true
            for event in batch[caseId] ?? [] {
                let typed: CaseEvent?
                switch History.decode(event) {
                case .event(let e): typed = e
                case .skipped: typed = nil
                case .unsure: sure = false; typed = nil
                }
                guard sure, let recordedAt = PostgresTimestamp.parse(event.recordedAt) else {
                    sure = false
                    break
                }
                history.add(version: event.version, id: event.id, recordedAt: recordedAt, event: typed)
            }
            if sure {
                if history.version > 0 { out[caseId] = history }
            } else {
                read.append(caseId)
            }
        }
        if !read.isEmpty {
            for (caseId, history) in try await History.cases(read, through: cursor, on: connection) {
                out[caseId] = history
            }
        }
        return out
    }

    private func remember(_ caseId: String, _ history: History.CaseHistory, hasRows: Bool) {
        remembered += history.events.count - (cases[caseId]?.history.events.count ?? 0)
        cases[caseId] = Remembered(history: history, lastUse: batches, hasRows: hasRows)
        forgotten.remove(caseId)
    }

    /// Forgets the least recently used cases until a quarter of the allowance is free again.
    private func forgetIfNeeded() {
        guard remembered > memory else { return }
        let target = memory * 3 / 4
        for (caseId, entry) in cases.sorted(by: { ($0.value.lastUse, $0.key) < ($1.value.lastUse, $1.key) }) {
            guard remembered > target else { break }
            remembered -= entry.history.events.count
            cases[caseId] = nil
            forgotten.insert(caseId)
        }
    }
}
