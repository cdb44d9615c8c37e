import EventStore
import Foundation
import HandoffTestSupport
import LoopbackHTTPClient
import Referrals
import Testing

@testable import QueryService

/// `RecordCorrected` through the API, as an institution with its own token would try to bend the
/// record with it (found by an attack pass in session 8): rewriting another institution's
/// event, and rewriting what admission decided on (the purpose consent was checked for, the
/// urgency the recipient's deadline follows). Each is refused and nothing is written.
@Suite struct CorrectionAttackTests {
    static func firstEventId(_ h: Harness, _ caseId: String, type: String) async throws -> String {
        let events = try await h.store.readAll(stream: .case(caseId)!)
        return try #require(events.first { $0.type == type }).id.uuidString.lowercased()
    }

    static func correction(_ target: String, _ fields: String) -> String {
        #"{"type":"RecordCorrected","data":{"correctsEventId":"\#(target)","reason":"data-entry-error","correction":\#(fields)}}"#
    }

    @Test func onlyTheInstitutionThatRecordedAnEventMayCorrectIt() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KP-CA-1")
        try await h.refer("KP-CA-1", "R-1", to: "opav")
        let opening = try await Self.firstEventId(h, "KP-CA-1", type: "CaseOpened")
        let before = try await h.store.version(of: .case("KP-CA-1")!)
        // opav is a party (the referral's recipient), but the opening is kp-dthb's record.
        let other = try await h.api.post(
            "/v1/cases/KP-CA-1/events", token: h.token("opav"),
            Self.correction(opening, #"{"identificationStatus":"identified"}"#))
        #expect(other.status == 403, "\(other.text)")
        #expect(other.errorField == "data.correctsEventId")
        #expect(try await h.store.version(of: .case("KP-CA-1")!) == before)
        // The author may.
        let own = try await h.api.post(
            "/v1/cases/KP-CA-1/events", token: h.token("kp-dthb"),
            Self.correction(opening, #"{"profile":{"nationality":"AL"}}"#))
        #expect(own.status == 201, "\(own.text)")
    }

    /// The coordinator and the auditor monitor cases and never act in them: a referral to them
    /// could never be acknowledged, and would only add misses nobody can avoid (attack pass).
    @Test func noReferralOrConsentNamesTheCoordinatorOrTheAuditor() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KP-CA-3")
        for monitor in ["natc", "audit"] {
            let referral = try await h.api.post(
                "/v1/cases/KP-CA-3/events", token: h.token("kp-dthb"), Harness.referralJSON("R-\(monitor)", to: monitor)
            )
            #expect(referral.status == 400, "\(monitor): \(referral.text)")
            #expect(referral.errorField == "data.to")
            let consent = try await h.api.post(
                "/v1/cases/KP-CA-3/events", token: h.token("kp-dthb"),
                #"{"type":"ConsentRecorded","data":{"purpose":"shelter","recipients":["isf","\#(monitor)"],"given":true}}"#
            )
            #expect(consent.status == 400, "\(monitor): \(consent.text)")
            #expect(consent.errorField == "data.recipients[1]")
        }
        #expect(try await h.store.version(of: .case("KP-CA-3")!) == 1)
        #expect(try await h.refer("KP-CA-3", "R-1", to: "opav").status == 201)
    }

    @Test func whatAdmissionDecidedOnIsNotCorrected() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KP-CA-2")
        // victim-advocacy needs no recorded consent; shelter would (422 without it).
        try await h.refer("KP-CA-2", "R-1", to: "opav")
        let issued = try await Self.firstEventId(h, "KP-CA-2", type: "ReferralIssued")
        let before = try await h.store.version(of: .case("KP-CA-2")!)
        for (field, value) in [("purpose", #""shelter""#), ("urgency", #""urgent""#)] {
            let refused = try await h.api.post(
                "/v1/cases/KP-CA-2/events", token: h.token("kp-dthb"),
                Self.correction(issued, "{\"\(field)\":\(value)}"))
            #expect(refused.status == 400, "\(field): \(refused.text)")
            #expect(refused.errorField == "data.correction.\(field)")
        }
        #expect(try await h.store.version(of: .case("KP-CA-2")!) == before)
    }
}
