import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Testing

@Suite struct GlobalOrderTests {
    /// Appends inside a transaction that stays open until `commit` is called.
    struct HeldAppend {
        let connection: Connection
        let id: UUID
        func commit() async throws { try await connection.execute("COMMIT") }
    }

    func holdOpenAppend(_ db: TestDB, stream: String) async throws -> HeldAppend {
        let c = try await db.connect()
        let id = UUID()
        try await c.execute("BEGIN")
        try await c.query(rawAppend(stream: stream, id: id))
        return HeldAppend(connection: c, id: id)
    }

    /// The paged reader hands every event over once, in order, across page boundaries; stops when
    /// asked; and passes on the handler's error.
    @Test func pagedReaderReadsAheadWithoutSkippingOrRepeating() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        var appended: [UUID] = []
        for k in 0..<7 {
            appended += try await store.append(to: stream("P-\(k)"), events: (0..<5).map { _ in event() }).events.map(
                \.id)
        }
        try await waitUntilAllReadable(store)
        var seen: [UUID] = []
        var pages = 0
        let end = try await store.readGlobalPages(after: .start, limit: 4) { page in
            pages += 1
            seen += page.events.map(\.id)
            return true
        }
        #expect(seen == appended)
        #expect(pages == 9)
        #expect(try await store.readGlobal(after: end, limit: 10).events.isEmpty)
        // Stopping early returns the cursor after the last page handled.
        var handled: [UUID] = []
        let stop = try await store.readGlobalPages(after: .start, limit: 10) { page in
            handled += page.events.map(\.id)
            return handled.count < 20
        }
        #expect(handled == Array(appended.prefix(20)))
        #expect(try await store.readGlobal(after: stop, limit: 100).events.map(\.id) == Array(appended.dropFirst(20)))
        struct Stop: Error {}
        await #expect(throws: Stop.self) {
            try await store.readGlobalPages(after: .start, limit: 10) { _ in throw Stop() }
        }
    }

    /// The bulk reader (`readGlobalPages`, by COPY in the text format, undone by `CopyTextRow`)
    /// gives the events exactly as the page reader does, whatever their JSON holds (escaped tabs
    /// and newlines, backslashes, `\N`, control characters, quotes, non-ASCII), and stops before
    /// an open transaction as the page reader does.
    @Test func theBulkReaderGivesWhatThePageReaderGives() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let awkward = [
            #"{"t": "a\tb", "n": "line\nnext\r", "b": "back\\slash", "q": "\"quoted\""}"#,
            #"{"null": "\\N", "x": "\\x41", "o": "\\101", "ctl": "\u0001\u0008\u000b\u000c\u001f"}"#,
            #"{"u": "ñ 😀 \u2028 Ω", "empty": "", "nested": {"k": ["\t", "\\", null, 1.5e3]}}"#,
        ]
        var last = Cursor.start
        for (k, data) in awkward.enumerated() {
            let written = try await store.append(
                to: stream("BULK-\(k)"), events: [event(data: data), event(data: #"{"plain": true}"#)])
            last = written.events[written.events.count - 1].cursor
        }
        let held = try await holdOpenAppend(db, stream: "case-BULK-HELD")
        let after = try await store.append(to: stream("BULK-AFTER"), events: [event()])
        try await waitUntilReadable(store, last)
        var bulk: [RecordedEvent] = []
        try await store.readGlobalPages(after: .start, limit: 2) { page in
            bulk += page.events
            return true
        }
        #expect(bulk == (try await store.readGlobal(after: .start, limit: 1000).events))
        #expect(bulk.count == 2 * awkward.count)
        #expect(!bulk.contains { $0.id == after.events[0].id })
        #expect(bulk[0].data.contains(#"a\tb"#), "\(bulk[0].data)")
        try await held.commit()
        try await waitUntilAllReadable(store)
        bulk = []
        try await store.readGlobalPages(after: .start, limit: 3) { page in
            bulk += page.events
            return true
        }
        #expect(bulk == (try await store.readGlobal(after: .start, limit: 1000).events))
        #expect(bulk.count == 2 * awkward.count + 2)
    }

    @Test func readersNeitherSkipALateCommitNorReadPastIt() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let e0 = try await store.append(to: stream("G-0"), events: [event()])
        let held = try await holdOpenAppend(db, stream: "case-G-1")
        let later = try await store.append(to: stream("G-2"), events: [event(), event()])
        let last = try await store.append(to: stream("G-3"), events: [event()])

        // While the older transaction is open, readers stop before it (other tests' transactions
        // may hold them back a moment longer, never let them read past).
        try await waitUntilReadable(store, e0.events[0].cursor)
        let page1 = try await store.readGlobal(after: .start, limit: 100)
        #expect(page1.events.map(\.id) == [e0.events[0].id])
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await store.readGlobal(after: page1.next, limit: 100).events.isEmpty)

        try await held.commit()
        held.connection.close()
        // Now the held event comes first (older transaction), then the ones that committed before it.
        try await waitUntilReadable(store, last.events[0].cursor)
        let page2 = try await store.readGlobal(after: page1.next, limit: 100)
        #expect(page2.events.map(\.id) == [held.id] + later.events.map(\.id) + last.events.map(\.id))
        // Paging with small pages yields the same sequence, without repeats.
        var cursor = Cursor.start
        var seen: [UUID] = []
        while true {
            let page = try await store.readGlobal(after: cursor, limit: 2)
            if page.events.isEmpty { break }
            seen += page.events.map(\.id)
            cursor = page.next
        }
        #expect(seen == page1.events.map(\.id) + page2.events.map(\.id))
        #expect(Set(seen).count == seen.count)
    }

    @Test func filtersByTypeAndStream() async throws {
        let store = try await TestDatabase.make().store()
        try await store.append(to: stream("F-1"), events: [event("CaseOpened"), event("CaseReviewed")])
        let last = try await store.append(to: stream("F-2"), events: [event("CaseOpened")])
        try await waitUntilReadable(store, last.events[0].cursor)
        let opened = try await store.readGlobal(after: .start, types: ["CaseOpened"])
        #expect(opened.events.map(\.type) == ["CaseOpened", "CaseOpened"])
        let f2 = try await store.readGlobal(after: .start, streams: ["case-F-2"])
        #expect(f2.events.map(\.stream) == ["case-F-2"])
        let odd = try await store.readGlobal(after: .start, types: [#"x", "y"#])
        #expect(odd.events.isEmpty)
    }

    /// A filtered read answers with the position it examined up to, not its last match, so a
    /// follower of a rare type does not examine the same events again; and it never moves past an
    /// event that a transaction still open may yet commit.
    @Test func filteredReadsAdvancePastNonMatchesButNotPastAnOpenTransaction() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let opened = try await store.append(to: stream("R-1"), events: [event("CaseOpened")])
        let reviews = try await store.append(to: stream("R-2"), events: (0..<5).map { _ in event() })
        let head = reviews.events.last!.cursor
        try await waitUntilReadable(store, head)
        let rare = try await store.readGlobal(after: .start, types: ["CaseOpened"])
        #expect(rare.events.map(\.id) == opened.events.map(\.id))
        #expect(rare.next == head)
        #expect(rare.reachedEnd)
        // Nothing new: the same position again, not back at the last match.
        let again = try await store.readGlobal(after: rare.next, types: ["CaseOpened"])
        #expect(again.events.isEmpty && again.next == head && again.reachedEnd)
        // A full page of matches stops at its last match.
        let full = try await store.readGlobal(after: .start, limit: 2, types: ["CaseReviewed"])
        #expect(full.events.count == 2 && full.next == full.events.last!.cursor && !full.reachedEnd)

        // An older transaction still open holds a matching event: later commits that do not match
        // must not carry `next` past it.
        let held = try await holdOpenAppend(db, stream: "case-R-3")
        let after = try await store.append(to: stream("R-4"), events: [event("CaseOpened"), event("CaseOpened")])
        var cursor = head
        for _ in 0..<5 {
            let page = try await store.readGlobal(after: cursor, types: ["CaseReviewed"])
            #expect(page.events.isEmpty)
            cursor = page.next
        }
        try await held.commit()
        held.connection.close()
        try await waitUntilReadable(store, after.events.last!.cursor)
        var seen: [UUID] = []
        for _ in 0..<5 {
            let page = try await store.readGlobal(after: cursor, types: ["CaseReviewed"])
            seen += page.events.map(\.id)
            cursor = page.next
        }
        #expect(seen == [held.id])
        #expect(cursor == after.events.last!.cursor)
    }

    /// A filtered read examines at most `filteredScanLimit` events: past them it returns what it
    /// matched with `next` at the last one examined, says it has not reached the end, and the next
    /// read goes on from there without skipping the match that follows.
    @Test func filteredReadsExamineABoundedNumberOfEvents() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let limit = EventStore.filteredScanLimit
        var last: AppendResult?
        for k in 0..<(limit / 1000) {
            last = try await store.append(to: stream("S-\(k)"), events: (0..<1000).map { _ in event() })
        }
        let tenThousandth = try #require(last?.events.last?.cursor)
        let rare = try await store.append(to: stream("S-rare"), events: [event("CaseOpened")])
        try await waitUntilReadable(store, rare.events[0].cursor)
        let first = try await store.readGlobal(after: .start, types: ["CaseOpened"])
        #expect(first.events.isEmpty)
        #expect(first.next == tenThousandth)
        #expect(!first.reachedEnd)
        let second = try await store.readGlobal(after: first.next, types: ["CaseOpened"])
        #expect(second.events.map(\.id) == rare.events.map(\.id))
        #expect(second.next == rare.events[0].cursor)
        #expect(second.reachedEnd)
    }

    @Test func cursorsAreOpaqueButStrict() {
        let c = Cursor(xid: 771, position: 42)
        #expect(Cursor(c.description) == c)
        for bad in ["", "1", "1-", "-1", "a-b", "1-2-3", "1--2", "18446744073709551616-1", " 1-2", "1-2 "] {
            #expect(Cursor(bad) == nil, "\(bad)")
        }
    }

    @Test func liveSubscriptionNeverSkipsOrRepeats() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let wakeups = Wakeups()
        await wakeups.startListening(url: db.url)
        defer { Task { await wakeups.stop() } }
        var expected: [UUID] = []
        expected += try await store.append(to: stream("S-0"), events: [event(), event()]).events.map(\.id)

        let feed = store.subscribe(after: .start, wakeups: wakeups, pollInterval: .milliseconds(200), pageSize: 3)
        let reader = Task { () -> [UUID] in
            var got: [UUID] = []
            for try await e in feed {
                got.append(e.id)
                if got.count == 12 { break }
            }
            return got
        }
        // A held transaction plus concurrent appends while the reader is live.
        let held = try await holdOpenAppend(db, stream: "case-S-1")
        expected.append(held.id)
        var after: [UUID] = []
        for i in 0..<4 {
            after += try await store.append(to: stream("S-\(i + 2)"), events: [event(), event()]).events.map(\.id)
        }
        try await Task.sleep(for: .milliseconds(300))
        try await held.commit()
        held.connection.close()
        expected += after
        expected.append(try await store.append(to: stream("S-9"), events: [event()]).events[0].id)
        let got = try await reader.value
        #expect(got == expected)
    }
}
