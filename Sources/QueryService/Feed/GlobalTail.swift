import EventStore

/// The head of the global log, read once for every live follower of this service.
///
/// Without it, every open event stream (SSE) read the store on every wake-up: ten followers and
/// a few hundred appends a second made thousands of identical queries a second. The tail keeps
/// the most recent events in memory; on a wake-up (or when its copy is older than `maxAge`) one
/// caller reads what became readable since, and every follower whose cursor falls inside the
/// buffer takes its page from memory. A follower behind the buffer, or ahead of it, is told to
/// read the store itself. What the tail holds came from `readGlobal`, so it is gap-free in the
/// same way; it is only ever older than a direct read, never different.
actor GlobalTail {
    private let store: EventStore
    private let capacity: Int
    private let maxAge: Duration
    private let clock = ContinuousClock()
    /// Every readable event with base < cursor ≤ head is in `events`, in order.
    private var events: [RecordedEvent] = []
    private var base: Cursor?
    private var head: Cursor?
    /// The wake-up generation and time of the last read.
    private var generation: UInt64 = 0
    private var readAt: ContinuousClock.Instant?
    private var reading: Task<Void, Error>?

    init(store: EventStore, capacity: Int = 5000, maxAge: Duration = .milliseconds(500)) {
        self.store = store
        self.capacity = max(1000, capacity)
        self.maxAge = maxAge
    }

    /// Up to `limit` events after `cursor` (only `types`, when given), from memory; nil when the
    /// cursor is outside what the tail holds and the caller must read the store. `seen` is the
    /// wake-up generation the caller has seen: a newer one than the tail's makes it read first.
    func page(after cursor: Cursor, limit: Int, types: [String]?, seen: UInt64) async throws -> EventStore.Page? {
        if head == nil || seen > generation || readAt.map({ clock.now - $0 >= maxAge }) ?? true {
            try await refresh(seen: seen)
        }
        guard let base, let head, cursor >= base, cursor <= head else { return nil }
        // The first event after the cursor: binary search on the ordered buffer.
        var low = 0, high = events.count
        while low < high {
            let mid = (low + high) / 2
            if events[mid].cursor <= cursor { low = mid + 1 } else { high = mid }
        }
        // `next` is what this page examined up to (past events the filter left out), as
        // `EventStore.readGlobal` answers: the last match of a full page, else the head.
        var out: [RecordedEvent] = []
        var i = low
        while i < events.count, out.count < limit {
            if types?.contains(events[i].type) ?? true { out.append(events[i]) }
            i += 1
        }
        if out.count == limit, let last = out.last { return EventStore.Page(events: out, next: last.cursor) }
        return EventStore.Page(events: out, next: max(cursor, head), reachedEnd: true)
    }

    /// One read of what became readable after `head`, shared by every caller that arrives while
    /// it runs. Strictly one at a time: two reads from the same head would add the same events twice.
    private func refresh(seen: UInt64) async throws {
        while let reading {
            try await reading.value
            if generation >= seen, let readAt, clock.now - readAt < maxAge { return }
        }
        let task = Task { try await self.readNewEvents(seen: seen) }
        reading = task
        try await task.value
    }

    private func readNewEvents(seen: UInt64) async throws {
        // Cleared here, on the actor, as the read ends: a waiter that looks next sees either no
        // read or a newer one.
        defer { reading = nil }
        let startedAt = clock.now
        if head == nil {
            let now = try await store.headCursor()
            head = now
            base = now
        }
        // Read to the end of what is readable now, in pages (a burst is read in several), keeping
        // only the newest `capacity` events: memory stays bounded however long the burst.
        while let from = head {
            let page = try await store.readGlobal(after: from, limit: 1000)
            events += page.events
            head = page.next
            if events.count > capacity {
                let drop = events.count - capacity
                base = events[drop - 1].cursor
                events.removeFirst(drop)
            }
            if page.events.count < 1000 { break }
        }
        generation = max(generation, seen)
        readAt = startedAt
    }
}
