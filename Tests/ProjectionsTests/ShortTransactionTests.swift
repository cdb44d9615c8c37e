import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Referrals
import Synchronization
import Testing

@testable import Projections

/// The live runner's transaction model: reads and computation outside any transaction, writes in
/// one short transaction per batch (or per part of a registry-wide recompute) that commits only if
/// the checkpoint did not move.
@Suite("Short projector transactions")
struct ShortTransactionTests {
    /// `count` cases of one `CaseOpened` each, the generator's cases `from` onwards.
    static func openings(_ count: Int, seed: UInt64 = 7, from: Int = 0) -> [SyntheticCase] {
        let generator = SyntheticGenerator(seed: seed, now: generatorNow)
        return (from..<(from + count)).map { i in
            var c = generator.makeCase(index: i)
            c.events = Array(c.events.prefix(1))
            return c
        }
    }

    /// The default ruleset again as version `version` (same `effectiveFrom`, so it judges every case).
    /// What the seeded default ruleset's version reads as in these tests: version `n` here is the
    /// seeded default's `n − 1` versions later, so the seeded one is 1 whatever its number is.
    static let versionOffset = Ruleset.kosovoDefault.version - 1

    static func publishRuleset(_ store: EventStore, version: Int) async throws {
        var object = Ruleset.kosovoDefaultForBackfill(recordedBefore: Ruleset.backfillForever).objectValue!
        object["version"] = .int(version + versionOffset)
        let document = JSONValue.object(object).serializedString()
        try await store.append(
            to: .sopRulesets,
            events: [NewEvent(type: "SopRulesetPublished", data: document, metadata: Seed.coordinator)])
    }

