import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A private PostgreSQL cluster in a folder of ours, for `handoff demo` and the tests.
///
/// `initdb` creates it, `pg_ctl` starts it on a unix socket inside the folder (and, if asked, on a
/// loopback TCP port) and stops it. When the process runs as root the server runs as the
/// `postgres` user, since PostgreSQL refuses to run as root.
public struct EmbeddedCluster: Sendable {
    /// Where `initdb` and `pg_ctl` were found.
    public struct Binaries: Sendable {
        public var initdb: String
        public var pgCtl: String
    }

    public enum ClusterError: Error, CustomStringConvertible, Sendable {
        case binariesMissing
        case commandFailed(command: String, status: Int32, output: String)
        case noUser(String)

        public var description: String {
            switch self {
            case .binariesMissing:
                return "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or under "
                    + "/usr/lib/postgresql/*/bin. Install them: apt-get install -y postgresql "
                    + "(Debian/Ubuntu), or set DATABASE_URL to an existing server."
            case .commandFailed(let command, let status, let output):
                return "\(command) failed (exit \(status)): \(output)"
            case .noUser(let name):
                return "running as root needs the '\(name)' system user to run PostgreSQL; "
                    + "apt-get install -y postgresql creates it"
            }
        }
    }

    public let directory: URL
    public let port: Int
    public let listenOnTCP: Bool
    public let binaries: Binaries

    /// The folder holding the database files.
    public var dataDirectory: URL { directory.appendingPathComponent("data") }
    /// The folder holding the server's unix socket.
    public var socketDirectory: URL { directory.appendingPathComponent("run") }
    public var logFile: URL { directory.appendingPathComponent("postgres.log") }

    /// - Parameters:
    ///   - directory: the cluster's folder (created if missing).
    ///   - port: the port number; with `listenOnTCP` false it only names the socket file.
    ///   - listenOnTCP: also listen on 127.0.0.1:`port`.
    /// - Throws: `ClusterError.binariesMissing` with install instructions.
    public init(directory: URL, port: Int = 5432, listenOnTCP: Bool = false) throws {
        self.directory = directory.standardizedFileURL
        self.port = port
        self.listenOnTCP = listenOnTCP
        guard let binaries = Self.findBinaries() else { throw ClusterError.binariesMissing }
        self.binaries = binaries
    }

    /// Looks for `initdb` and `pg_ctl` on PATH, then in the newest `/usr/lib/postgresql/*/bin`.
    public static func findBinaries() -> Binaries? {
        let fm = FileManager.default
        var dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        if let versions = try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
            let sorted = versions.sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
            dirs += sorted.map { "/usr/lib/postgresql/\($0)/bin" }
        }
        for dir in dirs {
            let initdb = dir + "/initdb", pgCtl = dir + "/pg_ctl"
            if fm.isExecutableFile(atPath: initdb), fm.isExecutableFile(atPath: pgCtl) {
                return Binaries(initdb: initdb, pgCtl: pgCtl)
            }
        }
        return nil
    }

    /// A libpq URI for a database of this cluster, over the unix socket, as the `postgres` superuser.
    public func url(database: String = "postgres") -> String {
        "postgresql:///\(database)?host=\(socketDirectory.path)&port=\(port)&user=postgres"
    }

    /// True when the folder already holds an initialised cluster.
    public var isInitialized: Bool {
        FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path)
    }

    /// Creates the cluster unless it exists. `durable: false` turns off fsync (for tests only).
    /// - Parameter settings: extra `postgresql.conf` lines (`name = value`), e.g. larger buffers for a benchmark.
    public func initialize(durable: Bool = true, settings: [String: String] = [:]) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        try fm.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
        try handToServerUser(directory)
        try handToServerUser(socketDirectory)
        guard !isInitialized else { return }
        var args = [
            binaries.initdb, "-D", dataDirectory.path, "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--locale=C",
        ]
        if !durable { args.append("--no-sync") }
        try run(args)
        var conf = """

            # Written by handoff's embedded cluster.
            listen_addresses = '\(listenOnTCP ? "127.0.0.1" : "")'
            port = \(port)
            unix_socket_directories = '\(socketDirectory.path)'
            max_connections = 800
            shared_buffers = 128MB
            log_min_messages = warning
            log_min_error_statement = panic
            log_statement = 'none'

            """
        if !durable {
            conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        }
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) { conf += "\(name) = \(value)\n" }
        let confURL = dataDirectory.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: confURL)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(conf.utf8))
        try handle.close()
    }

    /// Starts the server and waits until it accepts connections.
    public func start() throws {
        if isRunning { return }
        try run([
            binaries.pgCtl, "-D", dataDirectory.path, "-l", logFile.path, "-w", "-t", "60", "-s", "start",
        ])
    }

    /// Stops the server: `fast` rolls back open transactions and disconnects clients;
    /// `immediate` simulates a crash (recovery runs on the next start).
    public func stop(mode: String = "fast") throws {
        guard isRunning else { return }
        try run([binaries.pgCtl, "-D", dataDirectory.path, "-m", mode, "-w", "-t", "60", "-s", "stop"])
    }

    /// True while a postmaster runs for this data folder.
    public var isRunning: Bool {
        (try? run([binaries.pgCtl, "-D", dataDirectory.path, "-s", "status"], allowFailure: true)) == 0
    }

    // MARK: - Processes

    private static var isRoot: Bool { geteuid() == 0 }

    private func handToServerUser(_ url: URL) throws {
        guard Self.isRoot else { return }
        guard let pw = getpwnam("postgres") else { throw ClusterError.noUser("postgres") }
        if chown(url.path, pw.pointee.pw_uid, pw.pointee.pw_gid) != 0 {
            throw ClusterError.commandFailed(command: "chown", status: errno, output: url.path)
        }
        chmod(url.path, 0o700)
    }

    @discardableResult
    private func run(_ args: [String], allowFailure: Bool = false) throws -> Int32 {
        var arguments = args
        if Self.isRoot {
            // PostgreSQL refuses to run as root: run its tools as the postgres user.
            if FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser") {
                arguments = ["/usr/sbin/runuser", "-u", "postgres", "--"] + args
            } else {
                arguments = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + args
            }
        }
        var env = ProcessInfo.processInfo.environment
        env["LC_ALL"] = "C"
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "handoff-pgctl-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let status = try ChildProcess.run(arguments, environment: env, outputPath: outputPath)
        if status != 0 && !allowFailure {
            let data = FileManager.default.contents(atPath: outputPath) ?? Data()
            let text = String(decoding: data.suffix(2000), as: UTF8.self)
            throw ClusterError.commandFailed(
                command: URL(fileURLWithPath: args[0]).lastPathComponent, status: status, output: text)
        }
        return status
    }
}
