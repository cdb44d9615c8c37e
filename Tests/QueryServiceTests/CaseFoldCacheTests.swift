import EventStore
import Foundation
import HandoffTestSupport
import Referrals
import Testing

@testable import QueryService
@testable import ServiceStore

/// Admission's cached fold (issue 17): the fold kept in memory and refreshed past its version
/// equals the fold of the whole stream, whoever appended meanwhile.
@Suite struct CaseFoldCacheTests {
    @Test func theCachedFoldEqualsTheWholeStreamsFoldAfterEveryAppend() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let cached = CaseAccess(store: store)
        let fresh = CaseAccess(store: store)
        let generator = SyntheticGenerator(seed: 17, now: Date())
        var rng = SplitMix64(seed: 18)
        var compared = 0
        for index in 0..<25 {
            let c = generator.makeCase(index: index)
            let stream = StreamName.case(c.caseId)!
            var rest = c.events[...]
            // Not a case yet: nothing is cached, and both say so.
            #expect(try await cached.loadFold(caseId: c.caseId) == CaseAccess.CaseFold(state: nil, version: 0))
            while !rest.isEmpty {
                // Appended elsewhere (another process, another writer), in chunks of 1–5.
                let chunk = rest.prefix(Int.random(in: 1...5, using: &rng))
                rest = rest.dropFirst(chunk.count)
                var events = chunk.map { event in
                    NewEvent(
                        id: event.id, type: event.body.type.rawValue, data: event.body.data.serializedString(),
                        metadata: EventMetadata(
                            actor: EventActor(institution: event.actor.institution, user: event.actor.user)),
                        occurredAt: event.occurredAt)
                }
                if index % 5 == 4 && rest.count % 3 == 0 {
                    // An event written around the API that does not decode: counted in the
                    // version, never in the state.
                    events.append(
                        NewEvent(
                            type: "SomethingElse", data: "{}",
                            metadata: EventMetadata(actor: EventActor(institution: "kp-dthb", user: "u-1"))))
                }
                try await store.append(to: stream, events: events)
                let whole = try await fresh.load(caseId: c.caseId)
                let fold = try await cached.loadFold(caseId: c.caseId)
                #expect(fold == CaseAccess.CaseFold(state: whole.state, version: whole.version))
                #expect(fold.state != nil)
                compared += 1
            }
        }
        #expect(compared > 25)
        #expect(cached.folds.count == 25)
    }

    @Test func theCacheKeepsAtMostItsCapacityAndNeverGoesBack() {
        let cache = CaseFoldCache(capacity: 3)
        for k in 0..<10 { cache["C-\(k)"] = CaseAccess.CaseFold(state: nil, version: Int64(k)) }
        #expect(cache.count <= 3)
        #expect(cache["C-9"]?.version == 9)
        cache["C-9"] = CaseAccess.CaseFold(state: nil, version: 2)
        #expect(cache["C-9"]?.version == 9)
    }

    @Test func theRecentCacheKeepsTheHalfOfItsCapacityMostRecentlyUsed() {
        let cache = RecentCache<Int, Int>(capacity: 100)
        var rng = SystemRandomNumberGenerator()
        var recent: [Int] = []  // the keys used, most recent last, each once
        for _ in 0..<5000 {
            // Mostly keys used lately, sometimes a new one.
            let key =
                Bool.random(using: &rng) && !recent.isEmpty
                ? recent.suffix(80).randomElement(using: &rng)! : Int.random(in: 0..<300, using: &rng)
            if cache[key] == nil { cache.update(key) { $0 = key } }
            recent.removeAll { $0 == key }
            recent.append(key)
            #expect(cache.count <= 100)
            for k in recent.suffix(50) where cache[k] != k {
                Issue.record("key \(k), one of the 50 used last, was dropped")
                return
            }
        }
        // Setting nil removes.
        let last = recent[recent.count - 1]
        cache.update(last) { $0 = nil }
        #expect(cache[last] == nil)
    }
}
