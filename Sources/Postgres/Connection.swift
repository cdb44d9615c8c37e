import CLibPQ
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One connection to PostgreSQL.
///
/// libpq's calls run on this connection's own thread — never on Swift's cooperative thread pool —
/// and the async API resumes the caller from there when they are done. Statements are sent with
/// libpq's non-blocking API, and the thread waits on the socket and on a wake-up pipe together, so
/// a caller can leave early:
///
/// - **Deadline.** With a `statementTimeout` the server ends a statement after that long
///   (`statement_timeout`, SQLSTATE 57014), and the client gives up a little later
///   (``clientDeadlineGrace``) if the server has not answered — a frozen or unreachable server.
///   The caller is then resumed at once with ``PostgresError/Kind/timedOut``, the statement is
///   cancelled (`PQcancel`) from the connection's thread, and the connection is retired.
/// - **Cancellation.** Cancelling the calling task does the same, with `CancellationError`.
///
/// A retired or closed connection refuses further work at once (``isBroken`` is true), so a
/// `ConnectionPool` replaces it. A connection runs one statement at a time; use a pool to share.
///
/// Sessions run with `TimeZone=UTC` so timestamps read back in one form.
public final class Connection: @unchecked Sendable {
    // @unchecked: `conn` and `prepared` are touched only on `thread`, which runs one job at a time;
    // everything else is immutable or atomic.
    private let thread: ConnectionThread
    private nonisolated(unsafe) var conn: OpaquePointer?
    /// Statement text → name of the server-side prepared statement (touched only on `thread`).
    private nonisolated(unsafe) var prepared: [String: String] = [:]
    /// Whether the connection is closed or libpq says it is no longer OK, as of the end of the
    /// last job on `thread`: the pool asks on every check-out and check-in without a trip there.
    private let broken = Atomic<Bool>(false)
    /// Set when the connection takes no more work: closed, or a statement's caller left before it
    /// ended (the statement is being cancelled and the connection's state is unknown).
    private let retired = Atomic<Bool>(false)
    /// Set by `close()`: further calls are the caller's mistake (`.misuse`), not an outage.
    private let closed = Atomic<Bool>(false)
    /// A pipe the thread polls beside the socket: a byte wakes it when a caller leaves.
    private let wakeReader: Int32
    private let wakeWriter: Int32

    /// The longest a statement may run (server-side `statement_timeout`); nil leaves the server's
    /// setting (e.g. the role's, see docs/operations.md) and sets no client deadline.
    public let statementTimeout: Duration?

    /// How long after `statementTimeout` the client stops waiting for the server's own
    /// cancellation: the time a healthy server needs to deliver its 57014.
    public static func clientDeadlineGrace(for timeout: Duration) -> Duration {
        min(timeout, .seconds(2))
    }

    /// How many statements one connection keeps prepared; later ones run unprepared.
    public static let preparedStatementLimit = 256

    private init(thread: ConnectionThread, wake: (reader: Int32, writer: Int32), statementTimeout: Duration?) {
        self.thread = thread
        self.wakeReader = wake.reader
        self.wakeWriter = wake.writer
        self.statementTimeout = statementTimeout
    }

    deinit {
        // Jobs hold the connection, so none is queued now: the thread runs this one and ends.
        if let conn {
            let handle = UnsafeSendablePointer(conn)
            thread.run { PQfinish(handle.pointer) }
        }
        thread.stop()
        Glibc.close(wakeReader)
        Glibc.close(wakeWriter)
    }

