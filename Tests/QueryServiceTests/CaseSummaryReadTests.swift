import EventStore
import Foundation
import Postgres
import Projections
import Referrals
import Testing

@testable import QueryService

/// `GET /v1/cases/{caseId}` answered from the `cases` read model, need-to-know included.
@Suite("Case summaries from the read model")
struct CaseSummaryReadTests {
    /// The one-statement summary is the document `ReadModels.caseSummary` gives, case by case.
    @Test func theOneStatementSummaryEqualsTheReadModelsSummary() async throws {
        let (h, models) = try await ProjectedCases.start(cases: 40)
        defer { Task { await h.stop() } }
        let readSide = ProjectionReadSide(pool: models.pool)
        let now = Date()
        let ids = try await models.pool.query("SELECT case_id FROM handoff.case_summary ORDER BY case_id").all.map {
            try $0.decode(0, as: String.self)
        }
        #expect(ids.count == 40)
        var withReferrals = 0
        var withNotices = 0
        for id in ids {
            let fast = try await readSide.caseSummary(caseId: id, now: now)
            let summary = try #require(try await models.caseSummary(id, now: now))
            let expected = try JSONValue.parse(Array(try JSONEncoder().encode(summary)))
            #expect(fast == expected, "\(id)")  // same members and values (objects compare unordered)
            if !summary.openReferrals.isEmpty { withReferrals += 1 }
            if summary.deadlines.contains(where: { $0.missedNoticeEventId != nil }) { withNotices += 1 }
        }
        #expect(withReferrals > 0)
        #expect(try await readSide.caseSummary(caseId: "KS-NOT-THERE", now: now) == nil)
    }

    /// Need-to-know: the read model's parties let a party in without a stream fold; a party the
    /// read model has not caught up with yet is let in by the stream; others get 404 (as for a
    /// missing case) and are logged as denied; a case the read model does not have is 404 for everyone.
    @Test func partiesFromTheReadModelAndTheStreamWhenItLags() async throws {
        let seedHarness = try await Harness.start()
        let db = seedHarness.db
        await seedHarness.stop()
        let h = try await Harness.start(readSide: ProjectionReadSide(pool: db.pool(size: 4)), db: db)
        defer { Task { await h.stop() } }
        try await h.openCase("KS-NK-1", by: "kp-dthb")
        try await h.settle()
        let runner = ProjectionRunner(store: h.store)
        _ = try await runner.catchUp()
        // Referred after the projection ran: the read model does not name opav yet.
        try await h.refer("KS-NK-1", "R-1", to: "opav")
        let lagging = try await h.api.get("/v1/cases/KS-NK-1", token: h.token("opav"))
        #expect(lagging.status == 200)
        #expect(lagging.json["parties"]!.array.compactMap(\.stringValue) == ["kp-dthb"])  // as projected
        for caller in ["kp-dthb", "natc", "audit"] {
            #expect(try await h.api.get("/v1/cases/KS-NK-1", token: h.token(caller)).status == 200, "\(caller)")
        }
        #expect(try await h.api.get("/v1/cases/KS-NK-1", token: h.token("isf")).status == 404)
        try await h.settle()
        _ = try await runner.catchUp()
        let caughtUp = try await h.api.get("/v1/cases/KS-NK-1", token: h.token("opav"))
        #expect(caughtUp.json["parties"]!.array.compactMap(\.stringValue) == ["kp-dthb", "opav"])
        #expect(try await h.api.get("/v1/cases/KS-NK-1", token: h.token("isf")).status == 404)
        for caller in ["kp-dthb", "natc", "audit", "isf"] {
            #expect(try await h.api.get("/v1/cases/KS-NK-404", token: h.token(caller)).status == 404, "\(caller)")
        }
        #expect(try await h.api.get("/v1/cases/KS_NK", token: h.token("natc")).status == 400)
        // Every 200 was logged as allowed, every 404 as denied; newest first.
        let log = try await h.api.get("/v1/audit/access?caseId=KS-NK-1", token: h.token("audit"))
        let readers = log.json["entries"]!.array.map {
            ($0["institution"]?.stringValue ?? "-") + " " + ($0["outcome"]?.stringValue ?? "-")
        }
        #expect(
            readers == [
                "isf denied", "opav allowed", "isf denied", "audit allowed", "natc allowed", "kp-dthb allowed",
                "opav allowed",
            ])
        let missing = try await h.api.get("/v1/audit/access?caseId=KS-NK-404", token: h.token("audit"))
        let outcomes = missing.json["entries"]!.array.map { $0["outcome"]?.stringValue }
        #expect(outcomes == Array(repeating: "denied", count: 4))
    }
}
