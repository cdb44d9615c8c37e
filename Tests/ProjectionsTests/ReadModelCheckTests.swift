import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Synchronization
import Testing

@testable import Projections

/// `handoff verify --read-models`: the figures are read from the read models, which no chain
/// covers; an auditor's pass edited them as the database owner (the prosecution's late and missed
/// deadlines made met, response times cut, closure reasons changed) and every verifier passed.
@Suite("Read-model check")
struct ReadModelCheckTests {
    @Test func editedFiguresAreFoundAndNamed() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        _ = try await Seed.world(store, seed: 77, minimumEvents: 2_000, now: generatorNow)
        let runner = ProjectionRunner(store: store, batchSize: 300)
        try await settle(runner)
        _ = try await DeadlineWatcher(store: store).runOnce(now: Date())
        try await settle(runner)

        // As an auditor runs it: a login of the auditor role, which reads but writes nothing.
        let admin = try await db.connect()
        try await admin.execute(
            """
            DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'read_model_auditor') THEN
                CREATE ROLE read_model_auditor LOGIN IN ROLE handoff_auditor;
              END IF;
            END $$
            """)
        admin.close()
        // The test cluster's URL names its user as a parameter (`user=postgres`).
        var auditorURL = try #require(URLComponents(string: db.url))
        auditorURL.queryItems =
            (auditorURL.queryItems ?? []).filter { $0.name != "user" }
            + [URLQueryItem(name: "user", value: "read_model_auditor")]
        let auditorPool = ConnectionPool(url: auditorURL.string!)
        #expect(try await auditorPool.query("SELECT current_user::text").first?.decode(0) == "read_model_auditor")
        let auditor = ProjectionRunner(store: EventStore(pool: auditorPool))
        let intact = try await auditor.checkReadModels()
        #expect(intact.matches, "\(intact.tables.filter { !$0.matches })")
        #expect(Set(intact.tables.map(\.name)) == Set(Snapshot.tables))
        #expect(intact.tables.allSatisfy { $0.rows > 0 }, "\(intact.tables)")

        let c = try await db.connect()
        defer { c.close() }
        func first(_ sql: String) async throws -> String {
            try await c.query(SQL(text: sql, parameters: [])).first!.decode(0)
        }
        // A miss made met.
        let missed = try await first(
            "SELECT case_id FROM handoff.deadlines WHERE settled IN ('overdue', 'met-late') ORDER BY case_id COLLATE \"C\" LIMIT 1"
        )
        try await c.execute(
            "UPDATE handoff.deadlines SET settled = 'met', satisfied_at = due_at - interval '1 hour' WHERE case_id = '\(missed)' AND settled IN ('overdue', 'met-late')"
        )
        // A closure's reason changed, a response time cut, an institution's kind changed.
        try await c.execute("UPDATE handoff.case_closures SET reason = 'reintegrated' WHERE reason <> 'reintegrated'")
        try await c.execute(
            "UPDATE handoff.referrals SET responded_counted_at = issued_counted_at + interval '5 minutes' WHERE responded_counted_at IS NOT NULL"
        )
        try await c.execute("UPDATE handoff.institutions SET kinds = ARRAY['ngo'] WHERE institution_id = 'ksp'")
        // A row removed.
        try await c.execute(
            "DELETE FROM handoff.case_parties WHERE ctid = (SELECT min(ctid) FROM handoff.case_parties)")
        // ... and one added for a case the log has never heard of.
        try await c.execute("INSERT INTO handoff.case_parties VALUES ('KS-NOWHERE-1', 'kp-dthb', 0)")

        let edited = try await runner.checkReadModels()
        let wrong = Dictionary(uniqueKeysWithValues: edited.tables.filter { !$0.matches }.map { ($0.name, $0) })
        #expect(Set(wrong.keys) == ["deadlines", "case_closures", "referrals", "institutions", "case_parties"])
        #expect(wrong["deadlines"]?.firstKey == missed)
        #expect(wrong["deadlines"].map { $0.extra == $0.missing && $0.extra > 0 } == true)
        #expect(wrong["institutions"]?.firstKey == "ksp")
        #expect(wrong["case_parties"].map { $0.extra == 1 && $0.missing == 1 } == true)
        // Nothing was written: the check's tables were the session's own.
        #expect(try await runner.checkReadModels().tables.filter { !$0.matches }.count == 5)
    }

    /// Beside a live projector and appends: each part is compared in a snapshot of its own, through
    /// the projector's checkpoint in that snapshot, so what the projector writes meanwhile is no
    /// difference.
    @Test func aCheckBesideALiveProjectorFindsNothing() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        _ = try await Seed.world(store, seed: 78, minimumEvents: 1_500, now: generatorNow)
        let runner = ProjectionRunner(store: store, batchSize: 50)
        try await settle(runner)
        let ids = try await db.pool().query(
            "SELECT case_id FROM handoff.case_summary WHERE status = 'open' ORDER BY case_id LIMIT 20"
        ).all.map { try $0.decode(0, as: String.self) }
        #expect(!ids.isEmpty)
        let stop = Mutex(false)
        let busy = Task {
            var n = 0
            while !stop.withLock({ $0 }) {
                let caseId = ids[n % ids.count]
                _ = try await store.append(
                    to: .case(caseId)!,
                    events: [
                        NewEvent(
                            type: "CaseReviewed", data: "{}",
                            metadata: EventMetadata(actor: EventActor(institution: "kp-dthb", user: "kp-dthb-1")))
                    ])
                _ = try await runner.catchUp()
                n += 1
                // Paced: a loop flat out starved the suite's timed service tests on two cores.
                try await Task.sleep(for: .milliseconds(25))
            }
            return n
        }
        let check = try await ProjectionRunner(store: store).checkReadModels()
        stop.withLock { $0 = true }
        let appended = try await busy.value
        #expect(appended > 0)
        #expect(check.matches, "\(check.tables.filter { !$0.matches })")
    }
}
