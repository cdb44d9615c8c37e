import EventStore
import Foundation
import Postgres
import Referrals

/// The work of ``CaseProjector`` on a batch, and what it remembers between batches: the live
/// runner's ``LiveProjection`` and a rebuild's ``ProjectorReplay``.
///
/// For each case a batch touches it needs the case's whole stream up to the batch's cursor. It
/// remembers the streams it has read or seen (typed events and version per case, up to `memory`
/// events; the cases used least recently are forgotten), and brings a remembered stream up to a
/// batch's cursor with the batch's own events for that case, inserted in version order whatever
/// order the global log delivered them in. A case it does not remember is read from
/// `handoff.events` up to the cursor. The rulesets and institutions (the `DeadlineEvaluator`'s
/// context) are kept too, and read again only when a batch holds one of their events.
///
/// A rebuild's replay (`complete == true`) first takes the log up to its gap-free head case by
/// case (``wholePart(through:reading:)``): a part of cases at a time, each case's stream and
/// notices read whole through that cursor, folded once and written once — so a case whose
/// events are spread over many batches of the global order costs what it costs when they lie
/// together (in global order it was folded and written again at every batch that touched it, and
/// read back from the table each time once more cases were open at once than its memory holds:
/// a twelfth of the speed, on a log whose cases' events alternate). The batches it then prepares
/// start after that cursor, and any case it does not remember is read from the table.
///
/// What it remembers is exact only as of one cursor: every remembered stream holds the case's
/// events at or before the end of the last batch it prepared. A replay that prepares every batch
/// from the start of the log in order (without a part first) keeps that, and a case it has never
/// seen has no earlier events. The live runner hands it the batch
/// after its checkpoint; when that does not start where the last prepared batch ended (another
/// runner moved the checkpoint, or the last batch did not commit), it forgets everything first.
///
/// Rows are computed first and written afterwards (delete the touched cases' old rows, insert the
/// new ones: one statement per table), so a batch's write transaction holds its transaction id
/// only while PostgreSQL writes, and a rebuild can compute the next batch meanwhile.
///
/// A ruleset or institution event makes every case count. A replay takes the cases it knows to have
/// rows (it never reads its own tables, whose last writes may still be in flight) and writes them
/// all with the batch. The live projector takes the cases of `case_summary` plus the batch's own,
/// in byte order of their ids, and recomputes them in parts of `chunkCases` cases, each part its
/// own short transaction (see ``ProjectionRunner``): the first part also writes the batch's
/// missed-deadline notices; each part's resume key is its last case id.
actor CaseFolder: ProjectorReplay, LiveProjection {
    /// Whether this folder has seen every event of the log from its start, so that a case it does
    /// not know has no earlier events.
    let complete: Bool
    /// How many events to keep in memory.
    let memory: Int
    /// How many cases go into one group of statements (one `DELETE` and one `INSERT` per table).
    let flushCases = 2000
    /// How many cases one part of a live registry-wide recompute writes.
    let chunkCases: Int
    /// How many shares of a part of the replay up to a cursor are folded at once (one a processor
    /// by default), each of at least `shareEvents` events: more, smaller shares only multiply the
    /// statements and transactions that write them.
    let foldShares: Int
    let shareEvents: Int

    private struct Remembered {
        var history: History.CaseHistory
        /// The batch that last touched it, for forgetting the least recently used.
        var lastUse: Int
        /// Whether the tables hold rows of the case (written by this folder; replays only).
        var hasRows: Bool
    }

    private var cases: [String: Remembered] = [:]
    private var remembered = 0
    /// Cases a replay forgot to save memory: their rows may exist, their stream must be read.
    private var forgotten: Set<String> = []
    /// The rulesets and institutions as of the last batch that needed them.
    private var context: DeadlineEvaluator.Context?
    private var batches = 0
    /// Live: the cursor that `cases` and `context` are exact as of (nil before the first batch).
    private var knownThrough: Cursor?
    /// Live: whether it has looked for cases without a document (Migrations/0031).
    private var documentsChecked = false
    /// Live: the registry-wide recompute of a batch, with every case it covers in byte order.
    private var recompute: (start: Cursor, end: Cursor, cases: [String])?

    init(complete: Bool, memory: Int, chunkCases: Int = 500, foldShares: Int? = nil, shareEvents: Int = 1_000) {
        self.complete = complete
        self.memory = memory
        self.chunkCases = max(1, chunkCases)
        self.foldShares = max(1, foldShares ?? ProcessInfo.processInfo.activeProcessorCount)
        self.shareEvents = max(1, shareEvents)
    }

    /// The events this folder keeps in memory (for tests).
    var rememberedEvents: Int { remembered }
    /// The cases it has forgotten (for tests).
    var forgottenCases: Int { forgotten.count }
    /// How many times it read the rulesets and institutions (for tests).
    private(set) var registryReads = 0
    /// How many case streams it read from the table (for tests).
    private(set) var streamsRead = 0

    // MARK: - Live

    func prepare(_ batch: LiveBatch, reading connection: Connection) async throws -> LivePart {
        try await prepare(batch, reading: connection, tables: .live)
    }

    /// A live batch's next part.
    /// - Parameter tables: where the cases with a summary row are found.
    func prepare(_ batch: LiveBatch, reading connection: Connection, tables: ProjectionTables) async throws
        -> LivePart
    {
        precondition(!complete, "a replay's folder is not a live one")
        batches += 1
        let scan = Self.scan(batch.events)
        if batch.resumingAfter == nil {
            let fresh = knownThrough != batch.start
            if fresh { forgetAll() }
            recompute = nil
            if context == nil || scan.registryChanged { try await readRegistry(through: batch.end, on: connection) }
            advance(scan.touched, batch: batch.events)
            knownThrough = batch.end
            // A store upgraded to Migrations/0031 has cases without a document: render them all,
            // as after a registry change (checked once per folder, on its first fresh batch).
            var everyCase = scan.registryChanged
            if !everyCase && fresh && !documentsChecked {
                documentsChecked = true
                everyCase = try await documentsMissing(on: connection, tables: tables)
            }
            guard everyCase else {
                let ids = scan.touched.keys.sorted(by: Self.inByteOrder)
                let groups = try await rows(ids, through: batch.end, on: connection)
                forgetIfNeeded()
                return LivePart(writes: Self.writes(groups, notices: scan.notices), resumeAfter: nil)
            }
        } else {
            // Resuming a recompute: what is remembered must be exact as of the batch's end.
            if knownThrough != batch.end {
                forgetAll()
                knownThrough = batch.end
            }
            if context == nil { try await readRegistry(through: batch.end, on: connection) }
        }
        if recompute?.start != batch.start || recompute?.end != batch.end {
            // The cases with rows as of the batch's start (those after the resume key still are), and the batch's own.
            var ids = Set(scan.touched.keys)
            let all = try await connection.query(
                SQL(text: "SELECT case_id FROM \(tables.qualified("case_summary"))", parameters: []))
            for row in all.all { ids.insert(try row.decode(0)) }
            recompute = (batch.start, batch.end, ids.sorted(by: Self.inByteOrder))
        }
        let all = recompute!.cases
        var first = all.startIndex
        if let after = batch.resumingAfter {
            first = Self.firstIndex(in: all, after: after)
        }
        let last = min(all.count, first + min(chunkCases, all.count - first))
        let chunk = Array(all[first..<last])
        let groups = try await rows(chunk, through: batch.end, on: connection)
        forgetIfNeeded()
        let notices = batch.resumingAfter == nil ? scan.notices : CaseProjector.notices.rows()
        return LivePart(
            writes: Self.writes(groups, notices: notices), resumeAfter: last < all.count ? chunk.last : nil)
    }

    /// Whether some case has a summary row but no document (Migrations/0031), a referral or
    /// deadline row without its counted times or mark (Migrations/0036, 0037, 0039), or a reopened
    /// case without the closure its reopening undid (Migrations/0040 copied current closures only).
    private func documentsMissing(on connection: Connection, tables: ProjectionTables) async throws -> Bool {
        let text = """
            SELECT EXISTS (SELECT 1 FROM \(tables.qualified("case_summary")) s WHERE NOT EXISTS (
                SELECT 1 FROM \(tables.qualified("case_documents")) d WHERE d.case_id = s.case_id))
                OR EXISTS (SELECT 1 FROM \(tables.qualified("referrals")) WHERE issued_counted_at IS NULL)
                OR EXISTS (SELECT 1 FROM \(tables.qualified("deadlines")) WHERE counts_from IS NULL OR counted IS NULL)
                OR EXISTS (SELECT 1 FROM \(tables.qualified("case_summary")) s WHERE s.reopen_count > 0
                              AND NOT EXISTS (SELECT 1 FROM \(tables.qualified("case_closures")) k
                                               WHERE k.case_id = s.case_id AND k.reopened_at IS NOT NULL))
            """
        return try await connection.query(SQL(text: text, parameters: [])).first?.decode(0) ?? false
    }

    /// The index of the first id after `key` in byte order, in ids sorted that way.
    static func firstIndex(in ids: [String], after key: String) -> Int {
        var low = 0
        var high = ids.count
        while low < high {
            let mid = (low + high) / 2
            if inByteOrder(key, ids[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }

    /// Byte order of UTF-8, the order resume keys are compared in (independent of any collation).
    static func inByteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    // MARK: - Replay

    func prepare(_ events: [RecordedEvent], through cursor: Cursor, reading connection: Connection) async throws
        -> ReplayWrites
    {
        precondition(complete, "a live folder does not replay")
        batches += 1
        var events = events
        if let whole = wholeThrough, let first = events.first, first.cursor <= whole {
            events.removeAll { $0.cursor <= whole }  // replayed case by case already
        }
        let scan = Self.scan(events)
        if context == nil || scan.registryChanged { try await readRegistry(through: cursor, on: connection) }
        advance(scan.touched, batch: events)
        var ids = Set(scan.touched.keys)
        if scan.registryChanged {
            // The cases with a summary row are those this replay wrote rows for (a superset does
            // no harm: a case without rows gets none again).
            for (caseId, entry) in cases where entry.hasRows { ids.insert(caseId) }
            ids.formUnion(forgotten)
            if wholeThrough != nil { ids.formUnion(try await Self.caseStreams(on: connection).map(\.caseId)) }
        }
        let groups = try await rows(ids.sorted(by: Self.inByteOrder), through: cursor, on: connection)
        forgetIfNeeded()
        return Self.writes(groups, notices: scan.notices)
    }

    // MARK: - Replay up to a cursor, case by case

    /// The cases of each part of the replay up to ``wholeThrough`` still to do.
    private var wholeParts: [[String]] = []
    /// The next part's read, under way while the current one is folded.
    private var wholeAhead: Task<WholeRead, any Error>?
    /// The cursor the replay case by case ran through (nil: it did not run). A batch's events at or
    /// before it are skipped, and any case not remembered may have events and rows from it.
    private var wholeThrough: Cursor?

    /// A part's cases as read: their histories, and their notices as recorded events.
    private struct WholeRead: Sendable {
        var histories: [String: History.CaseHistory]
        var notices: [RecordedEvent]
    }

    /// A replay takes the log up to a cursor case by case: each case is read whole and folded once,
    /// however its events are spread through the log (in global order, a case touched by many
    /// batches was folded and written again at each of them, and read back from the table each
    /// time once more cases were open at once than its memory holds).
    nonisolated var replaysWhole: Bool { complete }

    /// The next part of the cases as of `cursor`, with the rows of their cases and notices: at most
    /// `flushCases` cases and about an eighth of `memory` events (a part is read ahead on
    /// `connection` while one is folded and one written). Nil once every case is done.
    func wholePart(through cursor: Cursor, reading connection: Connection) async throws -> ReplayPart? {
        precondition(complete, "a live folder does not replay")
        if wholeThrough == nil {
            precondition(batches == 0, "the replay up to a cursor comes before any batch")
            wholeThrough = cursor
            try await readRegistry(through: cursor, on: connection)
            wholeParts = Self.parts(
                try await Self.caseStreams(on: connection), cases: flushCases, events: max(1, memory / 8))
        }
        precondition(wholeThrough == cursor, "one cursor for the whole replay up to it")
        guard !wholeParts.isEmpty else { return nil }
        let ids = wholeParts.removeFirst()
        let read = try await (wholeAhead ?? Self.readAhead(ids, through: cursor, on: connection)).value
        wholeAhead = wholeParts.first.map { Self.readAhead($0, through: cursor, on: connection) }
        return await fold(ids, read)
    }

    /// The rows of the cases `ids` and their notices as of `cursor`, read on `connection` with the
    /// registry as of `cursor` (a read-model check's part, in a snapshot of its own).
    func checkPart(_ ids: [String], through cursor: Cursor, on connection: Connection) async throws -> ReplayWrites {
        try await readRegistry(through: cursor, on: connection)
        return await fold(ids, try await Self.readAhead(ids, through: cursor, on: connection).value).writes
    }

    /// A part's cases folded, each once, with the rows of their notices. The cases are folded in
    /// ``foldShares`` shares at once, each share a group of rows: a case's rows depend on nothing
    /// but its history and the registry, and the fold is most of a rebuild's work.
    private func fold(_ ids: [String], _ whole: WholeRead) async -> ReplayPart {
        var read = whole
        var notices = CaseProjector.notices.rows()
        for event in read.notices {
            // As a batch has them: each notice's row, and the first of each key in its case's history.
            guard let caseId = Self.addNotice(event, to: &notices), read.histories[caseId] != nil,
                let key = History.noticeKey(dataText: event.data)
            else { continue }
            read.histories[caseId]!.addNotice(key, id: event.id, recordedAt: event.recordedDate)
        }
        let histories = read.histories
        let context = context!
        let total = ids.reduce(0) { $0 + (histories[$1]?.events.count ?? 0) }
        let shares = Self.shares(ids, of: histories, count: min(foldShares, max(1, total / shareEvents)))
        let groups = await withTaskGroup(of: (Int, CaseRows).self) { tasks in
            for (n, share) in shares.enumerated() {
                tasks.addTask {
                    var rows = CaseRows(copy: true)
                    for caseId in share {
                        guard let history = histories[caseId] else { continue }
                        _ = rows.add(caseId, history, context: context)
                        // The writes and reads between the parts' folds wait for a thread of the
                        // same pool: a share folded without a pause held theirs back by its length.
                        await Task.yield()
                    }
                    return (n, rows)
                }
            }
            var groups: [CaseRows?] = Array(repeating: nil, count: shares.count)
            for await (n, rows) in tasks { groups[n] = rows }
            return groups.compactMap { $0 }
        }
        let events = read.notices.count + total
        return ReplayPart(writes: Self.writes(groups, notices: notices), events: events)
    }

    /// `ids` cut, in order, into at most `count` runs of about as many events each (none empty).
    static func shares(_ ids: [String], of histories: [String: History.CaseHistory], count: Int) -> [[String]] {
        let total = ids.reduce(0) { $0 + (histories[$1]?.events.count ?? 0) + 1 }
        let each = max(1, (total + count - 1) / max(1, count))
        var shares: [[String]] = []
        var share: [String] = []
        var size = 0
        for caseId in ids {
            share.append(caseId)
            size += (histories[caseId]?.events.count ?? 0) + 1
            if size >= each {
                shares.append(share)
                share = []
                size = 0
            }
        }
        if !share.isEmpty { shares.append(share) }
        return shares
    }

    /// Reads the cases `ids` as of `cursor` on `connection`, in a task of its own.
    private static func readAhead(_ ids: [String], through cursor: Cursor, on connection: Connection) -> Task<
        WholeRead, any Error
    > {
        Task {
            WholeRead(
                histories: try await History.cases(ids, through: cursor, on: connection, notices: false),
                notices: try await EventStore.events(
                    of: ids.map { "sop-" + $0 }, types: ["SopDeadlineMissed"], through: cursor, on: connection))
        }
    }

    /// Every case with a stream of its own or of notices, and about how many events it has, in
    /// byte order of the ids.
    static func caseStreams(on connection: Connection) async throws -> [(caseId: String, events: Int)] {
        let result = try await connection.query(
            """
            SELECT substr(stream, 6), version FROM handoff.streams WHERE stream LIKE 'case-%'
            UNION ALL
            SELECT substr(stream, 5), version FROM handoff.streams WHERE stream LIKE 'sop-%' AND stream <> 'sop-rulesets'
            """)
        var events: [String: Int] = [:]
        for row in result.all { events[try row.decode(0), default: 0] += Int(try row.decode(1, as: Int64.self)) }
        return events.keys.sorted(by: inByteOrder).map { ($0, events[$0]!) }
    }

    /// `streams` cut into parts of at most `cases` cases and, but for a single larger case, `events` events.
    static func parts(_ streams: [(caseId: String, events: Int)], cases: Int, events: Int) -> [[String]] {
        var parts: [[String]] = []
        var part: [String] = []
        var size = 0
        for (caseId, n) in streams {
            if !part.isEmpty, part.count >= cases || size + n > events {
                parts.append(part)
                part = []
                size = 0
            }
            part.append(caseId)
            size += n
        }
        if !part.isEmpty { parts.append(part) }
        return parts
    }

    // MARK: - Work on a batch

    /// What a batch holds for this projector.
    struct Scan {
        /// The batch's events of each case stream (indices into the batch).
        var touched: [String: [Int]] = [:]
        /// Whether it holds a ruleset or institution event, which makes every case count.
        var registryChanged = false
        /// The rows of its missed-deadline notices.
        var notices = CaseProjector.notices.rows()
    }

    static func scan(_ events: [RecordedEvent]) -> Scan {
        var scan = Scan()
        for (index, event) in events.enumerated() {
            if event.stream.hasPrefix("case-") {
                scan.touched[String(event.stream.dropFirst(5)), default: []].append(index)
            } else if RegistryProjector.registryStreams.contains(event.stream) {
                scan.registryChanged = true
            } else if let caseId = addNotice(event, to: &scan.notices) {
                // A notice changes its deadline's status (never met, never cancelled): recompute its
                // case. `advance` adds the notice to the case's history; it is no case event.
                scan.touched[caseId, default: []].append(index)
            }
        }
        return scan
    }

    /// Adds the row of `event` to `notices` when it is a case's missed-deadline notice, and names
    /// the case; nil for any other event.
    static func addNotice(_ event: RecordedEvent, to notices: inout RowBatch) -> String? {
        guard event.stream.hasPrefix("sop-"), event.type == "SopDeadlineMissed",
            let data = try? JSONValue.parse(event.data),
            case .sopDeadlineMissed(let ruleId, let dueAt, let trigger, let responsible, let rulesetId)? =
                try? SystemEventBody.decode(type: event.type, data: data)
        else { return nil }
        let caseId = String(event.stream.dropFirst(4))
        CaseProjector.addNotice(
            event, caseId: caseId, ruleId: ruleId, rulesetId: rulesetId,
            dueAt: dueAt, trigger: trigger, responsible: responsible, to: &notices)
        return caseId
    }

    private func readRegistry(through cursor: Cursor, on connection: Connection) async throws {
        registryReads += 1
        context = DeadlineEvaluator.Context(
            rulesets: try await History.rulesets(through: cursor, on: connection),
            institutions: try await History.institutions(through: cursor, on: connection))
    }

    /// The batch's writes: the rows of each group of cases (a piece each), then the notices.
    private static func writes(_ groups: [CaseRows], notices: RowBatch) -> ReplayWrites {
        var pieces = groups.map { rows in
            ReplayWrites { connection, tables in try await rows.write(on: connection, tables: tables) }
        }
        if notices.count > 0 {
            pieces.append(
                ReplayWrites { connection, tables in
                    try await CaseProjector.notices.insert(notices, on: connection, tables: tables)
                })
        }
        return ReplayWrites(pieces: pieces)
    }

    /// The rows of `ids` as of `cursor`, in groups of `flushCases` cases.
    private func rows(_ ids: [String], through cursor: Cursor, on connection: Connection) async throws -> [CaseRows] {
        var groups: [CaseRows] = []
        var start = 0
        while start < ids.count {
            let slice = Array(ids[start..<min(start + flushCases, ids.count)])
            start += flushCases
            let histories = try await self.histories(slice, through: cursor, on: connection)
            var rows = CaseRows(copy: complete)
            for caseId in slice {
                if mayHaveHistory(caseId) || cases[caseId]?.hasRows == true {
                    rows.stale.append(caseId)
                }
                guard let history = histories[caseId] else { continue }
                remember(caseId, history, hasRows: rows.add(caseId, history, context: context!))
            }
            groups.append(rows)
        }
        return groups
    }

    /// Brings what is remembered of the batch's cases to the batch's end with the batch's events.
    /// In a replay, a case never seen before starts empty. A case with an event this cannot read
    /// as the table would is dropped, to be read from the table.
    private func advance(_ touched: [String: [Int]], batch: [RecordedEvent]) {
        for (caseId, indices) in touched {
            let known = cases[caseId]
            guard known != nil || !mayHaveHistory(caseId) else { continue }
            var history = known?.history ?? History.CaseHistory()
            var sure = true
            for index in indices {
                if batch[index].stream.hasPrefix("sop-") {
                    if let key = History.noticeKey(dataText: batch[index].data) {
                        history.addNotice(key, id: batch[index].id, recordedAt: batch[index].recordedDate)
                    }
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
                remember(caseId, history, hasRows: known?.hasRows ?? false)
            } else {
                forget(caseId)
            }
        }
    }

    /// The history of each case in `ids` as of `cursor`: remembered, or read.
    private func histories(_ ids: [String], through cursor: Cursor, on connection: Connection) async throws
        -> [String: History.CaseHistory]
    {
        var out: [String: History.CaseHistory] = [:]
        var read: [String] = []
        for caseId in ids {
            if let known = cases[caseId] {
                if known.history.version > 0 { out[caseId] = known.history }
            } else if mayHaveHistory(caseId) {
                read.append(caseId)
            }
        }
        if !read.isEmpty {
            streamsRead += read.count
            for (caseId, history) in try await History.cases(read, through: cursor, on: connection) {
                out[caseId] = history
            }
        }
        return out
    }

    /// Whether a case this folder does not remember may have events before the batch, and rows:
    /// then its stream is read from the table and its old rows are deleted before its new ones.
    private func mayHaveHistory(_ caseId: String) -> Bool {
        !complete || wholeThrough != nil || forgotten.contains(caseId)
    }

    private func remember(_ caseId: String, _ history: History.CaseHistory, hasRows: Bool) {
        remembered += history.events.count - (cases[caseId]?.history.events.count ?? 0)
        cases[caseId] = Remembered(history: history, lastUse: batches, hasRows: hasRows)
        forgotten.remove(caseId)
    }

    private func forget(_ caseId: String) {
        guard let entry = cases.removeValue(forKey: caseId) else {
            if complete { forgotten.insert(caseId) }
            return
        }
        remembered -= entry.history.events.count
        if complete { forgotten.insert(caseId) }
    }

    /// Live: forgets every stream and the registry (they may not be exact as of the next batch).
    private func forgetAll() {
        cases = [:]
        remembered = 0
        context = nil
        recompute = nil
        knownThrough = nil
    }

    /// Forgets the least recently used cases until a quarter of the allowance is free again.
    private func forgetIfNeeded() {
        guard remembered > memory else { return }
        let target = memory * 3 / 4
        let byUse = cases.sorted { ($0.value.lastUse, $0.key) < ($1.value.lastUse, $1.key) }.map(\.key)
        for caseId in byUse {
            guard remembered > target else { break }
            forget(caseId)
        }
    }
}

/// The rows of a group of cases: which cases' old rows go, and the new rows.
struct CaseRows: Sendable {
    var stale: [String] = []
    var summaries: RowBatch
    var parties: RowBatch
    var referrals: RowBatch
    var deadlines: RowBatch
    var documents: RowBatch
    var periods: RowBatch
    var closures: RowBatch

    /// Empty rows; `copy`: written by `COPY` (a rebuild's replay: thousands of rows a group).
    init(copy: Bool) {
        summaries = CaseProjector.summary.rows(copy: copy)
        parties = CaseProjector.parties.rows(copy: copy)
        referrals = CaseProjector.referrals.rows(copy: copy)
        deadlines = CaseProjector.deadlines.rows(copy: copy)
        documents = CaseProjector.documents.rows(copy: copy)
        periods = CaseProjector.reflectionPeriods.rows(copy: copy)
        closures = CaseProjector.closures.rows(copy: copy)
    }

    /// Adds the rows of the case `caseId` with `history`, evaluated in `context`; false when the
    /// history holds no case (no rows).
    mutating func add(_ caseId: String, _ history: History.CaseHistory, context: DeadlineEvaluator.Context) -> Bool {
        let evaluation = DeadlineEvaluator.evaluate(
            caseId: caseId, events: history.events, context: context, now: Date(timeIntervalSince1970: 0),
            notices: history.notices)
        guard let state = evaluation.state else { return false }
        CaseProjector.addSummary(state, history: history, to: &summaries)
        CaseProjector.addParties(state, to: &parties)
        CaseProjector.addReflectionPeriods(state, deadlines: evaluation.deadlines, context: context, to: &periods)
        CaseProjector.addClosures(state, to: &closures)
        CaseProjector.addReferrals(
            state, times: DeadlineEvaluator.referralTimes(history.events, context: context), to: &referrals)
        CaseProjector.addDeadlines(
            evaluation.deadlines,
            countsFrom: DeadlineEvaluator.countsFrom(evaluation.deadlines, events: history.events, context: context),
            caseStatus: state.status, to: &deadlines)
        CaseDocument.add(
            CaseDocument.render(state, history: history, deadlines: evaluation.deadlines), caseId: caseId,
            to: &documents)
        return true
    }

    func write(on connection: Connection, tables: ProjectionTables) async throws {
        let written: [(RowWriter, RowBatch)] = [
            (CaseProjector.summary, summaries), (CaseProjector.parties, parties),
            (CaseProjector.referrals, referrals), (CaseProjector.deadlines, deadlines),
            (CaseProjector.documents, documents), (CaseProjector.reflectionPeriods, periods),
            (CaseProjector.closures, closures),
        ]
        for (writer, _) in written { try await writer.delete(stale, on: connection, tables: tables) }
        for (writer, rows) in written { try await writer.insert(rows, on: connection, tables: tables) }
    }
}
