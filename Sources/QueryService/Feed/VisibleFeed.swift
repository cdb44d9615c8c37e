import EventStore
import Referrals
import ServiceStore

/// The global log as one caller may see it, in gap-free order.
///
/// Coordinators and auditors see every event. An institution sees only the `case-<id>` and
/// `sop-<id>` events of cases it is party to; the cursor still moves past what it may not see,
/// so `next` never makes a client read those events again, and never skips one it may see.
struct VisibleFeed: Sendable {
    let store: EventStore
    let access: CaseAccess
    /// At most this many events are examined for one page of an institution's feed before the
    /// page is returned (possibly short, or empty with an advanced `next`).
    var scanLimit = 20_000

    struct Page: Sendable {
        var events: [RecordedEvent]
        var next: Cursor
        /// Whether the page reached the end of what is readable now.
        var caughtUp: Bool
    }

    /// - Parameter tail: for live followers, the shared head of the log and the wake-up generation
    ///   the caller has seen; pages come from it when it holds them.
    func page(
        after cursor: Cursor, limit: Int, types: [String]?, for principal: Principal, tail: (GlobalTail, UInt64)? = nil
    ) async throws -> Page {
        func read(after cursor: Cursor, limit: Int) async throws -> EventStore.Page {
            if let (tail, seen) = tail,
                let page = try await tail.page(after: cursor, limit: limit, types: types, seen: seen)
            {
                return page
            }
            return try await store.readGlobal(after: cursor, limit: limit, types: types)
        }
        guard principal.role == .institution else {
            let page = try await read(after: cursor, limit: limit)
            return Page(events: page.events, next: page.next, caughtUp: page.reachedEnd)
        }
        guard let institution = principal.institution else { return Page(events: [], next: cursor, caughtUp: true) }
        var out: [RecordedEvent] = []
        var position = cursor
        var scanned = 0
        while out.count < limit, scanned < scanLimit {
            // Raw pages of at least a few hundred events, whatever the page size asked for: an
            // institution sees a small part of the log, and `limit=1` must not mean one read per event.
            let raw = try await read(after: position, limit: min(max(limit, 500), 1000))
            if raw.events.isEmpty { return Page(events: out, next: max(position, raw.next), caughtUp: raw.reachedEnd) }
            scanned += raw.events.count
            // Parties are read after the page, so every event on it is already visible to that query.
            let caseIds = Set(raw.events.compactMap { CaseAccess.caseId(ofStream: $0.stream) })
            let visible = try await access.partyCases(institution: institution, among: caseIds)
            for event in raw.events {
                if out.count == limit { return Page(events: out, next: position, caughtUp: false) }
                position = event.cursor
                if let caseId = CaseAccess.caseId(ofStream: event.stream), visible.contains(caseId) {
                    out.append(event)
                }
            }
            // Every event on the page was looked at: move on to where the read examined up to
            // (past what a type filter left out).
            position = max(position, raw.next)
            if raw.reachedEnd { return Page(events: out, next: position, caughtUp: true) }
        }
        return Page(events: out, next: position, caughtUp: false)
    }

    /// The case ids of the events (for the access log).
    static func caseIds(_ events: [RecordedEvent]) -> Set<String> {
        Set(events.compactMap { CaseAccess.caseId(ofStream: $0.stream) })
    }
}