    /// Connects with a libpq connection URI or key=value string, e.g. `postgresql:///handoff?host=/run/pg`.
    ///
    /// - Parameters:
    ///   - connectTimeout: seconds to wait for each server (a `connect_timeout` in the URL wins).
    ///   - statementTimeout: the deadline of every statement on this connection (see the type's
    ///     documentation); nil for none.
    /// - Throws: `PostgresError` of kind `.connectionFailed` when the server cannot be reached; its
    ///   `description` does not repeat the URL (which may carry a password). `CancellationError`
    ///   when the task is cancelled while connecting (the attempt is dropped when it ends).
    public static func connect(
        _ url: String, connectTimeout: Int = 5, applicationName: String = "handoff",
        statementTimeout: Duration? = nil
    ) async throws -> Connection {
        var fds: [Int32] = [-1, -1]
        guard pipe2(&fds, O_NONBLOCK | O_CLOEXEC) == 0 else {
            throw PostgresError(kind: .connectionFailed, serverMessage: "no file descriptors left")
        }
        let connection = Connection(
            thread: ConnectionThread(name: "handoff.postgres"), wake: (fds[0], fds[1]),
            statementTimeout: statementTimeout)
        let call = PendingCall<Void>()
        do {
            // No deadline of ours: libpq's connect_timeout bounds each host of a multi-host URL.
            try await call.wait(deadline: nil, timeout: { connectionTimedOut }, onGiveUp: {}) {
                connection.thread.run {
                    do {
                        let conn = try openConnection(url, connectTimeout, applicationName)
                        connection.conn = conn
                        connection.socket.store(PQsocket(conn), ordering: .releasing)
                        PQsetnonblocking(conn, 1)
                        call.finish(.success(()))
                    } catch {
                        call.finish(.failure(error))
                    }
                }
            }
            // The formats the decoders read (`ByteA` reads hex only), whatever the server says.
            var setup = "SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO'; SET IntervalStyle TO 'iso_8601'; "
            setup += "SET bytea_output TO 'hex'; SET extra_float_digits TO 1; "
            setup += "SET client_min_messages TO warning; "
            // The writers' SQL locks a head row and reads on past it with each statement's own
            // snapshot; a database whose default is REPEATABLE READ or SERIALIZABLE would refuse
            // every writer that waited at that lock. Snapshots are asked for explicitly
            // (`transaction(isolation:)`), never taken from the default.
            setup += "SET default_transaction_isolation TO 'read committed'; "
            // A commit is acknowledged only once it is durable (and, with a synchronous standby,
            // flushed there too): `off`, `local` or `remote_write` (the standby has written, not
            // flushed) would let an acknowledged append vanish in a crash or a failover.
            // `remote_apply`, stronger, is kept; a transaction that may lose its commit says so
            // itself (`SET LOCAL`).
            setup += "SELECT set_config('synchronous_commit', 'on', false) "
            setup += "WHERE current_setting('synchronous_commit') IN ('off', 'local', 'remote_write')"
            if let statementTimeout {
                setup += "; SET statement_timeout TO \(max(1, statementTimeout.nanoseconds / 1_000_000))"
            }
            try await connection.execute(setup)
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    private static let connectionTimedOut = PostgresError(kind: .connectionFailed, serverMessage: "timed out")

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

    /// True once the connection is known to be broken, closed or retired (the pool then replaces it).
    public var isBroken: Bool {
        broken.load(ordering: .acquiring) || retired.load(ordering: .acquiring)
    }

    /// The connection's socket once open (-1 before): constant while it lives.
    private let socket = Atomic<Int32>(-1)

    /// Whether the server wrote to or hung up on this connection while nobody used it: a restart's
    /// FATAL, an idle-session timeout, a dropped link. An idle connection expects nothing, so
    /// anything there means it is ended or unusable. Asked of the socket without waiting and
    /// without libpq (a poll of it from any thread), so that a pool never lends a connection the
    /// server has already ended (an operator's pass: after a PostgreSQL restart, each stale pooled
    /// connection failed one request with 503). Only for a connection nobody is using.
    public var endedWhileIdle: Bool {
        guard !isBroken else { return true }
        var fd = pollfd(fd: socket.load(ordering: .acquiring), events: Int16(POLLIN), revents: 0)
        guard fd.fd >= 0 else { return false }
        while true {
            let ready = poll(&fd, 1, 0)
            if ready < 0, errno == EINTR { continue }  // a signal says nothing of the connection
            return ready != 0
        }
    }

    /// Closes the connection without waiting: work already queued finishes first, later calls
    /// fail with `.misuse`. Safe to call from anywhere, more than once.
    public func close() {
        close(then: nil)
    }

    /// Closes the connection and calls `done` on its thread once the socket is closed (the pool
    /// counts the connection as open until then, so a retired connection still busy cancelling its
    /// statement keeps its place and no new one piles up beside it).
    func close(then done: (@Sendable () -> Void)?) {
        closed.store(true, ordering: .releasing)
        retired.store(true, ordering: .releasing)
        broken.store(true, ordering: .releasing)
        thread.run {
            if let conn = self.conn { PQfinish(conn) }
            self.conn = nil
            done?()
        }
    }

    /// Runs one parameterised statement and returns its rows.
    ///
    /// A statement with parameters is prepared on the server the first time this connection runs
    /// it and executed by name afterwards (no parse and plan per call); the text is the key, and
    /// the parameters are always bound, so the cache cannot mix up values.
    ///
    /// - Throws: `PostgresError` with `sqlState` for server errors (57014 when the server's
    ///   `statement_timeout` ended it), `.connectionFailed` when the connection broke, `.timedOut`
    ///   when the client's deadline passed first; `CancellationError` when the task was cancelled.
    @discardableResult
    public func query(_ sql: SQL) async throws -> QueryResult {
        try await perform { conn, exchange in try self.runQuery(conn, exchange, sql) }
    }

    /// Runs SQL text that may hold several statements and no parameters (migrations, `SET`, `BEGIN`).
    /// Errors as `query`.
    public func execute(_ text: String) async throws {
        try await perform { conn, exchange in
            let result = try exchange.run { PQsendQuery(conn, text) }
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
    /// Returns the number of bytes received. Used by the benchmark baseline. No client deadline.
    public func copyOut(_ sql: SQL, _ body: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) async throws -> Int {
        try await perform(deadline: nil) { conn, exchange in
            let result = try Self.withParameters(sql.parameters) { values in
                try exchange.run {
                    PQsendQueryParams(conn, sql.text, Int32(sql.parameters.count), nil, values, nil, nil, 0)
                }
            }
            let status = PQresultStatus(result)
            PQclear(result)
            guard status == PGRES_COPY_OUT else {
                throw PostgresError(kind: .server, serverMessage: "not a COPY TO STDOUT statement")
            }
            var total = 0
            var buffer: UnsafeMutablePointer<CChar>?
            while true {
                let n = PQgetCopyData(conn, &buffer, 1)
                if n > 0, let b = buffer {
                    body(UnsafeRawBufferPointer(start: b, count: Int(n)))
                    total += Int(n)
                    PQfreemem(b)
                } else if n == 0 {
                    try exchange.waitForSocket(Int16(POLLIN))
                    if PQconsumeInput(conn) == 0 { throw Self.connectionError(conn) }
                } else if n == -1 {
                    break
                } else {
                    throw Self.connectionError(conn)
                }
            }
            let final = try exchange.collectResults()
            defer { PQclear(final) }
            try Self.check(final, conn)
            return total
        }
    }

    /// Runs a `COPY … FROM STDIN` statement (text format) and sends `data` as its input: rows of
    /// tab-separated values ending in `\n`, `\N` for NULL, written as PostgreSQL's text input reads
    /// them (``PostgresCopy/appendEscaped(_:to:)`` escapes a value). Returns the rows copied. The cheapest way to load
    /// many rows: no statement plan or executor per row, and rows go to the table in groups.
    /// - Throws: as `query`; a malformed row fails the whole `COPY` with the server's error.
    @discardableResult
    public func copyIn(_ statement: String, _ data: [UInt8]) async throws -> Int {
        try await perform { conn, exchange in
            let started = try exchange.run { PQsendQuery(conn, statement) }
            let status = PQresultStatus(started)
            if status != PGRES_COPY_IN {
                defer { PQclear(started) }
                try Self.check(started, conn)
                throw PostgresError(kind: .misuse, serverMessage: "not a COPY FROM STDIN statement")
            }
            PQclear(started)
            // In pieces, so that a large load never asks libpq for one buffer of its whole size.
            let piece = 1 << 20
            var offset = 0
            try data.withUnsafeBytes { bytes in
                while offset < bytes.count {
                    let n = min(piece, bytes.count - offset)
                    let sent = PQputCopyData(
                        conn, bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self), Int32(n))
                    if sent == 1 {
                        offset += n
                    } else if sent == 0 {
                        try exchange.waitForSocket(Int16(POLLOUT))
                    } else {
                        throw Self.connectionError(conn)
                    }
                }
            }
            while true {
                let ended = PQputCopyEnd(conn, nil)
                if ended == 1 { break }
                if ended < 0 { throw Self.connectionError(conn) }
                try exchange.waitForSocket(Int16(POLLOUT))
            }
            let final = try exchange.run { 1 }
            defer { PQclear(final) }
            try Self.check(final, conn)
            return Int(String(cString: PQcmdTuples(final))) ?? 0
        }
    }

    // MARK: - Notifications

    /// Waits up to `timeout` seconds for notifications on channels this connection `LISTEN`s to.
    /// Returns what arrived (possibly nothing). The wait happens on this connection's thread; a
    /// cancelled task leaves at once (with `CancellationError`) and the connection is retired.
    public func waitForNotifications(timeout: Double) async throws -> [Notification] {
        try await perform(deadline: nil) { conn, exchange in
            var pending = Self.drainNotifications(conn)
            if !pending.isEmpty { return pending }
            let deadline = ContinuousClock.now + .nanoseconds(Int(max(0, min(timeout, 86_400)) * 1e9))
            while true {
                guard try exchange.waitForSocket(Int16(POLLIN), until: deadline) else { return [] }
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

    /// The client deadline of a statement started now.
    private var statementDeadline: ContinuousClock.Instant? {
        statementTimeout.map { ContinuousClock.now + $0 + Self.clientDeadlineGrace(for: $0) }
    }

    private func perform<T: Sendable>(
        _ body: @escaping @Sendable (OpaquePointer, Exchange) throws -> T
    ) async throws -> T {
        try await perform(deadline: statementDeadline, body)
    }

    /// Runs `body` on the connection's thread; the caller leaves at `deadline` or on cancellation
    /// (see the type's documentation), whatever the thread is doing.
    private func perform<T: Sendable>(
        deadline: ContinuousClock.Instant?, _ body: @escaping @Sendable (OpaquePointer, Exchange) throws -> T
    ) async throws -> T {
        if closed.load(ordering: .acquiring) { throw Self.closedError }
        if retired.load(ordering: .acquiring) { throw Self.retiredError }
        let call = PendingCall<T>()
        return try await call.wait(
            deadline: deadline,
            timeout: { PostgresError(kind: .timedOut, serverMessage: "the statement outlived its deadline") },
            onGiveUp: { [weak self] in
                // Weak: a deadline's timer outlives the statement; it must not keep the connection
                // (and its thread) alive. While the statement runs, its job holds the connection.
                guard let self else { return }
                // Before the caller resumes and gives the connection back: it must not be reused.
                retired.store(true, ordering: .releasing)
                broken.store(true, ordering: .releasing)
                var byte: UInt8 = 1
                _ = Glibc.write(wakeWriter, &byte, 1)
            }
        ) {
            thread.run { [self] in
                guard !call.isFinished else { return }  // the caller left before the statement was sent
                guard let conn else {
                    call.finish(.failure(closed.load(ordering: .acquiring) ? Self.closedError : Self.retiredError))
                    return
                }
                let exchange = Exchange(conn: conn, wake: wakeReader, isAbandoned: { call.isFinished })
                do {
                    let value = try body(conn, exchange)
                    // Before resuming: the caller gives the connection back next and asks `isBroken`.
                    broken.store(PQstatus(conn) != CONNECTION_OK, ordering: .releasing)
                    call.finish(.success(value))
                } catch is Exchange.Abandoned {
                    cancelAbandonedStatement(conn)
                } catch {
                    broken.store(PQstatus(conn) != CONNECTION_OK, ordering: .releasing)
                    call.finish(.failure(error))
                }
            }
        }
    }

    private static let closedError = PostgresError(kind: .misuse, serverMessage: "connection is closed")
    private static let retiredError = PostgresError(
        kind: .connectionFailed, serverMessage: "connection retired after a statement was abandoned")

    /// The caller of the statement in flight left: ask the server to stop it and close the
    /// connection. `PQcancel` blocks until the server takes the request — for a frozen server,
    /// until it thaws — which is why it runs here, on the connection's own thread.
    private func cancelAbandonedStatement(_ conn: OpaquePointer) {
        if let cancel = PQgetCancel(conn) {
            var message = [CChar](repeating: 0, count: 256)
            _ = PQcancel(cancel, &message, Int32(message.count))
            PQfreeCancel(cancel)
        }
        PQfinish(conn)
        self.conn = nil
    }

    /// Runs `sql` through this connection's prepared statements (see `query`).
    private func sendPrepared(_ conn: OpaquePointer, _ exchange: Exchange, _ sql: SQL) throws -> OpaquePointer? {
        let params = sql.parameters
        guard !params.isEmpty else { return try Self.send(conn, exchange, sql) }
        var name = prepared[sql.text]
        if name == nil {
            guard prepared.count < Self.preparedStatementLimit else { return try Self.send(conn, exchange, sql) }
            let candidate = "handoff_\(prepared.count + 1)"
            let made = try exchange.run { PQsendPrepare(conn, candidate, sql.text, Int32(params.count), nil) }
            let ok = PQresultStatus(made) == PGRES_COMMAND_OK
            PQclear(made)
            // Preparing fails for the same reasons running would (syntax, permissions, an aborted
            // transaction): run it unprepared, and the caller gets that error.
            guard ok else { return try Self.send(conn, exchange, sql) }
            prepared[sql.text] = candidate
            name = candidate
        }
        let result = try Self.withParameters(params) { values in
            try exchange.run { PQsendQueryPrepared(conn, name!, Int32(params.count), values, nil, nil, 0) }
        }
        // The server refuses a prepared statement whose result columns changed under it (0A000, after
        // a migration), or has lost it (26000). Forget it; outside a transaction, run it afresh.
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        if state == "0A000" || state == "26000" {
            prepared[sql.text] = nil
            PQclear(try exchange.run { PQsendQuery(conn, "DEALLOCATE \(name!)") })
            if PQtransactionStatus(conn) == PQTRANS_IDLE {
                PQclear(result)
                return try Self.send(conn, exchange, sql)
            }
        }
        return result
    }

    private static func withParameters<R>(
        _ params: [PostgresValue], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) throws -> R
    ) rethrows -> R {
        // Keep every parameter's C string alive for the call.
        let cStrings: [UnsafeMutablePointer<CChar>?] = params.map { value in
            switch value {
            case .null: return nil
            case .text(let s): return strdup(s)
            }
        }
        defer { for p in cStrings { free(p) } }
        return try cStrings.map { UnsafePointer($0) }.withUnsafeBufferPointer { try body($0.baseAddress) }
    }

    private static func send(_ conn: OpaquePointer, _ exchange: Exchange, _ sql: SQL) throws -> OpaquePointer? {
        let params = sql.parameters
        return try withParameters(params) { values in
            try exchange.run { PQsendQueryParams(conn, sql.text, Int32(params.count), nil, values, nil, nil, 0) }
        }
    }

    private func runQuery(_ conn: OpaquePointer, _ exchange: Exchange, _ sql: SQL) throws -> QueryResult {
        let result = try sendPrepared(conn, exchange, sql)
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
            if state == nil, PQstatus(conn) != CONNECTION_OK || PQconsumeInput(conn) == 0 {
                throw connectionError(conn)
            }
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

/// One statement's traffic on the connection's thread, through libpq's non-blocking API: the
/// thread waits on the socket and on the wake-up pipe together, and stops waiting (throwing
/// `Abandoned`) as soon as the caller has left.
struct Exchange {
    struct Abandoned: Error {}

    let conn: OpaquePointer
    let wake: Int32
    let isAbandoned: () -> Bool

    /// Sends what `start` queues (a `PQsend…` call) and returns the statement's result as `PQexec`
    /// would: the first error, else the last result (the caller clears it).
    func run(_ start: () -> Int32) throws -> OpaquePointer? {
        guard start() == 1 else { return nil }
        try flush()
        return try collectResults()
    }

    /// Reads results until libpq has no more; a COPY result is returned at once.
    func collectResults() throws -> OpaquePointer? {
        var last: OpaquePointer? = nil
        var failed: OpaquePointer? = nil
        while true {
            while PQisBusy(conn) == 1 {
                do {
                    try waitForSocket(Int16(POLLIN))
                } catch {
                    PQclear(last)
                    PQclear(failed)
                    throw error
                }
                if PQconsumeInput(conn) == 0 { break }  // PQgetResult reports the failure
            }
            guard let result = PQgetResult(conn) else { break }
            switch PQresultStatus(result) {
            case PGRES_COPY_OUT, PGRES_COPY_IN, PGRES_COPY_BOTH:
                PQclear(last)
                PQclear(failed)
                return result
            case PGRES_FATAL_ERROR where failed == nil:
                failed = result
            default:
                PQclear(last)
                last = result
            }
            if PQstatus(conn) != CONNECTION_OK { break }
        }
        if let failed {
            PQclear(last)
            return failed
        }
        return last
    }

    private func flush() throws {
        while true {
            let state = PQflush(conn)
            if state == 0 { return }
            if state < 0 { return }  // the result reports the failure
            try waitForSocket(Int16(POLLIN | POLLOUT))
            if PQconsumeInput(conn) == 0 { return }
        }
    }

    /// Waits until the socket is ready for `events`. - Throws: `Abandoned` when the caller left.
    func waitForSocket(_ events: Int16) throws {
        _ = try waitForSocket(events, until: nil)
    }

    /// Waits until the socket is ready for `events` or `deadline` passes. - Returns: false on the
    /// deadline. - Throws: `Abandoned` when the caller left.
    func waitForSocket(_ events: Int16, until deadline: ContinuousClock.Instant?) throws -> Bool {
        var fds = [
            pollfd(fd: PQsocket(conn), events: events, revents: 0), pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            if isAbandoned() { throw Abandoned() }
            var wait: Int32 = -1
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline)
                if left <= .zero { return false }
                wait = Int32(min(left.nanoseconds / 1_000_000 + 1, 60_000))
            }
            guard fds[0].fd >= 0 else { return true }  // no socket: the next libpq call reports it
            fds[0].revents = 0
            fds[1].revents = 0
            let ready = poll(&fds, 2, wait)
            if ready < 0 {
                if errno == EINTR { continue }
                return true  // let libpq find out what is wrong
            }
            if fds[1].revents != 0 {
                var sink = [UInt8](repeating: 0, count: 64)
                while read(wake, &sink, sink.count) > 0 {}
            }
            if fds[0].revents != 0 { return true }
        }
    }
}

/// Carries a libpq handle to the thread that owns it.
struct UnsafeSendablePointer: @unchecked Sendable {
    // @unchecked: the handle is created on the connection's thread and used only there afterwards.
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}
