import EventStore
import Foundation
import HTTP
import Logging
import Postgres
import Projections
import QueryService
import Referrals
import ServiceStore

/// `handoff demo`: the whole system in one process, on a private PostgreSQL cluster unless
/// `DATABASE_URL` is set.
enum DemoCommand {
    static func run(_ args: ParsedArguments, _ context: CLIContext) async throws {
        OpenFiles.raiseToHardLimit()  // each client connection takes an open file
        let home = URL(fileURLWithPath: args.string("--home") ?? "./.handoff").standardizedFileURL
        let port = args.int("--port") ?? 8080
        let caseCount = args.int("--cases") ?? 200
        let limits = ServiceCommands.DatabaseLimits(args)
        let logger = context.logger(args, label: "service")
        let say: @Sendable (String) -> Void = { context.err("demo: " + $0) }
        let fm = FileManager.default

        // The database: the given one, or our own cluster under DIR/postgres.
        var cluster: EmbeddedCluster? = nil
        let url: String
        if let given = context.environment["DATABASE_URL"], !given.isEmpty {
            url = given
            if args.flag("--reset") {
                try? fm.removeItem(at: home.appendingPathComponent("tokens.json"))
                try? fm.removeItem(at: home.appendingPathComponent("persons.json"))
            }
        } else {
            let c = try EmbeddedCluster(directory: home.appendingPathComponent("postgres"), port: 5432)
            guard c.socketDirectory.path.utf8.count < 96 else {
                throw CLIError(
                    message: "--home \(home.path) is too long a path for a unix socket; choose a shorter one")
            }
            if args.flag("--reset") {
                try? await c.stop(mode: "immediate")
                try? fm.removeItem(at: home)
                if c.isRelocated { try? await c.remove() }
                say("reset \(home.path)")
            }
            if c.isRelocated {
                say("the postgres user cannot reach \(home.path); the cluster lives in \(c.directory.path)")
            }
            let fresh = !c.isInitialized
            say(
                fresh
                    ? "creating a PostgreSQL cluster in \(c.directory.path)…"
                    : "starting the PostgreSQL cluster in \(c.directory.path)…")
            try await c.initialize(durable: true)
            try await c.start()
            cluster = c
            do {
                let admin = try await Connection.connect(c.url())
                defer { admin.close() }
                let exists = try await admin.query("SELECT 1 FROM pg_database WHERE datname = 'handoff'").count == 1
                if !exists { try await admin.execute("CREATE DATABASE handoff") }
            } catch {
                await stopCluster(c, say)
                throw error
            }
            url = c.url(database: "handoff")
        }
        do {
            try await serve(
                url: url, home: home, port: port, caseCount: caseCount, limits: limits, logger: logger, context, say)
        } catch {
            if let cluster { await stopCluster(cluster, say) }
            throw error
        }
        if let cluster { await stopCluster(cluster, say) }
    }

    /// Stops the private cluster within a few seconds: a server that does not stop in time (one
    /// that is frozen) stops on its own once it can, and the demo does not wait for it.
    static func stopCluster(_ cluster: EmbeddedCluster, _ say: @Sendable (String) -> Void) async {
        say("stopping PostgreSQL…")
        do {
            try await cluster.stop(mode: "fast", timeout: 2)
        } catch {
            say(
                "PostgreSQL did not stop within 2 s; it stops when it can (pg_ctl -D \(cluster.dataDirectory.path) status)"
            )
        }
    }

