import Referrals
import Synchronization

/// Remembers, for a bounded time, which principal a token hash stood for, so that a request does
/// not cost a database lookup for a token that was just checked.
///
/// The bound is the guarantee: an entry is trusted for at most `ttl` after the database lookup
/// that made it, so a token revoked anywhere (another process, `psql`) stops working within `ttl`.
/// A revocation through the same ``TokenStore`` evicts at once. Only successful lookups are kept:
/// an unknown or revoked token is looked up every time (a new token works at once, and
/// guessing cannot fill the cache). Keys are SHA-256 hashes, never the tokens themselves.
///
/// At most `capacity` entries: when full, expired entries are dropped first, then the oldest.
final class TokenCache: Sendable {
    struct Entry {
        var principal: Principal
        var tokenId: Int64
        var expires: ContinuousClock.Instant
    }

    let ttl: Duration
    let capacity: Int
    private let now: @Sendable () -> ContinuousClock.Instant
    private struct State {
        var entries: [[UInt8]: Entry] = [:]
        /// Grows with every eviction, so a lookup that raced with a revocation is not stored.
        var generation: UInt64 = 0
    }
    private let state = Mutex(State())

    /// When a lookup started, and the eviction generation then.
    struct Ticket {
        var started: ContinuousClock.Instant
        var generation: UInt64
    }

    /// - Parameters:
    ///   - ttl: how long a looked-up token is trusted; `.zero` turns caching off.
    ///   - now: the clock (tests pass their own).
    init(
        ttl: Duration, capacity: Int = 10_000,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.ttl = ttl
        self.capacity = max(1, capacity)
        self.now = now
    }

    var isEnabled: Bool { ttl > .zero }

    /// The principal for `hash` if it was looked up less than `ttl` ago.
    func principal(for hash: [UInt8]) -> Principal? { entry(for: hash)?.principal }

    /// The entry for `hash` (principal and token id) if it was looked up less than `ttl` ago.
    func entry(for hash: [UInt8]) -> Entry? {
        guard isEnabled else { return nil }
        let now = self.now()
        return state.withLock { state in
            guard let entry = state.entries[hash] else { return nil }
            guard now < entry.expires else {
                state.entries[hash] = nil
                return nil
            }
            return entry
        }
    }

    /// Call before the database lookup; pass the ticket to ``store(_:for:ticket:)``.
    func lookupStarted() -> Ticket {
        let now = self.now()
        return state.withLock { Ticket(started: now, generation: $0.generation) }
    }

    /// Remembers a successful lookup. It expires `ttl` after the lookup *started*, so the bound
    /// also covers the query's own duration; a lookup that overlapped an eviction is not kept.
    func store(_ principal: Principal, tokenId: Int64 = 0, for hash: [UInt8], ticket: Ticket) {
        guard isEnabled else { return }
        let expires = ticket.started + ttl
        let now = self.now()
        guard now < expires else { return }
        state.withLock { state in
            guard state.generation == ticket.generation else { return }
            if state.entries.count >= capacity, state.entries[hash] == nil {
                var entries = state.entries
                entries = entries.filter { now < $0.value.expires }
                if entries.count >= capacity, let oldest = entries.min(by: { $0.value.expires < $1.value.expires }) {
                    entries[oldest.key] = nil
                }
                state.entries = entries
            }
            state.entries[hash] = Entry(principal: principal, tokenId: tokenId, expires: expires)
        }
    }

    /// Forgets one token.
    func evict(hash: [UInt8]) {
        state.withLock { state in
            state.generation &+= 1
            state.entries[hash] = nil
        }
    }

    /// Forgets one token by its id.
    func evict(tokenId: Int64) {
        state.withLock { state in
            state.generation &+= 1
            state.entries = state.entries.filter { $0.value.tokenId != tokenId }
        }
    }

    /// Forgets every token of a user (of one institution, when given).
    func evict(user: String, institution: String?) {
        state.withLock { state in
            state.generation &+= 1
            state.entries = state.entries.filter { _, entry in
                !(entry.principal.user == user && (institution == nil || entry.principal.institution == institution))
            }
        }
    }

    var count: Int { state.withLock { $0.entries.count } }
}
