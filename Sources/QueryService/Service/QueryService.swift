import EventStore
import Foundation
import HTTP
import Logging
import Postgres
import Projections
import Referrals
import ServiceStore
import Synchronization

/// How the query service runs.
public struct QueryServiceConfiguration: Sendable {
    /// Where and how the HTTP server listens (host, port, limits, timeouts).
    public var http: HTTPServerConfiguration
    /// The longest an event stream stays silent: a comment line is sent at least this often.
    public var heartbeatInterval: Duration
    /// How often an event stream re-reads the log when no NOTIFY woke it.
    public var pollInterval: Duration
    /// How far `occurredAt` may lie in the future (clock skew between institutions).
    public var allowedClockSkew: TimeInterval
    /// How long a token that authenticated is trusted without asking the database again: the
    /// bound within which a revocation made outside this process takes effect (a revocation
    /// through ``QueryService/tokens`` takes effect at once). `.zero` looks up every request.
    public var tokenCacheTTL: Duration
    /// The most access-log rows waiting to be written; a read that would exceed it is refused
    /// with 503 rather than served unlogged.
    public var accessLogQueueCapacity: Int
    /// The prefix of server-issued case ids (`KS` → `KS-2026-000123`); no institution may own it.
    public var caseIdPrefix: String
    /// The zone whose calendar year numbers server-issued case ids (IANA name).
    public var timeZone: String
    /// The dashboard's language when neither the person's choice nor the browser's
    /// `Accept-Language` names one of ours (`handoff serve --default-lang`, which defaults to `sq`;
    /// English here, for library users and tests).
    public var defaultLanguage: Language
    /// Where the service logs: one line per request, the cause of every 5xx, and (labelled
    /// `http`, replacing ``HTTPServerConfiguration/logger``) the HTTP server's state changes.
    public var logger: Logger
    /// The most event streams (`/v1/events/stream`, `/dashboard/live`) one token may hold open at
    /// once, its dashboard sessions included; one more is refused with 429 `too_many_streams`.
    public var maxStreamsPerToken: Int
    /// The most API requests one caller (an institution, whatever its tokens; a coordinator or
    /// auditor by person) may have in progress at once; one more is refused with 429
    /// `too_many_requests` and `Retry-After: 1`. So one caller's burst queues at most this many
    /// requests before everyone else's for the pool's connections (an attack pass sent 5,000
    /// reads at once with one institution's token, and the coordinator's reads failed with 503).
    public var maxRequestsInFlightPerCaller = 32
    /// The refused attempts on one case one caller may have recorded in an hour (``DeniedAttempts``);
    /// past them, 429 `too_many_requests` and no access-log row.
    public var deniedAttemptsPerCasePerHour = 100
    /// What each institution's appends may cost the projector; past it, 429 `too_many_appends`
    /// (`handoff serve --append-budget`, `--append-budget-per-second`).
    public var appendBudget: AppendBudgetPolicy
    /// How often a long-lived stream asks the database whether its token (or session) is still
    /// live; it ends within this long of a revocation. At most 5 s (operations.md promises it).
    public var streamRecheckInterval: Duration
    /// The largest body buffered for a request without a live bearer token (the login form,
    /// dashboard forms, anyone unknown); a larger one is refused before it is read.
    public var unauthenticatedBodyLimit: Int
    /// The address browsers use to reach the service, e.g. `https://handoff.example.org` behind a
    /// TLS-terminating proxy (`handoff serve --public-url`). With `https://` the dashboard's
    /// cookie is `__Host-handoff_session` and `Secure`; its origin is the one form POSTs must
    /// come from. Nil: plain HTTP, the origin taken from `Host`.
    public var publicURL: String?
    /// Whether the login pages say where the demo keeps its credentials (`.handoff/persons.json`,
    /// `tokens.json`) and which names are the coordinator's and the auditor's: for `handoff demo`
    /// only (false by default). A real deployment's login page tells nobody where secrets lie.
    public var showsDemoHints = false
    /// A dashboard session ends after this long without a request (30 minutes).
    public var sessionIdleTimeout: Duration
    /// A dashboard session ends this long after sign-in at the latest (12 hours).
    public var sessionLifetime: Duration
    /// How persons' sign-ins resist guessing: the growing delay after failures and the lock
    /// after `maxFailures` of them (`handoff serve --sign-in-max-failures`, `--sign-in-lock-minutes`).
    public var signIn: SignInPolicy
    /// With a read replica: reads go to the primary while the replica is further behind than this
    /// (`handoff serve --read-max-lag`, 5 s).
    public var replicaMaxLag: Duration
    /// With a read replica: the longest a read waits for the replica to replay the caller's own
    /// write (`Handoff-Min-Position`, or the credential's newest write here) before it is answered
    /// by the primary instead (1 s).
    public var readYourWritesWait: Duration
    /// With a read replica: how often its replay position and the primary's are polled (200 ms;
    /// every few milliseconds while a read waits).
    public var replicaPollInterval: Duration

