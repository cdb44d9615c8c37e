import EventStore
import Foundation
import Postgres
import Synchronization

/// Where a projector stands.
public struct ProjectorCheckpoint: Sendable, Hashable {
    public var name: String
    /// The last event applied in full, in gap-free order (`Cursor.start` before the first).
    public var cursor: Cursor
    /// How many events the projector has applied since its tables were (re)built.
    public var eventsApplied: Int64
    /// Bumped by every transaction that moves the checkpoint or commits a part of a batch: the value
    /// a runner compares before it commits.
    public var revision: Int64
    /// A batch under way in parts (a registry-wide recompute), when one is.
    public var partial: PartialBatch?

    /// A batch some of whose parts are committed.
    public struct PartialBatch: Sendable, Hashable {
        /// The batch's end: the checkpoint once its last part commits.
        public var end: Cursor
        /// The resume key of the last part committed.
        public var after: String
    }
}

/// How far a projector is behind the log, for `/metrics`.
public struct ProjectorLag: Sendable, Hashable {
    public var name: String
    /// Committed events after the projector's checkpoint.
    public var eventsBehind: Int64
    /// How long the oldest of those has been recorded (0 when caught up).
    public var secondsBehind: Double
    public var cursor: Cursor

    /// Prometheus text-format samples for a list of lags (HELP and TYPE lines included).
    public static func prometheus(_ lags: [ProjectorLag]) -> String {
        var out = "# HELP handoff_projector_events_behind Committed events after the projector's checkpoint.\n"
        out += "# TYPE handoff_projector_events_behind gauge\n"
        for lag in lags { out += "handoff_projector_events_behind{projector=\"\(lag.name)\"} \(lag.eventsBehind)\n" }
        out += "# HELP handoff_projector_seconds_behind Age of the oldest event the projector has not applied.\n"
        out += "# TYPE handoff_projector_seconds_behind gauge\n"
        for lag in lags { out += "handoff_projector_seconds_behind{projector=\"\(lag.name)\"} \(lag.secondsBehind)\n" }
        return out
    }
}

/// Runs projectors over the global log.
///
/// The transaction model: a step reads the projector's checkpoint (a primary-key read, no
/// transaction), reads the batch after it in gap-free order (default 500 events), and lets the
/// projector's ``LiveProjection`` compute the batch's writes, reading the log and its own tables
/// as it needs — all outside any transaction, so nothing holds a transaction id and no gap-free
/// reader (SSE, `/v1/events`, subscriptions, the other projectors) waits. Then one short
/// transaction on a pooled connection:
///
/// 1. `pg_advisory_xact_lock` on the projector's key: runners of the same projector serialize
///    here; the lock assigns no transaction id, so a runner waiting on it holds back no reader;
/// 2. reads the checkpoint's `revision` and gives up (``Step/raced``, nothing written) when it
///    differs from the one the batch was computed from: another runner (or a rebuild's swap) moved
///    the checkpoint meanwhile — a compare-and-swap;
/// 3. runs the writes, moves the checkpoint (or, for a part of a batch, stores the part's resume
///    key) and bumps `revision`; then commits.
///
/// A crash anywhere before the commit leaves both the tables and the checkpoint as they were, so
/// an event is never applied twice and never skipped, with any number of runners.
///
/// A batch may go in several parts, each its own transaction (the case projector recomputes every
/// case after a ruleset or institution event, a few hundred cases a part). Until the last part
/// commits, the checkpoint's cursor stays at the batch's start and ``ProjectorCheckpoint/partial``
/// holds the batch's end and the last part's resume key; each row is either as of the checkpoint or
/// as of the batch's end, never a mix, and a restarted runner resumes after the stored key.
///
/// The runner keeps each projector's ``LiveProjection`` (and the batch under way) between steps,
/// so the case projector's caches of case streams and of the registry survive across batches.
///
/// ```swift
/// let runner = ProjectionRunner(store: store, projectors: Projectors.all)
/// try await runner.catchUp()                        // handoff project --once
/// let task = Task { await runner.run(wakeups: w) }   // in-process; task.cancel() stops it
/// ```
public final class ProjectionRunner: Sendable {
    /// Called in every transaction that commits a batch or a part of one, after its writes and the
    /// checkpoint's update, just before COMMIT; throwing rolls the transaction back. Tests inject
    /// crashes with it.
    public typealias BeforeCommit =
        @Sendable (_ projector: String, _ events: [RecordedEvent], _ next: Cursor) throws ->
        Void

    public let store: EventStore
    /// Connections for the transactions that write read models (reads of the log use the store's pool).
    public let pool: ConnectionPool
    public let projectors: [any Projector]
    public let batchSize: Int
    /// Events per batch of a rebuild's replay (see ``rebuild(_:batchSize:progress:)``).
    public let rebuildBatchSize: Int
    let beforeCommit: BeforeCommit?
    /// Each projector's live projection and the batch under way, between steps.
    private let live = Mutex<[String: LiveSlot]>([:])

