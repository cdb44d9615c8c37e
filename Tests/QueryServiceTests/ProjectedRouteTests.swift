import EventStore
import Foundation
import Projections
import QueryService
import Referrals
import Testing

/// The read-model routes end to end: appends through the API, the projectors, and the real read side.
@Suite("Routes over the projected read models")
struct ProjectedRouteTests {
    @Test func inboxDeadlinesSummaryAndStatsFollowTheAppends() async throws {
        // The registry and the default ruleset, and the real read side over the projected models.
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-P-1")
        try await h.refer("KS-P-1", "R-1", to: "opav")
        try await h.settle()
        let runner = ProjectionRunner(store: h.store)
        _ = try await runner.catchUp()

        let inbox = try await h.api.get("/v1/inbox", token: h.token("opav"))
        #expect(inbox.status == 200)
        #expect(inbox.json["referrals"]!.array.map { $0["referralId"]?.stringValue } == ["R-1"])
        #expect(try await h.api.get("/v1/inbox", token: h.token("isf")).json["referrals"]!.array.isEmpty)

        let deadlines = try await h.api.get("/v1/deadlines?caseId=KS-P-1", token: h.token("natc"))
        let rules = Set(deadlines.json["deadlines"]!.array.compactMap { $0["ruleId"]?.stringValue })
        #expect(rules.isSuperset(of: ["referral-acknowledged", "referral-decided", "risk-assessed"]))
        let acknowledged = deadlines.json["deadlines"]!.array.first {
            $0["ruleId"]?.stringValue == "referral-acknowledged"
        }
        #expect(acknowledged?["responsible"]?.stringValue == "opav")
        #expect(acknowledged?["status"]?.stringValue == "pending")
        // An institution that is not a party sees none of them.
        #expect(try await h.api.get("/v1/deadlines", token: h.token("isf")).json["deadlines"]!.array.isEmpty)

        let summary = try await h.api.get("/v1/cases/KS-P-1", token: h.token("opav"))
        #expect(summary.status == 200)
        #expect(summary.json["status"]?.stringValue == "open")
        #expect(Set(summary.json["parties"]!.array.compactMap(\.stringValue)) == ["kp-dthb", "opav"])
        #expect(summary.json["openReferrals"]!.array.count == 1)

        let coordinator = try await h.api.get("/v1/stats", token: h.token("natc"))
        #expect(coordinator.status == 200)
        #expect(coordinator.json["cases"]?.stringValue == "<5")
        let auditor = try await h.api.get("/v1/stats", token: h.token("audit"))
        #expect(auditor.json["cases"]?.int == 1)
    }
}
