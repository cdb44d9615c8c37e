import EventStore
import Foundation
import Postgres

/// How a rebuild is going, for a progress bar (on a terminal) or plain lines.
public struct RebuildProgress: Sendable, Hashable {
    public enum Phase: String, Sendable, Hashable {
        /// Replaying the log into the shadow tables in short transactions.
        case replaying
        /// Building the shadow tables' indexes, then catching up the last events and swapping the
        /// shadow tables in, in one transaction.
        case swapping
        /// Swapped in; the checkpoint points where the replay ended.
        case done
    }

    public var projector: String
    public var phase: Phase
    public var eventsDone: Int64
    /// The size of the log when the rebuild started (more may arrive meanwhile).
    public var eventsTotal: Int64
    /// Events per second so far.
    public var rate: Double
    /// Estimated seconds to go, when the rate is known.
    public var secondsRemaining: Double?

    /// `0.0 ... 1.0`, for a bar.
    public var fraction: Double { eventsTotal > 0 ? min(1, Double(eventsDone) / Double(eventsTotal)) : 1 }

    /// One plain line, for logs and pipes:
    /// `cases: replaying 4000/10351 events (38%), 2100 events/s, about 3 s left`.
    public var line: String {
        var text = "\(projector): \(phase.rawValue) \(eventsDone)/\(eventsTotal) events (\(Int(fraction * 100))%)"
        text += ", \(Int(rate.rounded())) events/s"
        if phase != .done, let secondsRemaining { text += ", about \(Int(secondsRemaining.rounded(.up))) s left" }
        return text
    }

    /// A bar for a terminal line (redraw it after `\r`): `[#########.........] 45%`.
    public func bar(width: Int = 30) -> String {
        let filled = Int((fraction * Double(max(1, width))).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: max(0, width - filled))
            + "] \(Int(fraction * 100))%"
    }
}

extension ProjectionRunner {
    /// Rebuilds the read models of the named projectors (`"all"`, or a name such as `cases`) from the
    /// start of the log, without a moment where queries see a half-built state.
    ///
    /// 1. Creates `handoff.<table>_shadow` for each of the projectors' tables (`LIKE` the live one,
    ///    with its primary key and unique constraints but no other index yet).
    /// 2. Replays the whole log into the shadow tables, each projector through its
    ///    ``Projector/makeReplay()``, in short transactions, so that no write holds back every
    ///    gap-free reader for long. First, up to the log's gap-free head as it is now, each replay
    ///    that can takes the log its own way, part by part (``ProjectorReplay/wholePart(through:reading:)``:
    ///    the case projector reads and folds up to 2,000 cases at a time, each case once; the
    ///    registry projector reads just its two streams); each part is worked out while the one
    ///    before is written. Then, from that head (or from the start, for a replay that cannot),
    ///    batches of `batchSize` (default ``rebuildBatchSize``) in gap-free order, read once for
    ///    all the projectors, in a transaction per piece of a batch's ``ReplayWrites`` (the case
    ///    projector makes a piece of every 2,000 cases). Three batches are under way at a time:
    ///    the next one is read while this one is prepared and the previous one written.
    /// 3. Builds the shadows' other indexes as the live tables have them, under the same names
    ///    (one sorted build each, not an index insert per row).
    /// 4. Replays the events that arrived meanwhile the same way, until a page comes back short.
    /// 5. In one transaction: takes the projectors' live-runner locks (a live batch in flight commits
    ///    first; the next one finds the checkpoint's revision moved and starts over), replays the last
    ///    few events that arrived meanwhile, drops the live tables, renames the shadows in, and sets
    ///    each checkpoint to where the replay ended (ending any batch the live runner had under way
    ///    in parts). Readers block on the swap for a moment and then see the new tables.
    ///
    /// Progress is reported for each projector after every batch.
    ///
    /// Rebuilds need the right to create and drop tables in schema `handoff` (the owner that ran
    /// the migrations), not just the application role.
    ///
    /// ```swift
    /// try await runner.rebuild("all") { p in print(p.projector, p.eventsDone, "/", p.eventsTotal) }
    /// ```
    /// - Throws: `ProjectionsError.unknownProjector` for an unknown name,
    ///   `ProjectionsError.rebuildRunning` when another rebuild of one of them runs; database errors
    ///   (the live tables stay as they were).
    public func rebuild(
        _ name: String, batchSize: Int? = nil, progress: @Sendable (RebuildProgress) -> Void = { _ in }
    ) async throws {
        let selected: [any Projector]
        if name == "all" {
            selected = projectors
        } else {
            guard let p = projectors.first(where: { $0.name == name }) else {
                throw ProjectionsError.unknownProjector(name)
            }
            selected = [p]
        }
        guard !selected.isEmpty else { return }
        try await rebuild(
            selected, batchSize: max(1, min(batchSize ?? rebuildBatchSize, 10_000)), progress: progress)
    }