    public init(
        http: HTTPServerConfiguration = HTTPServerConfiguration(host: "127.0.0.1", port: 8080),
        heartbeatInterval: Duration = .seconds(15),
        pollInterval: Duration = .seconds(1),
        allowedClockSkew: TimeInterval = 300,
        tokenCacheTTL: Duration = .seconds(5),
        accessLogQueueCapacity: Int = 20_000,
        caseIdPrefix: String = "KS",
        timeZone: String = CaseProjector.statisticsTimeZone,
        defaultLanguage: Language = .english,
        logger: Logger = Logger(label: "service"),
        maxStreamsPerToken: Int = 8,
        appendBudget: AppendBudgetPolicy = AppendBudgetPolicy(),
        streamRecheckInterval: Duration = .seconds(2),
        unauthenticatedBodyLimit: Int = 16_384,
        publicURL: String? = nil,
        sessionIdleTimeout: Duration = .seconds(30 * 60),
        sessionLifetime: Duration = .seconds(12 * 3600),
        replicaMaxLag: Duration = .seconds(5),
        readYourWritesWait: Duration = .seconds(1),
        replicaPollInterval: Duration = .milliseconds(200),
        signIn: SignInPolicy = SignInPolicy()
    ) {
        self.signIn = signIn
        self.defaultLanguage = defaultLanguage
        precondition(Institution.isValidCaseIdPrefix(caseIdPrefix), "caseIdPrefix must be 2-8 of A-Z, 0-9")
        self.caseIdPrefix = caseIdPrefix
        self.timeZone = timeZone
        self.http = http
        self.heartbeatInterval = heartbeatInterval
        self.pollInterval = pollInterval
        self.allowedClockSkew = allowedClockSkew
        self.tokenCacheTTL = tokenCacheTTL
        self.accessLogQueueCapacity = accessLogQueueCapacity
        self.logger = logger
        self.maxStreamsPerToken = maxStreamsPerToken
        self.appendBudget = appendBudget
        self.streamRecheckInterval = min(streamRecheckInterval, .seconds(5))
        self.unauthenticatedBodyLimit = unauthenticatedBodyLimit
        self.publicURL = publicURL
        self.sessionIdleTimeout = sessionIdleTimeout
        self.sessionLifetime = sessionLifetime
        self.replicaMaxLag = replicaMaxLag
        self.readYourWritesWait = readYourWritesWait
        self.replicaPollInterval = replicaPollInterval
    }
}