    /// Appends a one-event case and waits until the gap-free global read delivers it.
    /// - Returns: whether it was delivered within `timeout`.
    static func feedDelivers(_ store: EventStore, probe: String, timeout: Duration = .seconds(30)) async throws
        -> Bool
    {
        let c = SyntheticGenerator(seed: 99, now: generatorNow).makeCase(index: 0)
        let opened = Seed.newEvent(c.events[0])
        let event = NewEvent(
            id: UUID(), type: opened.type, data: opened.data, metadata: opened.metadata, occurredAt: opened.occurredAt)
        try await store.append(to: StreamName.case(probe)!, expected: .noStream, events: [event])
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let page = try await store.readGlobal(after: .start, limit: 10, streams: ["case-" + probe])
            if page.events.contains(where: { $0.id == event.id }) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Waits until some session of this database waits for a lock on `table`.
    static func waitForLockWaiter(on table: String, _ pool: ConnectionPool) async throws {
        try await eventually("a session to wait for a lock on \(table)") {
            try await pool.query(
                """
                SELECT count(*) FROM pg_locks
                 WHERE NOT granted AND locktype = 'relation' AND relation = \(table)::regclass
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """
            ).first!.decode(0, as: Int.self) > 0
        }
    }

    /// Each case's ruleset versions in its deadline rows.
    static func versionsByCase(_ pool: ConnectionPool) async throws -> [String: Set<Int>] {
        var out: [String: Set<Int>] = [:]
        for row in try await pool.query("SELECT DISTINCT case_id, ruleset_version FROM handoff.deadlines").all {
            out[try row.decode(0), default: []].insert(try row.decode(1, as: Int.self) - versionOffset)
        }
        return out
    }

    @Test("resume keys compare in UTF-8 byte order, whatever the database's collation would say")
    func resumeKeyOrder() {
        let ids = ["KS-2026-000010", "ks-2026-000002", "KS-2026-000002", "Ä-1", "Z", "a", "é", "e", "KS-2026-0000100"]
        let sorted = ids.sorted(by: CaseFolder.inByteOrder)
        let expected = [
            "KS-2026-000002", "KS-2026-000010", "KS-2026-0000100", "Z", "a", "e", "ks-2026-000002", "Ä-1", "é",
        ]
        #expect(sorted == expected)
        for (i, id) in sorted.enumerated() {
            #expect(CaseFolder.firstIndex(in: sorted, after: id) == i + 1, "\(id)")
        }
        // A key that is not among the ids (its case was deleted by the part that stored it).
        #expect(CaseFolder.firstIndex(in: sorted, after: "KS-2026-000005") == 1)
        #expect(CaseFolder.firstIndex(in: sorted, after: "") == 0)
        #expect(CaseFolder.firstIndex(in: sorted, after: "\u{10FFFF}") == sorted.count)
        #expect(CaseFolder.firstIndex(in: [], after: "x") == 0)
    }

    @Test("a feed keeps delivering while the projector recomputes 3,000 cases after a ruleset is published")
    func feedDuringRecompute() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        let cases = Self.openings(3000)
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        try await Seed.cases(store, cases)
        let runner = ProjectionRunner(
            store: store, projectors: [RegistryProjector(), CaseProjector(replayMemory: 150_000, recomputeChunk: 50)],
            batchSize: 500)
        try await settle(runner)
        #expect(try await Self.versionsByCase(pool).count == 3000)
        try await Self.publishRuleset(store, version: 2)
        try await waitUntilAllReadable(store)

        // A gate that stops the projector at its first write to case_summary. LOCK … IN SHARE MODE
        // gives the gate's transaction no transaction id, so the gate itself holds back no reader.
        let gate = try await db.connect()
        defer { gate.close() }
        try await gate.execute("BEGIN")
        try await gate.execute("LOCK TABLE handoff.case_summary IN SHARE MODE")
        #expect(try await gate.query("SELECT pg_current_xact_id_if_assigned() IS NULL").first!.decode(0, as: Bool.self))
        let projecting = Task { try await runner.catchUp() }
        try await Self.waitForLockWaiter(on: "handoff.case_summary", pool)
        // The projector is at work on the recompute, stopped at a write: the feed goes on.
        #expect(try await Self.feedDelivers(store, probe: "FEED-PROBE-1"), "the feed stalled behind the projector")

        // Hold the projector between two parts with its own lock (a session advisory lock, no
        // transaction id either): it is taken once the first part commits.
        let holder = try await db.connect()
        defer { holder.close() }
        let lock: SQL = "SELECT pg_advisory_lock(\(ProjectionRunner.lockClass), hashtext('cases'))"
        let unlock: SQL = "SELECT pg_advisory_unlock(\(ProjectionRunner.lockClass), hashtext('cases'))"
        let holding = Task { try await holder.query(lock) }
        try await gate.execute("COMMIT")
        _ = try await holding.value
        // Let parts through one at a time until a third of the cases are done.
        while true {
            let versions = try await Self.versionsByCase(pool)
            if versions.values.filter({ $0 == [2] }).count >= 1000 { break }
            let before = try await runner.checkpoint("cases").revision
            try await holder.query(unlock)
            try await eventually("a part to commit") { try await runner.checkpoint("cases").revision > before }
            try await holder.query(lock)
        }

        // Half-way through: the feed delivers, and every case is wholly old or wholly new.
        #expect(try await Self.feedDelivers(store, probe: "FEED-PROBE-2"), "the feed stalled behind the projector")
        let checkpoint = try await runner.checkpoint("cases")
        let partial = try #require(checkpoint.partial)
        #expect(checkpoint.cursor < partial.end)
        let versions = try await Self.versionsByCase(pool)
        #expect(versions.count == 3000)
        #expect(versions.values.allSatisfy { $0 == [1] || $0 == [2] }, "a case has deadlines of both versions")
        for (caseId, v) in versions {
            let done = !CaseFolder.inByteOrder(partial.after, caseId)
            #expect(v == (done ? [2] : [1]), "\(caseId) is not as its part says")
        }
        #expect(versions.values.filter { $0 == [2] }.count < 3000)

        try await holder.query(unlock)
        _ = try await projecting.value
        try await settle(runner)
        let after = try await Self.versionsByCase(pool)
        #expect(after.count == 3002)
        #expect(after.values.allSatisfy { $0 == [2] })
        #expect(try await runner.checkpoint("cases").partial == nil)

        // The same rows as a rebuild.
        let built = try await Snapshot.take(pool)
        try await ProjectionRunner(store: store).rebuild("all")
        #expect(try await Snapshot.take(pool) == built)
    }