    func rebuild(_ selected: [any Projector], batchSize: Int, progress: @Sendable (RebuildProgress) -> Void)
        async throws
    {
        for projector in selected { _ = try await checkpoint(projector.name) }  // make sure the rows exist to lock
        // One connection for the whole rebuild: it holds the advisory locks and writes the shadow tables.
        let connection = try await Connection.connect(pool.url)
        defer { connection.close() }
        // The shadow tables start empty and are never analyzed while they fill, so the plans this
        // session caches for its statements (a replay's `DELETE … WHERE case_id = ANY(…)` of the
        // cases it rewrites) would be sequential scans made when a table was a page: each batch
        // would then read the whole growing shadow table. Every statement here is meant to use a
        // primary key; index builds do not go through the planner.
        try await connection.execute("SET enable_seqscan TO off")
        // With sequential scans priced out, a small catalogue query whose plan still has one
        // (`handoff.index_shadow`'s look at the live indexes) costs more than `jit_above_cost`,
        // and LLVM compiled each of them: a tenth of a 200k-event rebuild's time, for nothing.
        try await connection.execute("SET jit TO off")
        // One rebuild per projector at a time: a second one would drop the first one's shadow tables.
        for projector in selected {
            let key = "handoff.rebuild." + projector.name
            guard
                try await connection.query("SELECT pg_try_advisory_lock(hashtext(\(key)))").first?.decode(
                    0, as: Bool.self) == true
            else { throw ProjectionsError.rebuildRunning(projector.name) }
        }
        let total = try await store.count()
        let started = ContinuousClock.now
        var done: Int64 = 0
        func report(_ phase: RebuildProgress.Phase) {
            let elapsed = (ContinuousClock.now - started) / .seconds(1)
            let rate = elapsed > 0 ? Double(done) / elapsed : 0
            let remaining = rate > 0 ? max(0, Double(total - done) / rate) : nil
            for projector in selected {
                progress(
                    RebuildProgress(
                        projector: projector.name, phase: phase, eventsDone: done, eventsTotal: max(total, done),
                        rate: rate, secondsRemaining: phase == .done ? 0 : remaining))
            }
        }

        for projector in selected {
            for table in projector.tables { try await connection.query("SELECT handoff.create_shadow(\(table))") }
        }
        let replays = selected.map { $0.makeReplay() }
        // Replays read the log on a connection of their own while `connection` writes.
        let reader = try await Connection.connect(pool.url)
        defer { reader.close() }
        func prepare(_ page: EventStore.Page) async throws -> [ReplayWrites] {
            var writes: [ReplayWrites] = []
            for replay in replays {
                writes.append(try await replay.prepare(page.events, through: page.next, reading: reader))
            }
            return writes
        }
        /// Writes a batch to the shadow tables, each piece in a short transaction of its own.
        @Sendable func write(_ writes: [ReplayWrites]) async throws {
            for piece in writes.flatMap(\.pieces) {
                try await connection.transaction { c in
                    // Nothing of the shadow tables counts before the swap, whose commit waits for
                    // the WAL of these too; a crash meanwhile fails the rebuild anyway.
                    try await c.execute("SET LOCAL synchronous_commit TO off")
                    try await piece.run(on: c, tables: .shadow)
                }
            }
        }
        report(.replaying)
        // The previous batch's (or part's) transactions, still being written, and its size.
        var writing: (task: Task<Void, any Error>, events: Int)?
        func finishWriting() async throws {
            guard let (task, events) = writing else { return }
            writing = nil
            try await task.value
            done += Int64(events)
            report(.replaying)
        }
        // Replays that take the log up to a cursor their own way go first, up to its end now; the
        // batches in gap-free order then start there, or at the start when any replay cannot.
        // (Only when every replay can: the batches are read once for all of them.)
        let head = try await store.headCursor()
        let whole = replays.allSatisfy(\.replaysWhole)
        var cursor = whole ? head : Cursor.start
        do {
            if whole {
                for replay in replays {
                    // Each part is worked out while the one before is written.
                    while let part = try await replay.wholePart(through: head, reading: reader) {
                        try Task.checkCancellation()
                        try await finishWriting()
                        writing = (Task { try await write([part.writes]) }, part.events)
                    }
                }
                // Every event up to the head is in: counted exactly (the parts counted what they read).
                try await finishWriting()
                done = try await store.count(through: head)
                report(.replaying)
            }
            // The store reads the next page while this one is prepared and the previous one written.
            try await store.readGlobalPages(after: cursor, limit: batchSize) { page in
                try Task.checkCancellation()
                let writes = try await prepare(page)
                try await finishWriting()
                let task = Task { try await write(writes) }
                writing = (task, page.events.count)
                cursor = page.next
                return page.events.count == batchSize
            }
            try await finishWriting()
        } catch {
            _ = try? await writing?.task.value  // the connection must be idle before it closes
            throw error
        }

        report(.swapping)
        for projector in selected {
            for table in projector.tables { try await connection.query("SELECT handoff.index_shadow(\(table))") }
        }
        // Catch up what arrived during the replay in short transactions too, so that the swap's
        // transaction has only the last few events to replay.
        while true {
            let page = try await store.readGlobal(after: cursor, limit: batchSize)
            if page.events.isEmpty { break }
            try await write(try await prepare(page))
            cursor = page.next
            done += Int64(page.events.count)
            report(.swapping)
            if page.events.count < batchSize { break }
        }
        let replayEnd = cursor
        let replayed = done
        let gap = try await connection.transaction { c in
            // The live runner's lock: a live batch in flight commits first, and the next one finds
            // the checkpoint's revision moved and starts over from the swapped-in tables.
            for projector in selected.sorted(by: { $0.name < $1.name }) {
                _ = try await Self.lockCheckpoint(projector.name, on: c)
            }
            var position = replayEnd
            var applied: Int64 = 0
            while true {
                let page = try await store.readGlobal(after: position, limit: batchSize)
                if page.events.isEmpty { break }
                for w in try await prepare(page) { try await w.run(on: c, tables: .shadow) }
                position = page.next
                applied += Int64(page.events.count)
                if page.events.count < batchSize { break }
            }
            for projector in selected {
                for table in projector.tables { try await c.query("SELECT handoff.swap_in_shadow(\(table))") }
                try await c.query(
                    """
                    UPDATE handoff.projector_checkpoints
                       SET xid = \(String(position.xid))::xid8, position = \(position.position), updated_at = now(),
                           events_applied = \(replayed + applied), revision = revision + 1,
                           pending_xid = NULL, pending_position = NULL, pending_after = NULL
                     WHERE name = \(projector.name)
                    """)
            }
            return applied
        }
        done += gap
        report(.done)
    }
}
