import Foundation
import Postgres
import Synchronization

/// Wakes readers after appends commit: `NOTIFY handoff_events`, sent on a connection of its own,
/// outside the appending transactions and coalesced — while one notification is in flight, any
/// number of further appends ask for just one more.
///
/// Why not NOTIFY inside the append: PostgreSQL serializes the commits of notifying transactions
/// on one lock held through the commit's flush, which would cap appends at one commit flush at a
/// time. A notification is only ever a hint; readers also poll, so a lost one delays, never loses.
final class AppendNotifier: Sendable {
    private struct State {
        var inFlight = false
        var again = false
    }
    private let url: String
    private let state = Mutex(State())
    private let connection = ConnectionHolder()

    /// The shortest time between two NOTIFYs while appends keep coming.
    static let spacing: Duration = .milliseconds(3)

    init(url: String) { self.url = url }

    /// Called after an append committed.
    func appended() {
        let start = state.withLock { s -> Bool in
            if s.inFlight {
                s.again = true
                return false
            }
            s.inFlight = true
            return true
        }
        if start { Task { await self.send() } }
    }

    private func send() async {
        while true {
            do {
                let c = try await connection.get(url)
                try await c.execute("NOTIFY handoff_events")
            } catch {
                connection.drop()
            }
            let more = state.withLock { s -> Bool in
                if s.again {
                    s.again = false
                    return true
                }
                s.inFlight = false
                return false
            }
            if !more { return }
            // More appends committed while that NOTIFY ran: one more covers them all. Spacing the
            // NOTIFYs a little lets a burst share one (each wakes every listener of the cluster).
            try? await Task.sleep(for: Self.spacing)
        }
    }
}

/// A lazily opened connection that is replaced after a failure.
final class ConnectionHolder: Sendable {
    private let current = Mutex<Connection?>(nil)

    func get(_ url: String) async throws -> Connection {
        if let c = current.withLock({ $0 }), !c.isBroken { return c }
        let c = try await Connection.connect(url, connectTimeout: 2)
        current.withLock { $0 = c }
        return c
    }

    func drop() {
        let old = current.withLock { c -> Connection? in
            defer { c = nil }
            return c
        }
        old?.close()
    }
}
