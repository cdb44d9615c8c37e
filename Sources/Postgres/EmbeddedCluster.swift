import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A private PostgreSQL cluster in a folder of ours, for `handoff demo` and the tests.
///
/// `initdb` creates it, `pg_ctl` starts it on a unix socket inside the folder (and, if asked, on a
/// loopback TCP port) and stops it. When the process runs as root the server runs as the
/// `postgres` user, since PostgreSQL refuses to run as root.
///
/// Running as root, the folder asked for may lie where the `postgres` user cannot go — under
/// root's home (mode 0700) or a `mktemp -d` folder. Rather than loosen the permissions of folders
/// that are not ours, the cluster then lives in the `postgres` user's own home, in
/// `~postgres/handoff/<key>`, where `<key>` is derived from the folder asked for (the same folder
/// always finds the same cluster): ``directory`` says where it went, ``requestedDirectory`` what
/// was asked.
///
/// Every method that waits for a child process has an `async` form that waits on a thread of its
/// own; the blocking forms are for synchronous code only (an `atexit` handler).
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
        case unreachable(String)

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
            case .unreachable(let path):
                return "the postgres user cannot reach \(path) and has no home directory to use instead; "
                    + "choose a folder it can traverse (e.g. --home /var/tmp/handoff) or set DATABASE_URL"
            }
        }
    }

    /// Where the cluster lives (see the type's documentation).
    public let directory: URL
    /// The folder the caller asked for; differs from `directory` when the server user cannot reach it.
    public let requestedDirectory: URL
    /// True when the cluster lives elsewhere than `requestedDirectory` (the server user cannot reach it).
    public var isRelocated: Bool { directory.path != requestedDirectory.path }
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
    /// - Throws: `ClusterError.binariesMissing` with install instructions; as root, `.noUser` without
    ///   a `postgres` user and `.unreachable` when neither `directory` nor its home will do.
    public init(directory: URL, port: Int = 5432, listenOnTCP: Bool = false) throws {
        self.requestedDirectory = directory.standardizedFileURL
        self.port = port
        self.listenOnTCP = listenOnTCP
        guard let binaries = Self.findBinaries() else { throw ClusterError.binariesMissing }
        self.binaries = binaries
        self.directory = try Self.placement(for: requestedDirectory)
    }

    /// `requested` when the server user can reach it, else a folder of its own in that user's home.
    static func placement(for requested: URL) throws -> URL {
        guard isRoot else { return requested }
        guard let pw = getpwnam("postgres") else { throw ClusterError.noUser("postgres") }
        let user = (uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid, home: String(cString: pw.pointee.pw_dir))
        if canTraverse(ancestorsOf: requested, uid: user.uid, gid: user.gid) { return requested }
        var home = stat()
        guard !user.home.isEmpty, user.home != "/", lstat(user.home, &home) == 0, home.st_uid == user.uid,
            home.st_mode & S_IFMT == S_IFDIR
        else { throw ClusterError.unreachable(requested.path) }
        // FNV-1a of the path: a stable, short key (not a secret; the folder is the postgres user's).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in requested.path.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let key = String(hash, radix: 16).leftPadded(to: 16)
        return URL(fileURLWithPath: user.home + "/handoff/" + key, isDirectory: true)
    }

    /// The process's umask, from /proc (reading it with umask(2) would change it for a moment,
    /// for every thread); 022 when /proc does not say.
    private static func processUmask() -> mode_t {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("Umask:") {
            if let mask = mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8) {
                return mask
            }
        }
        return 0o022
    }

    /// Whether a process of `uid`/`gid` may search every existing folder on the way to `url`
    /// (the folders still to be created are made by us and handed to it).
    private static func canTraverse(ancestorsOf url: URL, uid: uid_t, gid: gid_t) -> Bool {
        var path = "/"
        var components = url.pathComponents.dropFirst()[...]
        while true {
            var info = stat()
            // From here on we create the folders, with the process's umask: reachable unless it
            // takes the search bit from others (a umask of 077).
            guard stat(path, &info) == 0 else { return processUmask() & 0o001 == 0 }
            let mode = info.st_mode
            let allowed: Bool
            if info.st_uid == uid {
                allowed = mode & S_IXUSR != 0
            } else if info.st_gid == gid {
                allowed = mode & S_IXGRP != 0
            } else {
                allowed = mode & S_IXOTH != 0
            }
            guard allowed else { return false }
            guard let next = components.popFirst() else { return true }
            path = (path == "/" ? "" : path) + "/" + next
        }
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
    public func initialize(durable: Bool = true, settings: [String: String] = [:]) async throws {
        try await offThread("handoff.initdb") { try self.initialize(durable: durable, settings: settings) }
    }

    /// Starts the server and waits until it accepts connections.
    public func start() async throws {
        try await offThread("handoff.pg_ctl") { try self.start() }
    }

    /// Stops the server (see the blocking `stop(mode:timeout:)`).
    public func stop(mode: String = "fast", timeout: Int = 60) async throws {
        try await offThread("handoff.pg_ctl") { try self.stop(mode: mode, timeout: timeout) }
    }

    /// True while a postmaster runs for this data folder.
    public var running: Bool {
        get async { (try? await offThread("handoff.pg_ctl") { self.isRunning }) ?? false }
    }

    /// Removes the cluster's folder (the server must be stopped).
    public func remove() async throws {
        try await offThread("handoff.rm") { try FileManager.default.removeItem(at: self.directory) }
    }

    /// The blocking form of `initialize`.
    @available(*, noasync, message: "use the async form: it waits for initdb on a thread of its own")
    public func initialize(durable: Bool = true, settings: [String: String] = [:]) throws {
        let fm = FileManager.default
        if isRelocated {
            try fm.createDirectory(at: directory.deletingLastPathComponent(), withIntermediateDirectories: true)
            try handToServerUser(directory.deletingLastPathComponent())
        }
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
            max_connections = 1500
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

    /// The blocking form of `start`.
    @available(*, noasync, message: "use the async form: it waits for pg_ctl on a thread of its own")
    public func start() throws {
        if isRunning { return }
        try run([
            binaries.pgCtl, "-D", dataDirectory.path, "-l", logFile.path, "-w", "-t", "60", "-s", "start",
        ])
    }

    /// Stops the server: `fast` rolls back open transactions and disconnects clients;
    /// `immediate` simulates a crash (recovery runs on the next start). Waits up to `timeout`
    /// seconds, then throws; the server, once it can, still stops (e.g. a frozen one, when thawed).
    @available(*, noasync, message: "use the async form: it waits for pg_ctl on a thread of its own")
    public func stop(mode: String = "fast", timeout: Int = 60) throws {
        guard isRunning else { return }
        try run([binaries.pgCtl, "-D", dataDirectory.path, "-m", mode, "-w", "-t", String(timeout), "-s", "stop"])
    }

    /// True while a postmaster runs for this data folder (blocking; see `running`).
    @available(*, noasync, message: "use `running`: it waits for pg_ctl on a thread of its own")
    public var isRunning: Bool {
        (try? run([binaries.pgCtl, "-D", dataDirectory.path, "-s", "status"], allowFailure: true)) == 0
    }

    // MARK: - Processes

    static var isRoot: Bool { geteuid() == 0 }

    func handToServerUser(_ url: URL) throws {
        guard Self.isRoot else { return }
        guard let pw = getpwnam("postgres") else { throw ClusterError.noUser("postgres") }
        if chown(url.path, pw.pointee.pw_uid, pw.pointee.pw_gid) != 0 {
            throw ClusterError.commandFailed(command: "chown", status: errno, output: url.path)
        }
        chmod(url.path, 0o700)
    }

    @discardableResult
    @available(*, noasync)
    func run(_ args: [String], allowFailure: Bool = false) throws -> Int32 {
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

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