    /// Registers `isf` again with other kinds (role responsibilities may move).
    static func reregisterShelter(_ store: EventStore, kinds: [InstitutionKind]) async throws {
        let isf = SystemEventBody.institutionRegistered(
            Institution(id: "isf", name: "Interim Security Facility", kinds: kinds))
        try await store.append(
            to: .institutions,
            events: [
                NewEvent(type: "InstitutionRegistered", data: isf.data.serializedString(), metadata: Seed.coordinator)
            ])
    }

    @Test("runners of the same projectors at once apply every event once, registry changes in parts included")
    func concurrentRunners() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        try await LedgerProjector.createTable(pool)
        let cases = Seed.generated(seed: 77, minimumEvents: 2400, now: generatorNow)
        let third = cases.count / 3
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        try await Seed.cases(store, Array(cases[..<third]))
        try await Self.publishRuleset(store, version: 2)
        try await Seed.cases(store, Array(cases[third..<(2 * third)]))
        try await Self.reregisterShelter(store, kinds: [.shelter, .ngo])
        try await Seed.cases(store, Array(cases[(2 * third)...]))
        try await waitUntilAllReadable(store)
        let total = try await store.count()

        // Three runners with different batch sizes, small parts and little memory, all at once.
        let runners = [50, 120, 333].map { size in
            ProjectionRunner(
                store: store,
                projectors: [
                    LedgerProjector(), RegistryProjector(),
                    CaseProjector(replayMemory: 150_000, liveMemory: 300, recomputeChunk: 7),
                ],
                batchSize: size)
        }
        let progressed = try await withThrowingTaskGroup(of: Int.self) { group in
            for runner in runners {
                group.addTask {
                    var parts = 0
                    for projector in runner.projectors {
                        while true {
                            let step = try await runner.step(projector)
                            if step == .progressed { parts += 1 }
                            if step == .caughtUp { break }
                        }
                    }
                    return parts
                }
            }
            return try await group.reduce(0, +)
        }
        try await settle(runners[0])
        let ledger = try await pool.query("SELECT count(*), count(DISTINCT event_id) FROM handoff.test_ledger")
        #expect(try ledger.first!.decode(0, as: Int64.self) == total)
        #expect(try ledger.first!.decode(1, as: Int64.self) == total)
        for name in ["ledger", "registry", "cases"] {
            let checkpoint = try await runners[1].checkpoint(name)
            #expect(checkpoint.eventsApplied == total, "\(name)")
            #expect(checkpoint.partial == nil)
        }
        #expect(progressed > 0)

