import EventStore
import Foundation
import HTTP
import Logging
import Postgres
import Projections
import QueryService
import Referrals

/// `serve` and `token create`.
enum ServiceCommands {
    /// The query service wired to a database: store, read models, wake-ups and metrics.
    static func makeService(
        url: String, host: String, port: Int, poolSize: Int = 16, logger: Logger = Logger(label: "service")
    ) async -> QueryService {
        let pool = ConnectionPool(url: url, maximumConnections: poolSize)
        let store = EventStore(pool: pool)
        let wakeups = Wakeups()
        await wakeups.startListening(url: url)
        let lagRunner = ProjectionRunner(store: store, pool: pool)
        var http = HTTPServerConfiguration(host: host, port: port)
        http.shutdownGracePeriod = .seconds(5)
        return QueryService(
            configuration: QueryServiceConfiguration(http: http, logger: logger), store: store,
            readSide: ProjectionReadSide(pool: pool),
            wakeups: wakeups,
            metricsHook: {
                var text = ""
                if let lags = try? await lagRunner.lag() { text += ProjectorLag.prometheus(lags) }
                if let pending = try? await store.pendingVisibility() {
                    text += "# HELP handoff_reader_pending_events Committed events not yet readable in gap-free order.\n"
                    text += "# TYPE handoff_reader_pending_events gauge\nhandoff_reader_pending_events \(pending)\n"
                }
                if let replication = try? await store.replicationStatus() { text += replication.prometheus() }
                return text
            })
    }

    static func serve(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let url = try context.databaseURL()
        let host = args.string("--host") ?? "127.0.0.1"
        let port = args.int("--port") ?? 8080
        let logger = context.logger(args, label: "service")
        let service = await makeService(url: url, host: host, port: port, logger: logger)
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
        let tokens = TokenStore(pool: ConnectionPool(url: try context.databaseURL(), maximumConnections: 1))
        do {
            let token =
                if let role {
                    try await tokens.create(role: role, institution: institution, user: user)
                } else {
                    try await tokens.createMetricsToken(user: user)
                }
            context.out(token)
        } catch let error as TokenStore.TokenError {
            throw CLIError.usage("\(error)")
        }
    }
}
