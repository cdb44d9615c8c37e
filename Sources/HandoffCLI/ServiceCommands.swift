import EventStore
import Foundation
import HTTP
import Logging
import Postgres
import Projections
import QueryService
import Referrals
import ServiceStore

/// `serve` and `token create`.
enum ServiceCommands {
    /// The deadlines of a long-running command's database work (docs/operations.md, "Timeouts"):
    /// `--statement-timeout` for every statement, `--pool-wait` for a free connection.
    struct DatabaseLimits: Sendable {
        // A request should fail within seconds, not hang as long as a client or proxy waits: the
        // service's statements are short (paged reads, one append), so 10 s is generous.
        var statementTimeout: Duration = .seconds(10)
        var poolWait: Duration = .seconds(5)

        init() {}

        /// `--statement-timeout` and `--pool-wait` as given, else as their command declares them
        /// (the service's 10 s and 5 s, `project`'s and `watch`'s 60 s and 30 s).
        init(_ args: ParsedArguments) {
            if let seconds = args.int("--statement-timeout") { statementTimeout = .seconds(seconds) }
            if let seconds = args.int("--pool-wait") { poolWait = .seconds(seconds) }
        }

        func pool(url: String, maximumConnections: Int) -> ConnectionPool {
            ConnectionPool(
                url: url, maximumConnections: maximumConnections, checkoutTimeout: poolWait,
                statementTimeout: statementTimeout)
        }
    }

    /// How long a stopping service lets requests and streams finish before it cancels them: with
    /// the rest of shutdown, well inside the 10 s an orchestrator waits after SIGTERM.
    static let shutdownGracePeriod: Duration = .seconds(4)

    /// The query service wired to a database: store, read models, wake-ups and metrics.
    ///
    /// - Parameter readURL: a streaming standby for the read routes (docs/operations.md, "Read
    ///   replicas"), with a pool of its own of `poolSize` connections; nil for none.
    static func makeService(
        url: String, readURL: String? = nil, host: String, port: Int, poolSize: Int = 16,
        logger: Logger = Logger(label: "service"), limits: DatabaseLimits = DatabaseLimits(),
        defaultLanguage: Language = .albanian, groupCommit: GroupCommit? = nil,
        configure: (inout QueryServiceConfiguration) -> Void = { _ in }
    ) async -> QueryService {
        let pool = limits.pool(url: url, maximumConnections: poolSize)
        let replica = readURL.map { ReadReplica(pool: limits.pool(url: $0, maximumConnections: poolSize)) }
        let store = EventStore(pool: pool, groupCommit: groupCommit)
        let wakeups = Wakeups()
        await wakeups.startListening(url: url)
        let lagRunner = ProjectionRunner(store: store, pool: pool)
        var http = HTTPServerConfiguration(host: host, port: port)
        http.shutdownGracePeriod = shutdownGracePeriod
        var configuration = QueryServiceConfiguration(http: http, defaultLanguage: defaultLanguage, logger: logger)
        configure(&configuration)
        return QueryService(
            configuration: configuration, store: store, readSide: ProjectionReadSide(pool: pool),
            wakeups: wakeups,
            metricsHook: { [replica] in
                var text = ""
                text +=
                    "# HELP handoff_db_pool_connections Database connections open (in use, idle, opening or closing).\n"
                text +=
                    "# TYPE handoff_db_pool_connections gauge\nhandoff_db_pool_connections \(await pool.openConnections)\n"
                text += "# HELP handoff_db_pool_waiting Requests waiting for a database connection.\n"
                text += "# TYPE handoff_db_pool_waiting gauge\nhandoff_db_pool_waiting \(pool.waitingCallers)\n"
                if let replica {
                    text += "# HELP handoff_db_read_pool_connections Connections open to the read replica.\n"
                    text += "# TYPE handoff_db_read_pool_connections gauge\n"
                    text += "handoff_db_read_pool_connections \(await replica.pool.openConnections)\n"
                }
                if let lags = try? await lagRunner.lag() { text += ProjectorLag.prometheus(lags) }
                if let pending = try? await store.pendingVisibility() {
                    text +=
                        "# HELP handoff_reader_pending_events Committed events not yet readable in gap-free order.\n"
                    text += "# TYPE handoff_reader_pending_events gauge\nhandoff_reader_pending_events \(pending)\n"
                }
                if let replication = try? await store.replicationStatus() { text += replication.prometheus() }
                return text
            }, replica: replica)
    }

    /// `--read-url`, else `DATABASE_READ_URL`; nil when neither is set (no read replica).
    static func readURL(_ args: ParsedArguments, _ context: CLIContext) -> String? {
        if let url = args.string("--read-url"), !url.isEmpty { return url }
        if let url = context.environment["DATABASE_READ_URL"], !url.isEmpty { return url }
        return nil
    }

