import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `ReplicationStatus` against a real streaming-replication client: `pg_receivewal` connects to
/// the test cluster over the replication protocol and shows in `pg_stat_replication` as a standby does.
@Suite struct ReplicationStatusTests {
    @Test func aStreamingStandbyShowsWithItsLag() async throws {
        // A server of one's own (HANDOFF_TEST_DATABASE_URL) is not ours to stream from.
        guard let cluster = try await TestDatabase.cluster(), let receivewal = Self.pgReceiveWAL() else { return }
        let store = try await TestDatabase.make().store(poolSize: 2)
        let name = "handoff_test_\(UUID().uuidString.prefix(8).lowercased())"
        let before = try await store.replicationStatus()
        #expect(before.isPrimary)
        #expect(!before.standbys.contains { $0.name == name })

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let receiver = Process()
        receiver.executableURL = URL(fileURLWithPath: receivewal)
        receiver.arguments = [
            "--synchronous", "--status-interval", "1", "--directory", dir.path,
            "--dbname",
            "host=\(cluster.socketDirectory.path) port=\(cluster.port) user=postgres application_name=\(name)",
        ]
        receiver.standardOutput = FileHandle.nullDevice
        // Its messages, for the failure's report (a CI run once waited 60 s with nothing to say why).
        let messages = dir.deletingLastPathComponent().appendingPathComponent(name + ".log")
        FileManager.default.createFile(atPath: messages.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: messages) }
        receiver.standardError = try FileHandle(forWritingTo: messages)
        try receiver.run()
        // SIGKILL: the child inherits the test runner's signal mask, and pg_receivewal 15 acts on
        // SIGINT only at its next status interval.
        defer { if receiver.isRunning { kill(receiver.processIdentifier, SIGKILL) } }

        var seen: ReplicationStatus.Standby?
        var observed: ReplicationStatus?
        // Without --no-loop: a connection refused while the suite holds many (seen once, under a
        // loaded machine) is tried again instead of ending the receiver.
        do {
            try await eventually("the receiver to stream", timeout: .seconds(60)) {
                // pg_receivewal reports what it wrote and flushed, never a replay position. One status
                // for every check below: a second look may come after the receiver stopped streaming.
                observed = try await store.replicationStatus()
                seen = observed?.standbys.first { $0.name == name && $0.flushLagBytes != nil }
                return seen != nil
            }
        } catch {
            let said = (try? String(contentsOf: messages, encoding: .utf8)) ?? ""
            Issue.record(
                """
                pg_receivewal \(receiver.isRunning ? "still running" : "exited \(receiver.terminationStatus)"); \
                standbys seen: \(observed?.standbys.map(\.name) ?? []); its messages: \(said.suffix(2_000))
                """)
            throw error
        }
        let status = try #require(observed)
        #expect(seen?.syncState == "async")
        #expect((seen?.flushLagBytes ?? -1) >= 0)
        #expect(seen?.replayLagBytes == nil)
        #expect(status.synchronousStandbys != nil)
        let text = status.prometheus()
        #expect(text.contains("handoff_database_is_primary 1\n"))
        #expect(text.contains("handoff_replication_flush_lag_bytes{standby=\"\(name)\",sync_state=\"async\"} "))
        #expect(text.contains("handoff_replication_standbys "))

        kill(receiver.processIdentifier, SIGKILL)
        try await eventually("the receiver to exit") { !receiver.isRunning }
        try await eventually("the receiver to be gone") {
            let standbys = try await store.replicationStatus().standbys
            return !standbys.contains { $0.name == name }
        }
    }

    /// `pg_receivewal` beside the `pg_ctl` the cluster uses, or in the newest `/usr/lib/postgresql/*/bin`.
    static func pgReceiveWAL() -> String? {
        let fm = FileManager.default
        var dirs: [String] = []
        if let pgCtl = EmbeddedCluster.findBinaries()?.pgCtl {
            dirs.append(URL(fileURLWithPath: pgCtl).resolvingSymlinksInPath().deletingLastPathComponent().path)
        }
        let versions = (try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        dirs += versions.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }.map { "/usr/lib/postgresql/\($0)/bin" }
        return dirs.map { $0 + "/pg_receivewal" }.first { fm.isExecutableFile(atPath: $0) }
    }

    @Test func prometheusLeavesOutWhatTheRoleMayNotSee() {
        let hidden = ReplicationStatus(
            isPrimary: true,
            standbys: [
                .init(name: "pg-b1", syncState: nil, replayLagBytes: nil, flushLagBytes: nil, replayLagSeconds: nil)
            ])
        #expect(hidden.synchronousStandbys == nil)
        let text = hidden.prometheus()
        #expect(text.contains("handoff_replication_standbys 1\n"))
        #expect(!text.contains("handoff_replication_synchronous_standbys"))
        #expect(!text.contains("lag"))
        let standby = ReplicationStatus(isPrimary: false, standbys: [])
        #expect(
            standby.prometheus() == """
                # HELP handoff_database_is_primary 1 when the service's database accepts writes.
                # TYPE handoff_database_is_primary gauge
                handoff_database_is_primary 0

                """)
    }
}
