import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Synchronization
import Testing

@testable import Projections

@Suite("Rebuild")
struct RebuildTests {
    @Test("a rebuild yields exactly the rows of the incremental build over 10,000+ generated events")
    func rebuildEqualsIncremental() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        let total = try await Seed.world(store, seed: 2026, minimumEvents: 10_000, now: generatorNow)
        #expect(total >= 10_000)

        // Incremental, in small batches; then the watcher's notices, projected too.
        let incremental = ProjectionRunner(store: store, batchSize: 250)
        try await settle(incremental)
        let report = try await DeadlineWatcher(store: store).runOnce(now: Date())
        #expect(report.appended > 0)
        try await settle(incremental)
        let built = try await Snapshot.take(pool)
        for table in Snapshot.tables { #expect(!built[table]!.isEmpty, "\(table) is empty") }

        let indexesBefore = try await Self.readModelIndexes(pool)

        // Rebuild everything with another batch size.
        let seen = Mutex<[RebuildProgress]>([])
        let rebuilder = ProjectionRunner(store: store, batchSize: 1000, rebuildBatchSize: 1000)
        try await rebuilder.rebuild("all") { p in seen.withLock { $0.append(p) } }
        let progress = seen.withLock { $0 }
        for name in ["registry", "cases"] {
            let mine = progress.filter { $0.projector == name }
            #expect(mine.first?.phase == .replaying)
            #expect(mine.last?.phase == .done)
            #expect(mine.map(\.eventsDone) == mine.map(\.eventsDone).sorted())
            #expect(try await rebuilder.checkpoint(name).eventsApplied == mine.last?.eventsDone)
        }
        // The rebuild ends at the gap-free head of its moment; the runner goes on from its checkpoint.
        try await settle(incremental)
        let rebuilt = try await Snapshot.take(pool)
        for table in Snapshot.tables {
            #expect(rebuilt[table] == built[table], "\(table) differs after the rebuild")
        }

        let allEvents = total + report.appended
        for name in ["registry", "cases"] {
            #expect(try await rebuilder.checkpoint(name).eventsApplied == Int64(allEvents))
        }
        let shadows = try await pool.query(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'handoff' AND tablename LIKE '%shadow%'")
        #expect(try shadows.first!.decode(0, as: Int.self) == 0)
        // The rebuilt tables have the indexes and constraints the migrations gave them, under the same names.
        let indexesAfter = try await Self.readModelIndexes(pool)
        #expect(indexesAfter == indexesBefore)
        #expect(indexesAfter.contains { $0.hasPrefix("deadlines_open_page ") && $0.contains("WHERE") })
        #expect(indexesAfter.contains { $0.hasPrefix("case_summary_pkey ") && $0.contains("UNIQUE") })
        // Grants survive the swap.
        let grants = try await pool.query(
            """
            SELECT count(*) FROM information_schema.role_table_grants
             WHERE table_schema = 'handoff' AND table_name = 'case_summary' AND grantee = 'handoff_auditor'
               AND privilege_type = 'SELECT'
            """)
        #expect(try grants.first!.decode(0, as: Int.self) == 1)
    }

    @Test("registry changes mid-log, applied live in parts of a few cases, yield exactly the rows of a rebuild")
    func registryChangesInPartsEqualRebuild() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        let cases = Seed.generated(seed: 41, minimumEvents: 3000, now: generatorNow)
        let half = cases.count / 2
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        try await Seed.cases(store, Array(cases[..<half]))
        try await waitUntilAllReadable(store)
        let cases9 = CaseProjector(replayMemory: 150_000, liveMemory: 400, recomputeChunk: 9)
        let small = ProjectionRunner(store: store, projectors: [RegistryProjector(), cases9], batchSize: 97)
        try await settle(small)
        // The watcher's notices and a new ruleset version land in one batch: the notices go with
        // its first part, every case is recomputed nine at a time.
        #expect(try await DeadlineWatcher(store: store).runOnce(now: Date()).appended > 0)
        try await ShortTransactionTests.publishRuleset(store, version: 2)
        try await waitUntilAllReadable(store)
        let parts = Mutex(0)
        let whole = ProjectionRunner(
            store: store, projectors: [RegistryProjector(), cases9], batchSize: 10_000,
            beforeCommit: { name, _, _ in if name == "cases" { parts.withLock { $0 += 1 } } })
        try await settle(whole)
        #expect(parts.withLock { $0 } >= half / 9)
        // More cases, an institution registered again, more cases, in small batches.
        try await Seed.cases(store, Array(cases[half..<(half + half / 2)]))
        try await ShortTransactionTests.reregisterShelter(store, kinds: [.shelter, .ngo])
        try await Seed.cases(store, Array(cases[(half + half / 2)...]))
        try await waitUntilAllReadable(store)
        try await settle(small)
        #expect(try await DeadlineWatcher(store: store).runOnce(now: Date()).appended > 0)
        try await settle(small)
        let built = try await Snapshot.take(pool)
        #expect(built["case_summary"]!.count == cases.count)
        #expect(built["deadline_notices"]!.count > 0)

        try await ProjectionRunner(store: store, rebuildBatchSize: 500).rebuild("all")
        #expect(try await Snapshot.take(pool) == built)
        let checkpoint = try await small.checkpoint("cases")
        let count = try await store.count()
        #expect(checkpoint.partial == nil && checkpoint.eventsApplied == count)
    }

