import Foundation
import Testing

@testable import Referrals

/// No event is dated before the first published ruleset took effect: a trigger dated earlier
/// would be judged by none, so no deadline would ever run on it (issue 12's backdating, through
/// the far past).
@Suite struct AdmissionTimeBoundTests {
    static func admit(_ occurredAt: Date, rulesets: [Ruleset], state: CaseState? = nil, type: String = "CaseOpened")
        throws(ReferralsError) -> CaseEvent
    {
        let now = Timestamp.parse("2026-12-06T10:00:00Z")!
        let context = AdmissionContext(registered: Institution.demo, now: now, rulesets: rulesets)
        return try CaseAdmission.admit(
            principal: .institution("kp-dthb", user: "officer-1"), caseId: "KS-2026-000001", state: state,
            id: UUID(), type: type, data: type == "CaseOpened" ? adultOpening : [:], occurredAt: occurredAt,
            context: context)
    }

    @Test func anOpeningBeforeTheEarliestRulesetIsRefusedWithTheField() throws {
        let kosovo = Ruleset.kosovoDefault
        // 2014-01-01 in Europe/Belgrade.
        #expect(kosovo.effectiveFrom == Timestamp.parse("2013-12-31T23:00:00Z"))
        for text in ["2013-12-31T22:59:59Z", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z"] {
            let date = try #require(Timestamp.parse(text))
            do {
                _ = try Self.admit(date, rulesets: [kosovo])
                Issue.record("\(text) admitted")
            } catch {
                #expect(error.code == .invalidEvent && error.field == "occurredAt", "\(text)")
            }
        }
        _ = try Self.admit(kosovo.effectiveFrom, rulesets: [kosovo])
        // Without a published ruleset there is no bound but the year 1.
        _ = try Self.admit(Timestamp.parse("1970-01-01T00:00:00Z")!, rulesets: [])
    }
}
