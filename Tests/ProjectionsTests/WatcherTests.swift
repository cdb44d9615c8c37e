import Crypto
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
        // The synthetic world exercises the ruleset's cancellation and reopening rules too
        // (withdrawn referrals, reopened cases): their deadlines get notices exactly once as well.
        let lifecycle = try await pool.query(
            """
            SELECT count(*) FILTER (WHERE type = 'ReferralWithdrawn'), count(*) FILTER (WHERE type = 'CaseReopened')
              FROM handoff.events
            """)
        #expect(try lifecycle.first!.decode(0, as: Int.self) > 0 && lifecycle.first!.decode(1, as: Int.self) > 0)

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

    @Test("notice ids are UUIDv8 from HMAC-SHA-256 of case, ruleset series, rule and trigger under the key")
    func noticeIds() {
        let key = SystemEventKey(id: 1, secret: [UInt8](repeating: 0x42, count: 32))
        let trigger = "00000000-0000-4000-8000-000000000001"
        let identity = ["KS-2026-000001", "kosovo-default", "risk-assessed", trigger]
        let id = key.eventId(type: "SopDeadlineMissed", identity: identity)
        #expect(id == key.eventId(type: "SopDeadlineMissed", identity: identity))
        // Every part counts: another series, rule, case, trigger, type or key gives another id.
        var others: Set<UUID> = [id]
        for i in identity.indices {
            var changed = identity
            changed[i] = i == 3 ? "00000000-0000-4000-8000-000000000002" : changed[i] + "x"
            others.insert(key.eventId(type: "SopDeadlineMissed", identity: changed))
        }
        others.insert(key.eventId(type: "InstitutionRegistered", identity: identity))
        let rotated = SystemEventKey(id: 2, secret: [UInt8](repeating: 0x43, count: 32))
        others.insert(rotated.eventId(type: "SopDeadlineMissed", identity: identity))
        // Parts are delimited: moving a character from one part to the next is another identity.
        let shifted = ["KS-2026-00000", "1kosovo-default"] + identity[2...]
        others.insert(key.eventId(type: "SopDeadlineMissed", identity: shifted))
        #expect(others.count == 8)
        let text = id.uuidString.lowercased()
        #expect(Array(text)[14] == "8")
        #expect("89ab".contains(Array(text)[19]))
        // The bytes are HMAC-SHA-256 of the netstrings (docs/system-events.md), version and variant set.
        let parts = ["handoff-system-event-id-v1", "SopDeadlineMissed"] + identity
        let message = parts.map { "\($0.utf8.count):\($0)," }.joined()
        let mac = HMACSHA256.authenticationCode(for: Array(message.utf8), key: [UInt8](repeating: 0x42, count: 32))
        var expected = Array(mac.prefix(16))
        expected[6] = (expected[6] & 0x0F) | 0x80
        expected[8] = (expected[8] & 0x3F) | 0x80
        #expect(text.replacingOccurrences(of: "-", with: "") == expected.hexString)
        // The key never shows in a description or a dump.
        var dumped = ""
        dump(key, to: &dumped)
        for shown in [key.description, String(reflecting: key), "\(key)", dumped] {
            #expect(!shown.contains("42") && !shown.contains("66"), "\(shown)")
        }
    }

    /// The watcher reads a case, finds a deadline past due and writes its notice a moment later. An
    /// acknowledgement recorded in between — made before the due time, entered within the grace —
    /// was not in what it read: the notice must not overturn it (the order of recording decides).
    /// A notice recorded before the acknowledgement counts, as does one of a deadline left unmet.
    @Test("a notice written from a read that missed a timely acknowledgement does not overturn it")
    func aStaleNoticeDoesNotOverturnATimelyAcknowledgement() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        let t0 = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 3 * 86_400).rounded(.down))
        let adult = Profile(sex: .female, ageBand: .age18to24, child: false, nationality: "XK", exploitation: [])
        func event(_ institution: String, hours: Double, _ body: CaseEventBody) -> CaseEvent {
            CaseEvent(
                id: UUID(), occurredAt: t0.addingTimeInterval(hours * 3600),
                actor: Referrals.Actor(institution: institution, user: "user-1"), body: body)
        }
        let key = try await SystemEventKey.current(pool)
        let watcher = DeadlineWatcher(store: store)
        // Three cases, each with a referral whose acknowledgement was due 25 h after the opening.
        var notices: [String: UUID] = [:]
        for (caseId, acknowledged) in [
            ("KS-2026-000101", "after"), ("KS-2026-000102", "before"), ("KS-2026-000103", "never"),
        ] {
            let opened = [
                event("kp-dthb", hours: 0, .caseOpened(identificationStatus: .presumed, profile: adult)),
                event(
                    "kp-dthb", hours: 1,
                    .referralIssued(referralId: "R-1", to: "opav", purpose: .victimAdvocacy, urgency: .routine)),
            ]
            try await store.append(to: .case(caseId)!, expected: .noStream, events: opened.map(Seed.newEvent))
            // The watcher's read: the acknowledgement is not in it.
            let missed = try #require(
                DeadlineEvaluator.evaluate(
                    caseId: caseId, events: opened, rulesets: [Ruleset.kosovoDefault], now: Date()
                )
                .first { $0.ruleId == "referral-acknowledged" && $0.status == .overdue })
            let notice = watcher.notice(for: missed, id: DeadlineWatcher.noticeId(for: missed, key: key))
            notices[caseId] = notice.id
            let acknowledgement = Seed.newEvent(event("opav", hours: 20, .referralAcknowledged(referralId: "R-1")))
            switch acknowledged {
            case "after":  // recorded before the notice: the notice came from a stale read
                try await store.append(to: .case(caseId)!, events: [acknowledgement])
                try await store.append(to: .sop(caseId)!, events: [notice])
            case "before":  // the notice first: the acknowledgement is a late entry after it
                try await store.append(to: .sop(caseId)!, events: [notice])
                try await store.append(to: .case(caseId)!, events: [acknowledgement])
            default:
                try await store.append(to: .sop(caseId)!, events: [notice])
            }
        }
        try await settle(ProjectionRunner(store: store))
        func acknowledgement(_ caseId: String) async throws -> DeadlineView {
            try #require(
                try await ReadModels(pool: pool).deadlines(caseId: caseId).first {
                    $0.ruleId == "referral-acknowledged"
                })
        }
        let timely = try await acknowledgement("KS-2026-000101")
        #expect(timely.status == "met")
        #expect(timely.missedNoticeEventId == nil)
        let late = try await acknowledgement("KS-2026-000102")
        #expect(late.status == "met-late")
        #expect(late.missedNoticeEventId == notices["KS-2026-000102"]?.uuidString.lowercased())
        let unmet = try await acknowledgement("KS-2026-000103")
        #expect(unmet.status == "overdue")
        #expect(unmet.missedNoticeEventId == notices["KS-2026-000103"]?.uuidString.lowercased())
        // The watcher writes no second notice of these deadlines (it writes the cases' other misses).
        try await watcher.runOnce(now: Date())
        let written = try await pool.query(
            "SELECT count(*) FROM handoff.events WHERE type = 'SopDeadlineMissed' AND data->>'ruleId' = 'referral-acknowledged'"
        )
        #expect(try written.first!.decode(0, as: Int.self) == 3)
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
