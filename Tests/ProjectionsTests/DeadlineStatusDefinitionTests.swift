import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Referrals
import Testing

@testable import Projections

/// A deadline's status has one definition (issue 13): the evaluator decides what is settled, the
/// read model stores it, and SQL only compares an unsettled deadline's stored times with `now`.
@Suite struct DeadlineStatusDefinitionTests {
    @Test func theReadModelsStatusIsTheEvaluatorsAtEveryNow() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let cases = Seed.generated(seed: 43, minimumEvents: 1500, now: generatorNow)
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        try await Seed.cases(store, cases)
        try await waitUntilAllReadable(store)
        _ = try await settle(ProjectionRunner(store: store))
        let connection = try await db.connect()
        defer { connection.close() }
        let ids = cases.map(\.caseId)
        let (histories, rulesets, institutions) = (
            try await History.cases(ids, through: nil, on: connection),
            try await History.rulesets(through: nil, on: connection),
            try await History.institutions(through: nil, on: connection)
        )
        let models = ReadModels(pool: db.pool())
        var compared = 0
        var seen: Set<String> = []
        // Now, and times around due and warning instants of the data set.
        for now in [
            Date(), generatorNow.addingTimeInterval(-40 * 86_400), generatorNow.addingTimeInterval(-3 * 86_400),
        ] {
            var expected: [String: String] = [:]
            for (caseId, history) in histories {
                for d in DeadlineEvaluator.evaluate(
                    caseId: caseId, events: history.events, rulesets: rulesets, now: now, institutions: institutions,
                    notices: history.notices)
                {
                    expected["\(caseId)/\(d.ruleId)/\(d.triggerEventId.uuidString.lowercased())/\(d.rulesetId)"] =
                        d.status.rawValue
                }
            }
            let stored = try await models.deadlines(now: now, limit: 1_000_000)
            #expect(stored.count == expected.count)
            for row in stored {
                let key = "\(row.caseId)/\(row.ruleId)/\(row.triggerEventId.lowercased())/\(row.rulesetId)"
                #expect(expected[key] == row.status, "\(key) at \(now)")
                seen.insert(row.status)
                compared += 1
            }
        }
        #expect(compared > 1000)
        #expect(seen.isSuperset(of: ["met", "met-late", "overdue", "pending"]), "\(seen)")
    }
}
