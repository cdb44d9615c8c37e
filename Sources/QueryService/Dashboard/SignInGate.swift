import HTTP
import Synchronization

/// At most `limit` sign-ins checked at once (``SignInPolicy/maxConcurrentChecks``): each costs a
/// bcrypt comparison in the database, so more at once are turned away rather than queued — and
/// at most `perAddress` of them from one peer address, so that one client flooding the form holds
/// only its share and everyone else can still sign in (an attack pass blocked every sign-in from
/// one address with 12 threads). The wait after a failure is not counted: a check leaves the gate
/// before it.
final class SignInGate: Sendable {
    let limit: Int
    let perAddress: Int
    private struct State {
        var active = 0
        var byAddress = PerAddressCounts()
    }
    private let state = Mutex(State())

    init(limit: Int, perAddress: Int? = nil) {
        self.limit = max(1, limit)
        self.perAddress = max(1, min(self.limit, perAddress ?? self.limit / 4))
    }

    /// Takes a place for a check from `address` (nil: unknown, counted only in the total);
    /// false when all `limit` are taken or `address` holds `perAddress`. Each true must be
    /// matched by ``leave(_:)`` with the same address.
    func enter(_ address: String? = nil) -> Bool {
        state.withLock { s in
            guard s.active < limit else { return false }
            if let address, !s.byAddress.take(address, limit: perAddress) { return false }
            s.active += 1
            return true
        }
    }

    func leave(_ address: String? = nil) {
        state.withLock { s in
            s.active -= 1
            if let address { s.byAddress.give(address) }
        }
    }

    /// Places taken now.
    var taken: Int { state.withLock { $0.active } }
}
