import Dispatch
import Synchronization

/// A small pool of connections to one database.
///
/// Connections are opened lazily up to `maximumConnections`; callers beyond that wait in line,
/// first come first served: a connection given back goes straight to the caller at the head of the
/// line, so a newcomer never takes it ahead of someone waiting. A waiter leaves the line when its
/// task is cancelled (`CancellationError`) or after `checkoutTimeout` (`.poolExhausted`).
///
/// A connection that broke (server restart, network, a statement abandoned at its deadline) is
/// closed instead of returned, and a fresh one is opened for the next caller: the pool recovers by
/// itself when the database comes back. A closing connection keeps its place until its thread has
/// let go of it, so a frozen database holds at most `maximumConnections` connections and threads.
///
/// Not an actor: taking and returning a connection is a few instructions under a lock, so a query
/// does not hop to the pool's executor and back on its way to the connection's thread.
public final class ConnectionPool: Sendable {
    public let url: String
    public let maximumConnections: Int
    /// How long a caller waits in line for a connection before `.poolExhausted`.
    public let checkoutTimeout: Duration
    /// The deadline of every statement on the pool's connections (see `Connection`); nil for none.
    public let statementTimeout: Duration?
    private let connectTimeout: Int

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Connection, Error>
    }

    private struct State {
        var idle: [Connection] = []
        /// Connections open, opening, or closing (idle or in use).
        var open = 0
        /// In order of arrival; served from the front.
        var waiters: [Waiter] = []
        /// Waiters on their way into the line → whether their task was cancelled meanwhile.
        var arriving: [UInt64: Bool] = [:]
        var nextWaiter: UInt64 = 0
        var closed = false
    }
    private let state = Mutex(State())

    /// - Parameters:
    ///   - maximumConnections: the most connections open at once.
    ///   - connectTimeout: seconds to wait for the server when opening a connection.
    ///   - checkoutTimeout: the longest a caller waits for a connection.
    ///   - statementTimeout: every statement's deadline (server-side `statement_timeout` and the
    ///     client's `PQcancel`); nil leaves it to the server's settings.
    public init(
        url: String, maximumConnections: Int = 10, connectTimeout: Int = 5, checkoutTimeout: Duration = .seconds(10),
        statementTimeout: Duration? = nil
    ) {
        self.url = url
        self.maximumConnections = max(1, maximumConnections)
        self.connectTimeout = connectTimeout
        self.checkoutTimeout = checkoutTimeout
        self.statementTimeout = statementTimeout
    }

    /// A new pool of its own to the same database with the same timeouts: for work that must not
    /// wait in line behind this pool's callers.
    public func sibling(maximumConnections: Int) -> ConnectionPool {
        ConnectionPool(
            url: url, maximumConnections: maximumConnections, connectTimeout: connectTimeout,
            checkoutTimeout: checkoutTimeout, statementTimeout: statementTimeout)
    }

    /// Runs `body` with a connection of the pool and gives the connection back afterwards.
    ///
    /// - Throws: whatever `body` throws; `PostgresError(.connectionFailed)` when no connection
    ///   can be opened, `.poolExhausted` when none became free within `checkoutTimeout`, `.misuse`
    ///   when the pool is closed; `CancellationError` when the task was cancelled while waiting.
    public func withConnection<T: Sendable>(_ body: @Sendable (Connection) async throws -> T) async throws -> T {
        let connection = try await checkOut()
        do {
            let value = try await body(connection)
            checkIn(connection)
            return value
        } catch {
            checkIn(connection)
            throw error
        }
    }

    /// Runs one statement on a pooled connection.
    @discardableResult
    public func query(_ sql: SQL) async throws -> QueryResult {
        try await withConnection { try await $0.query(sql) }
    }

    /// Closes idle connections and refuses new work; connections in use are closed when given back.
    public func close() async {
        let (idle, waiters) = state.withLock { s in
            s.closed = true
            defer {
                s.idle.removeAll()
                s.waiters.removeAll()
            }
            return (s.idle, s.waiters)
        }
        for c in idle { retire(c) }
        for w in waiters {
            w.continuation.resume(throwing: Self.closedError)
        }
    }

    /// Closes the idle connections; the next callers get new ones. For a pool whose URL may now
    /// lead elsewhere (a multi-host URL after a failover, say): connections in use are left alone
    /// and may be retired on a later call, once given back.
    public func retireIdleConnections() {
        let idle = state.withLock { s -> [Connection] in
            defer { s.idle.removeAll() }
            return s.idle
        }
        for c in idle { retire(c) }
    }

    /// Connections currently open (idle, in use, opening or closing).
    public var openConnections: Int {
        get async { state.withLock { $0.open } }
    }

    /// Callers waiting in line for a connection.
    public var waitingCallers: Int {
        state.withLock { $0.waiters.count }
    }

    private static let closedError = PostgresError(kind: .misuse, serverMessage: "pool is closed")

    private enum Step {
        case use(Connection)
        case wait(connect: Bool)
        case refuse
    }

    private func checkOut() async throws -> Connection {
        var discarded: [Connection] = []
        let step = state.withLock { s -> Step in
            if s.closed { return .refuse }
            // Idle connections exist only while nobody waits (a returned one goes to the line first).
            while let c = s.idle.popLast() {
                // An atomic flag and a poll that does not wait: no trip to the connection's thread.
                if !c.endedWhileIdle { return .use(c) }
                discarded.append(c)
            }
            if s.open < maximumConnections {
                s.open += 1
                return .wait(connect: true)
            }
            return .wait(connect: false)
        }
        for c in discarded { retire(c) }
        switch step {
        case .use(let c): return c
        case .refuse: throw Self.closedError
        case .wait(let connect):
            // Opening a connection is the pool's work, not the caller's: it joins the line like
            // anyone else and takes whatever connection reaches the head first.
            if connect { openOne() }
            return try await waitInLine()
        }
    }

    private func waitInLine() async throws -> Connection {
        let id = state.withLock { s in
            s.nextWaiter += 1
            s.arriving[s.nextWaiter] = false
            return s.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Connection, Error>) in
                let (refusal, connect) = state.withLock { s -> (Error?, Bool) in
                    let cancelled = s.arriving.removeValue(forKey: id) ?? false
                    if s.closed { return (Self.closedError, false) }
                    if cancelled { return (CancellationError(), false) }
                    s.waiters.append(Waiter(id: id, continuation: continuation))
                    // A slot freed on the way here (a connection closed while nobody waited: the
                    // ones a checkout found ended while idle) is this waiter's to fill; else it
                    // waited out its whole timeout with a slot free (a test beside the suite did).
                    guard s.open < maximumConnections else { return (nil, false) }
                    s.open += 1
                    return (nil, true)
                }
                if connect { openOne() }
                if let refusal {
                    continuation.resume(throwing: refusal)
                } else {
                    // A waiter served before then makes this a no-op.
                    DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(checkoutTimeout.nanoseconds)) {
                        [self] in
                        leaveLine(id, PostgresError(kind: .poolExhausted))
                    }
                }
            }
        } onCancel: {
            leaveLine(id, CancellationError(), early: true)
        }
    }

    /// Takes waiter `id` out of the line and resumes it with `error`, unless it was served already.
    private func leaveLine(_ id: UInt64, _ error: Error, early: Bool = false) {
        let waiter = state.withLock { s -> Waiter? in
            guard let index = s.waiters.firstIndex(where: { $0.id == id }) else {
                // Not in line: still on its way in (it turns back there), or served or gone already.
                if early, s.arriving[id] != nil { s.arriving[id] = true }
                return nil
            }
            return s.waiters.remove(at: index)
        }
        guard let waiter else { return }
        waiter.continuation.resume(throwing: error)
    }

    /// Opens a connection (its slot already counted in `open`) and hands it to the line.
    private func openOne() {
        Task { [self] in
            do {
                let c = try await Connection.connect(
                    url, connectTimeout: connectTimeout, statementTimeout: statementTimeout)
                checkIn(c)
            } catch {
                // The head of the line learns that the database cannot be reached now, rather
                // than waiting out its whole timeout; the others keep their places.
                let waiter = state.withLock { s -> Waiter? in
                    s.open -= 1
                    return s.waiters.isEmpty ? nil : s.waiters.removeFirst()
                }
                waiter?.continuation.resume(throwing: error)
            }
        }
    }

    private enum Return {
        case handTo(Waiter)
        case keep
        case drop
    }

    private func checkIn(_ connection: Connection) {
        let next = state.withLock { s -> Return in
            if s.closed || connection.isBroken { return .drop }
            if !s.waiters.isEmpty { return .handTo(s.waiters.removeFirst()) }
            s.idle.append(connection)
            return .keep
        }
        switch next {
        case .handTo(let waiter):
            waiter.continuation.resume(returning: connection)
        case .keep:
            break
        case .drop:
            retire(connection)
        }
    }

    /// Closes `connection`; its slot is freed once its thread has let go of it, and then a
    /// replacement is opened if someone waits.
    private func retire(_ connection: Connection) {
        connection.close { [self] in
            let reopen = state.withLock { s -> Bool in
                if !s.closed, !s.waiters.isEmpty { return true }  // the slot passes to a new connection
                s.open -= 1
                return false
            }
            if reopen { openOne() }
        }
    }
}
