import EventStore
import Foundation
import LoopbackHTTPClient
import Referrals
import Testing

/// A filtered read (`?types=`, a subscription's types, an institution's need-to-know) answers
/// with the position it examined up to, so a follower of a rare event type does not examine the
/// same events again on every poll.
@Suite("Filtered reads advance their cursor")
struct FilteredCursorTests {
    /// The cursor of the newest event, once every event is readable.
    static func head(_ h: Harness) async throws -> String {
        try await h.settle()
        let all = try await h.api.get("/v1/events?limit=1000", token: h.token("audit"))
        return all.json["events"]!.array.last!["cursor"]!.stringValue!
    }

    @Test func typeFilteredPagesReturnTheExaminedPosition() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await FeedTests.seed(h)
        // Events after the last ReferralIssued that no filter below asks for.
        for _ in 0..<3 {
            #expect(
                try await h.api.post(
                    "/v1/cases/KS-FA/events", token: h.token("kp-dthb"), #"{"type":"CaseReviewed","data":{}}"#
                ).status == 201)
        }
        try await h.openCase("KS-FD", by: "isf")  // a case opav and ksp may not see
        let head = try await Self.head(h)
        // A coordinator's type filter: the matches, then `next` at the newest event examined.
        let rare = try await h.api.get("/v1/events?types=ReferralIssued", token: h.token("natc"))
        #expect(rare.json["events"]!.array.count == 2)
        #expect(rare.json["next"]?.stringValue == head)
        let none = try await h.api.get("/v1/events?types=GuardianAppointed", token: h.token("natc"))
        #expect(none.json["events"]!.array.isEmpty)
        #expect(none.json["next"]?.stringValue == head)
        // An institution's feed (need-to-know) with and without a type filter.
        for target in ["/v1/events", "/v1/events?types=ReferralIssued", "/v1/events?types=CaseOpened,CaseReviewed"] {
            let page = try await h.api.get(target, token: h.token("opav"))
            #expect(page.status == 200)
            #expect(page.json["next"]?.stringValue == head, "\(target)")
            // From there: nothing, and the same position.
            let again = try await h.api.get(
                target + (target.contains("?") ? "&" : "?") + "after=\(head)", token: h.token("opav"))
            #expect(again.json["events"]!.array.isEmpty)
            #expect(again.json["next"]?.stringValue == head, "\(target)")
        }
        // A party that may see nothing of what came last still moves past it.
        let ksp = try await h.api.get("/v1/events?types=ReferralIssued", token: h.token("ksp"))
        #expect(ksp.json["events"]!.array.map { $0["data"]?["referralId"]?.stringValue } == ["R-2"])
        #expect(ksp.json["next"]?.stringValue == head)
    }

    @Test func subscriptionsWithATypeFilterAckPastWhatTheyExamined() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await FeedTests.seed(h)
        let opav = h.token("opav")
        let created = try await h.api.request(
            "PUT", "/v1/subscriptions/rare", token: opav, json: #"{"types":["ReferralAcknowledged"]}"#)
        #expect(created.status == 201)
        try await h.refer("KS-FA", "R-5", to: "opav")
        let head = try await Self.head(h)
        let page = try await h.api.get("/v1/subscriptions/rare/events", token: opav)
        #expect(page.json["events"]!.array.isEmpty)
        #expect(page.json["next"]?.stringValue == head)
        let ack = try await h.api.post("/v1/subscriptions/rare/ack", token: opav, "{\"cursor\":\"\(head)\"}")
        #expect(ack.status == 200)
        // A later match is still delivered after the acked position.
        let declined = try await h.api.post(
            "/v1/cases/KS-FA/events", token: opav, #"{"type":"ReferralAcknowledged","data":{"referralId":"R-5"}}"#
        )
        #expect(declined.status == 201)
        _ = try await Self.head(h)
        let later = try await h.api.get("/v1/subscriptions/rare/events", token: opav)
        #expect(later.json["events"]!.array.map { $0["type"]?.stringValue } == ["ReferralAcknowledged"])
    }
}
