import EventStore
import Foundation
import Postgres

/// Where a projector stands.
public struct ProjectorCheckpoint: Sendable, Hashable {
    public var name: String
    /// The last applied event in gap-free order (`Cursor.start` before the first).
    public var cursor: Cursor
    /// How many events the projector has applied since its tables were (re)built.
    public var eventsApplied: Int64
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
/// Each step reads a batch (default 500) after a projector's checkpoint in the gap-free order,
/// then, in one transaction: locks the checkpoint row, checks that no other runner moved it,
/// applies the batch, advances the checkpoint and commits. A crash anywhere before the commit
/// leaves both the tables and the checkpoint as they were, so an event is never applied twice and
/// never skipped; two runners of the same projector serialize on the row lock.
///
/// ```swift
/// let runner = ProjectionRunner(store: store, projectors: Projectors.all)
/// try await runner.catchUp()                        // handoff project --once
/// let task = Task { await runner.run(wakeups: w) }   // in-process; task.cancel() stops it
/// ```
public final class ProjectionRunner: Sendable {
    /// Called after a batch was applied and the checkpoint advanced, just before COMMIT; throwing
    /// rolls the batch back. Tests inject crashes with it.
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
                "SELECT xid::text, position, events_applied FROM handoff.projector_checkpoints WHERE name = \(name)")
            if let row = result.first {
                return ProjectorCheckpoint(
                    name: name, cursor: Cursor(xid: try row.decode(0), position: try row.decode(1)),
                    eventsApplied: try row.decode(2))
            }
            if attempt == 0 {
                try await pool.query(
                    "INSERT INTO handoff.projector_checkpoints (name) VALUES (\(name)) ON CONFLICT (name) DO NOTHING")
            }
        }
        throw ProjectionsError.unknownProjector(name)
    }

    /// Locks the checkpoint row for the rest of the transaction and returns its cursor.
    static func lockCheckpoint(_ name: String, on connection: Connection) async throws -> Cursor {
        let result = try await connection.query(
            "SELECT xid::text, position FROM handoff.projector_checkpoints WHERE name = \(name) FOR UPDATE")
        guard let row = result.first else { throw ProjectionsError.unknownProjector(name) }
        return Cursor(xid: try row.decode(0), position: try row.decode(1))
    }

    // MARK: - Applying

    /// What one step did.
    public enum Step: Sendable, Equatable {
        /// Applied this many events.
        case applied(Int)
        /// Nothing after the checkpoint.
        case caughtUp
        /// Another runner moved the checkpoint meanwhile; nothing was applied.
        case raced
    }

    /// Applies at most one batch to `projector`.
    public func step(_ projector: any Projector) async throws -> Step {
        let start = try await checkpoint(projector.name).cursor
        let page = try await store.readGlobal(after: start, limit: batchSize)
        guard !page.events.isEmpty else { return .caughtUp }
        let hook = beforeCommit
        return try await pool.withConnection { connection in
            try await connection.transaction { c in
                guard try await Self.lockCheckpoint(projector.name, on: c) == start else { return Step.raced }
                try await projector.apply(page.events, through: page.next, on: c, tables: .live)
                try await c.query(
                    """
                    UPDATE handoff.projector_checkpoints
                       SET xid = \(String(page.next.xid))::xid8, position = \(page.next.position), updated_at = now(),
                           events_applied = events_applied + \(page.events.count)
                     WHERE name = \(projector.name)
                    """)
                try hook?(projector.name, page.events, page.next)
                return Step.applied(page.events.count)
            }
        }
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
                case .raced: continue
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
