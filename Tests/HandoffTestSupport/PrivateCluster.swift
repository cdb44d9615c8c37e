import EventStore
import Foundation
import Postgres
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A PostgreSQL cluster of one test's own, migrated, for tests that freeze or stop the server:
/// the cluster every other test shares must stay up.
public final class PrivateCluster: Sendable {
    public let cluster: EmbeddedCluster
    /// The migrated database `handoff`, as the `postgres` superuser.
    public let url: String
    private let frozen = Mutex<[pid_t]>([])

    private init(cluster: EmbeddedCluster) {
        self.cluster = cluster
        self.url = cluster.url(database: "handoff")
    }

    /// The migrated database, as the shared cluster's test databases are given.
    public var database: TestDB { TestDB(name: "handoff", url: url) }

    /// Creates, starts and migrates a cluster in a temporary folder.
    public static func start() async throws -> PrivateCluster {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "handoff-private-\(getpid())-\(UUID().uuidString.prefix(8))")
        let cluster = try EmbeddedCluster(directory: dir, port: 5432)
        try await cluster.initialize(durable: false)
        try await cluster.start()
        let admin = try await Connection.connect(cluster.url())
        defer { admin.close() }
        try await admin.execute("CREATE DATABASE handoff")
        guard let migrations = Migrator.locateDirectory() else { throw Migrator.MigrationError.directoryNotFound }
        let made = PrivateCluster(cluster: cluster)
        try await Migrator(directory: migrations).migrate(url: made.url)
        return made
    }

    /// The postmaster and every process it started.
    public func serverProcesses() throws -> [pid_t] {
        let pidFile = cluster.dataDirectory.appendingPathComponent("postmaster.pid").path
        let text = try String(contentsOfFile: pidFile, encoding: .utf8)
        guard let line = text.split(separator: "\n").first, let postmaster = pid_t(line) else {
            throw TestTimeout(what: "a postmaster pid in \(pidFile)")
        }
        return [postmaster] + Self.children(of: postmaster)
    }

    private static func children(of parent: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // After "pid (comm) ": state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent ? pid : nil
        }
    }

    /// Freezes the server: SIGSTOP to the postmaster and its processes. It accepts connections
    /// into the kernel's queue and answers nothing — a hung host, not a refused one. The
    /// postmaster stops first, so no process it forks afterwards escapes.
    public func freeze() throws {
        let postmaster = try serverProcesses()[0]
        kill(postmaster, SIGSTOP)
        // kill() returns before the process has stopped; one it forks meanwhile must be listed.
        for _ in 0..<1000 where Self.state(of: postmaster) != "T" { usleep(1000) }
        let children = Self.children(of: postmaster)
        for pid in children { kill(pid, SIGSTOP) }
        frozen.withLock { $0 += [postmaster] + children }
    }

    /// The state letter of /proc/PID/stat (`R`, `S`, `T` for stopped…).
    private static func state(of pid: pid_t) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first?.first
    }

    /// Lets a frozen server go on (safe to call more than once).
    public func thaw() {
        let pids = frozen.withLock { p in
            defer { p = [] }
            return p
        }
        for pid in pids { kill(pid, SIGCONT) }
    }

    /// Thaws, stops (immediately) and removes the cluster.
    public func remove() async {
        thaw()
        try? await cluster.stop(mode: "immediate")
        try? await cluster.remove()
    }
}
