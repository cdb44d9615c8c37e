import Synchronization

/// At most `limit` sign-ins checked at once (``SignInPolicy/maxConcurrentChecks``): each costs a
/// bcrypt comparison in the database, so more at once are turned away rather than queued. The
/// wait after a failure is not counted: a check leaves the gate before it.
final class SignInGate: Sendable {
    let limit: Int
    private let active = Mutex(0)

    init(limit: Int) { self.limit = max(1, limit) }

    /// Takes a place; false when all `limit` are taken. Each true must be matched by ``leave()``.
    func enter() -> Bool {
        active.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func leave() { active.withLock { $0 -= 1 } }

    /// Places taken now.
    var taken: Int { active.withLock { $0 } }
}