    /// - Parameters:
    ///   - pool: where read models are written; the store's pool when nil.
    ///   - batchSize: events per batch of the live runner.
    ///   - rebuildBatchSize: events per batch of a rebuild. Larger than the live batches: a rebuild
    ///     computes a batch's rows before it writes them, so its transactions stay short anyway.
    ///   - beforeCommit: failure injection for tests.
    public init(
        store: EventStore, pool: ConnectionPool? = nil, projectors: [any Projector] = Projectors.all,
        batchSize: Int = 500, rebuildBatchSize: Int = 5000, beforeCommit: BeforeCommit? = nil
    ) {
        self.store = store
        self.pool = pool ?? store.pool
        self.projectors = projectors
        self.batchSize = max(1, min(batchSize, 10_000))
        self.rebuildBatchSize = max(1, min(rebuildBatchSize, 10_000))
        self.beforeCommit = beforeCommit
    }

    // MARK: - Checkpoints

    /// The checkpoint of `name` (created at the start when missing).
    public func checkpoint(_ name: String) async throws -> ProjectorCheckpoint {
        for attempt in 0..<2 {
            let result = try await pool.query(
                """
                SELECT xid::text, position, events_applied, revision, pending_xid::text, pending_position, pending_after
                  FROM handoff.projector_checkpoints WHERE name = \(name)
                """)
            if let row = result.first {
                var partial: ProjectorCheckpoint.PartialBatch?
                if let xid: UInt64 = try row.decodeOptional(4), let position: Int64 = try row.decodeOptional(5),
                    let after: String = try row.decodeOptional(6)
                {
                    partial = .init(end: Cursor(xid: xid, position: position), after: after)
                }
                return ProjectorCheckpoint(
                    name: name, cursor: Cursor(xid: try row.decode(0), position: try row.decode(1)),
                    eventsApplied: try row.decode(2), revision: try row.decode(3), partial: partial)
            }
            if attempt == 0 {
                try await pool.query(
                    "INSERT INTO handoff.projector_checkpoints (name) VALUES (\(name)) ON CONFLICT (name) DO NOTHING")
            }
        }
        throw ProjectionsError.unknownProjector(name)
    }

    /// Takes the projector's transaction-scoped advisory lock (which assigns no transaction id) and
    /// returns its checkpoint's revision: nothing else moves the checkpoint until this transaction
    /// ends.
    static func lockCheckpoint(_ name: String, on connection: Connection) async throws -> Int64 {
        try await connection.query("SELECT pg_advisory_xact_lock(\(lockClass), hashtext(\(name)))")
        let result = try await connection.query(
            "SELECT revision FROM handoff.projector_checkpoints WHERE name = \(name)")
        guard let row = result.first else { throw ProjectionsError.unknownProjector(name) }
        return try row.decode(0)
    }

    /// The first key of the projectors' advisory locks (`hand` in ASCII); the second is the hash of the name.
    static let lockClass = Int32(0x6861_6e64)

    // MARK: - Applying

    /// What one step did.
    public enum Step: Sendable, Equatable {
        /// Applied this many events.
        case applied(Int)
        /// Committed one part of a batch that goes in several; the checkpoint moves with the last.
        case progressed
        /// Nothing after the checkpoint.
        case caughtUp
        /// Another runner moved the checkpoint meanwhile; nothing was applied.
        case raced
    }

    /// A projector's live projection, and the last batch handed to it (reused by its later parts).
    private struct LiveSlot: Sendable {
        var projection: any LiveProjection
        var batch: LiveBatch?
    }

