import Foundation
import Postgres

/// The streaming replication of the database the store writes to, as its primary sees it
/// (`pg_stat_replication`): which standbys stream from it, which of them is synchronous, and how
/// far each is behind. Operators alert on it (docs/operations.md, "High availability").
///
/// A role without `pg_monitor` (or `pg_read_all_stats`) sees the standbys' rows but not their
/// state and positions; those figures are then unknown (`nil`) rather than zero.
public struct ReplicationStatus: Sendable, Equatable {
    /// One standby (or WAL receiver) streaming from this server.
    public struct Standby: Sendable, Equatable {
        /// Its `application_name` (Patroni sets the member name).
        public var name: String
        /// `sync`, `quorum`, `potential` or `async`; nil when the role may not see it.
        public var syncState: String?
        /// Bytes of WAL written here that it has not replayed yet.
        public var replayLagBytes: Int64?
        /// Bytes of WAL written here that it has not flushed yet (what a synchronous commit waits for).
        public var flushLagBytes: Int64?
        /// The time its last replayed commit took to come back (`replay_lag`), when known.
        public var replayLagSeconds: Double?

        public init(
            name: String, syncState: String?, replayLagBytes: Int64?, flushLagBytes: Int64?, replayLagSeconds: Double?
        ) {
            self.name = name
            self.syncState = syncState
            self.replayLagBytes = replayLagBytes
            self.flushLagBytes = flushLagBytes
            self.replayLagSeconds = replayLagSeconds
        }
    }

    /// False on a standby (then there is nothing to report).
    public var isPrimary: Bool
    /// The standbys streaming now, by name.
    public var standbys: [Standby]

    /// Standbys that synchronous commits wait for now; nil when the role may not see their state.
    public var synchronousStandbys: Int? {
        if standbys.contains(where: { $0.syncState == nil }) { return nil }
        return standbys.filter { $0.syncState == "sync" || $0.syncState == "quorum" }.count
    }

    public init(isPrimary: Bool, standbys: [Standby]) {
        self.isPrimary = isPrimary
        self.standbys = standbys
    }

    /// Prometheus text: `handoff_replication_standbys`, `handoff_replication_synchronous_standbys`
    /// and, per standby, `handoff_replication_replay_lag_bytes`, `…_flush_lag_bytes` and
    /// `…_replay_lag_seconds` (unknown figures are left out).
    public func prometheus() -> String {
        func label(_ v: String) -> String {
            v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
        }
        var out = "# HELP handoff_database_is_primary 1 when the service's database accepts writes.\n"
        out += "# TYPE handoff_database_is_primary gauge\nhandoff_database_is_primary \(isPrimary ? 1 : 0)\n"
        guard isPrimary else { return out }
        out += "# HELP handoff_replication_standbys Standbys streaming from the primary now.\n"
        out += "# TYPE handoff_replication_standbys gauge\nhandoff_replication_standbys \(standbys.count)\n"
        if let sync = synchronousStandbys {
            out += "# HELP handoff_replication_synchronous_standbys Standbys that commits (appends) wait for now.\n"
            out += "# TYPE handoff_replication_synchronous_standbys gauge\n"
            out += "handoff_replication_synchronous_standbys \(sync)\n"
        }
        let series: [(String, String, (Standby) -> String?)] = [
            ("replay_lag_bytes", "WAL bytes the standby has not replayed yet.", { $0.replayLagBytes.map(String.init) }),
            ("flush_lag_bytes", "WAL bytes the standby has not flushed yet.", { $0.flushLagBytes.map(String.init) }),
            (
                "replay_lag_seconds", "Time the standby's last replayed commit took to come back.",
                { $0.replayLagSeconds.map { String($0) } }
            ),
        ]
        for (name, help, value) in series {
            let rows = standbys.compactMap { s in value(s).map { (s, $0) } }
            guard !rows.isEmpty else { continue }
            out += "# HELP handoff_replication_\(name) \(help)\n# TYPE handoff_replication_\(name) gauge\n"
            for (s, v) in rows {
                out +=
                    "handoff_replication_\(name){standby=\"\(label(s.name))\",sync_state=\"\(label(s.syncState ?? "unknown"))\"} \(v)\n"
            }
        }
        return out
    }
}

extension EventStore {
    /// The replication of the store's database, read on one pooled connection (see ``ReplicationStatus``).
    public func replicationStatus() async throws -> ReplicationStatus {
        let rows = try await pool.query(
            """
            SELECT NOT pg_is_in_recovery(), r.application_name, r.sync_state,
                   CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint END,
                   CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), r.flush_lsn)::bigint END,
                   extract(epoch FROM r.replay_lag)::float8
              FROM (SELECT 1) AS one
              LEFT JOIN pg_stat_replication AS r ON true
             ORDER BY r.application_name
            """)
        var primary = true
        var standbys: [ReplicationStatus.Standby] = []
        for row in rows.all {
            primary = try row.decode(0)
            guard let name = try row.decodeOptional(1, as: String.self) else { continue }
            standbys.append(
                ReplicationStatus.Standby(
                    name: name, syncState: try row.decodeOptional(2, as: String.self),
                    replayLagBytes: try row.decodeOptional(3, as: Int64.self),
                    flushLagBytes: try row.decodeOptional(4, as: Int64.self),
                    replayLagSeconds: try row.decodeOptional(5, as: Double.self)))
        }
        return ReplicationStatus(isPrimary: primary, standbys: primary ? standbys : [])
    }
}
