import Foundation
import HandoffTestSupport
import Postgres
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Statement deadlines, cancellation, and the pool's line (issue 19).
@Suite struct DeadlineTests {
    /// The server's own `statement_timeout`, set from the connection's configuration, ends a slow
    /// statement with 57014; the error counts as unavailability and the connection stays usable.
    @Test func theServerEndsAStatementPastItsTimeout() async throws {
        let db = try await TestDatabase.make(migrated: false)
        // 1 s, not less: the client's deadline (the timeout and as much again) bounds the
        // connection's own setup too, and a loaded machine took longer than 0.4 s for it.
        let c = try await Connection.connect(db.url, statementTimeout: .seconds(1))
        defer { c.close() }
        do {
            try await c.query("SELECT pg_sleep(30)")
            Issue.record("expected a timeout")
        } catch let error as PostgresError {
            #expect(error.sqlState == "57014")
            #expect(error.isTimeout && error.isUnavailable)
        }
        #expect(try await c.query("SELECT 1").count == 1)
        #expect(!c.isBroken)
    }

    /// A backend that does not answer at all (stopped with SIGSTOP, as a frozen server would be)
    /// cannot end its statement itself: the client's deadline frees the caller, the statement is
    /// cancelled with PQcancel, and the connection is retired.
    @Test func theClientDeadlineFreesTheCallerOfAFrozenBackend() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let c = try await Connection.connect(db.url, statementTimeout: .seconds(1))
        let pid: Int32 = try await c.query("SELECT pg_backend_pid()").first!.decode(0)
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        do {
            try await c.query("SELECT 1")
            Issue.record("expected the client's deadline")
        } catch let error as PostgresError {
            #expect(error.kind == .timedOut)
            #expect(error.isTimeout && error.isUnavailable)
        }
        #expect(c.isBroken)
        // A retired connection refuses more work at once instead of queueing it behind the frozen one.
        await #expect(throws: PostgresError.self) { try await c.query("SELECT 1") }
        kill(pid, SIGCONT)
        // The backend goes away: the abandoned connection was closed.
        let admin = try await db.connect()
        defer { admin.close() }
        try await eventually("the abandoned backend to end") {
            try await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = \(Int(pid))").isEmpty
        }
    }

    /// Cancelling the task of a running statement frees it at once and cancels the statement on
    /// the server.
    @Test func cancellingTheTaskCancelsTheStatement() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let c = try await db.connect()
        let pid: Int = try await c.query("SELECT pg_backend_pid()").first!.decode(0)
        let admin = try await db.connect()
        defer { admin.close() }
        let running = Task { try await c.query("SELECT pg_sleep(60)") }
        try await eventually("the statement to run") {
            try await admin.query(
                "SELECT 1 FROM pg_stat_activity WHERE pid = \(pid) AND state = 'active' AND query LIKE '%pg_sleep%'"
            ).count == 1
        }
        running.cancel()
        await #expect(throws: CancellationError.self) { try await running.value }
        try await eventually("the statement to stop on the server") {
            try await admin.query(
                "SELECT 1 FROM pg_stat_activity WHERE pid = \(pid) AND state = 'active' AND query LIKE '%pg_sleep%'"
            ).isEmpty
        }
    }

    /// `close()` neither waits for the statement in flight nor blocks its caller's thread: it
    /// returns while the statement still runs on the server.
    @Test func closeDoesNotWaitForTheStatementInFlight() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let c = try await db.connect()
        let pid: Int = try await c.query("SELECT pg_backend_pid()").first!.decode(0)
        let admin = try await db.connect()
        defer { admin.close() }
        let running = Task { try await c.query("SELECT pg_sleep(5)") }
        let active: SQL =
            "SELECT 1 FROM pg_stat_activity WHERE pid = \(pid) AND state = 'active' AND query LIKE '%sleep%'"
        try await eventually("the statement to run") { try await admin.query(active).count == 1 }
        c.close()
        #expect(c.isBroken)
        #expect(try await admin.query(active).count == 1, "close() waited for the statement")
        running.cancel()
        _ = try? await running.value
        await #expect(throws: PostgresError.self) { try await c.query("SELECT 1") }
    }
}