/// The HTTP API of API.md: appends, histories, feeds, subscriptions, audit, and the routes
/// backed by the read models.
///
/// ```swift
/// let pool = ConnectionPool(url: databaseURL)
/// let wakeups = Wakeups()
/// await wakeups.startListening(url: databaseURL)
/// let service = QueryService(
///     configuration: QueryServiceConfiguration(http: .init(host: "0.0.0.0", port: 8080)),
///     store: EventStore(pool: pool), readSide: myReadSide, wakeups: wakeups)
/// let signals = service.shutdownOnSignals()   // SIGINT/SIGTERM: graceful shutdown
/// try await service.run()                     // returns after shutdown
/// ```
public final class QueryService: Sendable {
    public let configuration: QueryServiceConfiguration
    public let store: EventStore
    public let readSide: any ReadSide
    public let wakeups: Wakeups
    public let tokens: TokenStore
    /// The dashboard's sessions.
    public let sessions: SessionStore
    /// Persons' accounts: the dashboard's password and one-time-code sign-in.
    public let accounts: AccountStore
    /// Sign-ins being checked at once (``SignInPolicy/maxConcurrentChecks``).
    let signInGate: SignInGate
    /// The dashboard's cookie: its name, attributes and origin check.
    let cookies: DashboardSession
    public let accessLog: AccessLog
    /// The service's own tables, and the pools they opened beside the store's.
    let tables: ServiceTables
    let access: CaseAccess
    let feed: VisibleFeed
    /// The head of the log shared by every live event stream of this service.
    let tail: GlobalTail
    /// Events as the event streams send them (``EventJSON/render(_:)``), by id: an event on ten
    /// open streams is rendered once, not ten times.
    let renderedEvents = RecentCache<UUID, String>(capacity: 8192)
    let subscriptions: SubscriptionStore
    let institutions: InstitutionRegistry
    let rulesets: RulesetRegistry
    let caseWriter: CaseWriter
    /// Open event streams per token.
    let streamQuota: StreamQuota
    /// Each caller's requests in progress (``QueryServiceConfiguration/maxRequestsInFlightPerCaller``).
    let inFlight: InFlightRequests
    /// Each caller's refused attempts on each case (``QueryServiceConfiguration/deniedAttemptsPerCasePerHour``).
    let deniedAttempts: DeniedAttempts
    let metrics = Metrics()
    let metricsHook: @Sendable () async -> String
    /// `/readyz`'s check, over a connection of its own.
    let readinessProbe: ReadinessProbe
    /// The read routes' reads on the primary.
    let primaryReads: ReadPath
    /// The read routes' reads on the read replica, when there is one.
    let replicaReads: ReadPath?
    /// Polls the read replica's replay position, when there is one.
    let replicaMonitor: ReplicaMonitor?
    /// Each credential's newest write through this service, for read-your-writes on the replica.
    let recentWrites: RecentWrites
    let server = Mutex<HTTPServer?>(nil)

    /// - Parameters:
    ///   - store: the event store; its connections also serve the service's own tables (``ServiceTables``).
    ///   - readSide: the read models behind the summary, deadlines, inbox and stats routes.
    ///   - wakeups: woken by NOTIFY (start it with `startListening(url:)`); event streams wait on it.
    ///   - metricsHook: extra Prometheus text appended to `/metrics` (e.g. projector lag).
    ///   - replica: a read replica (`DATABASE_READ_URL`) for the read routes; writes, tokens,
    ///     sessions, subscriptions' cursors and the access log stay on `store`'s database.
    public init(
        configuration: QueryServiceConfiguration = QueryServiceConfiguration(), store: EventStore,
        readSide: any ReadSide, wakeups: Wakeups, metricsHook: @escaping @Sendable () async -> String = { "" },
        replica: ReadReplica? = nil
    ) {
        self.configuration = configuration
        self.store = store
        self.readSide = readSide
        self.wakeups = wakeups
        let tables = ServiceTables(
            store: store, tokenCacheTTL: configuration.tokenCacheTTL,
            sessionIdleTimeout: configuration.sessionIdleTimeout, sessionLifetime: configuration.sessionLifetime,
            accessLogQueueCapacity: configuration.accessLogQueueCapacity, signIn: configuration.signIn,
            logger: configuration.logger.labeled("access-log"))
        self.tables = tables
        self.tokens = tables.tokens
        self.sessions = tables.sessions
        self.accounts = tables.accounts
        self.signInGate = SignInGate(
            limit: configuration.signIn.maxConcurrentChecks,
            perAddress: configuration.signIn.maxConcurrentChecksPerAddress)
        self.cookies = DashboardSession(publicURL: configuration.publicURL, lifetime: configuration.sessionLifetime)
        self.accessLog = tables.accessLog
        self.access = tables.access
        self.feed = VisibleFeed(store: store, access: access)
        self.tail = GlobalTail(store: store, maxAge: configuration.pollInterval)
        self.subscriptions = tables.subscriptions
        self.institutions = InstitutionRegistry(store: store)
        self.rulesets = RulesetRegistry(store: store)
        self.caseWriter = CaseWriter(
            store: store, access: access, institutions: institutions, rulesets: rulesets,
            caseIdPrefix: configuration.caseIdPrefix, allowedClockSkew: configuration.allowedClockSkew,
            budget: configuration.appendBudget)
        self.streamQuota = StreamQuota(limit: configuration.maxStreamsPerToken)
        self.inFlight = InFlightRequests(limit: configuration.maxRequestsInFlightPerCaller)
        self.deniedAttempts = DeniedAttempts(perHour: configuration.deniedAttemptsPerCasePerHour)
        self.metricsHook = metricsHook
        self.readinessProbe = ReadinessProbe(url: tables.databaseURL, logger: configuration.logger.labeled("readiness"))
        self.primaryReads = ReadPath(
            source: .primary, store: store, access: access, feed: feed, tail: tail, readSide: readSide)
        self.replicaReads = replica.map {
            ReadPath(
                source: .replica, store: EventStore(pool: $0.pool), readSide: $0.readSide,
                pollInterval: configuration.pollInterval)
        }
        self.replicaMonitor = replica.map { replica in
            ReplicaMonitor(
                replicaURL: replica.pool.url, primaryURL: tables.databaseURL,
                interval: configuration.replicaPollInterval,
                wakeups: wakeups, logger: configuration.logger.labeled("read-replica"),
                onNotStandby: { replica.pool.retireIdleConnections() })
        }
        // Long enough to cover a replica within the lag bound; a credential's reads after that
        // are not held to its write (its own `Handoff-Min-Position` still is).
        self.recentWrites = RecentWrites(retention: max(.seconds(10), configuration.replicaMaxLag * 2))
    }

