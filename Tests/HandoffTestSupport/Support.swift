import CTestWidth
import EventStore
import Foundation
import Postgres

#if canImport(Glibc)
    import Glibc
#endif

/// The PostgreSQL every integration test runs against.
///
/// One ephemeral cluster per test process (initdb + pg_ctl in a temporary folder, as the
/// `postgres` user when run as root), unless `HANDOFF_TEST_DATABASE_URL` names a server to use.
/// A template database is migrated once; each test gets its own database cloned from it, so
/// tests run in parallel without seeing each other's events.
public enum TestDatabase {
    /// A fresh, migrated database of its own for one test.
    public static func make(migrated: Bool = true) async throws -> TestDB {
        let server = try await TestServer.shared.ready()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        // Identifiers cannot be parameters; `name` is made of hex digits only. FILE_COPY: the
        // template's files are copied, not written again through the WAL (a gigabyte of it in the
        // suite's first seconds otherwise, slowing every connection meanwhile).
        let template = migrated ? server.template : "template0"
        // Up to 48 tests start at once on two cores: a connection that cannot be made in time
        // is tried again (for up to a minute) rather than failing a test that has not begun.
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                let admin = try await Connection.connect(server.adminURL, connectTimeout: 15)
                defer { admin.close() }
                if try await admin.query("SELECT 1 FROM pg_database WHERE datname = \(String(name))").isEmpty {
                    try await admin.execute("CREATE DATABASE \(name) TEMPLATE \(template) STRATEGY FILE_COPY")
                }
                return TestDB(name: String(name), url: server.url(database: String(name)))
            } catch let error as PostgresError where error.isConnectionProblem && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// How many tests the process runs at once (`SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH`,
    /// set to 48 as the process loads unless the environment set it: Tests/CTestWidth).
    public static var testWidth: String { String(cString: handoff_test_width()) }

    /// The cluster's admin URL (a superuser on the `postgres` database).
    public static func adminURL() async throws -> String { try await TestServer.shared.ready().adminURL }

    /// The embedded cluster, when the tests started one (nil with `HANDOFF_TEST_DATABASE_URL`).
    public static func cluster() async throws -> EmbeddedCluster? { try await TestServer.shared.ready().cluster }

    /// A primary with a hot standby streaming from it, both of the tests' own, started on first
    /// use — only the suites that read from a replica pay for them — and stopped when the test
    /// process exits. A cluster apart from the shared one: a base backup of that one would copy
    /// every test's database, and its standby would replay all of their work.
    public static func replicated() async throws -> ReplicatedCluster { try await ReplicatedCluster.shared.ready() }
}

/// A primary and its hot standby for tests (``TestDatabase/replicated()``).
public final class ReplicatedCluster: Sendable {
    /// The primary, with a migrated database `handoff` that tests clone.
    public let primary: PrivateCluster
    /// The hot standby streaming from it.
    public let standby: EmbeddedCluster

    init(primary: PrivateCluster, standby: EmbeddedCluster) {
        self.primary = primary
        self.standby = standby
    }

    /// A fresh, migrated database of its own on the primary, and its URL on the standby once
    /// the standby has it.
    public func make() async throws -> (db: TestDB, standbyURL: String) {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let admin = try await Connection.connect(primary.cluster.url())
        defer { admin.close() }
        try await admin.execute("CREATE DATABASE \(name) TEMPLATE handoff")
        let db = TestDB(name: String(name), url: primary.cluster.url(database: String(name)))
        return (db, try await TestStandby.url(of: db.name, on: standby))
    }

    fileprivate static let shared = Starter()

    fileprivate actor Starter {
        private var state: Task<ReplicatedCluster, Error>?

        func ready() async throws -> ReplicatedCluster {
            if let state { return try await state.value }
            let task = Task {
                let primary = try await PrivateCluster.start()
                registerStopAtExit(primary.cluster)
                let standby = try await TestStandby.start(of: primary.cluster, name: "handoff_test_standby")
                registerStopAtExit(standby)
                return ReplicatedCluster(primary: primary, standby: standby)
            }
            state = task
            return try await task.value
        }
    }
}

/// Starting hot standbys for tests.
public enum TestStandby {
    /// Makes and starts a hot standby of `primary` in a temporary folder (see
    /// `EmbeddedCluster.makeStandby`). Stop and remove it when done, or leave it to ``stopAtExit(_:)``.
    public static func start(of primary: EmbeddedCluster, name: String) async throws -> EmbeddedCluster {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "handoff-standby-\(getpid())-\(UUID().uuidString.prefix(8))")
        let standby = try await primary.makeStandby(directory: dir, port: 5433, name: name)
        try await standby.start()
        return standby
    }

    /// Stops `cluster` immediately and removes its folder when the test process exits.
    public static func stopAtExit(_ cluster: EmbeddedCluster) { registerStopAtExit(cluster) }

    /// `database` on `standby`, once the standby has replayed its creation and migration (the
    /// `handoff` schema's tables are there): a URL to read it through.
    public static func url(of database: String, on standby: EmbeddedCluster, timeout: Duration = .seconds(30))
        async throws -> String
    {
        let url = standby.url(database: database)
        try await eventually("\(database) on the standby", timeout: timeout) {
            guard let c = try? await Connection.connect(url, connectTimeout: 2) else { return false }
            defer { c.close() }
            let found: Bool? = try? await c.query("SELECT to_regclass('handoff.events') IS NOT NULL").first?.decode(0)
            return found == true
        }
        return url
    }
}

/// One test's database.
public struct TestDB: Sendable {
    public let name: String
    public let url: String

    /// A pool on this database.
    public func pool(size: Int = 8) -> ConnectionPool { ConnectionPool(url: url, maximumConnections: size) }

