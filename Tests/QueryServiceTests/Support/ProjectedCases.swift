import EventStore
import Foundation
import Projections
import QueryService
import Referrals

/// A harness over synthetic cases appended to the log and projected into the read models
/// (every deadline status occurs among them), served by the real `ProjectionReadSide`.
enum ProjectedCases {
    static func start(cases: Int = 40) async throws -> (Harness, ReadModels) {
        let seedHarness = try await Harness.start()
        let db = seedHarness.db
        await seedHarness.stop()
        let pool = db.pool(size: 4)
        let h = try await Harness.start(readSide: ProjectionReadSide(pool: pool), db: db)
        let meta = EventMetadata(actor: EventActor(institution: "natc", user: "setup"))
        _ = try await h.store.append(
            to: .sopRulesets,
            events: [NewEvent(type: "SopRulesetPublished", data: Ruleset.kosovoDefaultJSON, metadata: meta)])
        let generator = SyntheticGenerator(seed: 11, now: Date())
        for c in generator.cases(count: cases) {
            let events = c.events.map { e in
                NewEvent(
                    id: e.id, type: e.type.rawValue, data: e.body.data.serializedString(),
                    metadata: EventMetadata(actor: EventActor(institution: e.actor.institution, user: e.actor.user)),
                    occurredAt: e.occurredAt)
            }
            _ = try await h.store.append(to: .case(c.caseId)!, expected: .noStream, events: events)
        }
        try await h.settle()
        _ = try await ProjectionRunner(store: h.store).catchUp()
        return (h, ReadModels(pool: pool))
    }

}
