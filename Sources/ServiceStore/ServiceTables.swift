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

    /// - Parameters:
    ///   - tokenCacheTTL: how long a verified token is trusted without asking the database.
    ///   - sessionIdleTimeout, sessionLifetime: a dashboard session's idle and absolute expiry.
    ///   - accessLogQueueCapacity: access-log rows that may wait to be written before reads are refused.
    ///   - signIn: how persons' sign-ins slow down and lock after failures.
    public init(
        store: EventStore, tokenCacheTTL: Duration, sessionIdleTimeout: Duration, sessionLifetime: Duration,
        accessLogQueueCapacity: Int, signIn: SignInPolicy = SignInPolicy(), logger: Logger
    ) {
        tokens = TokenStore(pool: store.pool, cacheTTL: tokenCacheTTL)
        sessions = SessionStore(pool: store.pool, idleTimeout: sessionIdleTimeout, lifetime: sessionLifetime)
        accessLog = AccessLog(
            pool: store.pool, writerPool: AccessLog.ownWriterPool(beside: store.pool),
            queueCapacity: accessLogQueueCapacity, logger: logger)
        subscriptions = SubscriptionStore(pool: store.pool)
        accounts = AccountStore(pool: store.pool, policy: signIn)
        access = CaseAccess(store: store)
        databaseURL = store.pool.url
    }
}
