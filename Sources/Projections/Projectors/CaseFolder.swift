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
/// Rows are computed first (``prepare(_:through:reading:)``) and written afterwards (delete the
/// touched cases' old rows, insert the new ones: one statement per table), so a batch's write
/// transaction holds its transaction id only while PostgreSQL writes, and a rebuild can compute
/// the next batch meanwhile. A replay never reads its own tables: it deletes only rows it wrote
/// before (it fills tables that were empty when it started), and when a ruleset or institution
/// event makes every case count it takes the cases it knows to have rows.
final class CaseFolder: ProjectorReplay {
    /// Whether this folder has seen every event of the log from its start, so that a case it does
    /// not know has no earlier events.
    let complete: Bool
    /// How many events to keep in memory (only when `complete`).
    let memory: Int
    /// How many cases go into one group of statements (one `DELETE` and one `INSERT` per table).
    let flushCases = 2000

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
    /// The rulesets and institutions as of the last batch that needed them.
    private var context: DeadlineEvaluator.Context?
    private var batches = 0

    init(complete: Bool, memory: Int) {
        self.complete = complete
        self.memory = memory
    }

    /// The events this folder keeps in memory (for tests).
    var rememberedEvents: Int { remembered }
    /// The cases it has forgotten (for tests).
    var forgottenCases: Int { forgotten.count }

    /// The live projector's batch: computed, then written on the same connection.
    func apply(_ events: [RecordedEvent], through cursor: Cursor, on connection: Connection, tables: ProjectionTables)
        async throws
    {
        try await prepare(events, through: cursor, reading: connection, tables: tables).run(
            on: connection, tables: tables)
    }

    func prepare(_ events: [RecordedEvent], through cursor: Cursor, reading connection: Connection) async throws
        -> ReplayWrites
    {
        try await prepare(events, through: cursor, reading: connection, tables: .shadow)
    }

    /// Computes a batch's rows.
    /// - Parameter tables: where the live projector finds every case with a summary row.
    private func prepare(
        _ events: [RecordedEvent], through cursor: Cursor, reading connection: Connection, tables: ProjectionTables
    ) async throws -> ReplayWrites {
        batches += 1
        // 1. What the batch touches.
        var touched: [String: [Int]] = [:]  // indices into `events`
        var everything = false
        var registryChanged = context == nil || !complete
        var notices = CaseProjector.notices.rows()
        for (index, event) in events.enumerated() {
            if event.stream.hasPrefix("case-") {
                touched[String(event.stream.dropFirst(5)), default: []].append(index)
            } else if event.stream == "sop-rulesets" || event.stream == "institutions" {
                everything = true
                registryChanged = true
            } else if event.stream.hasPrefix("sop-"), event.type == "SopDeadlineMissed",
                let data = try? JSONValue.parse(event.data),
                case .sopDeadlineMissed(let ruleId, let dueAt, let trigger, let responsible, let rulesetId)? =
                    try? SystemEventBody.decode(type: event.type, data: data)
            {
                let caseId = String(event.stream.dropFirst(4))
                CaseProjector.addNotice(
                    event, caseId: caseId, ruleId: ruleId, rulesetId: rulesetId,
                    dueAt: dueAt, trigger: trigger, responsible: responsible, to: &notices)
                // A notice changes its deadline's status (never met, never cancelled): recompute the case.
                touched[caseId, default: []].append(index)
            }
        }
        var ids = Set(touched.keys)
        if everything {
            if complete {
                // The cases with a summary row are those this replay wrote rows for (a superset does
                // no harm: a case without rows gets none again).
                for (caseId, entry) in cases where entry.hasRows { ids.insert(caseId) }
                ids.formUnion(forgotten)
            } else {
                let all = try await connection.query(
                    SQL(text: "SELECT case_id FROM \(tables.qualified("case_summary"))", parameters: []))
                for row in all.all { ids.insert(try row.decode(0)) }
            }
        }
        if !ids.isEmpty, registryChanged {
            context = DeadlineEvaluator.Context(
                rulesets: try await History.rulesets(through: cursor, on: connection),
                institutions: try await History.institutions(through: cursor, on: connection))
        }

        // 2. Each touched case's history up to the cursor, and its rows, in groups of `flushCases` cases.
        var groups: [CaseRows] = []
        let sorted = ids.sorted()
        var start = 0
        while start < sorted.count {
            let slice = Array(sorted[start..<min(start + flushCases, sorted.count)])
            start += flushCases
            let histories = try await self.histories(
                slice, batch: events, touched: touched, through: cursor, on: connection)
            var rows = CaseRows()
            for caseId in slice {
                if !complete || forgotten.contains(caseId) || cases[caseId]?.hasRows == true {
                    rows.stale.append(caseId)
                }
                guard let history = histories[caseId] else { continue }
                let evaluation = DeadlineEvaluator.evaluate(
                    caseId: caseId, events: history.events, context: context!, now: Date(timeIntervalSince1970: 0),
                    notices: history.notices)
                if complete { remember(caseId, history, hasRows: evaluation.state != nil) }
                guard let state = evaluation.state else { continue }
                CaseProjector.addSummary(state, history: history, to: &rows.summaries)
                CaseProjector.addParties(state, to: &rows.parties)
                CaseProjector.addReferrals(state, to: &rows.referrals)
                CaseProjector.addDeadlines(evaluation.deadlines, to: &rows.deadlines)
            }
            groups.append(rows)
        }
        if complete { forgetIfNeeded() }
        let (finished, written) = (notices, groups)
        return ReplayWrites { connection, tables in
            for rows in written { try await rows.write(on: connection, tables: tables) }
            try await CaseProjector.notices.insert(finished, on: connection, tables: tables)
        }
    }

    /// The history of each case in `slice` up to `cursor`: from memory plus the batch, or read.
    private func histories(
        _ slice: [String], batch: [RecordedEvent], touched: [String: [Int]], through cursor: Cursor,
        on connection: Connection
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
            for index in touched[caseId] ?? [] {
                if batch[index].stream.hasPrefix("sop-") {
                    if let key = History.noticeKey(dataText: batch[index].data) { history.notices.insert(key) }
                    continue
                }
                // `batch[index]` rather than a local copy: a copy of an event retains all its fields.
                let typed: CaseEvent?
                switch History.decode(batch[index]) {
                case .event(let e): typed = e
                case .skipped: typed = nil
                case .unsure: sure = false; typed = nil
                }
                guard sure, let recordedAt = PostgresTimestamp.parse(batch[index].recordedAt) else {
                    sure = false
                    break
                }
                history.add(version: batch[index].version, id: batch[index].id, recordedAt: recordedAt, event: typed)
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

/// The rows of a group of cases: which cases' old rows go, and the new rows.
struct CaseRows: Sendable {
    var stale: [String] = []
    var summaries = CaseProjector.summary.rows()
    var parties = CaseProjector.parties.rows()
    var referrals = CaseProjector.referrals.rows()
    var deadlines = CaseProjector.deadlines.rows()

    func write(on connection: Connection, tables: ProjectionTables) async throws {
        for writer in [CaseProjector.summary, CaseProjector.parties, CaseProjector.referrals, CaseProjector.deadlines] {
            try await writer.delete(stale, on: connection, tables: tables)
        }
        try await CaseProjector.summary.insert(summaries, on: connection, tables: tables)
        try await CaseProjector.parties.insert(parties, on: connection, tables: tables)
        try await CaseProjector.referrals.insert(referrals, on: connection, tables: tables)
        try await CaseProjector.deadlines.insert(deadlines, on: connection, tables: tables)
    }
}
