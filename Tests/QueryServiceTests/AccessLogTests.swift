import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Referrals
import Synchronization
import Testing

@testable import QueryService
@testable import ServiceStore

/// The access log is written in batches, and a read is answered only once its row is committed.
@Suite("Access log batches")
struct AccessLogTests {
    static func logCount(_ connection: Connection, caseId: String) async throws -> Int {
        try await connection.query("SELECT count(*) FROM handoff.access_log WHERE case_id = \(caseId)").first!
            .decode(0, as: Int.self)
    }

    /// Many reads at once: every answered read has its own committed row, no more, no fewer.
    @Test func concurrentReadsEachGetARowBeforeTheirAnswer() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AL-1")
        try await h.refer("KS-AL-1", "R-1", to: "opav")
        let callers = ["kp-dthb", "opav", "natc", "audit", "isf"]
        let statuses = try await withThrowingTaskGroup(of: (String, Int).self) { group in
            for i in 0..<60 {
                let caller = callers[i % callers.count]
                let path = i % 2 == 0 ? "/v1/cases/KS-AL-1" : "/v1/cases/KS-AL-1/history"
                group.addTask { (caller, try await h.api.get(path, token: h.token(caller)).status) }
            }
            var out: [(String, Int)] = []
            for try await r in group { out.append(r) }
            return out
        }
        let answered = statuses.filter { $0.1 == 200 }
        #expect(answered.count == 48)  // isf is no party: 12 refusals, each a denied row
        #expect(statuses.filter { $0.1 != 200 }.allSatisfy { $0.0 == "isf" && $0.1 == 404 })
        let connection = try await h.db.connect()
        defer { connection.close() }
        #expect(try await Self.logCount(connection, caseId: "KS-AL-1") == 60)
        let perInstitution = try await connection.query(
            """
            SELECT institution || ' ' || outcome, count(*) FROM handoff.access_log WHERE case_id = 'KS-AL-1'
             GROUP BY 1 ORDER BY 1
            """)
        let counts = try perInstitution.all.map {
            "\(try $0.decode(0, as: String.self))=\(try $0.decode(1, as: Int.self))"
        }
        #expect(
            counts == ["audit allowed=12", "isf denied=12", "kp-dthb allowed=12", "natc allowed=12", "opav allowed=12"])
    }

    /// While a batch cannot commit (the table is locked), reads wait; when the queue is full a
    /// read is refused with 503 and carries no case data. Once the lock goes, the waiting reads
    /// are answered and logged; the refused one is not logged.
    @Test func aFullQueueRefusesWith503AndNothingUnloggedIsServed() async throws {
        // A cluster of its own: the read held back behind the lock holds a transaction id open,
        // and in the shared cluster that holds back every other test's readable events (CI saw
        // several tests time out waiting for them while this one waited on a loaded machine).
        let pg = try await PrivateCluster.start()
        let h = try await Harness.start(readSide: StubReadSide(), db: pg.database, accessLogQueueCapacity: 1)
        defer {
            Task {
                await h.stop()
                await pg.remove()
            }
        }
        try await h.openCase("KS-AL-2")
        let locker = try await h.db.connect()
        defer { locker.close() }
        try await locker.execute("BEGIN; LOCK TABLE handoff.access_log IN ACCESS EXCLUSIVE MODE")
        let writer = h.service.accessLog.writer
        // The first read becomes the batch being written, and blocks on the lock.
        // (Both wait for the lock as long as the steps below take: on a loaded machine, more than
        // the client's usual 30 s — a CI run saw "connection ended" from the client's own timeout.)
        let first = Task { try await h.api.get("/v1/cases/KS-AL-2", token: h.token("natc"), timeout: 600) }
        let watcher = try await h.db.connect()
        defer { watcher.close() }
        try await eventuallyTrue {
            try await watcher.query(
                "SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'handoff.access_log'::regclass"
            ).first != nil
        }
        // The next reads become the other batches on their way (AccessLogWriter.pipelineDepth):
        // each waits at the log's head lock, which the first holds.
        let inFlight = (1..<AccessLogWriter.pipelineDepth).map { _ in
            Task { try await h.api.get("/v1/cases/KS-AL-2/history", token: h.token("natc"), timeout: 600) }
        }
        try await eventuallyTrue {
            try await watcher.query("SELECT count(*) FROM pg_locks WHERE NOT granted").first?.decode(0, as: Int64.self)
                == Int64(AccessLogWriter.pipelineDepth)
        }
        // The next waits in the queue (capacity: one row).
        let second = Task {
            try await h.api.get("/v1/cases/KS-AL-2/history", token: h.token("kp-dthb"), timeout: 600)
        }
        try await eventuallyTrue { writer.queuedRows == 1 }
        // The third finds the queue full.
        let refused = try await h.api.get("/v1/cases/KS-AL-2", token: h.token("audit"))
        #expect(refused.status == 503)
        #expect(refused.errorCode == "unavailable")
        #expect(refused.header("Retry-After") == "1")
        #expect(refused.json["caseId"] == nil)
        #expect(!refused.text.contains("KS-AL-2"))
        try await locker.execute("COMMIT")
        #expect(try await first.value.status == 200)
        for read in inFlight { #expect(try await read.value.status == 200) }
        #expect(try await second.value.status == 200)
        let rows = try await watcher.query(
            "SELECT institution, endpoint FROM handoff.access_log WHERE case_id = 'KS-AL-2' ORDER BY seq")
        let entries = try rows.all.map { "\(try $0.decode(0, as: String.self)) \(try $0.decode(1, as: String.self))" }
        // In the order the batches took the head lock: the first (it held it), then the others.
        // (A batch waiting at the lock when it is released can be overtaken by one sent after it:
        // PostgreSQL locks the head's new version afresh. Either way `seq` is the commit order.)
        #expect(entries.first == "natc GET /v1/cases/{caseId}")
        #expect(
            entries.dropFirst().sorted()
                == (["kp-dthb GET /v1/cases/{caseId}/history"]
                    + Array(repeating: "natc GET /v1/cases/{caseId}/history", count: AccessLogWriter.pipelineDepth - 1))
        )
    }

    /// One caller cannot put the others behind its rows (an attack pass sent 300 pipelined
    /// connections of `GET /v1/events?limit=1000`, and another institution's single read waited
    /// ten seconds): every caller's first waiting read goes into the next batch taken before
    /// anyone's second, and a caller past an eighth of the queue cannot take its last quarter — an
    /// institution is one caller, however many of its people's tokens it reads with.
    @Test func oneCallersRowsShareEachBatchAndAnEighthOfTheQueue() async throws {
        // A cluster of its own, as above: the first batch holds a transaction id open behind the lock.
        let pg = try await PrivateCluster.start()
        let h = try await Harness.start(readSide: StubReadSide(), db: pg.database, accessLogQueueCapacity: 8_000)
        defer {
            Task {
                await h.stop()
                await pg.remove()
            }
        }
        let writer = h.service.accessLog.writer
        #expect(writer.principalShare == 1_000)
        func rows(_ institution: String, _ count: Int, _ caseId: String, user: Int = 1) -> [AccessLogWriter.Row] {
            Array(
                repeating: AccessLogWriter.Row(
                    role: "institution", institution: institution, user: "\(institution)-\(user)", caseId: caseId,
                    endpoint: "GET /v1/events", outcome: "allowed"), count: count)
        }
        let locker = try await h.db.connect()
        defer { locker.close() }
        try await locker.execute("BEGIN; LOCK TABLE handoff.access_log IN ACCESS EXCLUSIVE MODE")
        let watcher = try await h.db.connect()
        defer { watcher.close() }
        // The first write becomes the batch being written and blocks on the lock.
        let first = Task { try await writer.write(rows("iom-kosovo", 1, "KS-FAIR-0")) }
        try await eventuallyTrue {
            try await watcher.query(
                "SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'handoff.access_log'::regclass"
            ).first != nil
        }
        // The batches after it, each a read of another caller, wait at the log's head lock.
        let inFlight = (1..<AccessLogWriter.pipelineDepth).map { n in
            Task { try await writer.write(rows("kp-dthb", 1, "KS-FAIR-0-\(n)")) }
        }
        try await eventuallyTrue {
            try await watcher.query("SELECT count(*) FROM pg_locks WHERE NOT granted").first?.decode(0, as: Int64.self)
                == Int64(AccessLogWriter.pipelineDepth)
        }
        // The flood's reads fill a batch (5,000 rows) exactly: taken in the order they came, the
        // honest read would not fit beside its first two.
        let flood1 = Task { try await writer.write(rows("iom-kosovo", 2_500, "KS-FAIR-1")) }
        try await eventuallyTrue { writer.queuedRows == 2_500 }
        let flood2 = Task { try await writer.write(rows("iom-kosovo", 2_500, "KS-FAIR-2")) }
        try await eventuallyTrue { writer.queuedRows == 5_000 }
        let flood3 = Task { try await writer.write(rows("iom-kosovo", 1_000, "KS-FAIR-5")) }
        try await eventuallyTrue { writer.queuedRows == 6_000 }
        // Past its share, with the queue three quarters full: refused at once, while another
        // caller is still let in.
        await #expect(throws: ServiceStoreError.self) { try await writer.write(rows("iom-kosovo", 1, "KS-FAIR-3")) }
        // The share is the institution's: another of its people's tokens gets no more room.
        await #expect(throws: ServiceStoreError.self) {
            try await writer.write(rows("iom-kosovo", 1, "KS-FAIR-3", user: 2))
        }
        let honest = Task { try await writer.write(rows("opav", 1, "KS-FAIR-4")) }
        try await eventuallyTrue { writer.queuedRows == 6_001 }
        try await locker.execute("COMMIT")
        for task in [first, flood1, flood2, flood3, honest] + inFlight { try await task.value }
        // The honest read went into the first batch taken from the queue, with the flood's first
        // read, not behind its second: one call of the function, one `at` (the flood's third read
        // fitted beside them). (The two batches taken next are on their way together, so which
        // commits first is not fixed.)
        let batches = try await watcher.query(
            """
            SELECT string_agg(DISTINCT case_id, ' ' ORDER BY case_id) FROM handoff.access_log
             WHERE case_id IN ('KS-FAIR-1', 'KS-FAIR-2', 'KS-FAIR-4', 'KS-FAIR-5') GROUP BY at
            """)
        #expect(
            try batches.all.map { try $0.decode(0, as: String.self) }.sorted() == [
                "KS-FAIR-1 KS-FAIR-4 KS-FAIR-5", "KS-FAIR-2",
            ])
        #expect(writer.queuedRows == 0)
    }

    /// The writer has connections of its own: with every connection of the service's shared pool
    /// taken (an attack pass flooded one session's page until the pool was exhausted, and the
    /// access log's batch waited for a connection until it failed, refusing every caller's reads
    /// in it), reads are still logged.
    @Test func theWriterDoesNotWaitForTheSharedPool() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        let shared = h.store.pool
        #expect(h.service.accessLog.writer.pool !== shared)
        #expect(h.service.accessLog.writer.pool.maximumConnections == AccessLogWriter.pipelineDepth)
        let holder = try await h.db.connect()
        defer { holder.close() }
        let release = try await occupyEveryConnection(of: shared, holder: holder, key: 8217)
        try await h.service.accessLog.record(
            .institution("opav", user: "advocate-1"), caseIds: ["KS-OWN-1"], endpoint: "GET /v1/cases/{caseId}")
        try await release()
        #expect(try await Self.logCount(holder, caseId: "KS-OWN-1") == 1)
    }

    /// A batch that cannot be written fails its reads with 503; reads work again afterwards.
    @Test func aFailedWriteIs503AndNoDataIsSent() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AL-3")
        let admin = try await h.db.connect()
        defer { admin.close() }
        // Make every insert fail (a test-only trigger on this test's own database).
        try await admin.execute(
            """
            CREATE FUNCTION handoff.test_refuse_access_log() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'refused for the test'; END $$;
            CREATE TRIGGER test_refuse BEFORE INSERT ON handoff.access_log
                FOR EACH STATEMENT EXECUTE FUNCTION handoff.test_refuse_access_log();
            """)
        for path in ["/v1/cases/KS-AL-3", "/v1/cases/KS-AL-3/history", "/v1/cases/KS-AL-3/verify", "/v1/deadlines"] {
            let reply = try await h.api.get(path, token: h.token("natc"))
            if path == "/v1/deadlines" {
                #expect(reply.status == 200)  // the stub has no deadlines: nothing to log, nothing shown
                continue
            }
            #expect(reply.status == 503, "\(path)")
            #expect(reply.errorCode == "unavailable", "\(path)")
            #expect(!reply.text.contains("CaseOpened"), "\(path)")
        }
        try await admin.execute("DROP TRIGGER test_refuse ON handoff.access_log")
        #expect(try await h.api.get("/v1/cases/KS-AL-3", token: h.token("natc")).status == 200)
        #expect(try await Self.logCount(admin, caseId: "KS-AL-3") == 1)
    }

    /// Behind a batch that hangs (the log's head locked by another session), every read is refused
    /// once its own patience has passed since it was queued — not after that batch and then its
    /// own each took their time (an operator's pass saw 20 s behind a 10 s statement timeout).
    @Test func aReadWaitsForItsRowsAtMostItsPatience() async throws {
        let db = try await TestDatabase.make()
        let log = AccessLog(pool: db.pool(), patience: .seconds(1))
        let holder = try await db.connect()
        defer { holder.close() }
        try await holder.execute("BEGIN; SELECT 1 FROM handoff.access_log_head FOR UPDATE")
        // Released long after every read's patience: a read that waits for it instead fails the test.
        final class Flag: Sendable {
            let value = Mutex(false)
        }
        let released = Flag()
        let release = Task { [holder] in
            try await Task.sleep(for: .seconds(30))
            released.value.withLock { $0 = true }
            try await holder.execute("COMMIT")
        }
        let reader = Principal.institution("opav", user: "advocate-1")
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for n in 0..<4 {
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(300 * n))  // queued while the first batch hangs
                    do {
                        try await log.record(reader, caseIds: ["KS-PT-\(n)"], endpoint: "GET /v1/cases/{caseId}")
                        return false
                    } catch ServiceStoreError.accessLogWriteFailed {
                        return !released.value.withLock { $0 }
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.count == 4)
        #expect(outcomes.allSatisfy { $0 }, "\(outcomes)")
        release.cancel()
        try await holder.execute("COMMIT")
    }
}
