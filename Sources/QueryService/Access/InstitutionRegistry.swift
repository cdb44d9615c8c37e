import EventStore
import Referrals

/// The registered institutions, folded from the `institutions` stream and refreshed by reading
/// only the events appended since (one indexed query). The maps (`known()`, `current()`) hold
/// those that work on cases (``Institution/worksOnCases``), each with its kinds: what referrals
/// and consents may name (and of which purposes: ``ReferralPurpose/recipientKinds``), and who may
/// record events in cases. Also `handoff token create` and `user add`'s lookup.
package actor InstitutionRegistry {
    private let store: EventStore
    /// Those of `institutions` that work on cases, with their kinds (kept as they are read: every
    /// append asks for them).
    private var working: [String: [InstitutionKind]] = [:]
    private var institutions: [String: Institution] = [:]
    private var version: Int64 = 0
    /// When the registry was last read to its end (nil: never yet).
    private var readAt: ContinuousClock.Instant?
    /// How old the copy ``institution(_:fresh:)`` answers from may be.
    private let maxAge: Duration

    /// What is known without asking the store, once it has been read at least once. A caller that
    /// is refused against it asks ``changed(since:)`` before answering.
    func known() async throws -> [String: [InstitutionKind]] {
        readAt != nil ? working : try await current()
    }

    package init(store: EventStore, maxAge: Duration = .seconds(2)) {
        self.store = store
        self.maxAge = maxAge
    }

    func current() async throws -> [String: [InstitutionKind]] {
        let startedAt = ContinuousClock.now
        while true {
            let events = try await store.read(stream: .institutions, fromVersion: version + 1, limit: 1000)
            for event in events where event.version == version + 1 {
                version = event.version
                if let data = try? JSONValue.parse(event.data),
                    case .institutionRegistered(let institution)? = try? SystemEventBody.decode(
                        type: event.type, data: data)
                {
                    // The latest registration decides, whichever way it goes.
                    working[institution.id] = institution.worksOnCases ? institution.kinds : nil
                    institutions[institution.id] = institution
                }
            }
            if events.count < 1000 {
                readAt = startedAt
                return working
            }
        }
    }

    /// The registered institution with this id (its latest registration), from a copy read at
    /// most `maxAge` ago (2 s), or, with `fresh`, after reading the registry's newest events.
    /// A caller that would refuse on what it gets asks again with `fresh` before refusing, so a
    /// registration takes effect at once and a changed one within `maxAge`.
    package func institution(_ id: String, fresh: Bool = false) async throws -> Institution? {
        if fresh || readAt.map({ ContinuousClock.now - $0 >= maxAge }) ?? true { _ = try await current() }
        return institutions[id]
    }

    /// After a refusal decided against `known`: the institutions as the registry's newest events give them,
    /// if they differ (then admit again: an institution registered a moment ago), else nil.
    func changed(since known: [String: [InstitutionKind]]) async throws -> [String: [InstitutionKind]]? {
        let now = try await current()
        return now == known ? nil : now
    }
}