    /// Applies at most one batch, or one part of a batch, to `projector`.
    public func step(_ projector: any Projector) async throws -> Step {
        let checkpoint = try await self.checkpoint(projector.name)
        // Checked out for this step, so that two steps of one projector at once never share one.
        var slot =
            live.withLock { $0.removeValue(forKey: projector.name) }
            ?? LiveSlot(projection: projector.makeLive(), batch: nil)
        defer { live.withLock { if $0[projector.name] == nil { $0[projector.name] = slot } } }
        let batch: LiveBatch
        if let partial = checkpoint.partial {
            var events = slot.batch?.events ?? []
            if slot.batch?.start != checkpoint.cursor || slot.batch?.end != partial.end {
                events = try await read(after: checkpoint.cursor, through: partial.end)
            }
            batch = LiveBatch(events: events, start: checkpoint.cursor, end: partial.end, resumingAfter: partial.after)
        } else {
            let page = try await store.readGlobal(after: checkpoint.cursor, limit: batchSize)
            guard !page.events.isEmpty else { return .caughtUp }
            batch = LiveBatch(events: page.events, start: checkpoint.cursor, end: page.next, resumingAfter: nil)
        }
        slot.batch = batch
        let projection = slot.projection
        let part = try await pool.withConnection { c in try await projection.prepare(batch, reading: c) }
        let hook = beforeCommit
        return try await pool.withConnection { connection in
            try await connection.transaction { c in
                guard try await Self.lockCheckpoint(projector.name, on: c) == checkpoint.revision else {
                    return Step.raced
                }
                try await part.writes.run(on: c, tables: .live)
                if let key = part.resumeAfter {
                    try await c.query(
                        """
                        UPDATE handoff.projector_checkpoints
                           SET pending_xid = \(String(batch.end.xid))::xid8, pending_position = \(batch.end.position),
                               pending_after = \(key), revision = revision + 1, updated_at = now()
                         WHERE name = \(projector.name)
                        """)
                } else {
                    try await c.query(
                        """
                        UPDATE handoff.projector_checkpoints
                           SET xid = \(String(batch.end.xid))::xid8, position = \(batch.end.position),
                               events_applied = events_applied + \(batch.events.count), revision = revision + 1,
                               updated_at = now(), pending_xid = NULL, pending_position = NULL, pending_after = NULL
                         WHERE name = \(projector.name)
                        """)
                }
                try hook?(projector.name, batch.events, batch.end)
                return part.resumeAfter == nil ? Step.applied(batch.events.count) : Step.progressed
            }
        }
    }

    /// The live projection the runner keeps for `name`, when it has one and no step is using it (for tests).
    func liveProjection(_ name: String) -> (any LiveProjection)? { live.withLock { $0[name]?.projection } }

    /// The events after `start` through `end`, read again (a batch under way that this runner
    /// does not hold: it restarted, or another runner began the batch).
    private func read(after start: Cursor, through end: Cursor) async throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        var cursor = start
        while cursor < end {
            let page = try await store.readGlobal(after: cursor, limit: batchSize)
            guard !page.events.isEmpty else { break }
            for event in page.events where event.cursor <= end { events.append(event) }
            cursor = page.next
        }
        return events
    }

    /// Applies batches to every projector until each has nothing more to read.
    /// - Returns: the events applied, by projector name.
    @discardableResult
    public func catchUp() async throws -> [String: Int] {
        var applied: [String: Int] = [:]
        for projector in projectors {
            applied[projector.name] = 0
            loop: while true {
                try Task.checkCancellation()
                switch try await step(projector) {
                case .applied(let n): applied[projector.name, default: 0] += n
                case .progressed, .raced: continue
                case .caughtUp: break loop
                }
            }
        }
        return applied
    }

    /// Runs until the task is cancelled: catches up, then waits for a wake-up (NOTIFY via
    /// `wakeups`) or `pollInterval`, whichever comes first. Database errors are reported to
    /// `onError` and retried after `pollInterval`; they never end the loop.
    public func run(
        wakeups: Wakeups, pollInterval: Duration = .seconds(1),
        onError: @Sendable (any Error) -> Void = { _ in }
    ) async {
        while !Task.isCancelled {
            let seen = await wakeups.current
            do {
                try await catchUp()
            } catch is CancellationError {
                return
            } catch {
                onError(error)
            }
            await wakeups.wait(since: seen, timeout: pollInterval)
        }
    }

    /// `handoff project`: connects to `url`, listens for appends and runs `projectors` until the
    /// calling task is cancelled (or, with `once`, until caught up).
    public static func run(
        url: String, projectors: [any Projector] = Projectors.all, batchSize: Int = 500, once: Bool = false,
        pollInterval: Duration = .seconds(1), onError: @Sendable (any Error) -> Void = { _ in }
    ) async throws {
        let pool = ConnectionPool(url: url, maximumConnections: 4)
        let runner = ProjectionRunner(store: EventStore(pool: pool), projectors: projectors, batchSize: batchSize)
        if once {
            try await runner.catchUp()
            await pool.close()
            return
        }
        let wakeups = Wakeups()
        await wakeups.startListening(url: url)
        await runner.run(wakeups: wakeups, pollInterval: pollInterval, onError: onError)
        await wakeups.stop()
        await pool.close()
    }

    // MARK: - Lag

    /// Events behind and seconds behind, per projector.
    public func lag() async throws -> [ProjectorLag] {
        var out: [ProjectorLag] = []
        for projector in projectors {
            let cp = try await checkpoint(projector.name)
            let result = try await pool.query(
                """
                SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(recorded_at))::float8, 0)
                  FROM handoff.events
                 WHERE (xid, position) > (\(String(cp.cursor.xid))::xid8, \(cp.cursor.position)::bigint)
                """)
            guard let row = result.first else { continue }
            out.append(
                ProjectorLag(
                    name: projector.name, eventsBehind: try row.decode(0), secondsBehind: max(0, try row.decode(1)),
                    cursor: cp.cursor))
        }
        return out
    }
}
