import Crypto
import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Testing

@Suite struct MigrationTests {
    @Test func migrationsAreIdempotentAndChecksummed() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let dir = try #require(Migrator.locateDirectory())
        let migrator = try Migrator(directory: dir)
        let first = try await migrator.migrate(url: db.url)
        #expect(first == migrator.migrations.map(\.version))
        #expect(try await migrator.migrate(url: db.url).isEmpty)
        // A changed, already-applied file is an error, not a silent re-run.
        var changed = migrator.migrations
        changed[0].sql += "\n-- edited"
        changed[0].checksum = SHA256.hash(utf8: changed[0].sql).hexString
        await #expect(throws: Migrator.MigrationError.self) {
            try await Migrator(migrations: changed).migrate(url: db.url)
        }
        // Concurrent migrators serialize.
        let db2 = try await TestDatabase.make(migrated: false)
        try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<3 { group.addTask { try await migrator.migrate(url: db2.url) } }
            var applied: [Int] = []
            for try await a in group { applied += a }
            #expect(applied.sorted() == migrator.migrations.map(\.version))
        }
    }

    @Test func badMigrationFolder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mig-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("SELECT 1;".utf8).write(to: dir.appendingPathComponent("first.sql"))
        #expect(throws: Migrator.MigrationError.self) { try Migrator(directory: dir) }
    }
}

@Suite struct EmbeddedClusterTests {
    @Test func startsAndStopsCleanly() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("handoff-cluster-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cluster = try EmbeddedCluster(directory: dir, port: 5499)
        try cluster.initialize(durable: false)
        #expect(cluster.isInitialized)
        try cluster.start()
        #expect(cluster.isRunning)
        let c = try await Connection.connect(cluster.url())
        let user: String = try await c.query("SELECT current_user").first!.decode(0)
        #expect(user == "postgres")
        c.close()
        // Starting again is a no-op; a second initialize keeps the data.
        try cluster.start()
        try cluster.initialize(durable: false)
        try cluster.stop()
        #expect(!cluster.isRunning)
        // No server process is left for this folder.
        let ps = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        #expect(!ps.isEmpty)
        let pidFile = dir.appendingPathComponent("data/postmaster.pid").path
        #expect(!FileManager.default.fileExists(atPath: pidFile))
        // It restarts on the same folder.
        try cluster.start()
        #expect(cluster.isRunning)
        try cluster.stop(mode: "immediate")
        #expect(!cluster.isRunning)
    }
}
