import EventStore
import Foundation
import Referrals
import Synchronization

/// The published rulesets, folded from the `sop-rulesets` stream for admission (their consent
/// policies), refreshed by reading only the events appended since, at most once per
/// `refreshInterval`: a newly published ruleset governs admission within that interval.
actor RulesetRegistry {
    private let store: EventStore
    private let refreshInterval: TimeInterval
    private var rulesets: [Ruleset] = []
    private var version: Int64 = 0
    private var refreshedAt: Date?
    private let titleSnapshot = Mutex(RulesetTitles())

    /// The per-language titles of the rulesets folded so far, readable without waiting (the
    /// dashboard's pages read it when they render; ``current(now:)`` keeps it fresh).
    nonisolated var titles: RulesetTitles { titleSnapshot.withLock { $0 } }

    init(store: EventStore, refreshInterval: TimeInterval = 2) {
        self.store = store
        self.refreshInterval = refreshInterval
    }

    /// Every published ruleset version.
    func current(now: Date = Date()) async throws -> [Ruleset] {
        if let refreshedAt, now.timeIntervalSince(refreshedAt) < refreshInterval, now >= refreshedAt {
            return rulesets
        }
        while true {
            let events = try await store.read(stream: .sopRulesets, fromVersion: version + 1, limit: 100)
            for event in events where event.version == version + 1 {
                version = event.version
                if let data = try? JSONValue.parse(event.data),
                    case .sopRulesetPublished(let ruleset)? = try? SystemEventBody.decode(type: event.type, data: data)
                {
                    rulesets.append(ruleset)
                }
            }
            if events.count < 100 { break }
        }
        refreshedAt = now
        let titles = RulesetTitles(rulesets)
        titleSnapshot.withLock { $0 = titles }
        return rulesets
    }
}
