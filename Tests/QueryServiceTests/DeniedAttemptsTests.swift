import Foundation
import HandoffTestSupport
import Postgres
import Referrals
import Testing

@testable import QueryService

/// A caller's refused attempts on one case are recorded up to an allowance an hour, then refused
/// with 429 and no row: an attack pass added 17,159 refused probes to another institution's case
/// in ten seconds, and the case's access check, which hashes every row of the case again, went
/// from 7.6 ms to 0.4–0.8 s.
@Suite("Refused attempts per case")
struct DeniedAttemptsTests {
    @Test func anAllowanceRefillsEvenlyThroughTheHour() {
        let clock = TokenCacheTests.ManualClock()
        let attempts = DeniedAttempts(perHour: 4, now: clock.now)
        let key = DeniedAttempts.key(.institution("opav", user: "a"), caseId: "KS-1")
        // Another person of the same institution draws on the same allowance.
        #expect(key == DeniedAttempts.key(.institution("opav", user: "b"), caseId: "KS-1"))
        #expect(key != DeniedAttempts.key(.institution("isf", user: "a"), caseId: "KS-1"))
        #expect(key != DeniedAttempts.key(.institution("opav", user: "a"), caseId: "KS-2"))
        for _ in 0..<4 { #expect(attempts.take(key) == nil) }
        // One attempt comes back every 15 minutes.
        #expect(attempts.take(key) == 900)
        clock.advance(.seconds(600))
        #expect(attempts.take(key) == 300)
        clock.advance(.seconds(300))
        #expect(attempts.take(key) == nil)
        #expect(attempts.take(key) == 900)
        // Others' allowances are their own.
        #expect(attempts.take(DeniedAttempts.key(.institution("isf", user: "a"), caseId: "KS-1")) == nil)
    }

    @Test func itRemembersAtMostItsKeysAndForgetsSpentOnesLast() {
        let clock = TokenCacheTests.ManualClock()
        let attempts = DeniedAttempts(perHour: 2, maxKeys: 4, now: clock.now)
        let victim = DeniedAttempts.key(.institution("opav", user: "a"), caseId: "KS-V")
        #expect(attempts.take(victim) == nil && attempts.take(victim) == nil)
        #expect(attempts.take(victim) != nil)
        // Keys used an hour ago have refilled: forgotten first, the spent allowance kept.
        for n in 0..<3 { _ = attempts.take("old-\(n)") }
        clock.advance(.seconds(3600))
        _ = attempts.take(victim)  // refilled by now as well: takes one
        _ = attempts.take("new-0")
        #expect(attempts.count <= 4)
        #expect(attempts.take(victim) == nil)
        #expect(attempts.take(victim) != nil)
        // Spent allowances are forgotten last: new keys sprayed past the limit (each an attempt
        // on another case) do not give the spent one back.
        for n in 0..<20 { _ = attempts.take("spray-\(n)") }
        #expect(attempts.count <= 4)
        #expect(attempts.take(victim) != nil)
    }

    /// Through the API: a non-party's reads of a case that exists and of one that does not are
    /// counted alike (404 with a row, then 429 without one, in the same time), another institution's
    /// attempts are its own, and the parties read on.
    @Test func pastTheAllowanceARefusalIs429WithoutARowForExistingAndMissingCasesAlike() async throws {
        let h = try await Harness.start { $0.deniedAttemptsPerCasePerHour = 3 }
        defer { Task { await h.stop() } }
        try await h.openCase("KS-DA-1", by: "kp-dthb")
        let db = try await h.db.connect()
        defer { db.close() }
        func rows(_ caseId: String, _ institution: String) async throws -> Int {
            try await db.query(
                """
                SELECT count(*) FROM handoff.access_log
                 WHERE case_id = \(caseId) AND institution = \(institution) AND outcome = 'denied'
                """
            ).first!.decode(0, as: Int.self)
        }
        for caseId in ["KS-DA-1", "KS-DA-MISSING"] {
            var statuses: [Int] = []
            var bodies: [String] = []
            for path in ["", "/history", "", "/history"] {
                let started = ContinuousClock.now
                let reply = try await h.api.get("/v1/cases/\(caseId)\(path)", token: h.token("opav"))
                // A 429 takes as long as a 404 at least: its timing tells the cases apart no more.
                #expect(ContinuousClock.now - started >= QueryService.notFoundFloor)
                statuses.append(reply.status)
                bodies.append(reply.errorCode ?? "")
            }
            // The deadlines of a case it is no party to: an attempt on it too.
            let deadlines = try await h.api.get("/v1/deadlines?caseId=\(caseId)", token: h.token("opav"))
            statuses.append(deadlines.status)
            #expect(statuses == [404, 404, 404, 429, 429], "\(caseId)")
            #expect(bodies == ["not_found", "not_found", "not_found", "too_many_requests"], "\(caseId)")
            #expect((1...1200).contains(Int(deadlines.header("Retry-After") ?? "") ?? 0), "\(caseId)")
            #expect(try await rows(caseId, "opav") == 3, "\(caseId)")
        }
        // Another institution's attempts are counted apart; the party reads on.
        #expect(try await h.api.get("/v1/cases/KS-DA-1/history", token: h.token("isf")).status == 404)
        #expect(try await rows("KS-DA-1", "isf") == 1)
        #expect(try await h.api.get("/v1/cases/KS-DA-1/history", token: h.token("kp-dthb")).status == 200)
        // A party's own refusals are recorded as always and answered as they are, past the
        // allowance too: a version conflict stays a 409.
        for _ in 0..<5 {
            let conflict = try await h.api.post(
                "/v1/cases/KS-DA-1/events", token: h.token("kp-dthb"),
                #"{"type":"CaseReviewed","data":{},"expectedVersion":99}"#)
            #expect(conflict.status == 409)
        }
        #expect(try await rows("KS-DA-1", "kp-dthb") == 5)
    }
}
