import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Projections
import Referrals

/// Writes synthetic data the way the service would: institutions, the default ruleset, cases.
enum Seed {
    static let coordinator = EventMetadata(actor: EventActor(institution: "natc", user: "coordinator-1"))

    /// Registers the demo institutions in `institutions`.
    static func institutions(_ store: EventStore) async throws {
        let events = Institution.demo.map { i in
            NewEvent(
                type: "InstitutionRegistered",
                data: SystemEventBody.institutionRegistered(i).data.serializedString(), metadata: coordinator)
        }
        try await store.append(to: .institutions, events: events)
    }

    /// Publishes the default Kosovo ruleset in `sop-rulesets` (its data is the ruleset document).
    static func ruleset(_ store: EventStore) async throws {
        try await store.append(
            to: .sopRulesets,
            events: [
                NewEvent(
                    type: "SopRulesetPublished",
                    data: Ruleset.kosovoDefaultForBackfill(recordedBefore: Ruleset.backfillForever).serializedString(),
                    metadata: coordinator)
            ])
    }

    static func newEvent(_ e: CaseEvent) -> NewEvent {
        NewEvent(
            id: e.id, type: e.type.rawValue, data: e.body.data.serializedString(),
            metadata: EventMetadata(actor: EventActor(institution: e.actor.institution, user: e.actor.user)),
            occurredAt: e.occurredAt)
    }

    /// Appends each case's events in one append per case, a few cases at a time.
    static func cases(_ store: EventStore, _ cases: [SyntheticCase]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                guard next < cases.count else { return }
                let c = cases[next]
                next += 1
                group.addTask {
                    try await store.append(
                        to: StreamName.case(c.caseId)!, expected: .noStream, events: c.events.map(newEvent))
                }
            }
            for _ in 0..<6 { add() }
            while try await group.next() != nil { add() }
        }
    }

    /// Generated cases with at least `minimumEvents` events in total.
    static func generated(seed: UInt64, minimumEvents: Int, now: Date) -> [SyntheticCase] {
        let generator = SyntheticGenerator(seed: seed, now: now)
        var out: [SyntheticCase] = []
        var total = 0
        while total < minimumEvents {
            let c = generator.makeCase(index: out.count)
            out.append(c)
            total += c.events.count
        }
        return out
    }

    /// A whole store: institutions, ruleset, generated cases. Returns the number of events.
    static func world(_ store: EventStore, seed: UInt64, minimumEvents: Int, now: Date) async throws -> Int {
        try await institutions(store)
        try await ruleset(store)
        let cases = generated(seed: seed, minimumEvents: minimumEvents, now: now)
        try await Self.cases(store, cases)
        // Other tests' open transactions can hide fresh events from the gap-free reader for a moment.
        try await waitUntilAllReadable(store)
        return cases.reduce(0) { $0 + $1.events.count } + Institution.demo.count + 1
    }
}

/// Every read-model table's rows as text, sorted: what "the same rows" means.
enum Snapshot {
    static let tables = [
        "case_summary", "case_parties", "referrals", "deadlines", "deadline_notices", "case_documents",
        "reflection_periods", "case_closures", "institutions", "sop_rulesets",
    ]

    static func take(_ pool: ConnectionPool) async throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for table in tables {
            let text = "SELECT t::text FROM handoff.\(table) t ORDER BY 1"
            out[table] = try await pool.query(SQL(text: text, parameters: [])).all.map { try $0.decode(0) }
        }
        return out
    }
}

/// A generator "now" safely in the past, so no generated event is in the future.
let generatorNow = Date().addingTimeInterval(-3600)

/// Catches up until no projector is behind. Tests share one cluster, and a transaction running in
/// another test's database holds back the gap-free horizon of every database, so one `catchUp()`
/// may stop short of the head; the runner simply goes on later, as in production.
@discardableResult
func settle(_ runner: ProjectionRunner, timeout: Duration = .seconds(60)) async throws -> [String: Int] {
    let deadline = ContinuousClock.now + timeout
    var applied: [String: Int] = [:]
    while true {
        for (name, n) in try await runner.catchUp() { applied[name, default: 0] += n }
        if try await runner.lag().allSatisfy({ $0.eventsBehind == 0 }) || ContinuousClock.now > deadline {
            return applied
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}