    // MARK: - Running

    /// Starts listening and serving in the background. - Returns: the bound port.
    @discardableResult
    public func start() async throws -> Int {
        let server = self.server.withLock { current in
            if let current { return current }
            let router = makeRouter()
            var http = configuration.http
            http.logger = configuration.logger.labeled("http")
            let created = HTTPServer(
                configuration: http,
                admission: { [self] request, length in await admitBody(request, contentLength: length) }
            ) { [self] request in
                await self.handle(request, router: router)
            }
            current = created
            return created
        }
        replicaMonitor?.start()
        return try await server.start()
    }

    /// Starts if needed and returns once the server has shut down.
    public func run() async throws {
        try await start()
        try await server.withLock { $0 }?.run()
    }

    /// Graceful shutdown: stops accepting, lets requests and streams finish within the grace
    /// period, then closes every connection.
    public func shutdown() async {
        await server.withLock { $0 }?.shutdown()
        replicaMonitor?.stop()
        readinessProbe.close()
        await tables.close()
    }

    /// Shuts down on SIGINT/SIGTERM. Keep the handler alive while serving. Call after `start()`.
    public func shutdownOnSignals() -> ShutdownSignalHandler? {
        server.withLock { $0 }?.shutdownOnSignals()
    }

    /// The bound port while running.
    public var port: Int? {
        get async { await server.withLock { $0 }?.port }
    }

    // MARK: - Routing

    /// The least time a 404 takes: longer than reading and folding a large case takes (each
    /// institution records at most ``CaseAdmission/maxEventsPerInstitution`` events in one), so
    /// its timing tells nothing.
    static let notFoundFloor = Duration.milliseconds(25)

    /// A query parameter given twice is refused on the API (400 `bad_request`, naming it): which of
    /// the two applied would be the reader's guess, and a proxy or cache in between may guess
    /// otherwise than the service. `types` is a list, and may repeat. (Checked before the
    /// credential: a malformed request is a 400 whoever sends it.)
    static func refuseRepeatedParameters(_ request: HTTPRequest) throws {
        var seen = Set<String>()
        for item in request.query where item.name != "types" && !seen.insert(item.name).inserted {
            // The name is the client's: named back only when it is a plain word.
            let plain = (1...32).contains(item.name.count) && item.name.allSatisfy { $0.isASCII && $0.isLetter }
            throw ServiceError.badRequest(
                plain ? "\(item.name) may be given once." : "A query parameter is given twice.",
                field: plain ? item.name : "query")
        }
    }

