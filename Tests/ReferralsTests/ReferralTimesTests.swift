import Foundation
import Testing

@testable import Referrals

/// The times the annual report measures response times with (``DeadlineEvaluator/referralTimes``):
/// the time of record, as SOP deadlines are judged, not the times an institution states.
@Suite struct ReferralTimesTests {
    let context = DeadlineEvaluator.Context(rulesets: [Ruleset.kosovoDefault])

    /// The case's events as recorded at `recordedAt`.
    func recorded(_ s: CaseScript, _ recordedAt: [Date]) -> [CaseEvent] {
        zip(s.events, recordedAt).map { event, at in
            var e = event
            e.recordedAt = at
            return e
        }
    }

    func referred(at issued: Date) throws -> CaseScript {
        var s = CaseScript()
        try s.append("kp-dthb", "CaseOpened", adultOpening, at: t0)
        try s.append(
            "kp-dthb", "ReferralIssued", ["referralId": "P-1", "to": "ksp", "purpose": "investigation"], at: issued)
        return s
    }

    /// An attack pass dated a referral to the prosecution five weeks back; the prosecution answered within
    /// a second, and the report showed 861 hours to respond.
    @Test func anIssuerThatDatesItsReferralBackMakesNobodySlow() throws {
        var s = try referred(at: at(hours: 1))
        try s.append("ksp", "ReferralAcknowledged", ["referralId": "P-1"], at: at(days: 35))
        try s.append("ksp", "ReferralAccepted", ["referralId": "P-1"], at: at(days: 35))
        let events = recorded(
            s, [t0, at(days: 35), at(days: 35).addingTimeInterval(1), at(days: 35).addingTimeInterval(2)])
        let times = try #require(DeadlineEvaluator.referralTimes(events, context: context)["P-1"])
        #expect(times.issued == at(days: 35))
        #expect(times.responded == at(days: 35))
        #expect(times.accepted == at(days: 35))
    }

    /// Nor can a recipient look quick by dating its answer back: beyond the late-entry grace (24 h)
    /// it counts the grace before it was recorded, as a deadline it meets does; within it, from its date.
    @Test func aRecipientThatDatesItsAnswerBackCountsNoEarlierThanTheGraceAllows() throws {
        var s = try referred(at: at(hours: 1))
        try s.append("ksp", "ReferralAcknowledged", ["referralId": "P-1"], at: at(hours: 2))
        try s.append("ksp", "ReferralAccepted", ["referralId": "P-1"], at: at(hours: 3))
        let events = recorded(s, [t0, at(hours: 1), at(days: 10), at(hours: 20)])
        let times = try #require(DeadlineEvaluator.referralTimes(events, context: context)["P-1"])
        #expect(times.issued == at(hours: 1))
        #expect(times.responded == at(days: 9))
        #expect(times.accepted == at(hours: 3))
    }

    /// With more than one ruleset series, the one whose rules referrals trigger judges the times,
    /// as it judges the referral's deadlines (a review: the first series by id, with a day of
    /// late-trigger grace and no referral rules, made a recipient a day slower).
    @Test func theSeriesWhoseRulesAReferralTriggersJudgesIt() throws {
        var document = Ruleset.kosovoDefault.document.objectValue!
        document["id"] = "a-first"
        document["lateTriggerGrace"] = "PT24H"
        document["rules"] = .array(
            (document["rules"]?.arrayValue ?? []).filter { rule in
                !(rule["trigger"]?["events"]?.arrayValue ?? []).contains("ReferralIssued")
            })
        let other = try Ruleset.load(json: Array(JSONValue.object(document).serializedString().utf8))
        var s = try referred(at: at(hours: 1))
        try s.append("ksp", "ReferralAcknowledged", ["referralId": "P-1"], at: at(hours: 13))
        let events = recorded(s, [t0, at(hours: 12), at(hours: 13)])
        let times = try #require(
            DeadlineEvaluator.referralTimes(
                events, context: DeadlineEvaluator.Context(rulesets: [other, Ruleset.kosovoDefault]))["P-1"])
        #expect(times.issued == at(hours: 12))
        #expect(times.responded == at(hours: 13))
    }

    /// A synthetic history entered all at once (the ruleset's backfill) keeps its stated times.
    @Test func aBackfilledHistoryKeepsItsTimes() throws {
        let backfill = try Ruleset.load(
            json: Array(
                Ruleset.kosovoDefaultForBackfill(recordedBefore: Ruleset.backfillForever).serializedString().utf8))
        var s = try referred(at: at(hours: 1))
        try s.append("ksp", "ReferralDeclined", ["referralId": "P-1", "reason": "no-capacity"], at: at(hours: 30))
        let events = recorded(s, [at(days: 200), at(days: 200), at(days: 200)])
        let times = try #require(
            DeadlineEvaluator.referralTimes(events, context: DeadlineEvaluator.Context(rulesets: [backfill]))["P-1"])
        #expect(times.issued == at(hours: 1))
        #expect(times.responded == at(hours: 30))
        #expect(times.accepted == nil)
    }

    /// A deadline counts from when its term runs for the institution responsible: referred and
    /// closed in one batch, reopened 45 days later, the prosecution's deadlines (carried on with
    /// the time between given back) count from the reopening, not from the referral: an issuer that
    /// referred and closed on 31 December and reopened in February put a term that ran in February
    /// into the closed year (attack pass 18).
    @Test func aDeadlineCountsFromWhenItsTermRuns() throws {
        var s = try referred(at: at(hours: 1))
        try s.append("kp-dthb", "CaseClosed", ["reason": "lost-contact"], at: at(hours: 1))
        try s.append("kp-dthb", "CaseReopened", ["reason": "victim-returned"], at: at(days: 45))
        let events = recorded(s, [t0, at(hours: 1), at(hours: 1), at(days: 45)])
        let evaluation = DeadlineEvaluator.evaluate(
            caseId: s.caseId, events: events, context: context, now: at(days: 46))
        let counts = DeadlineEvaluator.countsFrom(evaluation.deadlines, events: events, context: context)
        let ack = try #require(evaluation.deadlines.firstIndex { $0.ruleId == "referral-acknowledged" })
        #expect(evaluation.deadlines[ack].responsible == "ksp")
        #expect(evaluation.deadlines[ack].dueAt > at(days: 45))
        #expect(counts[ack] >= at(days: 44.9), "\(counts[ack])")
        // The police's own opening still counts from when it stated.
        let own = try #require(evaluation.deadlines.firstIndex { $0.triggerEventId == events[0].id })
        #expect(counts[own] == t0)
    }
}