@Suite struct PoolLineTests {
    /// Holds the pool's one connection until `release` is called.
    final class Holder: Sendable {
        let task: Task<Void, Error>
        private let gate: AsyncStream<Void>.Continuation
        init(_ pool: ConnectionPool) async throws {
            let (taken, tookIt) = AsyncStream<Void>.makeStream()
            let (release, gate) = AsyncStream<Void>.makeStream()
            self.gate = gate
            task = Task {
                do {
                    try await pool.withConnection { _ in
                        tookIt.yield()
                        for await _ in release { break }
                    }
                } catch {
                    tookIt.finish()
                    throw error
                }
            }
            var took = false
            for await _ in taken {
                took = true
                break
            }
            if !took { try await task.value }  // it failed: say why
        }
        func release() async throws {
            gate.yield()
            try await task.value
        }
    }

    /// Waiters are served in the order they came, and a connection given back goes to the head of
    /// the line, not to a caller who arrives at that moment.
    @Test func waitersAreServedInOrderWithoutBarging() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let pool = ConnectionPool(url: db.url, maximumConnections: 1)
        let holder = try await Holder(pool)
        final class Order: Sendable { let served = Mutex<[Int]>([]) }
        let order = Order()
        var waiters: [Task<Void, Error>] = []
        for i in 1...6 {
            waiters.append(
                Task {
                    try await pool.withConnection { _ in order.served.withLock { $0.append(i) } }
                })
            try await eventually("waiter \(i) to be in line") { pool.waitingCallers == i }
        }
        try await holder.release()
        // Arrives as the connection is handed over: it must queue behind all six.
        let newcomer = Task { try await pool.withConnection { _ in order.served.withLock { $0.append(99) } } }
        for w in waiters { try await w.value }
        try await newcomer.value
        #expect(order.served.withLock { $0 } == [1, 2, 3, 4, 5, 6, 99])
        #expect(await pool.openConnections == 1)
        await pool.close()
    }

    /// A waiter whose task is cancelled leaves the line with `CancellationError`; the others keep
    /// their places.
    @Test func aCancelledWaiterLeavesTheLine() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let pool = ConnectionPool(url: db.url, maximumConnections: 1)
        let holder = try await Holder(pool)
        let first = Task { try await pool.query("SELECT 1").count }
        try await eventually("the first waiter to be in line") { pool.waitingCallers == 1 }
        let second = Task { try await pool.query("SELECT 2").count }
        try await eventually("the second waiter to be in line") { pool.waitingCallers == 2 }
        first.cancel()
        await #expect(throws: CancellationError.self) { try await first.value }
        #expect(pool.waitingCallers == 1)
        try await holder.release()
        #expect(try await second.value == 1)
        // Cancelled before it even reached the line.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await pool.withConnection { _ in 1 }
        }
        _ = try? await early.value
        #expect(pool.waitingCallers == 0)
        await pool.close()
    }

    /// A caller waits no longer than the pool's checkout timeout, and that failure counts as
    /// unavailability (a 503 in the service).
    @Test func aWaiterGivesUpAfterTheCheckoutTimeout() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let pool = ConnectionPool(url: db.url, maximumConnections: 1, checkoutTimeout: .milliseconds(100))
        // On a loaded machine the first connection can take longer to open than the wait allows.
        var held: Holder?
        try await eventually("the holder to get the connection") {
            held = try? await Holder(pool)
            return held != nil
        }
        let holder = try #require(held)
        do {
            try await pool.query("SELECT 1")
            Issue.record("expected the pool to give up")
        } catch let error as PostgresError {
            #expect(error.kind == .poolExhausted)
            #expect(error.isUnavailable)
        }
        #expect(pool.waitingCallers == 0)
        try await holder.release()
        #expect(try await pool.query("SELECT 1").count == 1)
        await pool.close()
    }

    /// A connection retired at its deadline keeps its place in the pool until its thread let go of
    /// it, and is then replaced: a frozen backend never makes the pool open more than its maximum.
    @Test func aRetiredConnectionIsReplaced() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let pool = ConnectionPool(
            url: db.url, maximumConnections: 1, checkoutTimeout: .seconds(60),
            statementTimeout: .seconds(1))
        let pid: Int32 = try await pool.query("SELECT pg_backend_pid()").first!.decode(0)
        kill(pid, SIGSTOP)
        defer { kill(pid, SIGCONT) }
        await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(await pool.openConnections <= 1)
        kill(pid, SIGCONT)
        var other: Int32 = pid
        try await eventually("a fresh connection") {
            other = (try? await pool.query("SELECT pg_backend_pid()").first?.decode(0, as: Int32.self)) ?? pid
            return other != pid
        }
        #expect(await pool.openConnections == 1)
        await pool.close()
    }
    /// A connection the server ended while it sat idle in the pool (a restart, an idle-session
    /// timeout) is not lent out: the first request after the server is back succeeds (an
    /// operator's pass: every stale pooled connection failed one request with 503).
    @Test func aConnectionTheServerEndedWhileIdleIsNotLent() async throws {
        let db = try await TestDatabase.make(migrated: false)
        // (A minute's checkout: the whole suite beside it opens connections slowly on two cores.)
        let pool = ConnectionPool(url: db.url, maximumConnections: 4, checkoutTimeout: .seconds(60))
        // Four connections idle in the pool, each ended by the server.
        let pids = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await pool.query("SELECT pg_backend_pid(), pg_sleep(0.2)").first!.decode(0)
                }
            }
            return try await group.reduce(into: Set<Int32>()) { $0.insert($1) }
        }
        #expect(pids.count == 4)
        let admin = ConnectionPool(url: db.url, maximumConnections: 1, checkoutTimeout: .seconds(60))
        let ended: Int = try await admin.query(
            SQL(
                text: "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM unnest($1::int[]) pid",
                parameters: [.text("{" + pids.map(String.init).joined(separator: ",") + "}")])
        ).first!.decode(0)
        #expect(ended == 4)
        try await eventually("the backends gone") {
            let left: Int =
                (try? await admin.query(
                    SQL(
                        text: "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                        parameters: [.text("{" + pids.map(String.init).joined(separator: ",") + "}")])
                ).first?.decode(0)) ?? 1
            return left == 0
        }
        var fresh: Set<Int32> = []
        for _ in 0..<8 {
            let pid: Int32 = try await pool.query("SELECT pg_backend_pid()").first!.decode(0)
            #expect(!pids.contains(pid))
            fresh.insert(pid)
        }
        // A healthy idle connection is lent again, not replaced: one connection for the eight.
        #expect(fresh.count == 1)
        // The one connection of a pool ended again and again: the checkout that finds it ended
        // gets a new one, whichever comes first of the old one's close and its place in line (when
        // the close came first, the slot it freed went unused and the checkout timed out).
        let single = ConnectionPool(url: db.url, maximumConnections: 1, checkoutTimeout: .seconds(30))
        for _ in 0..<12 {
            let pid: Int32 = try await single.query("SELECT pg_backend_pid()").first!.decode(0)
            _ = try await admin.query(
                SQL(text: "SELECT pg_terminate_backend($1::int)", parameters: [.text(String(pid))]))
            try await eventually("the backend gone") {
                let left: Int =
                    (try? await admin.query(
                        SQL(
                            text: "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int",
                            parameters: [.text(String(pid))])
                    ).first?.decode(0)) ?? 1
                return left == 0
            }
        }
        #expect(try await single.query("SELECT 1").count == 1)
        await single.close()
        await admin.close()
        await pool.close()
    }
}
