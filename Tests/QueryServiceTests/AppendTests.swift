import EventStore
import Foundation
import Referrals
import Testing

@Suite("POST /v1/cases/{caseId}/events")
struct AppendTests {
    @Test func singleAppendReturnsVersionCursorAndHash() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        // kp-dthb owns the case-id prefix KP: it may open a case under an id of its own choosing.
        let reply = try await h.api.post(
            "/v1/cases/KP-2026-0001/events", token: h.token("kp-dthb"), Harness.openedJSON())
        #expect(reply.status == 201)
        #expect(reply.json["streamVersion"]?.int == 1)
        let event = reply.json["events"]!.array[0]
        #expect(event["version"]?.int == 1)
        #expect(event["hash"]?.stringValue?.count == 64)
        #expect(Cursor(event["cursor"]?.stringValue ?? "") != nil)
        #expect(UUID(uuidString: event["id"]?.stringValue ?? "") != nil)
        // Stored with the caller as actor.
        let stored = try await h.store.readAll(stream: .case("KP-2026-0001")!)
        #expect(stored.count == 1)
        #expect(stored[0].metadata.contains("\"kp-dthb\""))
        #expect(stored[0].metadata.contains("kp-dthb-officer"))
    }

    @Test func batchAppendsAtomically() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let batch = """
            {"expectedVersion": "no-stream", "events": [
              \(Harness.openedJSON()),
              \(Harness.referralJSON("R-1", to: "opav")),
              {"type": "RiskAssessed", "data": {"level": "high"}}
            ]}
            """
        let reply = try await h.api.post("/v1/cases/KP-B-1/events", token: h.token("kp-dthb"), batch)
        #expect(reply.status == 201)
        #expect(reply.json["streamVersion"]?.int == 3)
        #expect(reply.json["events"]!.array.map { $0["version"]?.int } == [1, 2, 3])
        // A failing event fails the whole batch, naming the event in the field.
        let bad = """
            {"events": [{"type": "CaseReviewed", "data": {}}, {"type": "RiskAssessed", "data": {"level": "extreme"}}]}
            """
        let rejected = try await h.api.post("/v1/cases/KP-B-1/events", token: h.token("kp-dthb"), bad)
        #expect(rejected.status == 400)
        #expect(rejected.errorCode == "invalid_event")
        #expect(rejected.errorField == "events[1].data.level")
        #expect(try await h.store.version(of: .case("KP-B-1")!) == 3)
    }

    @Test func sameIdSameContentIsIdempotentDifferentContentConflicts() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let id = UUID()
        let first = try await h.api.post(
            "/v1/cases/KP-I-1/events", token: h.token("kp-dthb"), Harness.openedJSON(id: id))
        #expect(first.status == 201)
        let retry = try await h.api.post(
            "/v1/cases/KP-I-1/events", token: h.token("kp-dthb"), Harness.openedJSON(id: id))
        #expect(retry.status == 200)
        #expect(retry.json == first.json)
        // The same retry with an expectedVersion that no longer holds still answers the original.
        let late = try await h.api.post(
            "/v1/cases/KP-I-1/events", token: h.token("kp-dthb"), Harness.openedJSON(id: id, expected: "\"no-stream\""))
        #expect(late.status == 200)
        // Same id, different content.
        let other = try await h.api.post(
            "/v1/cases/KP-I-1/events", token: h.token("kp-dthb"), Harness.openedJSON(id: id, child: true))
        #expect(other.status == 409)
        #expect(other.errorCode == "duplicate_event_id")
        // Same id used for another event type on the case.
        let reused = try await h.api.post(
            "/v1/cases/KP-I-1/events", token: h.token("kp-dthb"), Harness.referralJSON("R-1", to: "opav", id: id))
        #expect(reused.status == 409)
        #expect(reused.errorCode == "duplicate_event_id")
        // Idempotent batch retry.
        let (a, b) = (UUID(), UUID())
        let batch = """
            {"events": [\(Harness.referralJSON("R-2", to: "opav", id: a)), \(Harness.referralJSON("R-3", to: "isf", id: b))]}
            """
        let one = try await h.api.post("/v1/cases/KP-I-1/events", token: h.token("kp-dthb"), batch)
        let two = try await h.api.post("/v1/cases/KP-I-1/events", token: h.token("kp-dthb"), batch)
        #expect(one.status == 201)
        #expect(two.status == 200)
        #expect(one.json == two.json)
        #expect(try await h.store.version(of: .case("KP-I-1")!) == 3)
    }

    @Test func expectedVersionConflictsNameExpectedAndActual() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KP-V-1")
        let stale = #"{"type":"RiskAssessed","data":{"level":"low"},"expectedVersion":0}"#
        let r1 = try await h.api.post("/v1/cases/KP-V-1/events", token: h.token("kp-dthb"), stale)
        #expect(r1.status == 409)
        #expect(r1.errorCode == "wrong_expected_version")
        #expect(r1.json["error"]?["expected"]?.int == 0)
        #expect(r1.json["error"]?["actual"]?.int == 1)
        let right = #"{"type":"RiskAssessed","data":{"level":"low"},"expectedVersion":1}"#
        #expect(try await h.api.post("/v1/cases/KP-V-1/events", token: h.token("kp-dthb"), right).status == 201)
        let noStream = try await h.api.post(
            "/v1/cases/KP-V-1/events", token: h.token("kp-dthb"),
            #"{"type":"CaseReviewed","data":{},"expectedVersion":"no-stream"}"#)
        #expect(noStream.status == 409)
        #expect(noStream.json["error"]?["expected"]?.stringValue == "no-stream")
        #expect(noStream.json["error"]?["actual"]?.int == 2)
        let exists = try await h.api.post(
            "/v1/cases/KP-V-2/events", token: h.token("kp-dthb"), Harness.openedJSON(expected: "\"exists\""))
        #expect(exists.status == 409)
        #expect(exists.json["error"]?["actual"]?.int == 0)
        // CaseOpened on an existing case.
        let reopen = try await h.api.post("/v1/cases/KP-V-1/events", token: h.token("kp-dthb"), Harness.openedJSON())
        #expect(reopen.status == 409)
        #expect(reopen.errorCode == "wrong_expected_version")
        #expect(reopen.json["error"]?["actual"]?.int == 2)
        let badExpected = try await h.api.post(
            "/v1/cases/KP-V-1/events", token: h.token("kp-dthb"),
            #"{"type":"CaseReviewed","data":{},"expectedVersion":"latest"}"#)
        #expect(badExpected.status == 400)
        #expect(badExpected.errorField == "expectedVersion")
    }

    @Test func concurrentAppendsWithAnySerializeWithoutLoss() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-C-1")
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<12 {
                group.addTask {
                    try await h.api.post(
                        "/v1/cases/KS-C-1/events", token: h.token("kp-dthb"), Harness.referralJSON("R-\(i)", to: "opav")
                    ).status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { $0 == 201 })
        #expect(try await h.store.version(of: .case("KS-C-1")!) == 13)
        let report = try await h.store.verify(stream: .case("KS-C-1")!)
        #expect(report.valid)
    }

    @Test func firstEventMustOpenTheCase() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let reply = try await h.api.post(
            "/v1/cases/KS-N-1/events", token: h.token("kp-dthb"), #"{"type":"CaseReviewed","data":{}}"#)
        #expect(reply.status == 404)
        #expect(reply.errorCode == "not_found")
        #expect(try await h.store.version(of: .case("KS-N-1")!) == 0)
    }

    @Test func invalidEventsNameTheField() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-F-1")
        let future = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
        let cases: [(String, String)] = [
            (#"{"type":"NoSuchEvent","data":{}}"#, "type"),
            (#"{"data":{}}"#, "type"),
            (#"{"type":"RiskAssessed"}"#, "data"),
            (#"{"type":"RiskAssessed","data":[]}"#, "data"),
            (#"{"type":"RiskAssessed","data":{"level":7}}"#, "data.level"),
            (#"{"type":"RiskAssessed","data":{"level":"low","extra":1}}"#, "data.extra"),
            (#"{"type":"RiskAssessed","data":{"level":"low"},"occurredAt":"yesterday"}"#, "occurredAt"),
            ("{\"type\":\"RiskAssessed\",\"data\":{\"level\":\"low\"},\"occurredAt\":\"\(future)\"}", "occurredAt"),
            (#"{"type":"RiskAssessed","data":{"level":"low"},"id":"not-a-uuid"}"#, "id"),
            (#"{"type":"RiskAssessed","data":{"level":"low"},"colour":"red"}"#, "colour"),
            (Harness.referralJSON("R-1", to: "no-such-institution"), "data.to"),
            (#"{"type":"ReferralAccepted","data":{"referralId":"R-404"}}"#, "data.referralId"),
            (#"{"events":[]}"#, "events"),
            (#"{"events":{}}"#, "events"),
            ("[1,2]", "body"),
        ]
        for (body, field) in cases {
            let reply = try await h.api.post("/v1/cases/KS-F-1/events", token: h.token("kp-dthb"), body)
            #expect(reply.status == 400, "\(body)")
            #expect(reply.errorCode == "invalid_event", "\(body)")
            #expect(reply.errorField == field, "\(body): \(reply.text)")
        }
        #expect(try await h.store.version(of: .case("KS-F-1")!) == 1)
        // occurredAt in the past, after the opening, is fine.
        let opened = try await h.store.readAll(stream: .case("KS-F-1")!)[0].occurredDate
        let at = Timestamp.format(opened.addingTimeInterval(1))
        let past = "{\"type\":\"RiskAssessed\",\"data\":{\"level\":\"low\"},\"occurredAt\":\"\(at)\"}"
        #expect(try await h.api.post("/v1/cases/KS-F-1/events", token: h.token("kp-dthb"), past).status == 201)
        let stored = try await h.store.readAll(stream: .case("KS-F-1")!)
        #expect(stored.last?.occurredDate == Timestamp.parse(at))
    }

    @Test func malformedBodiesAndMediaTypes() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let path = "/v1/cases/KP-M-1/events"
        for body in ["{", "", "{\"type\":\"CaseOpened\",}", "nul", "{\"a\":1} x"] {
            let reply = try await h.api.post(path, token: h.token("kp-dthb"), body)
            #expect(reply.status == 400, "\(body)")
            #expect(reply.errorCode == "invalid_json", "\(body)")
        }
        for type in ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"] {
            let reply = try await h.api.request(
                "POST", path, token: h.token("kp-dthb"), json: Harness.openedJSON(), contentType: type)
            #expect(reply.status == 415)
            #expect(reply.errorCode == "unsupported_media_type")
        }
        let none = try await h.api.request(
            "POST", path, token: h.token("kp-dthb"), json: Harness.openedJSON(), contentType: nil)
        #expect(none.status == 415)
        let charset = try await h.api.request(
            "POST", path, token: h.token("kp-dthb"), json: Harness.openedJSON(),
            contentType: "application/json; charset=utf-8")
        #expect(charset.status == 201)
        // Over 1 MiB: the HTTP layer answers 413 before the service sees it.
        let huge = "{\"type\":\"CaseReviewed\",\"data\":{\"pad\":\"" + String(repeating: "x", count: 1_100_000) + "\"}}"
        let big = try await h.api.post(path, token: h.token("kp-dthb"), huge)
        #expect(big.status == 413)
        #expect(big.errorCode == "payload_too_large")
        // Case ids outside the alphabet.
        for bad in ["KS_1", "a%2Fb", String(repeating: "x", count: 65), "%C3%A9"] {
            let reply = try await h.api.post("/v1/cases/\(bad)/events", token: h.token("kp-dthb"), Harness.openedJSON())
            #expect(reply.status == 400, "\(bad)")
            #expect(reply.errorCode == "bad_request", "\(bad)")
        }
    }

    @Test func onlyPartiesAndRecipientsWrite() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-P-1")
        try await h.refer("KS-P-1", "R-1", to: "opav")
        let path = "/v1/cases/KS-P-1/events"
        // Not a party: answered as for a case that does not exist (ids cannot be probed).
        let outsider = try await h.api.post(path, token: h.token("isf"), #"{"type":"CaseReviewed","data":{}}"#)
        #expect(outsider.status == 404)
        #expect(outsider.errorCode == "not_found")
        // Coordinators and auditors never append case events.
        for who in ["natc", "audit"] {
            let reply = try await h.api.post(path, token: h.token(who), #"{"type":"CaseReviewed","data":{}}"#)
            #expect(reply.status == 403)
        }
        // A party that is not the recipient may not accept the referral.
        let notRecipient = try await h.api.post(
            path, token: h.token("kp-dthb"), #"{"type":"ReferralAccepted","data":{"referralId":"R-1"}}"#)
        #expect(notRecipient.status == 403)
        // The recipient (a party through the referral) may.
        let recipient = try await h.api.post(
            path, token: h.token("opav"), #"{"type":"ReferralAccepted","data":{"referralId":"R-1"}}"#)
        #expect(recipient.status == 201)
        let review = try await h.api.post(path, token: h.token("opav"), #"{"type":"CaseReviewed","data":{}}"#)
        #expect(review.status == 201)
        // Opening a new case: any institution, under a server-issued id.
        let opened = try await h.api.post("/v1/cases", token: h.token("isf"), Harness.openedData())
        #expect(opened.status == 201, "\(opened.text)")
    }

    /// The service keeps the registry it has read; an institution registered afterwards (by
    /// another process, through the store) is found when a referral names it, not refused.
    @Test func referralToAnInstitutionRegisteredAfterStartIsAdmitted() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-2026-0901")
        try await h.refer("KS-2026-0901", "REF-1", to: "opav")  // the registry is read and kept
        let newcomer = Institution(id: "ngo-synthetic-9", name: "Synthetic NGO 9", kinds: Institution.demo[0].kinds)
        let setup = h.db.store(poolSize: 1)
        _ = try await setup.append(
            to: .institutions,
            events: [
                Harness.registration(newcomer)
            ])
        await setup.pool.close()
        let reply = try await h.api.post(
            "/v1/cases/KS-2026-0901/events", token: h.token("kp-dthb"), Harness.referralJSON("REF-2", to: newcomer.id))
        #expect(reply.status == 201, "\(reply.text)")
        let unknown = try await h.api.post(
            "/v1/cases/KS-2026-0901/events", token: h.token("kp-dthb"), Harness.referralJSON("REF-3", to: "ngo-unknown")
        )
        #expect(unknown.status == 422 || unknown.status == 400, "\(unknown.text)")
        #expect(unknown.text.contains("data.to"))
    }
}