    /// Every route of API.md, for serving or for calling without a socket.
    public func makeRouter() -> Router {
        var router = Router()
        func on(
            _ method: HTTPMethod, _ pattern: String,
            _ body: @escaping @Sendable (HTTPRequest, RouteParameters) async throws -> HTTPResponse
        ) {
            let label = "\(pattern)"
            router.on(method, pattern) { request, params in
                RequestContext.current?.route = label
                let started = ContinuousClock.now
                let response: HTTPResponse
                do {
                    if pattern.hasPrefix("/v1/") { try Self.refuseRepeatedParameters(request) }
                    response = try await body(request, params)
                } catch {
                    response = ServiceError.from(error).response
                }
                // A 404 is never answered sooner than `notFoundFloor`: a case that exists and a
                // case that does not answer a non-party alike, in time as in content (an attack
                // pass told them apart by the fold an existing case costs, 0.3 ms; an eleventh, on
                // the dashboard's case page, whose 404 is a page the route returns, not throws).
                // Nor a 429: past a caller's allowance of refused attempts on a case
                // (``DeniedAttempts``), the refusal is a 429, and it must not tell the two apart
                // by its timing either.
                if response.status.code == 404 || response.status.code == 429 {
                    try? await Task.sleep(until: started + Self.notFoundFloor)
                }
                return response
            }
        }
        on(.GET, "/livez") { [self] r, p in try await liveness(r, p) }
        on(.GET, "/readyz") { [self] r, p in try await readiness(r, p) }
        on(.GET, "/health") { [self] r, p in try await readiness(r, p) }
        on(.GET, "/metrics") { [self] r, p in try await metricsText(r, p) }
        on(.POST, "/v1/cases") { [self] r, p in try await openCase(r, p) }
        on(.POST, "/v1/cases/{caseId}/events") { [self] r, p in try await appendEvents(r, p) }
        on(.GET, "/v1/cases/{caseId}") { [self] r, p in try await caseSummary(r, p) }
        on(.GET, "/v1/cases/{caseId}/history") { [self] r, p in try await caseHistory(r, p) }
        on(.GET, "/v1/cases/{caseId}/verify") { [self] r, p in try await verifyCase(r, p) }
        on(.GET, "/v1/deadlines") { [self] r, p in try await deadlines(r, p) }
        on(.GET, "/v1/inbox") { [self] r, p in try await inbox(r, p) }
        on(.GET, "/v1/stats") { [self] r, p in try await stats(r, p) }
        on(.GET, "/v1/events") { [self] r, p in try await eventsPage(r, p) }
        on(.GET, "/v1/events/stream") { [self] r, p in try await eventStream(r, p) }
        on(.PUT, "/v1/subscriptions/{name}") { [self] r, p in try await putSubscription(r, p) }
        on(.GET, "/v1/subscriptions/{name}/events") { [self] r, p in try await subscriptionEvents(r, p) }
        on(.POST, "/v1/subscriptions/{name}/ack") { [self] r, p in try await ackSubscription(r, p) }
        on(.DELETE, "/v1/subscriptions/{name}") { [self] r, p in try await deleteSubscription(r, p) }
        on(.GET, "/v1/audit/access") { [self] r, p in try await auditAccess(r, p) }
        registerDashboard(on)
        return router
    }

