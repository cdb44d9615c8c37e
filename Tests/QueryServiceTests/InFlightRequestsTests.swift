import Foundation
import HandoffTestSupport
import Testing

@testable import QueryService

/// One caller's requests in progress are bounded: a burst waits for none of the pool's connections
/// the others need, it is refused with 429 (an attack pass sent 5,000 reads at once with one
/// institution's token, and the coordinator's reads failed with 503).
@Suite("Requests in progress per caller")
struct InFlightRequestsTests {
    @Test func callersAreCountedByInstitutionOrByPerson() {
        let places = InFlightRequests(limit: 2)
        let officer = InFlightRequests.caller(.institution("opav", user: "a"))
        #expect(officer == InFlightRequests.caller(.institution("opav", user: "b")))
        #expect(
            InFlightRequests.caller(.init(role: .coordinator, institution: "natc", user: "c1"))
                != InFlightRequests.caller(.init(role: .coordinator, institution: "natc", user: "c2")))
        #expect(places.enter(officer) && places.enter(officer))
        #expect(!places.enter(officer))
        #expect(places.enter(InFlightRequests.caller(.institution("isf", user: "a"))))
        places.leave(officer)
        #expect(places.enter(officer))
        #expect(places.count(officer) == 2)
    }

    @Test func aCallerPastItsRequestsInProgressGets429AndOthersAreServed() async throws {
        let h = try await Harness.start { $0.maxRequestsInFlightPerCaller = 2 }
        defer { Task { await h.stop() } }
        try await h.openCase("KS-IF-1", by: "opav")
        try await h.openCase("KS-IF-2", by: "isf")
        // Reads wait for the access log while another session holds its head.
        let holder = try await h.db.connect()
        defer { holder.close() }
        try await holder.execute("BEGIN; SELECT 1 FROM handoff.access_log_head FOR UPDATE")
        let held = (0..<2).map { _ in
            Task { try await h.api.get("/v1/cases/KS-IF-1/history", token: h.token("opav")).status }
        }
        for _ in 0..<500 where h.service.inFlight.count("institution:opav") < 2 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(h.service.inFlight.count("institution:opav") == 2)
        let refused = try await h.api.get("/v1/cases/KS-IF-1", token: h.token("opav"))
        #expect(refused.status == 429)
        #expect(refused.errorCode == "too_many_requests")
        #expect(refused.header("Retry-After") == "1")
        let other = Task { try await h.api.get("/v1/cases/KS-IF-2/history", token: h.token("isf")).status }
        try await holder.execute("COMMIT")
        #expect(try await other.value == 200)
        for read in held { #expect(try await read.value == 200) }
        #expect(h.service.inFlight.count("institution:opav") == 0)
        #expect(try await h.api.get("/v1/cases/KS-IF-1/history", token: h.token("opav")).status == 200)
    }

    /// A dashboard session's pages count against the same caller as its institution's API
    /// requests: an attack pass ran one session's case page on 2,400 connections (sessions were not
    /// counted at all), and other institutions' reads failed with 503.
    @Test func aSessionsPagesCountAgainstItsInstitutionToo() async throws {
        let h = try await Harness.start { $0.maxRequestsInFlightPerCaller = 2 }
        defer { Task { await h.stop() } }
        try await h.openCase("KS-IF-3", by: "opav")
        let browser = try await DashboardFormTests.Browser.signIn(h, "opav")
        let holder = try await h.db.connect()
        defer { holder.close() }
        try await holder.execute("BEGIN; SELECT 1 FROM handoff.access_log_head FOR UPDATE")
        // Two of the session's case pages wait for the access log.
        let held = (0..<2).map { _ in Task { try await browser.get("/cases/KS-IF-3").status } }
        for _ in 0..<500 where h.service.inFlight.count("institution:opav") < 2 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(h.service.inFlight.count("institution:opav") == 2)
        let page = try await browser.get("/cases/KS-IF-3")
        #expect(page.status == 429)
        #expect(page.header("Retry-After") == "1")
        #expect(try await h.api.get("/v1/cases/KS-IF-3", token: h.token("opav")).status == 429)
        try await holder.execute("COMMIT")
        for read in held { #expect(try await read.value == 200) }
        #expect(h.service.inFlight.count("institution:opav") == 0)
        #expect(try await browser.get("/cases/KS-IF-3").status == 200)
    }
}
