import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Testing

/// `recorded_at` never decreases along a stream's versions (docs/time-of-record.md, section 1).
@Suite struct TimeOfRecordStoreTests {
    /// The server's clock behind the stream's last time of record (a clock stepped back, or a
    /// previous event stamped by a server whose clock ran ahead): the next event is stamped no
    /// earlier than the last, so `?asOf=` never returns a history with a hole.
    @Test func recordedAtNeverDecreasesAlongAStream() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let s = stream("KS-TOR-1")
        _ = try await store.append(to: s, events: [event()])
        let ahead = Date().addingTimeInterval(3600)
        let admin = try await db.connect()
        defer { admin.close() }
        // As if version 1 had been stamped an hour ahead of this server's clock.
        try await admin.query(
            "UPDATE handoff.streams SET last_recorded_at = \(ahead) WHERE stream = \(s.rawValue)")
        _ = try await store.append(to: s, events: [event()])
        _ = try await store.append(to: s, events: [event(), event()])
        let times = try await store.readAll(stream: s).map(\.recordedDate)
        #expect(times.count == 4)
        #expect(times[1] >= ahead.addingTimeInterval(-0.001), "\(times)")
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 }, "\(times)")
        // And a stream that never had one still gets the server's time.
        let fresh = try await store.append(to: stream("KS-TOR-2"), events: [event()])
        #expect(fresh.streamVersion == 1)
    }
}
