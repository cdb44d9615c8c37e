import Synchronization

/// A small pool of connections to one database.
///
/// Connections are opened lazily up to `maximumConnections`; callers beyond that wait in line.
/// A connection that broke (server restart, network) is dropped instead of returned, so the next
/// caller gets a fresh one: the pool recovers by itself when the database comes back.
///
/// Not an actor: taking and returning a connection is a few instructions under a lock, so a query
/// does not hop to the pool's executor and back on its way to the connection's thread.
public final class ConnectionPool: Sendable {
    public let url: String
    public let maximumConnections: Int
    private let connectTimeout: Int

    private struct State {
        var idle: [Connection] = []
        var open = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var closed = false
    }
    private let state = Mutex(State())

    public init(url: String, maximumConnections: Int = 10, connectTimeout: Int = 5) {
        self.url = url
        self.maximumConnections = max(1, maximumConnections)
        self.connectTimeout = connectTimeout
    }

    /// Runs `body` with a connection of the pool and gives the connection back afterwards.
    ///
    /// - Throws: whatever `body` throws, or `PostgresError(.connectionFailed)` when no connection
    ///   can be opened.
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
        for c in idle { c.close() }
        for w in waiters { w.resume() }
    }

    /// Connections currently open (idle or in use).
    public var openConnections: Int {
        get async { state.withLock { $0.open } }
    }

    private enum Step {
        case use(Connection)
        case discard(Connection)
        case connect
        case wait
        case refuse
    }

    private func checkOut() async throws -> Connection {
        while true {
            let step = state.withLock { s -> Step in
                if s.closed { return .refuse }
                if let c = s.idle.popLast() {
                    if c.isBroken {  // an atomic flag: no trip to the connection's thread under the lock
                        s.open -= 1
                        return .discard(c)
                    }
                    return .use(c)
                }
                if s.open < maximumConnections {
                    s.open += 1
                    return .connect
                }
                return .wait
            }
            switch step {
            case .use(let c):
                return c
            case .discard(let c):
                c.close()
            case .connect:
                do {
                    return try await Connection.connect(url, connectTimeout: connectTimeout)
                } catch {
                    state.withLock { $0.open -= 1 }
                    wakeOne()
                    throw error
                }
            case .refuse:
                throw PostgresError(kind: .misuse, serverMessage: "pool is closed")
            case .wait:
                // Parks in line unless, between the check above and now, a connection came back or
                // the pool closed: then it goes round again at once.
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let parked = state.withLock { s -> Bool in
                        guard !s.closed, s.idle.isEmpty, s.open >= maximumConnections else { return false }
                        s.waiters.append(continuation)
                        return true
                    }
                    if !parked { continuation.resume() }
                }
            }
        }
    }

    private func checkIn(_ connection: Connection) {
        let drop = state.withLock { s -> Bool in
            if s.closed || connection.isBroken {
                s.open -= 1
                return true
            }
            s.idle.append(connection)
            return false
        }
        if drop { connection.close() }
        wakeOne()
    }

    private func wakeOne() {
        let waiter = state.withLock { s in s.waiters.isEmpty ? nil : s.waiters.removeFirst() }
        waiter?.resume()
    }
}
