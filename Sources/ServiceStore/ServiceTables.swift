import EventStore
import Logging
import Postgres

/// The service's own tables beside the event log, over the event store's connections: API
/// tokens, dashboard sessions, the hash-chained access log, durable subscriptions and the
/// need-to-know decisions read from the case streams. Route code reaches the database only
/// through these and the event store, never with SQL of its own.
public struct ServiceTables: Sendable {
    public let tokens: TokenStore
    public let sessions: SessionStore
    /// Persons' accounts: password and one-time-code sign-in.
    public let accounts: AccountStore
    public let accessLog: AccessLog
    public let subscriptions: SubscriptionStore
    public let access: CaseAccess
    /// The database the tables live in, for a probe that needs a connection of its own.
    public let databaseURL: String
    /// The connections tokens and sessions are looked up on (a quarter of the store's, at least 2).
    public let credentialPool: ConnectionPool
    /// The access log's writer's connections (``AccessLog/ownWriterPool(beside:)``).
    public let accessLogPool: ConnectionPool
    /// The pools the tables opened beside the event store's.
    var ownPools: [ConnectionPool] { [credentialPool, accessLogPool] }

    /// - Parameters:
    ///   - tokenCacheTTL: how long a verified token is trusted without asking the database.
    ///   - sessionIdleTimeout, sessionLifetime: a dashboard session's idle and absolute expiry.
    ///   - accessLogQueueCapacity: access-log rows that may wait to be written before reads are refused.
    ///   - signIn: how persons' sign-ins slow down and lock after failures.
    public init(
        store: EventStore, tokenCacheTTL: Duration, sessionIdleTimeout: Duration, sessionLifetime: Duration,
        accessLogQueueCapacity: Int, signIn: SignInPolicy = SignInPolicy(), logger: Logger
    ) {
        // Credentials are looked up on connections of their own: every made-up token or session
        // cookie costs a lookup (only credentials that authenticate are cached), and a flood of
        // them must wait for these, never for the connections every read needs (an attack pass
        // sent 76,000 made-up bearer tokens in 12 s on 2,400 connections, and the other
        // institutions' reads went from 3 ms to 0.5-0.8 s).
        let credentialPool = store.pool.sibling(maximumConnections: max(2, store.pool.maximumConnections / 4))
        // The access log's writer has its own too (``AccessLog/ownWriterPool(beside:)``).
        let writerPool = AccessLog.ownWriterPool(beside: store.pool)
        self.credentialPool = credentialPool
        self.accessLogPool = writerPool
        tokens = TokenStore(pool: credentialPool, cacheTTL: tokenCacheTTL)
        sessions = SessionStore(pool: credentialPool, idleTimeout: sessionIdleTimeout, lifetime: sessionLifetime)
        accessLog = AccessLog(
            pool: store.pool, writerPool: writerPool, queueCapacity: accessLogQueueCapacity, logger: logger)
        subscriptions = SubscriptionStore(pool: store.pool)
        accounts = AccountStore(pool: store.pool, policy: signIn)
        access = CaseAccess(store: store)
        databaseURL = store.pool.url
    }

    /// Closes the pools the tables opened themselves (at shutdown, after the last request).
    public func close() async {
        for pool in ownPools { await pool.close() }
    }
}
