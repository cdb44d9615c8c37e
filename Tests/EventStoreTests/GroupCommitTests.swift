import Foundation
import HandoffTestSupport
import Postgres
import Synchronization
import Testing

@testable import EventStore

/// Group commit (issue 17, Migrations/0030): concurrent appends share one transaction, and each
/// keeps its own outcome.
@Suite struct GroupCommitTests {
    final class Flag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    /// A store whose appends queue behind one group that waits on `blocker`'s stream lock, so
    /// that every append made meanwhile goes out in the next group, all together.
    typealias Append = @Sendable (EventStore) async throws -> AppendResult

    struct HeldGroup {
        let store: EventStore
        let holder: Connection
        let blocked: Task<AppendResult, any Error>

        static func make(_ db: TestDB) async throws -> HeldGroup {
            let store = EventStore(
                pool: db.pool(size: 8),
                groupCommit: GroupCommit(concurrentGroups: 1, maximumAppends: 64, window: .zero))
            let holder = try await db.connect()
            try await holder.execute("BEGIN")
            try await holder.query("SELECT pg_advisory_xact_lock(hashtextextended('case-HOLD', 7))")
            let blocked = Task { try await store.append(to: stream("HOLD"), events: [event()]) }
            // The first group is in flight (waiting for the lock) once it left the queue.
            try await eventually("the first group to start") {
                let waiting =
                    try await holder.query(
                        """
                        SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                        """
                    ).first?.decode(0, as: Int64.self) ?? 0
                return store.queuedAppends == 0 && waiting == 1
            }
            return HeldGroup(store: store, holder: holder, blocked: blocked)
        }

        /// Starts the appends one after the other, each once the previous one waits for a group (or
        /// was refused before it could), then lets the groups go: they join one group in this order.
        func release(after appends: [Append]) async throws -> [Result<AppendResult, any Error>] {
            var tasks: [Task<AppendResult, any Error>] = []
            for body in appends {
                let before = store.queuedAppends
                let done = Flag()
                tasks.append(
                    Task {
                        defer { done.set() }
                        return try await body(store)
                    })
                try await eventually("an append to queue") { store.queuedAppends == before + 1 || done.isSet }
            }
            try await holder.execute("COMMIT")
            holder.close()
            _ = try await blocked.value
            var out: [Result<AppendResult, any Error>] = []
            for task in tasks { out.append(await task.result) }
            return out
        }
    }

