import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Referrals
import Testing

@testable import Projections

/// The rebuild's replay (``CaseFolder`` keeping streams in memory from the start of the log, rows
/// written as `unnest` arrays) against the live projector, which reads the streams it does not hold.
@Suite("Replay")
struct ReplayTests {
    @Test("a case whose events span batches gets the rows of a single-batch fold, whatever the batch size and memory")
    func spanningBatches() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        let cases = HandWritten()
        try await cases.seed(store)  // 9 institutions, 1 ruleset, 8 events of case A, 5 of case B
        // The watcher's notices go through the replay too.
        let live = ProjectionRunner(store: store, batchSize: 500)
        try await settle(live)
        #expect(try await DeadlineWatcher(store: store).runOnce().appended > 0)
        try await settle(live)
        let single = try await Snapshot.take(pool)
        #expect(single["case_summary"]!.count == 2)
        #expect(try await live.checkpoint("cases").eventsApplied > 23)

        // 14: case A's events split 4 + 4; 1: every event its own batch; memory 3: cases are
        // forgotten after every batch and read back from the table.
        for (batchSize, memory) in [(14, 150_000), (1, 150_000), (3, 150_000), (14, 3), (1, 3)] {
            let rebuilder = ProjectionRunner(
                store: store, projectors: [RegistryProjector(), CaseProjector(replayMemory: memory)])
            try await rebuilder.rebuild("all", batchSize: batchSize)
            let rebuilt = try await Snapshot.take(pool)
            for table in Snapshot.tables {
                #expect(rebuilt[table] == single[table], "\(table) differs (batch \(batchSize), memory \(memory))")
            }
            #expect(
                try await rebuilder.checkpoint("cases").eventsApplied
                    == live.checkpoint("cases").eventsApplied)
        }
    }

    @Test("cases whose events are spread through the whole log are read and folded once each, as live")
    func interleavedLog() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        // Round by round, the next event of every case: each case's events lie far apart in the log,
        // as in a store that recorded many cases for months.
        let cases = Seed.generated(seed: 11, minimumEvents: 600, now: generatorNow)
        for round in 0..<(cases.map(\.events.count).max() ?? 0) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for c in cases where round < c.events.count {
                    group.addTask {
                        try await store.append(
                            to: StreamName.case(c.caseId)!, expected: .exactly(Int64(round)),
                            events: [Seed.newEvent(c.events[round])])
                    }
                }
                try await group.waitForAll()
            }
        }
        try await waitUntilAllReadable(store)
        let live = ProjectionRunner(store: store, batchSize: 100)
        try await settle(live)
        #expect(try await DeadlineWatcher(store: store).runOnce().appended > 0)
        try await settle(live)
        let built = try await Snapshot.take(pool)
        #expect(built["case_summary"]!.count == cases.count)

        // A memory of 40 events: in gap-free order every batch would forget cases and read them back.
        // One share of a part folded at a time, and three at once (as on a machine of three cores).
        for (batchSize, memory, shares) in [(50, 40, 1), (1000, 150_000, 1), (1000, 150_000, 3), (50, 400, 3)] {
            let cases = CaseProjector(replayMemory: memory, foldShares: shares, shareEvents: 1)
            let rebuilder = ProjectionRunner(store: store, projectors: [RegistryProjector(), cases])
            try await rebuilder.rebuild("all", batchSize: batchSize)
            let rebuilt = try await Snapshot.take(pool)
            for table in Snapshot.tables {
                #expect(
                    rebuilt[table] == built[table],
                    "\(table) differs (batch \(batchSize), memory \(memory), shares \(shares))")
            }
        }

        // By hand: the parts cover every case once, within the memory, and the batches after them
        // start where they ended.
        let folder = CaseFolder(complete: true, memory: 40)
        let reader = try await db.connect()
        defer { reader.close() }
        let head = try await store.headCursor()
        var parts = 0
        var events = 0
        while let part = try await folder.wholePart(through: head, reading: reader) {
            parts += 1
            events += part.events
        }
        let caseEvents = cases.reduce(0) { $0 + $1.events.count }
        #expect(events > caseEvents)  // and the watcher's notices
        #expect(parts >= cases.count / 5)  // about 5 events a part (memory / 8)
        #expect(await folder.streamsRead == 0)
        #expect(await folder.rememberedEvents == 0)
        let page = try await store.readGlobal(after: .start, limit: 1000)
        _ = try await folder.prepare(page.events, through: page.next, reading: reader)
        #expect(await folder.streamsRead == 0)  // every event of the page was replayed already
    }

    /// Parts of the replay up to a cursor: at most so many cases and, but for one larger case, events.
    @Test("the replay up to a cursor cuts the cases into parts by count and by events")
    func wholeParts() {
        let streams = [("a", 3), ("b", 10), ("c", 2), ("d", 2), ("e", 1)]
        #expect(CaseFolder.parts(streams, cases: 2, events: 5) == [["a"], ["b"], ["c", "d"], ["e"]])
        #expect(CaseFolder.parts(streams, cases: 10, events: 100) == [["a", "b", "c", "d", "e"]])
        #expect(CaseFolder.parts([], cases: 2, events: 5).isEmpty)
    }

    /// A part's shares, folded at once: in order, about as many events each, none empty.
    @Test("a part's cases are cut in order into shares of about as many events, folded at once")
    func foldShares() {
        let reviewed = CaseEvent(
            id: UUID(), occurredAt: Date(timeIntervalSince1970: 1),
            actor: Referrals.Actor(institution: "ksp", user: "u"),
            body: .caseReviewed)
        func history(_ n: Int) -> History.CaseHistory {
            var h = History.CaseHistory()
            h.events = Array(repeating: reviewed, count: n)
            return h
        }
        let histories = ["a": history(9), "b": history(1), "c": history(1), "d": history(7), "e": history(1)]
        let ids = ["a", "b", "c", "d", "e", "f"]  // "f": no history (a stream of notices only)
        #expect(CaseFolder.shares(ids, of: histories, count: 2) == [["a", "b", "c"], ["d", "e", "f"]])
        #expect(CaseFolder.shares(ids, of: histories, count: 1) == [ids])
        #expect(CaseFolder.shares(ids, of: histories, count: 64).joined().elementsEqual(ids))
        #expect(CaseFolder.shares(ids, of: histories, count: 64).allSatisfy { !$0.isEmpty })
        #expect(CaseFolder.shares([], of: histories, count: 2).isEmpty)
    }

    @Test("rulesets and institutions published mid-log recompute every case in the replay as they do live")
    func registryMidLog() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let pool = db.pool()
        let cases = Seed.generated(seed: 31, minimumEvents: 3000, now: generatorNow)
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        try await Seed.cases(store, Array(cases.prefix(cases.count / 2)))
        // A second version, effective 200 days ago, with a shorter acknowledgement deadline.
        let effective = Timestamp.formatDate(generatorNow.addingTimeInterval(-200 * 86_400))
        let version = Ruleset.kosovoDefault.version
        let second = Ruleset.kosovoDefaultJSON
            .replacingOccurrences(of: #""version": \#(version)"#, with: #""version": \#(version + 1)"#)
            .replacingOccurrences(of: #""effectiveFrom": "2014-01-01""#, with: #""effectiveFrom": "\#(effective)""#)
            .replacingOccurrences(of: #""within": "PT24H""#, with: #""within": "PT12H""#)
        try await store.append(
            to: .sopRulesets,
            events: [NewEvent(type: "SopRulesetPublished", data: second, metadata: Seed.coordinator)])
        // A re-registration: the shelter is also an NGO now (role responsibilities may move).
        let isf = SystemEventBody.institutionRegistered(
            Institution(id: "isf", name: "Interim Security Facility", kinds: [.shelter, .ngo]))
        try await store.append(
            to: .institutions,
            events: [
                NewEvent(type: "InstitutionRegistered", data: isf.data.serializedString(), metadata: Seed.coordinator)
            ])
        try await Seed.cases(store, Array(cases.suffix(from: cases.count / 2)))
        try await waitUntilAllReadable(store)

        let live = ProjectionRunner(store: store, batchSize: 250)
        try await settle(live)
        let built = try await Snapshot.take(pool)
        #expect(built["sop_rulesets"]!.count == 2)
        let rebuilder = ProjectionRunner(
            store: store, projectors: [RegistryProjector(), CaseProjector(replayMemory: 500)])
        try await rebuilder.rebuild("all", batchSize: 97)
        let rebuilt = try await Snapshot.take(pool)
        for table in Snapshot.tables { #expect(rebuilt[table] == built[table], "\(table) differs") }

        // The same replay, by hand: it stays within its memory and reads back what it forgot.
        let folder = CaseFolder(complete: true, memory: 500)
        let reader = try await db.connect()
        defer { reader.close() }
        var cursor = Cursor.start
        var forgotten = 0
        while true {
            let page = try await store.readGlobal(after: cursor, limit: 97)
            if page.events.isEmpty { break }
            _ = try await folder.prepare(page.events, through: page.next, reading: reader)
            #expect(await folder.rememberedEvents <= 500)
            forgotten = max(forgotten, await folder.forgottenCases)
            cursor = page.next
        }
        #expect(forgotten > 0)
    }

    @Test("a history built from the global log keeps stream order, and the last version's id and time")
    func historyFromLog() {
        func event(_ n: UInt8) -> CaseEvent {
            CaseEvent(
                id: UUID(uuid: (n, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 0)),
                occurredAt: Date(timeIntervalSince1970: Double(n)),
                actor: Referrals.Actor(institution: "ksp", user: "u"),
                body: .caseReviewed)
        }
        var h = History.CaseHistory()
        h.add(version: 1, id: event(1).id, recordedAt: Date(timeIntervalSince1970: 1), event: event(1))
        h.add(version: 3, id: event(3).id, recordedAt: Date(timeIntervalSince1970: 3), event: event(3))
        h.add(version: 2, id: event(2).id, recordedAt: Date(timeIntervalSince1970: 2), event: event(2))
        h.add(version: 4, id: event(4).id, recordedAt: Date(timeIntervalSince1970: 4), event: nil)  // undecodable
        #expect(h.events.map(\.id) == [event(1).id, event(2).id, event(3).id])
        #expect(h.versions == [1, 2, 3])
        #expect(h.version == 4)
        #expect(h.lastEventId == event(4).id)
        #expect(h.lastRecordedAt == Date(timeIntervalSince1970: 4))
    }

    @Test("the actor is read from metadata text as metadata->'actor'->>… reads it")
    func actorFromMetadata() {
        let usual =
            #"{"actor": {"user": "officer-1", "institution": "kp-dthb"}, "causationId": null, "correlationId": "x"}"#
        #expect(History.simpleActor(usual)! == ("kp-dthb", "officer-1"))
        #expect(History.actor(usual)! == ("kp-dthb", "officer-1"))
        // Escapes, other keys or other shapes take the parser.
        let escaped = #"{"actor": {"user": "o\"1", "institution": "kp-dthb"}}"#
        #expect(History.simpleActor(escaped) == nil)
        #expect(History.actor(escaped)! == ("kp-dthb", "o\"1"))
        let extra = #"{"actor": {"user": "u", "extra": 1, "institution": "ksp"}}"#
        #expect(History.simpleActor(extra) == nil)
        #expect(History.actor(extra)! == ("ksp", "u"))
        #expect(History.actor(#"{"actor": {"institution": "ksp"}}"#)! == ("ksp", ""))
        #expect(History.actor(#"{"other": 1}"#)! == ("", ""))
        #expect(History.actor(#"{"actor": null}"#)! == ("", ""))
        #expect(History.actor(#"{"actor": {"user": 5, "institution": "ksp"}}"#) == nil, "not certain: read the table")
    }

    @Test("timestamps and UUIDs in array literals are exactly PostgresTimestamp's and lower-case UUID text")
    func literalFormats() {
        var dates: [Date] = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: -1), Date(timeIntervalSince1970: -0.0000004),
            Date(timeIntervalSince1970: 951_782_400), Date(timeIntervalSince1970: 1_709_164_800.999_999_6),
            Date(timeIntervalSince1970: -62_135_596_800), Date(timeIntervalSince1970: 253_402_300_799),
        ]
        var rng = SplitMix64(seed: 9)
        for _ in 0..<20_000 {
            dates.append(Date(timeIntervalSince1970: Double(rng.next() % 8_000_000_000_000_000) / 1e6 - 2e9))
        }
        for date in dates {
            let expected = PostgresTimestamp.format(date)
            var rows = RowBatch(columns: 1)
            rows.time(date)
            rows.endRow()
            #expect(rows.parameters() == [.text("{\(expected)}")], "\(date.timeIntervalSince1970)")
        }
        var far = RowBatch(columns: 2)
        far.time(Date(timeIntervalSince1970: 1e12))  // year 33658: the general formatter
        far.uuid(UUID(uuidString: "0A1B2C3D-4E5F-4071-8293-A4B5C6D7E8F9")!)
        far.endRow()
        #expect(
            far.parameters() == [
                .text("{\"\(PostgresTimestamp.format(Date(timeIntervalSince1970: 1e12)))\"}"),
                .text("{0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9}"),
            ])
    }

    @Test("rows written as unnest arrays read back exactly, whatever the text")
    func unnestRoundTrip() async throws {
        let db = try await TestDatabase.make()
        let c = try await db.connect()
        defer { c.close() }
        try await c.query(
            """
            CREATE TABLE handoff.test_rows (
                k int PRIMARY KEY, t text, a text[] NOT NULL, ts timestamptz, u uuid, b boolean NOT NULL)
            """)
        let writer = RowWriter(
            table: "test_rows",
            columns: [
                ("k", "int"), ("t", "text"), ("a", "text[]"), ("ts", "timestamptz"), ("u", "uuid"), ("b", "boolean"),
            ])
        let texts: [String?] = [
            "plain", "", "NULL", "null", nil, "a,b", "{braces}", "\"quoted\"", "back\\slash", "\\\"", " spaced ",
            "tab\tnew\nline", "ñ 😀 \u{2028}", "'single'",
        ]
        let time = Date(timeIntervalSince1970: 1_700_000_000.123456)
        var rows = writer.rows()
        for (k, t) in texts.enumerated() {
            rows.int(k)
            rows.text(t)
            rows.textArray(texts.compactMap { $0 })
            rows.time(k % 2 == 0 ? time : nil)
            rows.uuid(k % 3 == 0 ? nil : UUID(uuidString: "0A1B2C3D-4E5F-4071-8293-A4B5C6D7E8F9"))
            rows.bool(k % 2 == 1)
            rows.endRow()
        }
        try await writer.insert(rows, on: c, tables: .live)
        let back = try await c.query(
            "SELECT k, t, array_to_json(a)::text, ts, u, b FROM handoff.test_rows ORDER BY k")
        #expect(back.all.count == texts.count)
        let array = JSONValue.array(texts.compactMap { $0 }.map(JSONValue.string))
        for row in back.all {
            let k: Int = try row.decode(0)
            #expect(try row.decodeOptional(1, as: String.self) == texts[k])
            #expect(try JSONValue.parse(try row.decode(2, as: String.self)) == array)
            #expect(try row.decodeOptional(3, as: Date.self) == (k % 2 == 0 ? time : nil))
            #expect(
                try row.decodeOptional(4, as: UUID.self)
                    == (k % 3 == 0 ? nil : UUID(uuidString: "0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9")))
            #expect(try row.decode(5, as: Bool.self) == (k % 2 == 1))
        }
    }
}
