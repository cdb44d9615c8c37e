import EventStore
import Foundation
import Projections
import QueryService
import Referrals
import Testing

/// `ReferralWithdrawn` through the API, and the board's `caseStatus` filter, over the projected read models.
@Suite("Referral withdrawal and the caseStatus filter")
struct ReferralLifecycleRouteTests {
    static func withdrawal(_ referralId: String, reason: String = "issued-in-error") -> String {
        #"{"type":"ReferralWithdrawn","data":{"referralId":"\#(referralId)","reason":"\#(reason)"}}"#
    }

    @Test func withdrawalCancelsTheRecipientsDeadlinesAndLeavesTheInbox() async throws {
        // The registry and the default ruleset, and the real read side over the projected models.
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-W-1")
        try await h.refer("KS-W-1", "R-1", to: "opav")
        try await h.refer("KS-W-1", "R-2", to: "isf")
        let path = "/v1/cases/KS-W-1/events"

        // Not the issuer: the recipient and another party are refused, and nothing is appended.
        let byRecipient = try await h.api.post(path, token: h.token("opav"), Self.withdrawal("R-1"))
        #expect(byRecipient.status == 403 && byRecipient.json["error"]?["code"]?.stringValue == "forbidden")
        let byOther = try await h.api.post(path, token: h.token("isf"), Self.withdrawal("R-1"))
        #expect(byOther.status == 403)
        // Not a party at all: as if the case did not exist.
        #expect(try await h.api.post(path, token: h.token("ksp"), Self.withdrawal("R-1")).status == 404)
        // A reason that is not a code.
        let badReason = try await h.api.post(
            path, token: h.token("kp-dthb"), Self.withdrawal("R-1", reason: "Ana moved"))
        #expect(badReason.status == 400 && badReason.json["error"]?["field"]?.stringValue == "data.reason")

        #expect(try await h.api.post(path, token: h.token("kp-dthb"), Self.withdrawal("R-1")).status == 201)
        // Twice, or after the recipient completed/declined: 400.
        let again = try await h.api.post(path, token: h.token("kp-dthb"), Self.withdrawal("R-1"))
        #expect(again.status == 400 && again.json["error"]?["field"]?.stringValue == "data.referralId")
        let decline = #"{"type":"ReferralDeclined","data":{"referralId":"R-2","reason":"no-capacity"}}"#
        #expect(try await h.api.post(path, token: h.token("isf"), decline).status == 201)
        #expect(try await h.api.post(path, token: h.token("kp-dthb"), Self.withdrawal("R-2")).status == 400)

        try await h.settle()
        _ = try await ProjectionRunner(store: h.store).catchUp()
        #expect(try await h.api.get("/v1/inbox", token: h.token("opav")).json["referrals"]!.array.isEmpty)
        let deadlines = try await h.api.get("/v1/deadlines?caseId=KS-W-1", token: h.token("natc")).json["deadlines"]!
            .array
        let r1 = deadlines.filter { $0["responsible"]?.stringValue == "opav" }
        #expect(r1.count == 2 && r1.allSatisfy { $0["status"]?.stringValue == "cancelled" })
    }

    @Test func caseStatusFiltersTheBoard() async throws {
        // The registry and the default ruleset, and the real read side over the projected models.
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        // A case opened 10 days ago (its 72h risk assessment missed) and closed: its missed
        // deadline stays overdue; another case is open.
        let old = Date().addingTimeInterval(-10 * 86_400)
        try await h.openCase("KS-C-1", occurredAt: old)
        try await h.openCase("KS-O-1")
        let close = #"{"type":"CaseClosed","data":{"reason":"lost-contact"}}"#
        #expect(try await h.api.post("/v1/cases/KS-C-1/events", token: h.token("kp-dthb"), close).status == 201)
        try await h.settle()
        _ = try await ProjectionRunner(store: h.store).catchUp()

        func cases(_ query: String) async throws -> Set<String> {
            let reply = try await h.api.get("/v1/deadlines?\(query)", token: h.token("natc"))
            #expect(reply.status == 200, "\(query)")
            return Set(try #require(reply.json["deadlines"]?.array).compactMap { $0["caseId"]?.stringValue })
        }
        #expect(try await cases("") == ["KS-C-1", "KS-O-1"])  // default: all, as before
        #expect(try await cases("caseStatus=all") == ["KS-C-1", "KS-O-1"])
        #expect(try await cases("caseStatus=open") == ["KS-O-1"])
        #expect(try await cases("caseStatus=closed") == ["KS-C-1"])
        #expect(try await cases("caseStatus=closed&status=overdue") == ["KS-C-1"])
        #expect(try await cases("caseStatus=open&status=overdue").isEmpty)
        // The dashboard's board: open cases by default, the rest one filter away.
        func board(_ query: String) async throws -> String {
            let reply = try await DashboardTests.page(h.api, "/?\(query)", token: h.token("natc"))
            #expect(reply.status == 200)
            return reply.text
        }
        let byDefault = try await board("status=all")
        #expect(byDefault.contains("KS-O-1") && !byDefault.contains("KS-C-1"))
        #expect(byDefault.contains(#"<option value="open" selected>Open cases</option>"#))
        let closed = try await board("status=all&caseStatus=closed")
        #expect(closed.contains("KS-C-1") && !closed.contains("KS-O-1"))
        let everything = try await board("status=all&caseStatus=all")
        #expect(everything.contains("KS-C-1") && everything.contains("KS-O-1"))

        let bad = try await h.api.get("/v1/deadlines?caseStatus=shut", token: h.token("natc"))
        #expect(bad.status == 400 && bad.json["error"]?["field"]?.stringValue == "caseStatus")

        // Reopening moves the case's deadlines back onto the open board.
        let reopen = #"{"type":"CaseReopened","data":{"reason":"victim-returned"}}"#
        #expect(try await h.api.post("/v1/cases/KS-C-1/events", token: h.token("kp-dthb"), reopen).status == 201)
        try await h.settle()
        _ = try await ProjectionRunner(store: h.store).catchUp()
        #expect(try await cases("caseStatus=open") == ["KS-C-1", "KS-O-1"])
        #expect(try await cases("caseStatus=closed").isEmpty)
    }
}