    /// A store on this database with its own pool.
    public func store(poolSize: Int = 8) -> EventStore { EventStore(pool: pool(size: poolSize)) }

    /// A superuser connection to this database.
    public func connect() async throws -> Connection { try await Connection.connect(url) }
}

actor TestServer {
    static let shared = TestServer()

    struct Ready: Sendable {
        var cluster: EmbeddedCluster?
        var adminURL: String
        var template: String
        var baseURL: String
        func url(database: String) -> String {
            if let cluster { return TestServer.patient(cluster.url(database: database)) }
            return TestServer.replaceDatabase(in: baseURL, with: database)
        }
    }

    private var state: Task<Ready, Error>?

    func ready() async throws -> Ready {
        if let state { return try await state.value }
        let task = Task { try await Self.start() }
        state = task
        return try await task.value
    }

    private static func start() async throws -> Ready {
        var cluster: EmbeddedCluster? = nil
        let adminURL: String
        if let given = ProcessInfo.processInfo.environment["HANDOFF_TEST_DATABASE_URL"], !given.isEmpty {
            adminURL = given
        } else {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
                "handoff-test-\(getpid())-\(UUID().uuidString.prefix(8))")
            let c: EmbeddedCluster
            do {
                c = try EmbeddedCluster(directory: dir, port: 5432)
            } catch {
                fatalError("\(error)")  // tests must fail loudly, not skip, when PostgreSQL is missing
            }
            try await c.initialize(durable: false)
            try await c.start()
            registerStopAtExit(c)
            cluster = c
            adminURL = patient(c.url())
        }
        // Migrate a template once; tests clone it.
        let template = "handoff_template_\(getpid())"
        let admin = try await Connection.connect(adminURL)
        defer { admin.close() }
        try await admin.execute("DROP DATABASE IF EXISTS \(template)")
        try await admin.execute("CREATE DATABASE \(template)")
        guard let dir = Migrator.locateDirectory() else { throw Migrator.MigrationError.directoryNotFound }
        let templateURL = cluster?.url(database: template) ?? replaceDatabase(in: adminURL, with: template)
        try await Migrator(directory: dir).migrate(url: templateURL)
        return Ready(cluster: cluster, adminURL: adminURL, template: template, baseURL: adminURL)
    }

    /// The URL with a connect timeout of 30 s, which wins over the one a caller passes (2 s for the
    /// service's readiness probe, 5 s by default). In the suite's first seconds a few hundred
    /// tests connect at once on two cores and a connection can take several seconds to open;
    /// refused for that, a test that is not about outages fails. Tests of outages stop, freeze
    /// or close a database of their own, which refuses at once or has a URL of its own.
    static func patient(_ url: String) -> String { url + "&connect_timeout=30" }

    /// Swaps the database name of a `postgresql://…/db?…` URL.
    static func replaceDatabase(in url: String, with database: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + database
        return components.string ?? url
    }
}

nonisolated(unsafe) private var clustersToStop: [EmbeddedCluster] = []
private let clustersToStopLock = NSLock()

/// Stops an ephemeral cluster and removes its folder when the test process exits (standbys
/// first: they are registered after their primary).
func registerStopAtExit(_ cluster: EmbeddedCluster) {
    clustersToStopLock.lock()
    defer { clustersToStopLock.unlock() }
    clustersToStop.append(cluster)
    guard clustersToStop.count == 1 else { return }
    atexit {
        clustersToStopLock.lock()
        let clusters = clustersToStop
        clustersToStopLock.unlock()
        for c in clusters.reversed() {
            reportServerTrouble(in: c)
            try? c.stop(mode: "immediate")
            try? FileManager.default.removeItem(at: c.directory)
        }
    }
}

/// Prints what the server logged of a crash, a refused connection or a fork that failed (the
/// folder with its log is removed next): a test that failed on "connection_failed" is then
/// explained in the run's own output.
private func reportServerTrouble(in cluster: EmbeddedCluster) {
    guard let log = try? String(contentsOf: cluster.logFile, encoding: .utf8) else { return }
    let signs = [
        "PANIC", "terminated by signal", "was terminated", "crash of another", "out of memory",
        "could not fork", "too many clients", "in recovery mode", "remaining connection slots",
    ]
    let lines = log.split(separator: "\n").filter { line in signs.contains { line.contains($0) } }
    guard !lines.isEmpty else { return }
    var report = "PostgreSQL at \(cluster.directory.path) logged trouble (\(lines.count) lines):\n"
    for line in lines.prefix(40) { report += line + "\n" }
    FileHandle.standardError.write(Data(report.utf8))
}

/// Waits until the gap-free reader has reached `cursor`.
///
/// The gap-free order reads only below the oldest transaction running anywhere in the cluster, so
/// while other tests hold transactions open a reader can lag for a moment — never skip.
public func waitUntilReadable(_ store: EventStore, _ cursor: Cursor, timeout: Duration = .seconds(30)) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while try await store.headCursor() < cursor {
        guard clock.now < deadline else { throw TestTimeout(what: "reader to reach \(cursor)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Waits until every committed event is readable in gap-free order (see `waitUntilReadable`).
public func waitUntilAllReadable(_ store: EventStore, timeout: Duration = .seconds(30)) async throws {
    try await eventually("every event to be readable", timeout: timeout) { try await store.pendingVisibility() == 0 }
}

/// Polls `condition` until it holds.
public func eventually(
    _ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while !(try await condition()) {
        guard clock.now < deadline else { throw TestTimeout(what: what) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

public struct TestTimeout: Error, CustomStringConvertible {
    public var what: String
    public var description: String { "timed out waiting for \(what)" }
}
