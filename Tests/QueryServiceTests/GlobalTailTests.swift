import EventStore
import Foundation
import HandoffTestSupport
import Testing

@testable import QueryService

/// The shared head of the log answers exactly as the store does for the cursors it holds, and
/// sends every other cursor to the store.
@Suite struct GlobalTailTests {
    func append(_ store: EventStore, _ name: String, count: Int, type: String = "CaseReviewed") async throws -> [UUID] {
        let events = (0..<count).map { _ in
            NewEvent(
                type: type, data: #"{"note":"synthetic"}"#,
                metadata: EventMetadata(actor: EventActor(institution: "kp-dthb", user: "officer-1182")))
        }
        return try await store.append(to: .case(name)!, events: events).events.map(\.id)
    }

    @Test func pagesFromMemoryMatchTheStore() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let before = try await append(store, "T-0", count: 3)
        try await waitUntilAllReadable(store)
        let tail = GlobalTail(store: store, capacity: 1000, maxAge: .seconds(60))
        // The first use starts the tail at the head: older cursors go to the store.
        #expect(try await tail.page(after: .start, limit: 10, types: nil, seen: 0) == nil)
        let head = try await store.headCursor()
        #expect(try await tail.page(after: head, limit: 10, types: nil, seen: 0)?.events.isEmpty == true)

        var appended: [UUID] = []
        for k in 1...4 {
            appended += try await append(store, "T-\(k)", count: 5, type: k % 2 == 0 ? "CaseClosed" : "CaseReviewed")
        }
        try await waitUntilAllReadable(store)
        // Without a newer wake-up and within maxAge the tail does not read again…
        #expect(try await tail.page(after: head, limit: 100, types: nil, seen: 0)?.events.isEmpty == true)
        // …a wake-up makes it read once, and then every cursor in the buffer is answered from memory.
        let page = try #require(try await tail.page(after: head, limit: 100, types: nil, seen: 1))
        #expect(page.events.map(\.id) == appended)
        var cursor = head
        var paged: [UUID] = []
        while true {
            let p = try #require(try await tail.page(after: cursor, limit: 3, types: nil, seen: 1))
            let direct = try await store.readGlobal(after: cursor, limit: 3)
            #expect(p.events.map(\.id) == direct.events.map(\.id))
            #expect(p.next == direct.next)
            if p.events.isEmpty { break }
            paged += p.events.map(\.id)
            cursor = p.next
        }
        #expect(paged == appended)
        let closed = try #require(try await tail.page(after: head, limit: 100, types: ["CaseClosed"], seen: 1))
        let direct = try await store.readGlobal(after: head, limit: 100, types: ["CaseClosed"])
        #expect(closed.events.map(\.id) == direct.events.map(\.id) && closed.next == direct.next)
        #expect(closed.events.count == 10)
        // A cursor ahead of what the tail has read goes to the store.
        let newest = try await store.headCursor()
        #expect(before.count == 3)
        #expect(
            try await tail.page(
                after: Cursor(xid: newest.xid + 10, position: newest.position), limit: 5, types: nil, seen: 1) == nil)
    }

    @Test func theBufferKeepsTheNewestEvents() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let tail = GlobalTail(store: store, capacity: 1000, maxAge: .seconds(60))
        let start = try await store.headCursor()
        #expect(try await tail.page(after: start, limit: 10, types: nil, seen: 0)?.events.isEmpty == true)
        var ids: [UUID] = []
        for k in 0..<12 { ids += try await append(store, "B-\(k)", count: 100) }
        try await waitUntilAllReadable(store)
        // 1,200 events read, 1,000 kept: the oldest 200 are the store's to answer.
        #expect(try await tail.page(after: start, limit: 1000, types: nil, seen: 1) == nil)
        let all = try await store.readGlobal(after: start, limit: 1200).events
        #expect(all.map(\.id) == ids)
        let kept = try #require(try await tail.page(after: all[199].cursor, limit: 1000, types: nil, seen: 1))
        #expect(kept.events.map(\.id) == Array(ids.dropFirst(200)))
        #expect(try await tail.page(after: all[198].cursor, limit: 10, types: nil, seen: 1) == nil)
    }

    /// Followers arrive at once with different wake-up generations while appends go on: the tail
    /// reads one at a time and its buffer stays the store's order, with nothing twice or missing.
    @Test func concurrentFollowersNeverDuplicateOrSkip() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let tail = GlobalTail(store: store, capacity: 10_000, maxAge: .milliseconds(1))
        let start = try await store.headCursor()
        _ = try await tail.page(after: start, limit: 10, types: nil, seen: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for k in 0..<40 { _ = try await self.append(store, "C-\(k)", count: 3) }
            }
            for follower in 0..<8 {
                group.addTask {
                    for round in 1...60 {
                        _ = try await tail.page(
                            after: start, limit: 1000, types: nil, seen: UInt64(round * 8 + follower))
                    }
                }
            }
            try await group.waitForAll()
        }
        try await waitUntilAllReadable(store)
        let all = try await store.readGlobal(after: start, limit: 1000).events
        #expect(all.count == 120)
        let fromTail = try #require(try await tail.page(after: start, limit: 1000, types: nil, seen: 10_000))
        #expect(fromTail.events.map(\.id) == all.map(\.id))
    }
}
