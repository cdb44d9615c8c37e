import CLibPQ
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One connection to PostgreSQL.
///
/// libpq's calls block, so every call runs on this connection's own thread — never on Swift's
/// cooperative thread pool — and the async API resumes the caller when it is done. A
/// connection runs one statement at a time; use a `ConnectionPool` to share connections.
///
/// Sessions run with `TimeZone=UTC` so timestamps read back in one form.
public final class Connection: @unchecked Sendable {
    // @unchecked: `conn` is touched only on `thread`, which runs one job at a time.
    private let thread: ConnectionThread
    private nonisolated(unsafe) var conn: OpaquePointer?
    /// Statement text → name of the server-side prepared statement (touched only on `thread`).
    private nonisolated(unsafe) var prepared: [String: String] = [:]
    /// Whether the connection is closed or libpq says it is no longer OK, as of the end of the
    /// last job on `thread`: the pool asks on every check-out and check-in without a trip there.
    private let broken = Atomic<Bool>(false)

    /// How many statements one connection keeps prepared; later ones run unprepared.
    public static let preparedStatementLimit = 256

    private init(conn: OpaquePointer, thread: ConnectionThread) {
        self.conn = conn
        self.thread = thread
    }

    deinit {
        if let conn { PQfinish(conn) }
        thread.stop()
    }

    /// Connects with a libpq connection URI or key=value string, e.g. `postgresql:///handoff?host=/run/pg`.
    ///
    /// - Parameter connectTimeout: seconds to wait for the server (a `connect_timeout` in the URL wins).
    /// - Throws: `PostgresError` of kind `.connectionFailed` when the server cannot be reached; its
    ///   `description` does not repeat the URL (which may carry a password).
    public static func connect(
        _ url: String, connectTimeout: Int = 5, applicationName: String = "handoff"
    ) async throws -> Connection {
        let thread = ConnectionThread(name: "handoff.postgres")
        let opened: Result<UnsafeSendablePointer, Error> = await withCheckedContinuation { continuation in
            thread.run {
                continuation.resume(returning: Result { UnsafeSendablePointer(try openConnection(url, connectTimeout, applicationName)) })
            }
        }
        let conn: OpaquePointer
        do {
            conn = try opened.get().pointer
        } catch {
            thread.stop()
            throw error
        }
        let connection = Connection(conn: conn, thread: thread)
        try await connection.execute(
            "SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO'; SET IntervalStyle TO 'iso_8601'; SET client_min_messages TO warning")
        return connection
    }

    private static func openConnection(_ url: String, _ timeout: Int, _ appName: String) throws -> OpaquePointer {
        // Keywords before "dbname" are defaults that the expanded URL may override.
        let keywords = ["connect_timeout", "application_name", "dbname"]
        let values = [String(timeout), appName, url]
        let conn = withCStrings(keywords) { k in
            withCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let conn else { throw PostgresError(kind: .connectionFailed, serverMessage: "out of memory") }
        // Server notices (and the FATAL a shutting-down server sends) are not ours to print: errors
        // reach callers as PostgresError, and nothing of a connection's traffic goes to stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        if PQstatus(conn) != CONNECTION_OK {
            let message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(conn)
            throw PostgresError(kind: .connectionFailed, serverMessage: message)
        }
        return conn
    }

    /// True once the connection is known to be broken (the pool then replaces it).
    public var isBroken: Bool {
        broken.load(ordering: .acquiring)
    }

    /// Closes the connection. Further calls fail with `.misuse`.
    public func close() {
        thread.runAndWait {
            if let conn = self.conn { PQfinish(conn) }
            self.conn = nil
            self.broken.store(true, ordering: .releasing)
        }
    }

    /// Runs one parameterised statement and returns its rows.
    ///
    /// A statement with parameters is prepared on the server the first time this connection runs
    /// it and executed by name afterwards (no parse and plan per call); the text is the key, and
    /// the parameters are always bound, so the cache cannot mix up values.
    ///
    /// - Throws: `PostgresError` with `sqlState` for server errors, `.connectionFailed` when the
    ///   connection broke.
    @discardableResult
    public func query(_ sql: SQL) async throws -> QueryResult {
        try await onQueue { conn in try self.runQuery(conn, sql) }
    }

    /// Runs SQL text that may hold several statements and no parameters (migrations, `SET`, `BEGIN`).
    public func execute(_ text: String) async throws {
        try await onQueue { conn in
            let result = PQexec(conn, text)
            defer { PQclear(result) }
            try Self.check(result, conn)
        }
    }

