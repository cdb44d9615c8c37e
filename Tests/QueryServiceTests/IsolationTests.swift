import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Referrals
import ServiceStore
import Testing

/// The writers' SQL relies on READ COMMITTED: the append function and `handoff.log_access` lock a
/// head row and read on past it with a fresh snapshot per statement, so a writer that waited for
/// the lock sees what the one before it committed. Under REPEATABLE READ the waiter's snapshot is
/// older than that commit: with the database's `default_transaction_isolation` set so by an
/// operator, sixteen appenders on one stream failed with a unique violation (23505, the version
/// the waiter computed from its old snapshot was taken). Every connection therefore sets READ
/// COMMITTED itself; the verifiers open their REPEATABLE READ snapshots explicitly.
@Suite struct IsolationTests {
    @Test func writersWorkOnADatabaseWhoseDefaultIsRepeatableRead() async throws {
        let db = try await TestDatabase.make()
        let admin = try await Connection.connect(try await TestDatabase.adminURL())
        defer { admin.close() }
        for level in ["repeatable read", "serializable"] {
            try await admin.execute("ALTER DATABASE \(db.name) SET default_transaction_isolation = '\(level)'")
            let pool = db.pool(size: 16)
            let shown = try await pool.query("SHOW transaction_isolation").first?.decode(0, as: String.self)
            #expect(shown == "read committed", "\(level)")

            // Sixteen writers on one stream, each waiting at its head behind the others.
            let store = EventStore(pool: pool)
            let name = StreamName.case("KS-ISO-\(level.prefix(1))")!
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<16 {
                    group.addTask {
                        for _ in 0..<5 {
                            let event = NewEvent(
                                type: "CaseReviewed", data: "{}",
                                metadata: EventMetadata(
                                    actor: EventActor(institution: "kp-dthb", user: "officer-\(writer)")))
                            _ = try await store.append(to: name, events: [event])
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.version(of: name) == 80, "\(level)")
            #expect(try await store.verify(stream: name).valid, "\(level)")

            // Reads logged by sixteen callers at once: batches wait at the log's head lock.
            let log = AccessLog(pool: pool)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for reader in 0..<16 {
                    group.addTask {
                        for n in 0..<5 {
                            try await log.record(
                                Principal.institution("opav", user: "advocate-\(reader)"), caseIds: ["KS-ISO-\(n)"],
                                endpoint: "GET /v1/cases/{caseId}")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let report = try await store.verifyAccessLog()
            #expect(report.problem == nil, "\(level)")
            await pool.close()
        }
        #expect(try await EventStore(pool: db.pool()).verifyAccessLog().rows == 160)
    }
}
