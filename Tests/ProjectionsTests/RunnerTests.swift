import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Synchronization
import Testing

@testable import Projections

/// A projector that records every event it is given in a table whose primary key is the event
/// id: applying an event twice fails, and a skipped event is missing.
struct LedgerProjector: Projector {
    let name = "ledger"
    let tables: [String] = []

    static func createTable(_ pool: ConnectionPool) async throws {
        try await pool.query("CREATE TABLE handoff.test_ledger (event_id uuid PRIMARY KEY, position bigint NOT NULL)")
    }

    func apply(_ events: [RecordedEvent], through cursor: Cursor, on connection: Connection, tables: ProjectionTables)
        async throws
    {
        let ids = PostgresArray.text(events.map { $0.id.uuidString.lowercased() })
        let positions = PostgresArray.text(events.map { String($0.position) })
        try await connection.query(
            "INSERT INTO handoff.test_ledger SELECT * FROM unnest(\(ids)::uuid[], \(positions)::bigint[])")
    }
}

@Suite("Projection runner")
struct RunnerTests {
    @Test("a projector failing between apply and commit resumes with no duplicate and no gap")
    func crashBetweenBatches() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        let total = try await Seed.world(store, seed: 11, minimumEvents: 1200, now: generatorNow)
        try await LedgerProjector.createTable(pool)
        let projectors: [any Projector] = [LedgerProjector(), RegistryProjector(), CaseProjector()]

        // Crash on the 4th batch of every projector: three batches stay committed.
        let calls = Mutex<[String: Int]>([:])
        let crashing = ProjectionRunner(
            store: store, projectors: projectors, batchSize: 100,
            beforeCommit: { name, _, _ in
                let n = calls.withLock { c in
                    c[name, default: 0] += 1
                    return c[name]!
                }
                if n == 4 { throw ProjectionsError.injected("\(name) batch 4") }
            })
        await #expect(throws: ProjectionsError.injected("ledger batch 4")) { try await crashing.catchUp() }
        let ledgerAfterCrash = try await pool.query("SELECT count(*) FROM handoff.test_ledger").first!.decode(
            0, as: Int.self)
        let committed = try await crashing.checkpoint("ledger").eventsApplied
        #expect(ledgerAfterCrash == committed)
        #expect(committed > 0 && committed <= 300)

        // A fresh runner (the restarted process) picks up at the checkpoint.
        let runner = ProjectionRunner(store: store, projectors: projectors, batchSize: 100)
        let applied = try await settle(runner)
        #expect(applied["ledger"] == total - Int(committed))
        let ledger = try await pool.query(
            "SELECT count(*), count(DISTINCT event_id), min(position), max(position) FROM handoff.test_ledger")
        let all = try await pool.query("SELECT count(*), min(position), max(position) FROM handoff.events")
        #expect(try ledger.first!.decode(0, as: Int.self) == total)
        #expect(try ledger.first!.decode(1, as: Int.self) == total)
        #expect(try all.first!.decode(0, as: Int.self) == total)
        let missing = try await pool.query(
            "SELECT count(*) FROM handoff.events e WHERE NOT EXISTS (SELECT 1 FROM handoff.test_ledger l WHERE l.event_id = e.id)"
        )
        #expect(try missing.first!.decode(0, as: Int.self) == 0)
        for name in ["ledger", "registry", "cases"] {
            #expect(try await runner.checkpoint(name).eventsApplied == Int64(total))
        }
        #expect(try await runner.catchUp() == ["ledger": 0, "registry": 0, "cases": 0])
        let lag = try await runner.lag()
        #expect(lag.allSatisfy { $0.eventsBehind == 0 && $0.secondsBehind == 0 })

        // The case read models after the crash equal a build that never crashed.
        let resumed = try await Snapshot.take(pool)
        let clean = ProjectionRunner(store: store, projectors: [RegistryProjector(), CaseProjector()], batchSize: 1000)
        try await clean.rebuild("all")
        try await settle(clean)
        #expect(try await Snapshot.take(pool) == resumed)
        #expect(resumed["case_summary"]!.count > 40)
    }

    @Test("lag counts the events after the checkpoint")
    func lag() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        let runner = ProjectionRunner(store: store, batchSize: 3)
        try await waitUntilAllReadable(store)
        let before = try await runner.lag()
        #expect(before.map(\.eventsBehind) == [10, 10])
        #expect(before.allSatisfy { $0.secondsBehind >= 0 })
        _ = try await runner.step(RegistryProjector())
        #expect(try await runner.lag().map(\.eventsBehind) == [7, 10])
        try await settle(runner)
        #expect(try await runner.lag().map(\.eventsBehind) == [0, 0])
    }

    @Test("the in-process runner follows appends and stops when cancelled")
    func runsInProcess() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let readModels = ReadModels(pool: db.pool())
        let wakeups = Wakeups()
        await wakeups.startListening(url: db.url)
        let runner = ProjectionRunner(store: store)
        let task = Task { await runner.run(wakeups: wakeups, pollInterval: .milliseconds(250)) }
        try await Seed.institutions(store)
        let deadline = ContinuousClock.now + .seconds(30)
        while try await readModels.institutions().count < 9, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await readModels.institutions().count == 9)
        task.cancel()
        await task.value
        await wakeups.stop()
    }

    @Test("an unknown projector name is an error")
    func unknownName() async throws {
        let db = try await TestDatabase.make()
        let runner = ProjectionRunner(store: db.store())
        await #expect(throws: ProjectionsError.unknownProjector("nope")) { try await runner.rebuild("nope") }
        #expect(throws: ProjectionsError.unknownProjector("nope")) { try Projectors.named("nope") }
        #expect(try Projectors.named("all").map(\.name) == ["registry", "cases"])
    }

    @Test("a second rebuild of the same projector is refused while one runs")
    func oneRebuildAtATime() async throws {
        let db = try await TestDatabase.make()
        let holder = try await db.connect()
        defer { holder.close() }
        try await holder.query("SELECT pg_advisory_lock(hashtext('handoff.rebuild.cases'))")
        let runner = ProjectionRunner(store: db.store())
        await #expect(throws: ProjectionsError.rebuildRunning("cases")) { try await runner.rebuild("cases") }
        try await runner.rebuild("registry")
        try await holder.query("SELECT pg_advisory_unlock(hashtext('handoff.rebuild.cases'))")
        try await runner.rebuild("cases")
    }

    @Test("progress lines, bars and lag metrics render for the CLI and /metrics")
    func rendering() {
        let p = RebuildProgress(
            projector: "cases", phase: .replaying, eventsDone: 4000, eventsTotal: 10_000, rate: 2000,
            secondsRemaining: 3)
        #expect(p.line == "cases: replaying 4000/10000 events (40%), 2000 events/s, about 3 s left")
        #expect(p.bar(width: 10) == "[####......] 40%")
        let metrics = ProjectorLag.prometheus([
            ProjectorLag(name: "cases", eventsBehind: 12, secondsBehind: 1.5, cursor: .start)
        ])
        #expect(metrics.contains("handoff_projector_events_behind{projector=\"cases\"} 12\n"))
        #expect(metrics.contains("handoff_projector_seconds_behind{projector=\"cases\"} 1.5\n"))
    }
}
