import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Testing

/// Under synchronous replication (docs/operations.md, "High availability"), an append is
/// acknowledged only once a synchronous standby has it. A retry with the same event id may find
/// an event whose commit never reached the standby (its wait was cancelled or its connection
/// ended), so the deduplicated answer must wait for the standby too.
///
/// A private cluster (durable, so `synchronous_commit` is on) names a synchronous standby that
/// never connects: a commit that waits for replication shows `wait_event = 'SyncRep'` until the
/// setting is cleared.
@Suite struct SynchronousReplicationTests {
    @Test func aDeduplicatedAppendWaitsForTheSynchronousStandby() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "handoff-syncrep-\(UUID().uuidString.prefix(8))")
        // The port only names the unix socket (no TCP listener): any value unused in this folder will do.
        let cluster = try EmbeddedCluster(directory: dir, port: 5433)
        try await cluster.initialize(durable: true)
        try await cluster.start()
        defer {
            Task.detached {
                try? await cluster.stop(mode: "immediate")
                try? FileManager.default.removeItem(at: dir)
            }
        }
        let admin = try await Connection.connect(cluster.url())
        defer { admin.close() }
        try await admin.execute("CREATE DATABASE syncrep")
        let url = cluster.url(database: "syncrep")
        guard let migrations = Migrator.locateDirectory() else { throw Migrator.MigrationError.directoryNotFound }
        _ = try await Migrator(directory: migrations).migrate(url: url)

        // One connection, so that the check below proves the appending session has the new setting.
        let pool = ConnectionPool(url: url, maximumConnections: 1)
        let store = EventStore(pool: pool)
        let s = stream("KS-SYNC-1")
        let original = event()
        let first = try await store.append(to: s, events: [original])
        #expect(!first.deduplicated)

        try await admin.execute("ALTER SYSTEM SET synchronous_standby_names = 'absent_standby'")
        try await admin.execute("SELECT pg_reload_conf()")
        try await eventually("the setting to reach the pool's session") {
            let v: String = try await pool.query("SHOW synchronous_standby_names").first!.decode(0)
            return v == "absent_standby"
        }

        let retry = Task { try await store.append(to: s, events: [original]) }
        try await eventually("the deduplicated answer to wait for the standby") {
            let waiting: Int = try await admin.query(
                "SELECT count(*)::int FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
            ).first!.decode(0)
            return waiting > 0
        }

        try await admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
        try await admin.execute("SELECT pg_reload_conf()")
        let again = try await retry.value
        #expect(again.deduplicated)
        #expect(again.events.map(\.id) == first.events.map(\.id))
        #expect(again.events.map(\.hash) == first.events.map(\.hash))
        #expect(again.streamVersion == first.streamVersion)
        await pool.close()
    }
}
