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
@Suite struct SessionDefaultsTests {
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

    /// The decoders read the formats each connection asks for, not the server's: with a database
    /// set to print `bytea` escaped (which `ByteA` cannot read: every event's hashes), dates the
    /// SQL way, another time zone and fewer float digits, the store still appends, reads and
    /// verifies, and the access log's chain verifies.
    @Test func readsDecodeWhateverOutputFormatsTheDatabaseIsSetTo() async throws {
        let db = try await TestDatabase.make()
        let admin = try await Connection.connect(try await TestDatabase.adminURL())
        defer { admin.close() }
        for setting in [
            "bytea_output = 'escape'", "DateStyle = 'SQL, DMY'", "IntervalStyle = 'sql_standard'",
            "TimeZone = 'Pacific/Kiritimati'", "extra_float_digits = -15",
        ] {
            try await admin.execute("ALTER DATABASE \(db.name) SET \(setting)")
        }
        let store = db.store()
        let name = StreamName.case("KS-FMT-1")!
        let event = NewEvent(
            type: "CaseReviewed", data: #"{"note":"synthetic"}"#,
            metadata: EventMetadata(actor: EventActor(institution: "kp-dthb", user: "officer-1")))
        let appended = try await store.append(to: name, events: [event])
        let read = try await store.readAll(stream: name)
        #expect(read.map(\.id) == appended.events.map(\.id))
        #expect(read.first?.occurredAt.hasSuffix("Z") == true)
        #expect(read.first?.occurredDate != nil)
        #expect(try await store.verify(stream: name).valid)
        let log = AccessLog(pool: db.pool())
        try await log.record(
            Principal.institution("kp-dthb", user: "officer-1"), caseIds: ["KS-FMT-1"],
            endpoint: "GET /v1/cases/{caseId}")
        #expect(try await store.verifyAccessLog().problem == nil)
        #expect(try await log.entries().entries.map(\.caseId) == ["KS-FMT-1"])
    }

    /// An append is acknowledged after its commit, and the commit must be durable: a server or
    /// database with `synchronous_commit` set to `off` (or `local`, which skips the synchronous
    /// standby, or `remote_write`, which does not wait for its flush) would let an acknowledged
    /// append vanish in a crash or a failover. Each connection raises those to `on` and keeps
    /// `remote_apply`.
    @Test func commitsWaitForDurabilityWhateverTheDatabaseSays() async throws {
        let db = try await TestDatabase.make()
        let admin = try await Connection.connect(try await TestDatabase.adminURL())
        defer { admin.close() }
        for (configured, used) in [
            ("off", "on"), ("local", "on"), ("on", "on"), ("remote_write", "on"),
            ("remote_apply", "remote_apply"),
        ] {
            try await admin.execute("ALTER DATABASE \(db.name) SET synchronous_commit = '\(configured)'")
            let connection = try await db.connect()
            defer { connection.close() }
            let shown = try await connection.query("SHOW synchronous_commit").first?.decode(0, as: String.self)
            #expect(shown == used, "\(configured)")
        }
    }
}
