import EventStore
import Foundation
import HandoffTestSupport
import LoopbackHTTPClient
import Referrals
import Testing

@testable import QueryService
@testable import ServiceStore

/// Appends admitted against the case's fold kept in memory, without reading the stream first
/// (issue 17): the fold's version is the append's expected version, so a fold that fell behind
/// the stream (another process appended) never decides an answer — the stream as read now does.
@Suite struct KnownStateAppendTests {
    /// Waits until the service's fold of `caseId` kept in memory is at `version` (after an
    /// append it is brought up to date in the background).
    static func cached(_ h: Harness, _ caseId: String, at version: Int64) async throws {
        for _ in 0..<200 {
            if h.service.caseWriter.access.cachedFold(caseId: caseId)?.version == version { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw ClientError(description: "the fold of \(caseId) did not reach version \(version)")
    }

    /// Another process's writer: its own cache, the same database.
    static func elsewhere(_ h: Harness) -> CaseWriter { CaseWriter(store: h.store) }

    static func append(
        _ writer: CaseWriter, _ caseId: String, _ type: String, _ data: JSONValue, by institution: String = "kp-dthb",
        expected: ExpectedVersion = .any
    ) async throws -> AppendResult {
        try await writer.appendAsOperator(
            caseId: caseId, type: type, data: data, id: nil, expected: expected, institution: institution,
            user: "\(institution)-officer", operatorName: "test")
    }

    @Test func aStaleFoldNeverAdmitsWhatTheStreamRefuses() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let opened = try await h.api.post("/v1/cases/KP-KS-1/events", token: h.token("kp-dthb"), Harness.openedJSON())
        #expect(opened.status == 201)
        try await Self.cached(h, "KP-KS-1", at: 1)
        // Elsewhere, the case is closed: after a closure only a reopening may be recorded.
        _ = try await Self.append(Self.elsewhere(h), "KP-KS-1", "CaseClosed", ["reason": "other"])
        #expect(h.service.caseWriter.access.cachedFold(caseId: "KP-KS-1")?.version == 1)
        let refused = try await h.api.post(
            "/v1/cases/KP-KS-1/events", token: h.token("kp-dthb"), #"{"type":"RiskAssessed","data":{"level":"low"}}"#)
        // The answer a writer that reads the stream first gives, and nothing written.
        var hidden = false
        await #expect(throws: ServiceError.self) {
            try await Self.elsewhere(h).append(
                try QueryService.AppendRequest.parse(Array(#"{"type":"RiskAssessed","data":{"level":"low"}}"#.utf8)),
                by: .institution("kp-dthb", user: "kp-dthb-officer"), to: "KP-KS-1", hidden: &hidden)
        }
        #expect((400..<500).contains(refused.status), "\(refused.status) \(refused.text)")
        #expect(try await h.store.version(of: .case("KP-KS-1")!) == 2)
        // With the stream's version stated, the stale fold does not answer either.
        let wrong = try await h.api.post(
            "/v1/cases/KP-KS-1/events", token: h.token("kp-dthb"),
            #"{"type":"CaseReopened","data":{"reason":"new-information"},"expectedVersion":1}"#)
        #expect(wrong.status == 409)
        #expect(wrong.json["error"]?["actual"]?.int == 2)
        let right = try await h.api.post(
            "/v1/cases/KP-KS-1/events", token: h.token("kp-dthb"),
            #"{"type":"CaseReopened","data":{"reason":"new-information"},"expectedVersion":2}"#)
        #expect(right.status == 201, "\(right.text)")
        #expect(try await h.store.version(of: .case("KP-KS-1")!) == 3)
    }

    @Test func aStaleFoldNeverRefusesWhatTheStreamAdmits() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        #expect(
            try await h.api.post("/v1/cases/KP-KS-2/events", token: h.token("kp-dthb"), Harness.openedJSON()).status
                == 201)
        try await Self.cached(h, "KP-KS-2", at: 1)
        // Elsewhere, the case is referred to opav: opav is a party only in the stream.
        _ = try await Self.append(
            Self.elsewhere(h), "KP-KS-2", "ReferralIssued",
            ["referralId": "R-1", "to": "opav", "purpose": "victim-advocacy", "urgency": "routine"])
        let acknowledged = try await h.api.post(
            "/v1/cases/KP-KS-2/events", token: h.token("opav"),
            #"{"type":"ReferralAcknowledged","data":{"referralId":"R-1"}}"#)
        #expect(acknowledged.status == 201, "\(acknowledged.text)")
        #expect(acknowledged.json["streamVersion"]?.int == 3)
        #expect(try await h.store.version(of: .case("KP-KS-2")!) == 3)
    }

    /// A chosen-id `CaseOpened` for a case this service has never seen is tried as a new case;
    /// when the case exists, the answer is the one the stream gives, and nothing is written.
    @Test func openingACaseThatExistsElsewhereIsAnsweredFromTheStream() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KP-KS-3", by: "kp-dthb")
        #expect(h.service.caseWriter.access.cachedFold(caseId: "KP-KS-3") == nil)
        let again = try await h.api.post("/v1/cases/KP-KS-3/events", token: h.token("kp-dthb"), Harness.openedJSON())
        #expect(again.status == 409)
        #expect(again.json["error"]?["actual"]?.int == 1)
        // Another institution (not a party) gets what it would get for any case it may not see.
        let other = try await h.api.post("/v1/cases/KP-KS-3/events", token: h.token("opav"), Harness.openedJSON())
        let missing = try await h.api.post("/v1/cases/KP-KS-404/events", token: h.token("opav"), Harness.openedJSON())
        #expect(other.status == missing.status)
        #expect(other.errorCode == missing.errorCode)
        #expect(try await h.store.version(of: .case("KP-KS-3")!) == 1)
    }

    /// Many writers on one case through the service, and another process writing too: every
    /// acknowledged append is in the stream once, in a gap-free version order.
    @Test func concurrentWritersThroughAStaleFoldLoseNothing() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        #expect(
            try await h.api.post("/v1/cases/KP-KS-4/events", token: h.token("kp-dthb"), Harness.openedJSON()).status
                == 201)
        let elsewhere = Self.elsewhere(h)
        let acknowledged = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<16 {
                group.addTask {
                    if i % 4 == 0 {
                        _ = try await Self.append(elsewhere, "KP-KS-4", "CaseReviewed", [:])
                        return 1
                    }
                    let reply = try await h.api.post(
                        "/v1/cases/KP-KS-4/events", token: h.token("kp-dthb"), #"{"type":"CaseReviewed","data":{}}"#)
                    return reply.status == 201 ? 1 : 0
                }
            }
            var n = 0
            for try await k in group { n += k }
            return n
        }
        #expect(acknowledged == 16)
        let versions = try await h.store.readAll(stream: .case("KP-KS-4")!).map(\.version)
        #expect(versions == Array(1...17))
    }

    /// After its own append the writer keeps the fold the stream would give — the admitted events
    /// as stored, an occurredAt left to the server being the time of record — without reading it.
    @Test func theFoldKeptAfterAnAppendIsTheStreamsFold() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let path = "/v1/cases/KP-KS-5/events"
        let openedAt = Timestamp.format(Date().addingTimeInterval(-3600))
        let opened = try await h.api.post(path, token: h.token("kp-dthb"), Harness.openedJSON(occurredAt: openedAt))
        #expect(opened.status == 201)
        try await Self.cached(h, "KP-KS-5", at: 1)
        let claimed = Timestamp.format(Date().addingTimeInterval(-60))
        for body in [
            #"{"type":"RiskAssessed","data":{"level":"high"},"occurredAt":"\#(claimed)"}"#,
            #"{"events":[{"type":"ConsentRecorded","data":{"purpose":"medical","recipients":["pvpt"],"given":true}},"#
                + #"{"type":"ReferralIssued","data":{"referralId":"R-1","to":"pvpt","purpose":"medical"}}]}"#,
            #"{"type":"ReferralAccepted","data":{"referralId":"R-1"}}"#,
        ] {
            let token = body.contains("ReferralAccepted") ? h.token("pvpt") : h.token("kp-dthb")
            let reply = try await h.api.post(path, token: token, body)
            #expect(reply.status == 201, "\(reply.text)")
        }
        let kept = try #require(h.service.caseWriter.access.cachedFold(caseId: "KP-KS-5"))
        let loaded = try await h.service.caseWriter.access.load(caseId: "KP-KS-5")
        #expect(kept.version == 5 && kept.version == loaded.version)
        #expect(kept.state == loaded.state)
    }
}