    @Test func oneGroupKeepsEachAppendsOwnOutcome() async throws {
        let db = try await TestDatabase.make()
        let setup = db.store()
        let reused = UUID()
        let when = Date(timeIntervalSince1970: 1_763_000_000)
        let original = try await setup.append(
            to: stream("G-OLD"), events: [event("CaseOpened", data: #"{"a":1}"#, id: reused, occurredAt: when)])
        try await setup.append(to: stream("G-VERSIONED"), events: [event(), event()])

        let held = try await HeldGroup.make(db)
        let results = try await held.release(after: [
            { try await $0.append(to: stream("G-1"), events: [event()]) },
            { try await $0.append(to: stream("G-VERSIONED"), expected: .exactly(1), events: [event()]) },
            { try await $0.append(to: stream("G-2"), events: [event(), event(), event()]) },
            { try await $0.append(to: stream("G-3"), events: [event(data: "[1]")]) },
            { try await $0.append(to: stream("G-4"), events: [event(occurredAt: Date().addingTimeInterval(3600))]) },
            {
                try await $0.append(
                    to: stream("G-5"), events: [event("CaseOpened", data: #"{"a":2}"#, id: reused, occurredAt: when)])
            },
            {
                try await $0.append(
                    to: stream("G-OLD"), events: [event("CaseOpened", data: #"{"a":1}"#, id: reused, occurredAt: when)])
            },
            { try await $0.append(to: stream("G-6"), expected: .noStream, events: [event()]) },
        ])
        #expect(results.count == 8)
        let ok1 = try results[0].get()
        #expect(ok1.streamVersion == 1 && !ok1.deduplicated)
        #expect(throws: EventStoreError.wrongExpectedVersion(expected: "1", actual: 2)) { try results[1].get() }
        let ok2 = try results[2].get()
        #expect(ok2.events.map(\.version) == [1, 2, 3])
        #expect(throws: EventStoreError.invalid(field: "data", message: "event data must be a JSON object")) {
            try results[3].get()
        }
        #expect(throws: EventStoreError.invalid(field: "occurredAt", message: "occurredAt is in the future")) {
            try results[4].get()
        }
        #expect(throws: EventStoreError.duplicateEventId(reused.uuidString.lowercased())) { try results[5].get() }
        let retry = try results[6].get()
        #expect(retry.deduplicated && retry.events == original.events)
        let ok3 = try results[7].get()
        #expect(ok3.streamVersion == 1)
        // The appended ones were written by one transaction: one commit for all of them.
        let xids = Set((ok1.events + ok2.events + ok3.events).map(\.cursor.xid))
        #expect(xids.count == 1)
        // Nothing of the refused ones was written, and every chain holds.
        let store = db.store()
        #expect(try await store.version(of: stream("G-VERSIONED")) == 2)
        for name in ["G-3", "G-4", "G-5"] { #expect(try await store.version(of: stream(name)) == 0) }
        #expect(try await store.count() == 3 + 1 + 1 + 3 + 1)
        for name in ["G-1", "G-2", "G-6", "G-OLD", "G-VERSIONED"] {
            #expect(try await store.verify(stream: stream(name)).valid)
        }
    }

    @Test func aDuplicateIdWithinOneGroupAndAcrossGroups() async throws {
        let db = try await TestDatabase.make()
        let shared = UUID(), again = UUID()
        let when = Date(timeIntervalSince1970: 1_763_000_000)
        let same = event("CaseOpened", data: #"{"b":1}"#, id: again, occurredAt: when)
        let held = try await HeldGroup.make(db)
        let results = try await held.release(after: [
            // The same id to two streams in one group: the first is written, the second is a duplicate.
            { try await $0.append(to: stream("D-1"), events: [event(id: shared, occurredAt: when)]) },
            { try await $0.append(to: stream("D-2"), events: [event(id: shared, occurredAt: when)]) },
            // The same event twice to one stream in one group: written once, then found again.
            { try await $0.append(to: stream("D-3"), events: [same]) },
            { try await $0.append(to: stream("D-3"), events: [same]) },
        ])
        let first = try results[0].get()
        #expect(!first.deduplicated)
        #expect(throws: EventStoreError.duplicateEventId(shared.uuidString.lowercased())) { try results[1].get() }
        let written = try results[2].get()
        let found = try results[3].get()
        #expect(!written.deduplicated && found.deduplicated && found.events == written.events)
        // Across groups: a later group sees them as stored.
        let store = db.store()
        let retry = try await store.append(to: stream("D-3"), events: [same])
        #expect(retry.deduplicated && retry.events == written.events)
        await #expect(throws: EventStoreError.duplicateEventId(again.uuidString.lowercased())) {
            try await store.append(to: stream("D-4"), events: [same])
        }
        #expect(try await store.version(of: stream("D-2")) == 0)
        #expect(try await store.version(of: stream("D-3")) == 1)
        #expect(try await store.count() == 1 + 2)
    }

    /// Text the database would refuse to parse never joins a group; what the store's own check
    /// lets through and the database still refuses sends that group's appends one by one.
    @Test func valuesTheDatabaseRefusesFailOnlyTheirOwnAppend() async throws {
        let db = try await TestDatabase.make()
        for bad in ["{not json", #"{"a":"\u0000"}"#, #"{"a":"\udc00"}"#, #"{"a":1e1001}"#, "{} {}", "{\"a\":\"\t\"}"] {
            #expect(!JSONSyntax.isValid(bad), "\(bad)")
        }
        for good in [#"{"a":[1,-0.5e+3,true,null,"\ud83d\ude00 é"]}"#, " {} ", "[]", "0", #""x""#] {
            #expect(JSONSyntax.isValid(good), "\(good)")
        }
        // A number of 140,000 digits is JSON, but more than PostgreSQL's numeric takes.
        let huge = #"{"n":1"# + String(repeating: "0", count: 140_000) + "}"
        let held = try await HeldGroup.make(db)
        // ("{not json" is refused before it queues.)
        let results = try await held.release(after: [
            { try await $0.append(to: stream("J-1"), events: [event()]) },
            { try await $0.append(to: stream("J-2"), events: [event(data: huge)]) },
            { try await $0.append(to: stream("J-3"), events: [event(data: "{not json")]) },
            { try await $0.append(to: stream("J-4"), events: [event()]) },
        ])
        #expect(try results[0].get().streamVersion == 1)
        #expect(throws: EventStoreError.invalid(field: "data", message: "not valid JSON or a malformed value")) {
            try results[1].get()
        }
        #expect(throws: EventStoreError.invalid(field: "data", message: "not valid JSON or a malformed value")) {
            try results[2].get()
        }
        #expect(try results[3].get().streamVersion == 1)
        #expect(try await db.store().count() == 3)
    }

    /// Writers of one stream in different groups still serialize on that stream: one winner per
    /// version, no gap, the chain intact, while appends to other streams share their groups.
    @Test func oneStreamAcrossConcurrentGroupsLosesAndDuplicatesNothing() async throws {
        let db = try await TestDatabase.make()
        let store = EventStore(
            pool: db.pool(size: 16),
            groupCommit: GroupCommit(concurrentGroups: 4, maximumAppends: 8, window: .milliseconds(1)))
        let s = stream("C-HOT")
        let writers = 16, rounds = 6
        let (wins, others) = try await withThrowingTaskGroup(of: ([Int64], Int).self) { group in
            for w in 0..<writers {
                group.addTask {
                    var won: [Int64] = []
                    var other = 0
                    for r in 0..<rounds {
                        if w % 2 == 0 {
                            let current = try await store.version(of: s)
                            do {
                                won.append(
                                    try await store.append(to: s, expected: .exactly(current), events: [event()])
                                        .streamVersion)
                            } catch EventStoreError.wrongExpectedVersion {}
                        } else {
                            _ = try await store.append(to: stream("C-\(w)-\(r % 2)"), events: [event()])
                            other += 1
                        }
                    }
                    return (won, other)
                }
            }
            var all: [Int64] = []
            var others = 0
            for try await (w, o) in group {
                all += w
                others += o
            }
            return (all, others)
        }
        let versions = try await store.readAll(stream: s).map(\.version)
        #expect(!wins.isEmpty)
        #expect(wins.sorted() == versions, "each version has exactly one winner")
        #expect(versions == Array(1...Int64(versions.count)), "no gap")
        #expect(try await store.verify(stream: s).valid)
        #expect(try await store.count() == Int64(versions.count + others))
    }

    /// Groups take their stream locks in one order: calls of the function that name overlapping
    /// streams in opposite orders, on connections of their own (no retry to hide a deadlock),
    /// all succeed.
    @Test func groupsLockingOverlappingStreamsNeverDeadlock() async throws {
        let db = try await TestDatabase.make()
        let names = (1...4).map { "case-L-\($0)" }
        let calls = 25
        let written = try await withThrowingTaskGroup(of: Int.self) { group in
            for c in 0..<8 {
                group.addTask {
                    let connection = try await Connection.connect(db.url)
                    defer { connection.close() }
                    var rng = SystemRandomNumberGenerator()
                    var n = 0
                    for k in 0..<calls {
                        let order = (c + k) % 2 == 0 ? names : names.reversed()
                        let streams = Array(order.shuffled(using: &rng).prefix(3))
                        let ids = streams.map { _ in UUID().uuidString.lowercased() }
                        let rows = try await connection.query(
                            """
                            SELECT outcome FROM handoff.append_group(\(PostgresArray.text(streams))::text[],
                                   '{any,any,any}'::text[], '{1,1,1}'::int[], \(PostgresArray.text(ids))::uuid[],
                                   '{CaseReviewed,CaseReviewed,CaseReviewed}'::text[], '{"{}","{}","{}"}'::jsonb[],
                                   '{"{}","{}","{}"}'::jsonb[], '{NULL,NULL,NULL}'::timestamptz[])
                            """)
                        n += try rows.all.filter { try $0.decode(0, as: String.self) == "appended" }.count
                    }
                    return n
                }
            }
            var total = 0
            for try await n in group { total += n }
            return total
        }
        #expect(written == 8 * calls * 3)
        let store = db.store()
        #expect(try await store.count() == Int64(written))
        for name in names { #expect(try await store.verify(stream: StreamName(name)!).valid) }
    }

    /// The function's per-append outcomes, called directly: a refusal is a row, not an error.
    @Test func theGroupFunctionReturnsARefusalPerAppend() async throws {
        let db = try await TestDatabase.make()
        let c = try await db.connect()
        defer { c.close() }
        let ids = (0..<4).map { _ in UUID().uuidString.lowercased() }
        let rows = try await c.query(
            """
            SELECT item_no, outcome, outcome_detail FROM handoff.append_group(
                   '{case-F-1,person-1,case-F-2,case-F-3}'::text[], '{any,any,7,any}'::text[], '{1,1,1,1}'::int[],
                   \(PostgresArray.text(ids))::uuid[], '{CaseReviewed,CaseReviewed,CaseReviewed,1bad}'::text[],
                   '{"{}","{}","{}","{}"}'::jsonb[], '{"{}","{}","{}","{}"}'::jsonb[], '{NULL,NULL,NULL,NULL}'::timestamptz[])
            """
        ).all
        // (Rows of different appends come in no particular order.)
        let outcomes = try rows.sorted { try $0.decode(0, as: Int.self) < $1.decode(0, as: Int.self) }.map {
            "\(try $0.decode(0, as: Int.self)) \(try $0.decode(1, as: String.self)) \(try $0.decodeOptional(2, as: String.self) ?? "")"
        }
        #expect(
            outcomes == [
                "1 appended ", "2 HF003 field=stream", "3 HF001 expected=7;actual=0", "4 HF003 field=type",
            ])
        // A malformed call (arrays of different lengths) is refused as a whole.
        await #expect(throws: PostgresError.self) {
            try await c.query(
                """
                SELECT * FROM handoff.append_group('{case-F-9}'::text[], '{any}'::text[], '{2}'::int[],
                       \(PostgresArray.text([ids[0]]))::uuid[], '{A}'::text[], '{"{}"}'::jsonb[], '{"{}"}'::jsonb[],
                       '{NULL}'::timestamptz[])
                """)
        }
        #expect(try await c.query("SELECT count(*) FROM handoff.events").first?.decode(0, as: Int64.self) == 1)
    }
}
