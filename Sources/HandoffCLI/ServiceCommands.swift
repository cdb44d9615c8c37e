import EventStore
import Foundation
import HTTP
import Postgres
import Projections
import QueryService
import Referrals

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
    static func makeService(
        url: String, host: String, port: Int, poolSize: Int = 16, limits: DatabaseLimits = DatabaseLimits()
    ) async -> QueryService {
        let pool = limits.pool(url: url, maximumConnections: poolSize)
        let store = EventStore(pool: pool)
        let wakeups = Wakeups()
        await wakeups.startListening(url: url)
        let lagRunner = ProjectionRunner(store: store, pool: pool)
        var http = HTTPServerConfiguration(host: host, port: port)
        http.shutdownGracePeriod = shutdownGracePeriod
        return QueryService(
            configuration: QueryServiceConfiguration(http: http), store: store, readSide: ProjectionReadSide(pool: pool),
            wakeups: wakeups,
            metricsHook: {
                var text = ""
                text +=
                    "# HELP handoff_db_pool_connections Database connections open (in use, idle, opening or closing).\n"
                text +=
                    "# TYPE handoff_db_pool_connections gauge\nhandoff_db_pool_connections \(await pool.openConnections)\n"
                text += "# HELP handoff_db_pool_waiting Requests waiting for a database connection.\n"
                text += "# TYPE handoff_db_pool_waiting gauge\nhandoff_db_pool_waiting \(pool.waitingCallers)\n"
                if let lags = try? await lagRunner.lag() { text += ProjectorLag.prometheus(lags) }
                if let pending = try? await store.pendingVisibility() {
                    text += "# HELP handoff_reader_pending_events Committed events not yet readable in gap-free order.\n"
                    text += "# TYPE handoff_reader_pending_events gauge\nhandoff_reader_pending_events \(pending)\n"
                }
                return text
            })
    }

    static func serve(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let url = try context.databaseURL()
        let host = args.string("--host") ?? "127.0.0.1"
        let port = args.int("--port") ?? 8080
        let service = await makeService(url: url, host: host, port: port, limits: DatabaseLimits(args))
        let bound = try await service.start()
        context.err("handoff serve: listening on http://\(host):\(bound)")
        let signals = service.shutdownOnSignals()
        try await service.run()
        _ = signals
        context.err("handoff serve: stopped")
    }

    static func createToken(_ args: ParsedArguments, _ context: CLIContext) async throws {
        guard let role = Principal.Role(rawValue: args.string("--role") ?? "") else {
            throw CLIError.usage("--role must be institution, coordinator or auditor")
        }
        let institution = args.string("--institution")
        if role == .institution && institution == nil {
            throw CLIError.usage("--role institution needs --institution ID")
        }
        let tokens = TokenStore(pool: ConnectionPool(url: try context.databaseURL(), maximumConnections: 1))
        do {
            let token = try await tokens.create(role: role, institution: institution, user: args.string("--user")!)
            context.out(token)
        } catch let error as TokenStore.TokenError {
            throw CLIError.usage("\(error)")
        }
    }
}
