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

@Suite struct ServiceRoleDeadlineTests {
    /// Migration 0018: the service roles, and every login role that is a member of them, run with
    /// a `statement_timeout` and an `idle_in_transaction_session_timeout` of their own.
    @Test func serviceRolesRunWithDeadlines() async throws {
        let admin = try await Connection.connect(try await TestDatabase.adminURL())
        defer { admin.close() }
        let role = "t_service_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        // Identifiers cannot be parameters; `role` is made of letters, digits and underscores.
        try await admin.execute("CREATE ROLE \(role) LOGIN IN ROLE handoff_app")
        do {
            let db = try await TestDatabase.make(migrated: false)
            try await Migrator(directory: try #require(Migrator.locateDirectory())).migrate(url: db.url)
            for name in ["handoff_app", "handoff_auditor", role] {
                let settings = try await admin.query(
                    """
                    SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting
                    WHERE setrole = (SELECT oid FROM pg_roles WHERE rolname = \(name)) AND setdatabase = 0
                    """
                ).first?.decode(0, as: String.self)
                #expect(settings?.contains("statement_timeout=30s") == true, "\(name)")
                #expect(settings?.contains("idle_in_transaction_session_timeout=60s") == true, "\(name)")
            }
            if db.url.contains("user=postgres") {
                let asService = try await Connection.connect(
                    db.url.replacingOccurrences(of: "user=postgres", with: "user=\(role)"))
                defer { asService.close() }
                #expect(try await asService.query("SHOW statement_timeout").first?.decode(0, as: String.self) == "30s")
                #expect(
                    try await asService.query("SHOW idle_in_transaction_session_timeout").first?.decode(
                        0, as: String.self)
                        == "1min")
            }
        } catch {
            try? await admin.execute("DROP ROLE \(role)")
            throw error
        }
        try await admin.execute("DROP ROLE \(role)")
    }
}

@Suite struct EmbeddedClusterTests {
    @Test func startsAndStopsCleanly() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "handoff-cluster-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cluster = try EmbeddedCluster(directory: dir, port: 5499)
        try await cluster.initialize(durable: false)
        #expect(cluster.isInitialized)
        try await cluster.start()
        #expect(await cluster.running)
        let c = try await Connection.connect(cluster.url())
        let user: String = try await c.query("SELECT current_user").first!.decode(0)
        #expect(user == "postgres")
        c.close()
        // Starting again is a no-op; a second initialize keeps the data.
        try await cluster.start()
        try await cluster.initialize(durable: false)
        try await cluster.stop()
        #expect(!(await cluster.running))
        let pidFile = dir.appendingPathComponent("data/postmaster.pid").path
        #expect(!FileManager.default.fileExists(atPath: pidFile))
        // It restarts on the same folder.
        try await cluster.start()
        #expect(await cluster.running)
        try await cluster.stop(mode: "immediate")
        #expect(!(await cluster.running))
    }

    /// As root, a cluster asked for under a folder the `postgres` user cannot enter (root's home,
    /// a `mktemp -d` folder: mode 0700) still starts — in that user's own home, keyed by the
    /// folder asked for — and the same folder finds the same cluster again.
    @Test(.enabled(if: geteuid() == 0, "the server runs as another user only when we are root"))
    func startsUnderAFolderThePostgresUserCannotEnter() async throws {
        let fm = FileManager.default
        let privateDir = fm.temporaryDirectory.appendingPathComponent("handoff-private-\(UUID().uuidString.prefix(8))")
        try fm.createDirectory(
            at: privateDir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? fm.removeItem(at: privateDir) }
        let requested = privateDir.appendingPathComponent("clone/.handoff/postgres")
        let cluster = try EmbeddedCluster(directory: requested, port: 5498)
        #expect(cluster.requestedDirectory.path == requested.standardizedFileURL.path)
        #expect(cluster.isRelocated)
        #expect(!cluster.directory.path.hasPrefix(privateDir.path))
        try await cluster.initialize(durable: false)
        try await cluster.start()
        let c = try await Connection.connect(cluster.url())
        #expect(try await c.query("SELECT 1").count == 1)
        c.close()
        try await cluster.stop(mode: "immediate")
        #expect(try EmbeddedCluster(directory: requested, port: 5498).directory.path == cluster.directory.path)
        try await cluster.remove()
        // A folder it can reach is used as it is.
        let open = fm.temporaryDirectory.appendingPathComponent("handoff-open-\(UUID().uuidString.prefix(8))")
        #expect(try !EmbeddedCluster(directory: open).isRelocated)
    }
}
