import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Referrals
import Synchronization
import Testing

@testable import Projections

@Suite("Deadline watcher")
struct WatcherTests {
    @Test("two watchers at once write exactly one notice per missed deadline")
    func twoWatchers() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        _ = try await Seed.world(store, seed: 77, minimumEvents: 2000, now: generatorNow)
        let runner = ProjectionRunner(store: store)
        try await settle(runner)
        let now = Date()
        let overdue = try await ReadModels(pool: pool).deadlines(status: "overdue", now: now)
        #expect(overdue.count > 20)

        let first = DeadlineWatcher(store: EventStore(pool: db.pool(size: 2)))
        let second = DeadlineWatcher(store: EventStore(pool: db.pool(size: 2)))
        async let r1 = first.runOnce(now: now)
        async let r2 = second.runOnce(now: now)
        let (a, b) = try await (r1, r2)
        #expect(a.missed == overdue.count && b.missed == overdue.count)
        #expect(a.appended + b.appended == overdue.count)
        #expect(a.alreadyNotified + b.alreadyNotified == overdue.count)

        let counts = try await pool.query(
            """
            SELECT count(*), count(DISTINCT id), count(DISTINCT (stream, data->>'ruleId', data->>'triggerEventId'))
              FROM handoff.events WHERE type = 'SopDeadlineMissed'
            """)
        #expect(try counts.first!.decode(0, as: Int.self) == overdue.count)
        #expect(try counts.first!.decode(1, as: Int.self) == overdue.count)
        #expect(try counts.first!.decode(2, as: Int.self) == overdue.count)
        let wrongContent = try await pool.query(
            """
            SELECT count(*) FROM handoff.events
             WHERE type = 'SopDeadlineMissed'
               AND (metadata->'actor' <> '{"institution": "system", "user": "deadline-watcher"}'::jsonb
                    OR occurred_at <> (data->>'dueAt')::timestamptz + (occurred_at - date_trunc('milliseconds', occurred_at)))
            """)
        #expect(try wrongContent.first!.decode(0, as: Int.self) == 0)

        // A restart changes nothing; the projected notices mark every overdue deadline.
        let again = try await DeadlineWatcher(store: store).runOnce(now: now)
        #expect(again.appended == 0)
        try await settle(runner)
        let marked = try await ReadModels(pool: pool).deadlines(status: "overdue", now: now)
        #expect(marked.allSatisfy { $0.missedNoticeEventId != nil })
    }

    @Test("notice ids are UUIDv8 from SHA-256 of the deadline key")
    func noticeIds() {
        let id = DeadlineWatcher.noticeId(forKey: "KS-2026-000001/risk-assessed/00000000-0000-4000-8000-000000000001")
        let again = DeadlineWatcher.noticeId(
            forKey: "KS-2026-000001/risk-assessed/00000000-0000-4000-8000-000000000001")
        let other = DeadlineWatcher.noticeId(forKey: "KS-2026-000001/case-review/00000000-0000-4000-8000-000000000001")
        #expect(id == again)
        #expect(id != other)
        let text = id.uuidString.lowercased()
        #expect(Array(text)[14] == "8")
        #expect("89ab".contains(Array(text)[19]))
        let digest = SHA256.hash(utf8: "KS-2026-000001/risk-assessed/00000000-0000-4000-8000-000000000001")
        #expect(
            text.replacingOccurrences(of: "-", with: "").prefix(12)
                == digest.prefix(6).map { String(format: "%02x", $0) }.joined())
    }

    @Test("the watcher loop appends notices and stops when cancelled")
    func loop() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        try await HandWritten().seed(store)
        try await settle(ProjectionRunner(store: store))
        let passes = Mutex<[DeadlineWatcher.Report]>([])
        let task = Task {
            await DeadlineWatcher(store: store).run(
                interval: .milliseconds(200), minimumGap: .milliseconds(50),
                onPass: { r in passes.withLock { $0.append(r) } })
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while passes.withLock({ $0.count }) < 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        task.cancel()
        await task.value
        let all = passes.withLock { $0 }
        #expect(all.first?.appended ?? 0 > 0)
        #expect(all.dropFirst().allSatisfy { $0.appended == 0 })
    }
}
