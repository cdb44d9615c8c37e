/// A small pool of connections to one database.
///
/// Connections are opened lazily up to `maximumConnections`; callers beyond that wait in line.
/// A connection that broke (server restart, network) is dropped instead of returned, so the next
/// caller gets a fresh one: the pool recovers by itself when the database comes back.
public actor ConnectionPool {
    public nonisolated let url: String
    public nonisolated let maximumConnections: Int
    private let connectTimeout: Int
    private var idle: [Connection] = []
    private var open = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var closed = false

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

    /// Closes idle connections and refuses new work.
    public func close() {
        closed = true
        for c in idle { c.close() }
        idle.removeAll()
        for w in waiters { w.resume() }
        waiters.removeAll()
    }

    /// Connections currently open (idle or in use).
    public var openConnections: Int { open }

    private func checkOut() async throws -> Connection {
        while true {
            if closed { throw PostgresError(kind: .misuse, serverMessage: "pool is closed") }
            if let c = idle.popLast() {
                if c.isBroken {
                    open -= 1
                    c.close()
                    continue
                }
                return c
            }
            if open < maximumConnections {
                open += 1
                do {
                    return try await Connection.connect(url, connectTimeout: connectTimeout)
                } catch {
                    open -= 1
                    wakeOne()
                    throw error
                }
            }
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    private func checkIn(_ connection: Connection) {
        if closed || connection.isBroken {
            open -= 1
            connection.close()
        } else {
            idle.append(connection)
        }
        wakeOne()
    }

    private func wakeOne() {
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }
}