    /// Routes one request, then stamps, counts and logs its response.
    ///
    /// Every response carries the request's id in `X-Request-Id` and, unless it is a static
    /// asset, `Cache-Control: no-store` (case data must stay out of every cache). One log line per
    /// request: id, method, route pattern, status, duration, the caller, and a 5xx's cause.
    public func handle(_ request: HTTPRequest, router: Router) async -> HTTPResponse {
        let context = RequestContext(id: Self.requestID(request))
        let started = ContinuousClock.now
        var response = await RequestContext.$current.withValue(context) {
            var response = await router.handle(request)
            if let caller = context.inFlightCaller { inFlight.leave(caller) }
            if let position = await positionAfterWrite(request, status: response.status.code) {
                response.headers[Self.positionHeader] = position.description
            }
            return response
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let route = context.route
        response.headers[RequestID.header] = context.id
        if !route.hasPrefix("/assets/") { response.headers["Cache-Control"] = "no-store" }
        metrics.recordRequest(
            method: Self.loggedMethod(request.method), route: route, status: response.status.code, seconds: seconds)
        logRequest(request, context: context, status: response.status.code, seconds: seconds)
        return response
    }

    /// The request's own id when sane (``RequestID``: it holds no credential's prefix anywhere —
    /// a client that put its token or session id there must not get it into the log), else a new one.
    static func requestID(_ request: HTTPRequest) -> String {
        RequestID.of(request)
    }

    /// The method as logged: a standard one by name, anything else (a client's own token, which
    /// could be anything) as `OTHER`.
    static func loggedMethod(_ method: HTTPMethod) -> String {
        let known: [HTTPMethod] = [.GET, .HEAD, .POST, .PUT, .PATCH, .DELETE, .OPTIONS]
        return known.contains(method) ? method.rawValue : "OTHER"
    }

    /// The request's line: never the raw path, the query string, a header value or the body.
    private func logRequest(_ request: HTTPRequest, context: RequestContext, status: Int, seconds: Double) {
        let level: LogLevel = status >= 500 ? .error : .info
        configuration.logger.log(
            level: level, "request",
            metadata: {
                var line: LogMetadata = [
                    "request_id": .string(context.id), "method": .string(Self.loggedMethod(request.method)),
                    "route": .string(context.route), "status": .int(status),
                    "duration_ms": .double((seconds * 1_000_000).rounded() / 1000),
                ]
                if let principal = context.principal {
                    line["role"] = .string(principal.role.rawValue)
                    line["user"] = .string(principal.user)
                    if let institution = principal.institution { line["institution"] = .string(institution) }
                }
                if status >= 500 {
                    for (key, value) in context.cause ?? ["error_type": "unknown"] { line[key] = value }
                }
                return line
            }())
    }

    // MARK: - Shared checks

    /// The caller of a request. - Throws: 401 `unauthorized`, 503 during an outage.
    func authenticate(_ request: HTTPRequest) async throws -> Principal {
        try await credential(request).principal
    }

    /// The caller of a request with the token it came with. - Throws: as ``authenticate(_:)``.
    func credential(_ request: HTTPRequest) async throws -> TokenStore.Credential {
        guard let token = Self.bearerToken(request.headers) else { throw ServiceError.unauthorized }
        do {
            guard let credential = try await tokens.credential(token) else { throw ServiceError.unauthorized }
            RequestContext.current?.principal = credential.principal
            RequestContext.current?.credentialKey = credential.tokenId
            try admit(credential.principal)
            return credential
        } catch { throw ServiceError.from(error) }
    }

    /// Counts the request against its caller's requests in progress, once per request, whether it
    /// came with a token or a dashboard session; left when it is answered (``handle(_:router:)``).
    /// - Throws: 429 `too_many_requests` when the caller has ``InFlightRequests/limit`` already.
    func admit(_ principal: Principal) throws {
        guard let context = RequestContext.current, context.inFlightCaller == nil else { return }
        let caller = InFlightRequests.caller(principal)
        guard inFlight.enter(caller) else { throw ServiceError.tooManyRequests }
        context.inFlightCaller = caller
    }

    /// Records a refused attempt of `principal` on `caseId` as a `denied` row before the refusal
    /// is answered; past the caller's allowance for that case (``DeniedAttempts``), refuses with
    /// 429 instead, and writes nothing. - Throws: 429 `too_many_requests`; 503 when the row cannot
    /// be written.
    func recordDenied(_ principal: Principal, caseId: String, _ request: HTTPRequest) async throws {
        if let seconds = deniedAttempts.take(DeniedAttempts.key(principal, caseId: caseId)) {
            throw ServiceError.tooManyAttempts(retryAfter: seconds)
        }
        try await accessLog.record(principal, caseIds: [caseId], endpoint: Self.endpoint(request), outcome: .denied)
    }

    /// The token of an `Authorization: Bearer …` header, or nil.
    static func bearerToken(_ headers: HTTPHeaders) -> String? {
        // Two `Authorization` headers are no credential (an attack pass found the first one used,
        // so two tokens named two identities depending on their order): 401.
        let all = headers.values(for: "Authorization")
        guard all.count == 1, let header = all.first else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// A body must be sent as `application/json` (parameters such as `charset` allowed). - Throws: 415.
    static func requireJSON(_ request: HTTPRequest) throws {
        guard let type = request.headers["Content-Type"] else {
            throw ServiceError.unsupportedMediaType
        }
        let media = type.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        guard media == "application/json" else { throw ServiceError.unsupportedMediaType }
    }

    /// The route's `{caseId}`, validated. - Throws: 400 `bad_request`.
    static func caseId(_ params: RouteParameters) throws -> String {
        guard let id = params["caseId"], StreamName.isValidCaseId(id) else {
            throw ServiceError.badRequest("A case id is 1-64 characters of A-Z, a-z, 0-9 and -.", field: "caseId")
        }
        return id
    }

    /// The label an access-log entry names: method and route pattern.
    static func endpoint(_ request: HTTPRequest) -> String {
        "\(request.method.rawValue) \(RequestContext.current?.route ?? request.path)"
    }
}