    /// Runs `body` inside `BEGIN … COMMIT`, rolling back when it throws.
    public func transaction<T: Sendable>(
        isolation: String = "READ COMMITTED", _ body: (Connection) async throws -> T
    ) async throws -> T {
        switch isolation {
        case "READ COMMITTED": try await execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        case "REPEATABLE READ": try await execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        case "SERIALIZABLE": try await execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
        default: throw PostgresError(kind: .misuse, serverMessage: "unknown isolation level")
        }
        do {
            let value = try await body(self)
            try await execute("COMMIT")
            return value
        } catch {
            try? await execute("ROLLBACK")
            throw error
        }
    }

    /// Streams the output of a `COPY … TO STDOUT` statement, handing each chunk (usually a row) to `body`.
    /// Returns the number of bytes received. Used by the benchmark baseline.
    public func copyOut(_ sql: SQL, _ body: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) async throws -> Int {
        try await onQueue { conn in
            let result = Self.send(conn, sql)
            let status = PQresultStatus(result)
            PQclear(result)
            guard status == PGRES_COPY_OUT else {
                throw PostgresError(kind: .server, serverMessage: "not a COPY TO STDOUT statement")
            }
            var total = 0
            var buffer: UnsafeMutablePointer<CChar>?
            while true {
                let n = PQgetCopyData(conn, &buffer, 0)
                if n > 0, let b = buffer {
                    body(UnsafeRawBufferPointer(start: b, count: Int(n)))
                    total += Int(n)
                    PQfreemem(b)
                } else if n == -1 {
                    break
                } else {
                    throw Self.connectionError(conn)
                }
            }
            while let r = PQgetResult(conn) {
                defer { PQclear(r) }
                try Self.check(r, conn)
            }
            return total
        }
    }

    // MARK: - Notifications

