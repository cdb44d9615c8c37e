import Foundation
import Postgres

/// How far a server that serves reads has replayed the primary's log, as that server sees it.
///
/// Read on the read replica (`DATABASE_READ_URL`) to decide whether a read may be served there:
/// a standby that is down, not a standby at all, or too far behind is passed over for the primary.
public struct StandbyReplay: Sendable, Equatable {
    /// True on a standby (`pg_is_in_recovery()`); false on a server that accepts writes.
    public var inRecovery: Bool
    /// The newest WAL position replayed (`pg_last_wal_replay_lsn()`); nil on a primary.
    public var replayed: WALPosition?
    /// Seconds since the newest replayed commit was committed on the primary
    /// (`now() - pg_last_xact_replay_timestamp()`); nil when nothing was replayed yet. It also
    /// grows while the primary commits nothing, so it is a lag only while `replayed` is behind.
    public var secondsSinceReplayedCommit: Double?

    public init(inRecovery: Bool, replayed: WALPosition?, secondsSinceReplayedCommit: Double?) {
        self.inRecovery = inRecovery
        self.replayed = replayed
        self.secondsSinceReplayedCommit = secondsSinceReplayedCommit
    }

    /// Reads it over `connection` (a connection to the read replica).
    public static func read(_ connection: Connection) async throws -> StandbyReplay {
        let row = try await connection.query(
            """
            SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
                   extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
            """
        ).first
        guard let row else { throw PostgresError(kind: .decoding, serverMessage: "no row") }
        return StandbyReplay(
            inRecovery: try row.decode(0),
            replayed: try row.decodeOptional(1, as: String.self).flatMap(WALPosition.init),
            secondsSinceReplayedCommit: try row.decodeOptional(2, as: Double.self))
    }
}

extension EventStore {
    /// The statement behind ``committedPosition()``: the WAL position every transaction committed
    /// before it has reached. With `synchronous_commit` on (or `remote_*`, `local`) a commit
    /// returns only once its record is flushed, so the flush position covers it; with `off` it
    /// may not be flushed yet, and only the insert position does.
    static let committedPositionQuery: SQL = """
        SELECT (CASE WHEN current_setting('synchronous_commit') = 'off' THEN pg_current_wal_insert_lsn()
                     ELSE pg_current_wal_flush_lsn() END)::text
        """

    /// A WAL position at or past the commit of everything committed on this (primary) database
    /// before the call: once a standby has replayed up to it, it shows all of that. The position
    /// token of read-your-writes (`Handoff-Position`, docs/operations.md "Read replicas").
    ///
    /// - Throws: `EventStoreError.unavailable` in an outage; a PostgreSQL error on a standby
    ///   (which has no WAL of its own to report).
    public func committedPosition() async throws -> WALPosition {
        do { return try await Self.committedPosition(try await pool.query(Self.committedPositionQuery)) } catch {
            throw EventStoreError.from(error)
        }
    }

    /// ``committedPosition()`` over a connection of the caller's.
    public static func committedPosition(_ connection: Connection) async throws -> WALPosition {
        try committedPosition(try await connection.query(committedPositionQuery))
    }

    private static func committedPosition(_ result: QueryResult) throws -> WALPosition {
        guard let text: String = try result.first?.decode(0), let position = WALPosition(text) else {
            throw PostgresError(kind: .decoding, serverMessage: "not a WAL position")
        }
        return position
    }
}
