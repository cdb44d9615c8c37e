import Foundation
import Testing

@testable import Referrals

/// `Deadline.isNoticed(by:)`: the one definition of "this deadline already has its notice".
@Suite struct NoticeIdentityTests {
    @Test func aNoticeIsItsOwnRuleTriggerAndSeriesOnly() throws {
        var s = CaseScript()
        try s.append("kp-dthb", "CaseOpened", adultOpening, at: t0)
        let pilotText = Ruleset.kosovoDefaultJSON.replacingOccurrences(
            of: #""id": "kosovo-default""#, with: #""id": "kosovo-pilot""#)
        let pilot = try Ruleset.load(try JSONValue.parse(pilotText))
        let deadlines = DeadlineEvaluator.evaluate(
            caseId: s.caseId, events: s.events, rulesets: [Ruleset.kosovoDefault, pilot], now: at(days: 5))
        let risk = deadlines.filter { $0.ruleId == "risk-assessed" }
        #expect(Set(risk.map(\.rulesetId)) == ["kosovo-default", "kosovo-pilot"])
        let byDefault = try #require(risk.first { $0.rulesetId == "kosovo-default" })
        let byPilot = try #require(risk.first { $0.rulesetId == "kosovo-pilot" })

        // Its own notice marks it; the other series' notice does not.
        #expect(byDefault.isNoticed(by: byDefault.missedNotice))
        #expect(!byDefault.isNoticed(by: byPilot.missedNotice))
        #expect(!byPilot.isNoticed(by: byDefault.missedNotice))
        // Another rule or another trigger is another notice.
        let advocate = try #require(deadlines.first { $0.ruleId == "victim-advocate-assigned" })
        #expect(!byDefault.isNoticed(by: advocate.missedNotice))
        let otherTrigger = SystemEventBody.sopDeadlineMissed(
            ruleId: "risk-assessed", dueAt: byDefault.dueAt, triggerEventId: UUID(), responsible: "kp-dthb",
            rulesetId: "kosovo-default")
        #expect(!byDefault.isNoticed(by: otherTrigger))
        // A notice from before notices named their series stands for the rule in every series;
        // its responsible and due time do not matter.
        let legacy = SystemEventBody.sopDeadlineMissed(
            ruleId: "risk-assessed", dueAt: t0, triggerEventId: byDefault.triggerEventId, responsible: "ksp")
        #expect(byDefault.isNoticed(by: legacy) && byPilot.isNoticed(by: legacy))
        // Other system events are never notices.
        #expect(!byDefault.isNoticed(by: .institutionRegistered(Institution.demo[0])))
    }
}
