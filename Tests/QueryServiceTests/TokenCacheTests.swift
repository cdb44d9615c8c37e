@testable import ServiceStore
import Foundation
import Referrals
import Synchronization
import Testing

@testable import QueryService

/// Token lookups are cached for a bounded time; revocation takes effect within that bound.
@Suite("Token cache and revocation")
struct TokenCacheTests {
    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        let instant = Mutex(ContinuousClock.now)
        func now() -> ContinuousClock.Instant { instant.withLock { $0 } }
        func advance(_ d: Duration) { instant.withLock { $0 += d } }
    }

    static let officer = Principal(role: .institution, institution: "opav", user: "advocate-1")
    static let hash = Array(repeating: UInt8(7), count: 32)

    @Test func anEntryIsTrustedForLessThanTheTTLCountedFromTheStartOfItsLookup() {
        let clock = ManualClock()
        let cache = TokenCache(ttl: .seconds(5), now: clock.now)
        let ticket = cache.lookupStarted()
        clock.advance(.seconds(1))  // the lookup itself took a second
        cache.store(Self.officer, for: Self.hash, ticket: ticket)
        #expect(cache.principal(for: Self.hash) == Self.officer)
        clock.advance(.milliseconds(3_999))
        #expect(cache.principal(for: Self.hash) == Self.officer)
        clock.advance(.milliseconds(1))  // 5 s after the lookup started
        #expect(cache.principal(for: Self.hash) == nil)
        #expect(cache.count == 0)
    }

    @Test func aLookupThatOverlappedAnEvictionIsNotKept() {
        let clock = ManualClock()
        let cache = TokenCache(ttl: .seconds(5), now: clock.now)
        let ticket = cache.lookupStarted()
        cache.evict(hash: Self.hash)  // a revocation while the lookup was in flight
        cache.store(Self.officer, for: Self.hash, ticket: ticket)
        #expect(cache.principal(for: Self.hash) == nil)
        // Evicting by user drops that user's tokens only.
        let other = Principal(role: .coordinator, institution: "natc", user: "coordinator-1")
        let otherHash = Array(repeating: UInt8(9), count: 32)
        let fresh = cache.lookupStarted()
        cache.store(Self.officer, for: Self.hash, ticket: fresh)
        cache.store(other, for: otherHash, ticket: fresh)
        cache.evict(user: "advocate-1", institution: "opav")
        #expect(cache.principal(for: Self.hash) == nil)
        #expect(cache.principal(for: otherHash) == other)
    }

    @Test func theCacheIsBoundedAndCanBeOff() {
        let clock = ManualClock()
        let cache = TokenCache(ttl: .seconds(5), capacity: 3, now: clock.now)
        for i in 0..<10 {
            clock.advance(.milliseconds(1))
            cache.store(Self.officer, for: [UInt8(i)], ticket: cache.lookupStarted())
            #expect(cache.count <= 3)
        }
        #expect(cache.principal(for: [9]) == Self.officer)  // the newest stay
        #expect(cache.principal(for: [0]) == nil)
        let off = TokenCache(ttl: .zero, now: clock.now)
        off.store(Self.officer, for: Self.hash, ticket: off.lookupStarted())
        #expect(off.principal(for: Self.hash) == nil)
    }

    /// Against the real database: a revocation made outside the service (here: SQL, as an
    /// administrator or another process would) is not seen while the token is cached, and is in
    /// force once the TTL has passed since the revocation. A revocation through the service's own
    /// store is in force at once.
    @Test func revocationTakesEffectWithinTheTTLAndAtOnceThroughTheService() async throws {
        // A long TTL: the cache is what answers after the external revocation.
        let cached = try await Harness.start(tokenCacheTTL: .seconds(3600))
        defer { Task { await cached.stop() } }
        try await cached.openCase("KS-TC-1", by: "opav")
        let token = try await cached.service.tokens.create(role: .institution, institution: "opav", user: "leaver-1")
        #expect(try await cached.api.get("/v1/cases/KS-TC-1/history", token: token).status == 200)
        let admin = try await cached.db.connect()
        defer { admin.close() }
        try await admin.execute("UPDATE handoff.api_tokens SET revoked_at = now() WHERE \"user\" = 'leaver-1'")
        #expect(try await cached.service.tokens.authenticate(token) != nil)  // cached, by design
        #expect(try await cached.api.get("/v1/cases/KS-TC-1/history", token: token).status == 200)
        // Through the service's store: at once.
        let second = try await cached.service.tokens.create(role: .institution, institution: "opav", user: "leaver-2")
        #expect(try await cached.api.get("/v1/cases/KS-TC-1/history", token: second).status == 200)
        #expect(try await cached.service.tokens.revoke(token: second))
        #expect(try await cached.api.get("/v1/cases/KS-TC-1/history", token: second).status == 401)
        let third = try await cached.service.tokens.create(role: .institution, institution: "opav", user: "leaver-3")
        #expect(try await cached.api.get("/v1/cases/KS-TC-1", token: third).status != 401)
        #expect(try await cached.service.tokens.revoke(user: "leaver-3", institution: "opav") == 1)
        #expect(try await cached.api.get("/v1/cases/KS-TC-1", token: third).status == 401)

        // A short TTL: once it has passed after an external revocation, the token is refused.
        let ttl = Duration.milliseconds(300)
        let short = try await Harness.start(db: cached.db, tokenCacheTTL: ttl)
        defer { Task { await short.stop() } }
        let fourth = try await short.service.tokens.create(role: .institution, institution: "opav", user: "leaver-4")
        #expect(try await short.api.get("/v1/cases/KS-TC-1/history", token: fourth).status == 200)
        try await admin.execute("UPDATE handoff.api_tokens SET revoked_at = now() WHERE \"user\" = 'leaver-4'")
        try await Task.sleep(for: ttl)
        let refused = try await short.api.get("/v1/cases/KS-TC-1/history", token: fourth)
        #expect(refused.status == 401)
        #expect(refused.errorCode == "unauthorized")
        // Refusals are not cached: each unknown token is looked up, and stays refused.
        for _ in 0..<2 {
            #expect(try await short.api.get("/v1/cases/KS-TC-1", token: "hnd_unknown").status == 401)
        }
        #expect(short.service.tokens.cache.count <= 1)
    }
}