    /// Migrates, seeds, and runs service, projectors and watcher until SIGINT/SIGTERM; returns
    /// within a few seconds of the signal, whatever the database does.
    static func serve(
        url: String, home: URL, port: Int, caseCount: Int, limits: ServiceCommands.DatabaseLimits, logger: Logger,
        _ context: CLIContext, _ say: @escaping @Sendable (String) -> Void
    ) async throws {
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        guard let migrations = Migrator.locateDirectory() else {
            throw CLIError(message: "Migrations folder not found")
        }
        try await Migrator(directory: migrations).migrate(url: url)
        let pool = limits.pool(url: url, maximumConnections: 16)
        let store = EventStore(pool: pool)
        if caseCount > 0 {
            say("seeding \(caseCount) synthetic cases (cases already there are kept)…")
            let n = try await Seeding.cases(store, count: caseCount)
            if n > 0 { say("appended \(n) events") }
        }
        // After the history: its wide graces judge only what was recorded before now, never a
        // demo user's own entries.
        try await Seeding.referenceData(store)
        let tokensFile = home.appendingPathComponent("tokens.json")
        try await writeTokens(to: tokensFile, pool: pool)
        let personsFile = home.appendingPathComponent("persons.json")
        let persons = try await DemoPersons.write(to: personsFile, pool: pool)

        // Projectors and watcher in this process; the service on the port.
        let runner = ProjectionRunner(store: store, pool: pool)
        say("projecting the read models…")
        _ = try await runner.catchUp()
        let wakeups = Wakeups()
        await wakeups.startListening(url: url)
        let projecting = Task { await runner.run(wakeups: wakeups, logger: logger.labeled("projector")) }
        let watcher = DeadlineWatcher(store: store, pool: pool)
        let watching = Task {
            await watcher.run(
                wakeups: wakeups, interval: .seconds(10), onError: WatcherLog.failed(logger.labeled("watcher")),
                onPass: { WatcherLog.pass(logger.labeled("watcher"), $0) })
        }
        let service = await ServiceCommands.makeService(
            url: url, host: "127.0.0.1", port: port, logger: logger, limits: limits
        ) { $0.showsDemoHints = true }
        let bound: Int
        do {
            bound = try await service.start()
        } catch {
            projecting.cancel()
            watching.cancel()
            await wakeups.stop()
            await pool.close()
            throw CLIError(message: "cannot listen on 127.0.0.1:\(port) (\(error)); try --port")
        }
        context.out(banner(port: bound, tokens: tokensFile.path, persons: personsFile.path, people: persons))

        try? await untilSignalled {
            try await withTaskCancellationHandler {
                try await service.run()
            } onCancel: {
                // The projectors stop at once; the service drains its requests meanwhile.
                projecting.cancel()
                watching.cancel()
                Task { await service.shutdown() }
            }
        }
        say("shutting down…")
        await service.shutdown()
        projecting.cancel()
        watching.cancel()
        // Their database calls end on cancellation; a projector busy in pure work gets a moment.
        _ = await finishes(within: .seconds(2)) { _ = await (projecting.value, watching.value) }
        await wakeups.stop()
        await pool.close()
    }

    /// Reuses `tokens.json` when its tokens still work; otherwise issues new ones and writes it (mode 0600).
    static func writeTokens(to file: URL, pool: ConnectionPool) async throws {
        let tokens = TokenStore(pool: pool)
        if let data = FileManager.default.contents(atPath: file.path),
            let existing = try? JSONSerialization.jsonObject(with: data) as? [String: String],
            Set(existing.keys) == Set(Institution.demo.map(\.id))
        {
            var valid = true
            for (_, token) in existing where try await tokens.authenticate(token) == nil { valid = false }
            if valid { return }
        }
        var lines: [String] = []
        for institution in Institution.demo {
            let role: Principal.Role =
                institution.kinds.contains(.coordinator)
                ? .coordinator : institution.kinds.contains(.auditor) ? .auditor : .institution
            let token = try await tokens.create(
                role: role, institution: institution.id,
                user: "\(institution.id)-demo-user")
            lines.append("  \"\(institution.id)\": \"\(token)\"")
        }
        let text = "{\n" + lines.joined(separator: ",\n") + "\n}\n"
        FileManager.default.createFile(
            atPath: file.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    }

    static func banner(
        port: Int, tokens: String, persons: String = "", people: [DemoPersons.Person] = []
    ) -> String {
        let base = "http://127.0.0.1:\(port)"
        func token(_ id: String) -> String { "$(grep '\"\(id)\"' \(tokens) | cut -d'\"' -f4)" }
        return """

            Handoff is running (synthetic data only).

              Dashboard:  \(base)/   (sign in as a person below, or with a token)
              Persons:    \(persons)   (user name = institution id; natc and audit also type a one-time code
                          from an authenticator app given the key)
            \(DemoPersons.banner(people))
              Tokens:     \(tokens)   (institution id → token; natc is the coordinator, audit the auditor)

            Try:
              curl -s \(base)/health
              curl -s -H "Authorization: Bearer \(token("natc"))" "\(base)/v1/deadlines?status=overdue"
              curl -s -H "Authorization: Bearer \(token("opav"))" \(base)/v1/inbox

            Ctrl-C stops everything, PostgreSQL included.

            """
    }
}