    @Test("shadow helpers refuse tables that are not read models and index names that do not start with their table's")
    func shadowHelpersRefuse() async throws {
        let db = try await TestDatabase.make()
        let pool = db.pool()
        for sql: SQL in [
            "SELECT handoff.create_shadow('events')", "SELECT handoff.index_shadow('access_log')",
            "SELECT handoff.shadow_name('deadlines', 'idx_deadlines_due')",
        ] {
            do {
                _ = try await pool.query(sql)
                Issue.record("\(sql.text) was not refused")
            } catch let error as PostgresError {
                #expect(error.sqlState == "HF020", "\(sql.text): \(error)")
            }
        }
        let name = try await pool.query("SELECT handoff.shadow_name('deadlines', 'deadlines_page')")
        #expect(try name.first?.decode(0, as: String.self) == "deadlines_shadow_page")
        let shadows = try await pool.query("SELECT count(*) FROM pg_tables WHERE tablename LIKE '%shadow%'")
        #expect(try shadows.first?.decode(0, as: Int.self) == 0)
    }

    /// Every index of the read-model tables, as "name definition", sorted.
    static func readModelIndexes(_ pool: ConnectionPool) async throws -> [String] {
        try await pool.query(
            """
            SELECT indexname || ' ' || indexdef FROM pg_indexes
             WHERE schemaname = 'handoff'
               AND tablename IN ('case_summary', 'case_parties', 'referrals', 'deadlines', 'deadline_notices',
                                 'institutions', 'sop_rulesets')
             ORDER BY indexname
            """
        ).all.map { try $0.decode(0, as: String.self) }
    }

    @Test("appends and the live runner during a rebuild: the swap catches up the gap, queries see whole states")
    func rebuildUnderWrites() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        let cases = Seed.generated(seed: 5, minimumEvents: 1500, now: generatorNow)
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        try await Seed.cases(store, Array(cases.prefix(cases.count / 2)))
        let live = ProjectionRunner(store: store, batchSize: 50)
        try await settle(live)

        let wakeups = Wakeups()
        await wakeups.startListening(url: db.url)
        let liveTask = Task { await live.run(wakeups: wakeups, pollInterval: .milliseconds(100)) }
        // Readers count cases all along: a half-swapped state would show as an error or a drop.
        let readModels = ReadModels(pool: pool)
        let readerTask = Task { () -> [Int] in
            var counts: [Int] = []
            while !Task.isCancelled {
                guard
                    let n = try? await pool.query("SELECT count(*) FROM handoff.case_summary").first?.decode(
                        0, as: Int.self)
                else {
                    if Task.isCancelled { break }  // the read in flight when the test stops it
                    counts.append(-1)
                    continue
                }
                counts.append(n)
                _ = try? await readModels.deadlines(status: "overdue", limit: 10)
                try? await Task.sleep(for: .milliseconds(5))
            }
            return counts
        }
        let writer = Task { try await Seed.cases(store, Array(cases.suffix(from: cases.count / 2))) }
        try await ProjectionRunner(store: store, batchSize: 100).rebuild("cases", batchSize: 100)
        try await writer.value
        // Let the live runner finish, then compare with a clean rebuild.
        let deadline = ContinuousClock.now + .seconds(20)
        while try await live.lag().contains(where: { $0.eventsBehind > 0 }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        liveTask.cancel()
        await liveTask.value
        readerTask.cancel()
        let counts = await readerTask.value
        await wakeups.stop()
        #expect(!counts.contains(-1))
        #expect(counts == counts.sorted(), "the number of cases never went down")
        let afterLive = try await Snapshot.take(pool)
        #expect(afterLive["case_summary"]!.count == cases.count)
        let clean = ProjectionRunner(store: store)
        try await clean.rebuild("all")
        try await settle(clean)
        #expect(try await Snapshot.take(pool) == afterLive)
    }
}
