import EventStore
import Foundation
import QueryService
import Referrals
import Testing

/// Party-ship has one definition (`CaseState.isParty`): the feeds, subscriptions and case routes
/// agree, and an event that does not decode never makes anyone a party.
@Suite("One definition of a party")
struct PartyDefinitionTests {
    @Test func anUndecodableReferralMakesNoOneAParty() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-PD-1")
        // Written around the API (an operator's `handoff append`): names isf, but its purpose is
        // not a code, so the domain never folds it and isf is not a party of the case.
        _ = try await h.store.append(
            to: .case("KS-PD-1")!,
            events: [
                NewEvent(
                    type: "ReferralIssued", data: #"{"referralId":"R-9","to":"isf","purpose":"whatever"}"#,
                    metadata: EventMetadata(actor: EventActor(institution: "kp-dthb", user: "operator")))
            ])
        try await h.refer("KS-PD-1", "R-1", to: "opav")
        try await h.settle()

        // The case route says isf is no party…
        #expect(try await h.api.get("/v1/cases/KS-PD-1/history", token: h.token("isf")).status == 404)
        // … and so do the feed and a subscription.
        let feed = try await h.api.get("/v1/events", token: h.token("isf"))
        #expect(feed.status == 200 && feed.json["events"]!.array.isEmpty)
        let put = try await h.api.request("PUT", "/v1/subscriptions/isf-all", token: h.token("isf"), json: "{}")
        #expect(put.status < 300)
        let sub = try await h.api.get("/v1/subscriptions/isf-all/events", token: h.token("isf"))
        #expect(sub.status == 200 && sub.json["events"]!.array.isEmpty)
        // A recipient of a referral that decodes is a party everywhere.
        #expect(try await h.api.get("/v1/cases/KS-PD-1/history", token: h.token("opav")).status == 200)
        let opav = try await h.api.get("/v1/events", token: h.token("opav"))
        #expect(opav.json["events"]!.array.count == 3)  // opened, the undecodable referral, R-1
    }
}
