import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Testing

@Suite struct AppendTests {
    @Test func expectedVersionVariants() async throws {
        let store = try await TestDatabase.make().store()
        let s = stream("KS-1")
        // no-stream on a new stream, then it fails.
        let first = try await store.append(to: s, expected: .noStream, events: [event()])
        #expect(first.streamVersion == 1)
        await #expect(throws: EventStoreError.wrongExpectedVersion(expected: "no-stream", actual: 1)) {
            try await store.append(to: s, expected: .noStream, events: [event()])
        }
        // exists
        await #expect(throws: EventStoreError.wrongExpectedVersion(expected: "exists", actual: 0)) {
            try await store.append(to: stream("KS-2"), expected: .exists, events: [event()])
        }
        #expect(try await store.append(to: s, expected: .exists, events: [event()]).streamVersion == 2)
        // exact number
        await #expect(throws: EventStoreError.wrongExpectedVersion(expected: "1", actual: 2)) {
            try await store.append(to: s, expected: .exactly(1), events: [event()])
        }
        #expect(try await store.append(to: s, expected: .exactly(2), events: [event()]).streamVersion == 3)
        #expect(try await store.append(to: stream("KS-3"), expected: .exactly(0), events: [event()]).streamVersion == 1)
        // any
        #expect(try await store.append(to: s, expected: .any, events: [event(), event()]).streamVersion == 5)
        #expect(try await store.version(of: s) == 5)
        let versions = try await store.readAll(stream: s).map(\.version)
        #expect(versions == [1, 2, 3, 4, 5])
    }

    @Test func versionsOfSeveralStreamsInOneQuery() async throws {
        let store = try await TestDatabase.make().store()
        _ = try await store.append(to: stream("KS-V1"), events: [event(), event()])
        _ = try await store.append(to: stream("KS-V2"), events: [event()])
        let versions = try await store.versions(of: [stream("KS-V1"), stream("KS-V2"), stream("KS-V3")])
        #expect(versions == [stream("KS-V1"): 2, stream("KS-V2"): 1, stream("KS-V3"): 0])
        #expect(try await store.versions(of: [StreamName]()).isEmpty)
    }

    @Test func expectedVersionParsing() {
        #expect(ExpectedVersion("any") == .any)
        #expect(ExpectedVersion("no-stream") == .noStream)
        #expect(ExpectedVersion("exists") == .exists)
        #expect(ExpectedVersion("0") == .exactly(0))
        #expect(ExpectedVersion("42") == .exactly(42))
        for bad in ["", "-1", "1.0", "ANY", " 1", "1 ", "99999999999999999999", "+1", "0x1"] {
            #expect(ExpectedVersion(bad) == nil, "\(bad)")
        }
    }

    @Test func concurrentWritersOnOneStreamGetOneWinnerPerVersion() async throws {
        let db = try await TestDatabase.make()
        let store = db.store(poolSize: 32)
        let s = stream("KS-RACE")
        let writers = 32, rounds = 5
        let wins = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for _ in 0..<writers {
                group.addTask {
                    var won: [Int64] = []
                    for _ in 0..<rounds {
                        let current = try await store.version(of: s)
                        do {
                            let r = try await store.append(to: s, expected: .exactly(current), events: [event()])
                            won.append(r.streamVersion)
                        } catch EventStoreError.wrongExpectedVersion {
                            // lost this round
                        }
                    }
                    return won
                }
            }
            var all: [Int64] = []
            for try await w in group { all += w }
            return all
        }
        let versions = try await store.readAll(stream: s).map(\.version)
        #expect(!wins.isEmpty)
        #expect(wins.sorted() == versions, "each version has exactly one winner")
        #expect(versions == Array(1...Int64(versions.count)), "no gap")
        #expect(try await store.verify(stream: s).valid)
    }

    @Test func idempotentRetryAndConflictingDuplicate() async throws {
        let store = try await TestDatabase.make().store()
        let s = stream("KS-IDEM")
        let id = UUID()
        let when = Date(timeIntervalSince1970: 1_763_000_000)
        let original = try await store.append(
            to: s, expected: .noStream, events: [event("CaseOpened", data: #"{"a": 1}"#, id: id, occurredAt: when)])
        #expect(!original.deduplicated)
        // Same id, same content, even with a now-stale expected version: the original result.
        let retry = try await store.append(
            to: s, expected: .noStream, events: [event("CaseOpened", data: #"{"a":1}"#, id: id, occurredAt: when)])
        #expect(retry.deduplicated)
        #expect(retry.events == original.events)
        #expect(retry.streamVersion == 1)
        #expect(try await store.version(of: s) == 1)
        // Same id, different content: an error, nothing written.
        await #expect(throws: EventStoreError.duplicateEventId(id.uuidString.lowercased())) {
            try await store.append(to: s, events: [event("CaseOpened", data: #"{"a": 2}"#, id: id, occurredAt: when)])
        }
        // Same id in another stream: also a duplicate.
        await #expect(throws: EventStoreError.duplicateEventId(id.uuidString.lowercased())) {
            try await store.append(
                to: stream("KS-OTHER"), events: [event("CaseOpened", data: #"{"a": 1}"#, id: id, occurredAt: when)])
        }
        #expect(try await store.version(of: stream("KS-OTHER")) == 0)
        // A batch that mixes a known id with a new one is a duplicate too, and writes nothing.
        await #expect(throws: EventStoreError.self) {
            try await store.append(
                to: s, events: [event("CaseOpened", data: #"{"a": 1}"#, id: id, occurredAt: when), event()])
        }
        #expect(try await store.version(of: s) == 1)
    }

    @Test func batchIsAtomic() async throws {
        let store = try await TestDatabase.make().store()
        let s = stream("KS-BATCH")
        try await store.append(to: s, events: [event()])
        // The third event's data is not an object: none of the batch is written.
        await #expect(throws: EventStoreError.self) {
            try await store.append(to: s, events: [event(), event(), event(data: "[1,2]")])
        }
        await #expect(throws: EventStoreError.self) {
            try await store.append(to: s, events: [event(), event(data: "{not json")])
        }
        // A future occurredAt fails the whole batch.
        await #expect(throws: EventStoreError.invalid(field: "occurredAt", message: "occurredAt is in the future")) {
            try await store.append(to: s, events: [event(), event(occurredAt: Date().addingTimeInterval(3600))])
        }
        #expect(try await store.version(of: s) == 1)
        #expect(try await store.count() == 1)
        let ok = try await store.append(to: s, events: (0..<100).map { _ in event() })
        #expect(ok.events.map(\.version) == Array(2...101))
    }

    @Test func hostileDataIsStoredVerbatimNotInterpreted() async throws {
        let store = try await TestDatabase.make().store()
        let s = stream("KS-HOSTILE")
        // Data that tries to close the event object and inject another event.
        let sneaky = #"{"x": "\"}, {\"id\": \"00000000-0000-0000-0000-000000000001\"}"}"#
        try await store.append(to: s, events: [event(data: sneaky)])
        await #expect(throws: EventStoreError.self) {
            try await store.append(to: s, events: [event(data: #"{}, {"type": "Injected"}"#)])
        }
        let events = try await store.readAll(stream: s)
        #expect(events.count == 1)
        #expect(events[0].data.contains("00000000-0000-0000-0000-000000000001"))
        // Unicode and escapes survive.
        try await store.append(to: s, events: [event(data: #"{"t": "\u2028 ñ \n \" \\ 😀"}"#)])
        #expect(try await store.verify(stream: s).valid)
    }

    @Test func streamNamesAndTypesAreValidated() async throws {
        for good in [
            "case-KS-2026-0001", "sop-KS-1", "institutions", "sop-rulesets", "checkpoints",
            "case-" + String(repeating: "a", count: 64),
        ] {
            #expect(StreamName(good) != nil, "\(good)")
        }
        for bad in [
            "", "case-", "case-a b", "case-ä", "cases-1", "random", "case-" + String(repeating: "a", count: 65),
            "case-rulesets", "sop-", "case-x\n",
        ] {
            #expect(StreamName(bad) == nil, "\(bad)")
        }
        #expect(StreamName("sop-KS-1")?.caseId == "KS-1")
        #expect(StreamName.sopRulesets.caseId == nil)
        let store = try await TestDatabase.make().store()
        await #expect(throws: EventStoreError.self) {
            try await store.append(to: stream("KS-1"), events: [event("Bad Type")])
        }
        await #expect(throws: EventStoreError.self) {
            try await store.append(to: stream("KS-1"), events: [])
        }
    }

    @Test func eventsTableIsAppendOnly() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        try await store.append(to: stream("KS-RO"), events: [event(), event()])
        let c = try await db.connect()
        defer { c.close() }
        for statement in [
            "UPDATE handoff.events SET type = 'Forged'", "DELETE FROM handoff.events",
            "DELETE FROM handoff.events WHERE false", "TRUNCATE handoff.events",
        ] {
            do {
                try await c.execute(statement)
                Issue.record("\(statement) was allowed")
            } catch let error as PostgresError {
                #expect(error.sqlState == "HF010", "\(statement): \(error.debugDescription)")
            }
        }
        // The application and auditor roles cannot write the table directly at all.
        for role in ["handoff_app", "handoff_auditor"] {
            try await c.execute("SET ROLE \(role)")
            for statement in [
                "INSERT INTO handoff.events (stream, version, id, type, data, metadata, occurred_at, recorded_at, prev_hash, hash) SELECT stream, version + 100, gen_random_uuid(), type, data, metadata, occurred_at, recorded_at, prev_hash, hash FROM handoff.events LIMIT 1",
                "UPDATE handoff.events SET type = 'Forged'", "DELETE FROM handoff.events", "TRUNCATE handoff.events",
                "UPDATE handoff.streams SET version = 0",
            ] {
                do {
                    try await c.execute(statement)
                    Issue.record("\(role) may: \(statement)")
                } catch let error as PostgresError {
                    #expect(error.sqlState == "42501", "\(role): \(statement): \(error.debugDescription)")
                }
            }
            #expect(try await c.query("SELECT count(*) FROM handoff.events").first?.decode(0, as: Int.self) == 2)
            try await c.execute("RESET ROLE")
        }
        // The application role appends through the function.
        try await c.execute("SET ROLE handoff_app")
        let r = try await c.query(rawAppend(stream: "case-KS-RO", id: UUID()))
        #expect(try r.first?.decode("event_version", as: Int64.self) == 3)
        try await c.execute("RESET ROLE")
    }

    /// The function validates on its own (other clients than this one may call it): every field, and
    /// for a batch the first failing check of the first bad event, with nothing written.
    @Test func theAppendFunctionNamesTheFirstBadField() async throws {
        let db = try await TestDatabase.make()
        let c = try await db.connect()
        defer { c.close() }
        func call(
            stream: String = "case-KS-V", expected: String = "any", ids: [String?]? = nil,
            types: [String?] = ["CaseOpened"],
            data: [String?] = ["{}"], metadata: [String?] = ["{}"], occurred: [String?] = [nil]
        ) async -> String? {
            let ids = ids ?? types.map { _ in UUID().uuidString.lowercased() }
            do {
                _ = try await c.query(
                    """
                    SELECT * FROM handoff.append(\(stream), \(expected), \(PostgresArray.optionalText(ids))::uuid[],
                        \(PostgresArray.optionalText(types))::text[], \(PostgresArray.optionalText(data))::jsonb[],
                        \(PostgresArray.optionalText(metadata))::jsonb[], \(PostgresArray.optionalText(occurred))::timestamptz[])
                    """)
                return nil
            } catch let error as PostgresError {
                #expect(error.sqlState == "HF003", "\(error.debugDescription)")
                return error.detail
            } catch {
                return "\(error)"
            }
        }
        #expect(await call(types: [], data: [], metadata: [], occurred: []) == "field=events")
        #expect(await call(data: ["{}", "{}"]) == "field=events")
        #expect(await call(stream: "person-1") == "field=stream")
        #expect(await call(stream: "case-" + String(repeating: "A", count: 65)) == "field=stream")
        #expect(await call(stream: "sop-" + String(repeating: "A", count: 65)) == "field=stream")
        #expect(await call(expected: "-1") == "field=expectedVersion")
        #expect(await call(expected: String(repeating: "9", count: 19)) == "field=expectedVersion")
        #expect(await call(types: [String(repeating: "T", count: 65)]) == "field=type")
        #expect(await call(ids: [nil]) == "field=id")
        #expect(await call(types: ["1bad"]) == "field=type")
        #expect(await call(types: [nil]) == "field=type")
        #expect(await call(data: ["[1]"]) == "field=data")
        #expect(await call(data: [nil]) == "field=data")
        #expect(await call(metadata: ["3"]) == "field=metadata")
        #expect(await call(occurred: ["2999-01-01T00:00:00Z"]) == "field=occurredAt")
        #expect(await call(occurred: ["0044-03-15 12:00:00+00 BC"]) == "field=occurredAt")
        // Event 2 has bad data and a bad type (type is checked first); event 3 has bad metadata.
        #expect(
            await call(
                types: ["CaseOpened", "bad type", "CaseReviewed"], data: ["{}", "[]", "{}"],
                metadata: ["{}", "{}", "[]"],
                occurred: [nil, nil, nil]) == "field=type")
        #expect(
            await call(
                types: ["CaseOpened", "CaseReviewed", "CaseReviewed"], data: ["{}", "{}", "{}"],
                metadata: ["{}", "{}", "[]"], occurred: [nil, "2999-01-01T00:00:00Z", nil]) == "field=occurredAt")
        #expect(try await c.query("SELECT count(*) FROM handoff.events").first?.decode(0, as: Int.self) == 0)
        // And a valid batch goes in, chained in order.
        #expect(
            await call(
                types: ["CaseOpened", "CaseReviewed"], data: ["{}", #"{"a":1}"#], metadata: ["{}", "{}"],
                occurred: [nil, nil])
                == nil)
        // The longest names are allowed.
        let longest = "case-" + String(repeating: "A", count: 64)
        #expect(await call(stream: longest, types: [String(repeating: "T", count: 64)]) == nil)
        #expect(await call(stream: "sop-" + String(repeating: "A", count: 64)) == nil)
        let rows = try await c.query(
            """
            SELECT version, prev_hash = lag(hash) OVER (ORDER BY version) AS linked FROM handoff.events
             WHERE stream = 'case-KS-V' ORDER BY version
            """)
        #expect(rows.all.count == 2)
        #expect(try rows.all.last?.decode("linked", as: Bool.self) == true)
    }

    /// Times are read as PostgreSQL's text and put into canonical form in Swift; that form must be
    /// exactly what `to_char` (docs/hash-chain.md) gives, for every fraction length and for old years.
    @Test func canonicalTimesMatchToChar() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let base = 1_763_800_000.0
        let times: [Double] = [
            base, base + 0.5, base + 0.000001, base + 0.123456, base + 0.1, base + 0.999999, base + 0.01,
            -30_610_224_000 + 0.25,  // year 1000
            -62_135_596_800,  // 0001-01-01T00:00:00Z
        ]
        let s = stream("TIMES")
        _ = try await store.append(
            to: s, events: times.map { event(occurredAt: Date(timeIntervalSince1970: $0)) })
        let read = try await store.readAll(stream: s)
        let expected = try await db.pool().query(
            """
            SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS o,
                   to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS r
              FROM handoff.events WHERE stream = \(s.rawValue) ORDER BY version
            """
        ).all
        #expect(read.count == times.count && expected.count == times.count)
        for (event, row) in zip(read, expected) {
            #expect(event.occurredAt == (try row.decode("o", as: String.self)))
            #expect(event.recordedAt == (try row.decode("r", as: String.self)))
        }
        #expect(read.map(\.occurredAt).contains("1000-01-01T00:00:00.250000Z"))
        #expect(read.map(\.occurredAt).contains("0001-01-01T00:00:00.000000Z"))
    }
}

@Suite struct AppendPlanTests {
    /// The append function caches generic plans per session. A session that first appends while
    /// the log is a page or two and never analyzed (a new deployment) must still plan its lookups
    /// as index scans: a sequential-scan plan made then would be kept, and every later append
    /// would read the whole log.
    @Test func appendsOnANewLogScanNoTableSequentially() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        for n in 1...5 { _ = try await store.append(to: stream("PLAN-SEED-\(n)"), events: [event()]) }
        let payload = #"{"identificationStatus":"presumed"}"#
        let metadata = #"{"actor":{"institution":"kp-dthb","user":"u-1"}}"#
        // A session of its own, whose first append plans the function's statements.
        let c = try await Connection.connect(db.url)
        defer { c.close() }
        let seqScans = try await {
            var counts: [Int64] = []
            for n in 1...3 {
                // The first call plans on an empty log; the later ones reuse the session's plans.
                counts.append(
                    try await c.transaction { t in
                        try await t.query(
                            """
                            SELECT count(*) FROM handoff.append(\("case-PLAN-\(n)"), 'any', ARRAY[gen_random_uuid()],
                                   ARRAY['CaseOpened'], ARRAY[\(payload)::jsonb], ARRAY[\(metadata)::jsonb],
                                   ARRAY[NULL::timestamptz])
                            """)
                        // This transaction's own counts, in this backend.
                        return try await t.query(
                            """
                            SELECT coalesce(sum(seq_scan), 0)::bigint FROM pg_stat_xact_user_tables
                             WHERE schemaname = 'handoff' AND relname IN ('events', 'streams')
                            """
                        ).first!.decode(0, as: Int64.self)
                    })
            }
            return counts
        }()
        #expect(seqScans == [0, 0, 0])
    }
}