        let built = try await Snapshot.take(pool)
        #expect(built["case_summary"]!.count == cases.count)
        try await ProjectionRunner(store: store, projectors: [RegistryProjector(), CaseProjector()]).rebuild("all")
        #expect(try await Snapshot.take(pool) == built)
    }

    @Test("a crash in the middle of a recompute resumes after the last part committed")
    func crashMidRecompute() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        try await Seed.cases(store, Self.openings(400, seed: 3))
        let projectors: [any Projector] = [
            RegistryProjector(), CaseProjector(replayMemory: 150_000, recomputeChunk: 25),
        ]
        try await settle(ProjectionRunner(store: store, projectors: projectors))
        try await Self.publishRuleset(store, version: 2)
        try await waitUntilAllReadable(store)

        // The fifth transaction of `cases` fails: four parts of 25 cases are committed.
        let calls = Mutex(0)
        let crashing = ProjectionRunner(
            store: store, projectors: projectors,
            beforeCommit: { name, _, _ in
                guard name == "cases" else { return }
                if calls.withLock({ n in
                    n += 1
                    return n
                }) == 5 {
                    throw ProjectionsError.injected("part 5")
                }
            })
        await #expect(throws: ProjectionsError.injected("part 5")) { try await crashing.catchUp() }
        let checkpoint = try await crashing.checkpoint("cases")
        let partial = try #require(checkpoint.partial)
        var versions = try await Self.versionsByCase(pool)
        let done = versions.filter { $0.value == [2] }.map(\.key)
        #expect(done.count == 100)
        #expect(done.allSatisfy { !CaseFolder.inByteOrder(partial.after, $0) })
        #expect(versions.filter { $0.value == [1] }.count == 300)

        // A fresh runner (the restarted process) commits only the twelve parts left.
        let parts = Mutex(0)
        let resumed = ProjectionRunner(
            store: store, projectors: projectors,
            beforeCommit: { name, _, _ in if name == "cases" { parts.withLock { $0 += 1 } } })
        try await settle(resumed)
        #expect(parts.withLock { $0 } == 12)
        versions = try await Self.versionsByCase(pool)
        #expect(versions.count == 400 && versions.values.allSatisfy { $0 == [2] })
        let after = try await resumed.checkpoint("cases")
        #expect(after.partial == nil && after.cursor == partial.end)
        #expect(after.eventsApplied == checkpoint.eventsApplied + 1)

        let built = try await Snapshot.take(pool)
        try await ProjectionRunner(store: store).rebuild("all")
        #expect(try await Snapshot.take(pool) == built)
    }

    @Test("a rebuild's swap ends a recompute under way, and the live runner goes on from the swapped-in tables")
    func rebuildDuringRecompute() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        try await Seed.cases(store, Self.openings(200, seed: 4))
        let projectors: [any Projector] = [
            RegistryProjector(), CaseProjector(replayMemory: 150_000, recomputeChunk: 30),
        ]
        let live = ProjectionRunner(store: store, projectors: projectors)
        try await settle(live)
        try await Self.publishRuleset(store, version: 2)
        try await waitUntilAllReadable(store)
        // Two parts of the recompute, then stop.
        for projector in projectors {
            while try await live.step(projector) != .caughtUp {
                if projector.name == "cases", try await live.checkpoint("cases").partial?.after != nil,
                    try await Self.versionsByCase(pool).values.filter({ $0 == [2] }).count >= 60
                {
                    break
                }
            }
        }
        let before = try await live.checkpoint("cases")
        #expect(before.partial != nil)

        try await ProjectionRunner(store: store).rebuild("cases")
        let swapped = try await live.checkpoint("cases")
        #expect(swapped.partial == nil && swapped.revision > before.revision)
        #expect(try await Self.versionsByCase(pool).values.allSatisfy { $0 == [2] })
        try await Seed.cases(store, Self.openings(20, seed: 4, from: 200))
        try await waitUntilAllReadable(store)
        try await settle(live)
        let built = try await Snapshot.take(pool)
        #expect(built["case_summary"]!.count == 220)
        try await ProjectionRunner(store: store).rebuild("all")
        #expect(try await Snapshot.take(pool) == built)
    }

    @Test("the live projector keeps case streams and the registry across batches and reads only what it lacks")
    func cachesAcrossBatches() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let cases = Seed.generated(seed: 12, minimumEvents: 600, now: generatorNow)
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        try await Seed.cases(store, cases)
        try await waitUntilAllReadable(store)

        // Through the runner: one folder for all its steps; the registry read once (the first
        // batches hold the registry's events), every stream read at most once.
        let runner = ProjectionRunner(
            store: store,
            projectors: [RegistryProjector(), CaseProjector(replayMemory: 150_000, recomputeChunk: 1000)],
            batchSize: 7)
        try await settle(runner)
        let folder = try #require(runner.liveProjection("cases") as? CaseFolder)
        #expect(await folder.registryReads == 2)  // 9 institutions in batch 1, the ruleset in batch 2
        #expect(await folder.streamsRead == cases.count)

        // A batch with no registry event reads no registry; a new ruleset is read once.
        let c = Self.openings(1, seed: 5, from: 50_000)
        try await Seed.cases(store, c)
        try await settle(runner)
        #expect(await folder.registryReads == 2)
        try await Self.publishRuleset(store, version: 2)
        try await settle(runner)
        #expect(await folder.registryReads == 3)
        #expect(await folder.streamsRead == cases.count + 1)

        // A batch that does not start where the folder left off (another runner moved the
        // checkpoint): everything is forgotten and read again.
        let reader = try await db.connect()
        defer { reader.close() }
        let events = try await store.readGlobal(after: .start, limit: 3).events
        _ = try await folder.prepare(
            LiveBatch(events: events, start: .start, end: events.last!.cursor, resumingAfter: nil), reading: reader)
        #expect(await folder.registryReads == 4)
    }
}
