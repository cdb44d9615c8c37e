import EventStore
import HandoffTestSupport
import Postgres
import Testing

@testable import QueryService

/// A statement past its deadline — ended by the server (SQLSTATE 57014) or given up by the
/// client — and a pool with no connection free in time are outages for the caller: 503
/// `unavailable` with `Retry-After`, never a bare 500 (issue 19).
@Suite struct DeadlineErrorTests {
    @Test func deadlinesAndAFullPoolAnswer503WithRetryAfter() async throws {
        let db = try await TestDatabase.make(migrated: false)
        // The server's own timeout, and no client deadline: on a loaded machine the client's
        // deadline (the timeout plus a grace) sometimes came first, and the error was the client's.
        let c = try await Connection.connect(db.url)
        defer { c.close() }
        try await c.execute("SET statement_timeout = 50")
        var fromServer: Error?
        do { try await c.query("SELECT pg_sleep(10)") } catch { fromServer = error }
        let server = try #require(fromServer as? PostgresError)
        #expect(server.sqlState == "57014")
        let pool = ConnectionPool(url: db.url, maximumConnections: 1, checkoutTimeout: .milliseconds(50))
        let (taken, tookIt) = AsyncStream<Void>.makeStream()
        let held = Task {
            // Opening the connection may itself outlast the short wait on a loaded machine: retry.
            while !Task.isCancelled {
                do {
                    try await pool.withConnection { _ in
                        tookIt.yield()
                        try await Task.sleep(for: .seconds(60))
                    }
                } catch let error as PostgresError where error.kind == .poolExhausted {
                    continue
                } catch {
                    return
                }
            }
        }
        for await _ in taken { break }
        var fromPool: Error?
        try await eventually("the pool to give up on a waiter") {
            do { try await pool.query("SELECT 1") } catch { fromPool = error }
            return (fromPool as? PostgresError)?.kind == .poolExhausted
        }
        held.cancel()
        await pool.close()

        let outages: [Error] = [
            server, PostgresError(kind: .timedOut), try #require(fromPool),
            EventStoreError.unavailable,
        ]
        for error in outages {
            let mapped = ServiceError.from(error)
            #expect(mapped.status.code == 503, "\(error)")
            #expect(mapped.code == "unavailable", "\(error)")
            #expect(mapped.response.headers["Retry-After"] != nil, "\(error)")
        }
        // Other server errors are not outages.
        #expect(ServiceError.from(PostgresError(kind: .server, sqlState: "22P02")).status.code == 500)
    }
}