    static func serve(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let url = try context.databaseURL()
        OpenFiles.raiseToHardLimit()  // each client connection takes an open file
        let host = args.string("--host") ?? "127.0.0.1"
        let port = args.int("--port") ?? 8080
        if let publicURL = args.string("--public-url") {
            guard let scheme = URL(string: publicURL)?.scheme?.lowercased(), ["http", "https"].contains(scheme),
                URL(string: publicURL)?.host != nil
            else { throw CLIError.usage("--public-url must be an http:// or https:// URL") }
        }
        let logger = context.logger(args, label: "service")
        // Albanian unless told: the majority language of the institutions (docs/operations.md).
        let language = args.string("--default-lang").flatMap(Language.init(tag:)) ?? .albanian
        let service = await makeService(
            url: url, readURL: readURL(args, context), host: host, port: port, logger: logger,
            limits: DatabaseLimits(args), defaultLanguage: language
        ) { configuration in
            if let seconds = args.int("--read-max-lag") { configuration.replicaMaxLag = .seconds(seconds) }
            configuration.publicURL = args.string("--public-url")
            if let n = args.int("--max-streams-per-token") { configuration.maxStreamsPerToken = n }
            if let n = args.int("--max-requests-per-caller") { configuration.maxRequestsInFlightPerCaller = n }
            if let n = args.int("--append-budget") { configuration.appendBudget.burst = Double(n) }
            if let n = args.int("--append-budget-per-second") { configuration.appendBudget.perSecond = Double(n) }
            if let n = args.int("--body-budget-mib") { configuration.http.bodyBudget = n * 1_048_576 }
            if let n = args.int("--body-budget-per-address-mib") {
                configuration.http.bodyBudgetPerAddress = n * 1_048_576
            }
            if let n = args.int("--session-idle-minutes") { configuration.sessionIdleTimeout = .seconds(n * 60) }
            if let n = args.int("--session-hours") { configuration.sessionLifetime = .seconds(n * 3600) }
            if let n = args.int("--sign-in-max-failures") { configuration.signIn.maxFailures = n }
            if let n = args.int("--sign-in-lock-minutes") { configuration.signIn.lockDuration = .seconds(n * 60) }
        }
        try await service.start()  // the HTTP server logs `listening` with host and port
        let signals = service.shutdownOnSignals()
        try await service.run()
        _ = signals
    }

    static func createToken(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let roleName = args.string("--role") ?? ""
        let institution = args.string("--institution")
        let user = args.string("--user")!
        let role = Principal.Role(rawValue: roleName)
        guard role != nil || roleName == "metrics" else {
            throw CLIError.usage("--role must be institution, coordinator, auditor or metrics")
        }
        if role == .institution && institution == nil {
            throw CLIError.usage("--role institution needs --institution ID")
        }
        if role == nil && institution != nil {
            throw CLIError.usage("a metrics token belongs to no institution: drop --institution")
        }
        guard Identifiers.isValidUserName(user) else {
            throw CLIError.usage(
                "--user is 1-64 of a-z 0-9 . _ - (starting with a letter or digit), as person names are")
        }
        try await RegistryCommands.checkCredentialInstitution(institution, actsOnCases: role == .institution, context)
        let tokens = TokenStore(pool: ConnectionPool(url: try context.databaseURL(), maximumConnections: 1))
        do {
            let issued =
                if let role {
                    try await tokens.issue(role: role, institution: institution, user: user)
                } else {
                    try await tokens.createMetricsToken(user: user)
                }
            context.out(issued.token)
            context.err("token id \(issued.id) (revoke with: handoff token revoke \(issued.id))")
        } catch let error as TokenStore.TokenError {
            throw CLIError.usage("\(error)")
        }
    }

    /// `handoff token revoke ID|-`: prints `{"revoked":true,"id":N}`; exit 1 when no live token
    /// has that id (or is that token).
    static func revokeToken(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let target = args.positionals.first ?? ""
        let tokens = TokenStore(pool: ConnectionPool(url: try context.databaseURL(), maximumConnections: 1))
        let id: Int64
        if target == "-" {
            let token = (context.standardInput() ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty, !token.contains(where: \.isWhitespace) else {
                throw CLIError.usage("token revoke -: write the token (one line) to stdin")
            }
            guard let found = try await tokens.id(of: token) else { throw CLIError(message: "no such token") }
            id = found
        } else {
            guard let number = Int64(target), number > 0 else {
                throw CLIError.usage("token revoke: give the token's id (a number) or - to read the token from stdin")
            }
            id = number
        }
        guard try await tokens.revoke(id: id) else {
            throw CLIError(message: "no live token with id \(id) (unknown or already revoked)")
        }
        context.out("{\"revoked\":true,\"id\":\(id)}")
    }
}