    /// Waits up to `timeout` seconds for notifications on channels this connection `LISTEN`s to.
    /// Returns what arrived (possibly nothing). The wait happens on this connection's thread.
    public func waitForNotifications(timeout: Double) async throws -> [Notification] {
        try await onQueue { conn in
            var pending = Self.drainNotifications(conn)
            if !pending.isEmpty { return pending }
            let fd = PQsocket(conn)
            guard fd >= 0 else { throw Self.connectionError(conn) }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, timeout) * 1e9)
            while true {
                let now = DispatchTime.now().uptimeNanoseconds
                if now >= deadline { return [] }
                let ms = Int32(min(Double(deadline - now) / 1e6, 60_000).rounded(.up))
                let ready = poll(&pfd, 1, ms)
                if ready < 0 {
                    if errno == EINTR { continue }
                    throw PostgresError(kind: .connectionFailed, serverMessage: "poll failed")
                }
                if ready == 0 { return [] }
                if PQconsumeInput(conn) == 0 { throw Self.connectionError(conn) }
                pending = Self.drainNotifications(conn)
                if !pending.isEmpty { return pending }
            }
        }
    }

    private static func drainNotifications(_ conn: OpaquePointer) -> [Notification] {
        var out: [Notification] = []
        while let n = PQnotifies(conn) {
            out.append(
                Notification(
                    channel: String(cString: n.pointee.relname), payload: String(cString: n.pointee.extra),
                    backendPID: Int(n.pointee.be_pid)))
            PQfreemem(n)
        }
        return out
    }

    // MARK: - Internals

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            thread.run {
                guard let conn = self.conn else {
                    continuation.resume(throwing: PostgresError(kind: .misuse, serverMessage: "connection is closed"))
                    return
                }
                let result = Result { try body(conn) }
                // Before resuming: the caller gives the connection back next and asks `isBroken`.
                self.broken.store(PQstatus(conn) != CONNECTION_OK, ordering: .releasing)
                continuation.resume(with: result)
            }
        }
    }

    /// Runs `sql` through this connection's prepared statements (see `query`).
    private func sendPrepared(_ conn: OpaquePointer, _ sql: SQL) -> OpaquePointer? {
        let params = sql.parameters
        guard !params.isEmpty else { return Self.send(conn, sql) }
        var name = prepared[sql.text]
        if name == nil {
            guard prepared.count < Self.preparedStatementLimit else { return Self.send(conn, sql) }
            let candidate = "handoff_\(prepared.count + 1)"
            let made = PQprepare(conn, candidate, sql.text, Int32(params.count), nil)
            let ok = PQresultStatus(made) == PGRES_COMMAND_OK
            PQclear(made)
            // Preparing fails for the same reasons running would (syntax, permissions, an aborted
            // transaction): run it unprepared, and the caller gets that error.
            guard ok else { return Self.send(conn, sql) }
            prepared[sql.text] = candidate
            name = candidate
        }
        let result = Self.withParameters(params) { values in
            PQexecPrepared(conn, name!, Int32(params.count), values, nil, nil, 0)
        }
        // The server refuses a prepared statement whose result columns changed under it (0A000, after
        // a migration), or has lost it (26000). Forget it; outside a transaction, run it afresh.
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        if state == "0A000" || state == "26000" {
            prepared[sql.text] = nil
            PQclear(PQexec(conn, "DEALLOCATE \(name!)"))
            if PQtransactionStatus(conn) == PQTRANS_IDLE {
                PQclear(result)
                return Self.send(conn, sql)
            }
        }
        return result
    }

    private static func withParameters<R>(_ params: [PostgresValue], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        // Keep every parameter's C string alive for the call.
        let cStrings: [UnsafeMutablePointer<CChar>?] = params.map { value in
            switch value {
            case .null: return nil
            case .text(let s): return strdup(s)
            }
        }
        defer { for p in cStrings { free(p) } }
        return cStrings.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    private static func send(_ conn: OpaquePointer, _ sql: SQL) -> OpaquePointer? {
        let params = sql.parameters
        if params.isEmpty {
            return PQexecParams(conn, sql.text, 0, nil, nil, nil, nil, 0)
        }
        return withParameters(params) { values in
            PQexecParams(conn, sql.text, Int32(params.count), nil, values, nil, nil, 0)
        }
    }

    private func runQuery(_ conn: OpaquePointer, _ sql: SQL) throws -> QueryResult {
        let result = sendPrepared(conn, sql)
        defer { PQclear(result) }
        try Self.check(result, conn)
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns: [String] = []
        columns.reserveCapacity(columnCount)
        for c in 0..<columnCount { columns.append(String(cString: PQfname(result, Int32(c)))) }
        // One buffer for every value: sum the lengths, then copy.
        var starts: [Int] = [], lengths: [Int] = []
        starts.reserveCapacity(rowCount * columnCount)
        lengths.reserveCapacity(rowCount * columnCount)
        var total = 0
        for r in 0..<Int32(rowCount) {
            for c in 0..<Int32(columnCount) {
                starts.append(total)
                if PQgetisnull(result, r, c) == 1 {
                    lengths.append(-1)
                } else {
                    let length = Int(PQgetlength(result, r, c))
                    lengths.append(length)
                    total += length
                }
            }
        }
        var bytes = [UInt8](repeating: 0, count: total)
        bytes.withUnsafeMutableBytes { out in
            var cell = 0
            for r in 0..<Int32(rowCount) {
                for c in 0..<Int32(columnCount) {
                    defer { cell += 1 }
                    let length = lengths[cell]
                    guard length > 0, let pointer = PQgetvalue(result, r, c) else { continue }
                    out.baseAddress!.advanced(by: starts[cell]).copyMemory(from: pointer, byteCount: length)
                }
            }
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return QueryResult(columns: columns, bytes: bytes, starts: starts, lengths: lengths, affectedRows: affected)
    }

    private static func check(_ result: OpaquePointer?, _ conn: OpaquePointer) throws {
        guard let result else { throw connectionError(conn) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_COPY_OUT:
            return
        default:
            func field(_ code: Character) -> String? {
                guard let p = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
                return String(cString: p)
            }
            let state = field("C")
            // A libpq-side error (no SQLSTATE) such as "server closed the connection unexpectedly"
            // can come back while PQstatus still says OK; reading once more settles whether the
            // connection is gone (and marks it bad, so the pool drops it).
            if state == nil, PQstatus(conn) != CONNECTION_OK || PQconsumeInput(conn) == 0 { throw connectionError(conn) }
            throw PostgresError(
                kind: .server, sqlState: state, serverMessage: field("M"), detail: field("D"),
                constraint: field("n"))
        }
    }

    private static func connectionError(_ conn: OpaquePointer) -> PostgresError {
        let message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
        return PostgresError(kind: .connectionFailed, serverMessage: message)
    }
}

/// A notification received on a `LISTEN` channel.
public struct Notification: Sendable, Equatable {
    public var channel: String
    public var payload: String
    public var backendPID: Int
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { for p in pointers { free(p) } }
    return pointers.map { UnsafePointer($0) }.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Carries a libpq handle to the thread that owns it.
struct UnsafeSendablePointer: @unchecked Sendable {
    // @unchecked: the handle is created on the connection's thread and used only there afterwards.
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}
