import Foundation

extension DeadlineEvaluator {
    /// When a referral's steps count, by the rules its deadlines are judged by
    /// (docs/time-of-record.md): what the annual report measures response times with.
    public struct ReferralTimes: Sendable, Hashable {
        /// When the referral was on the record for its recipient (``countsFor``): the time
        /// of record, or its `occurredAt` only within the ruleset's late-trigger grace. An issuer
        /// that dates its referral back makes nobody slow (an attack pass dated a prosecution
        /// referral five weeks back; the prosecution answered within a second, and the report
        /// showed 861 hours).
        public var issued: Date
        /// The recipient's first response (acknowledged, accepted or declined), counted as an act
        /// meeting a deadline is: its `occurredAt`, but no earlier than the late-entry grace before
        /// its time of record — and never before ``issued``.
        public var responded: Date?
        /// Its acceptance, counted the same way.
        public var accepted: Date?
    }

    /// The ``ReferralTimes`` of every referral in `events` (a case's stream, in order), by
    /// referral id, judged by the ruleset in force when each was issued — of the series whose
    /// rules a referral triggers, as its deadlines are; else of the first series (none: no grace
    /// at all).
    public static func referralTimes(_ events: [CaseEvent], context: Context) -> [String: ReferralTimes] {
        var times: [String: ReferralTimes] = [:]
        var rulesets: [String: Ruleset] = [:]
        for event in events {
            switch event.body {
            case .referralIssued(let referralId, let to, _, _, _):
                guard times[referralId] == nil else { continue }
                let versions = context.versions.compactMap { judging(event, $0)?.ruleset }
                let ruleset =
                    versions.first { $0.rules.contains { $0.trigger.events.contains(.referralIssued) } }
                    ?? versions.first
                rulesets[referralId] = ruleset
                times[referralId] = ReferralTimes(
                    issued: ruleset.map { countsFor(to, event, $0) } ?? event.countedAt(grace: 0))
            case .referralAcknowledged(let referralId), .referralDeclined(let referralId, _):
                guard var t = times[referralId], t.responded == nil else { continue }
                t.responded = max(t.issued, counted(event, rulesets[referralId]))
                times[referralId] = t
            case .referralAccepted(let referralId):
                guard var t = times[referralId] else { continue }
                let at = max(t.issued, counted(event, rulesets[referralId]))
                if t.responded == nil { t.responded = at }
                if t.accepted == nil { t.accepted = at }
                times[referralId] = t
            default:
                continue
            }
        }
        return times
    }

    /// For each deadline, when it counts from for the institution responsible, by the rule its
    /// term runs by (``countsFor``): its trigger's `occurredAt` for the trigger's own actor, else
    /// when the trigger was on the record (within the ruleset's late-trigger grace) — or later,
    /// when its term started running later (``Deadline/runsFrom``: a closure's time given back at
    /// a reopening, a role's holder brought in). The annual report counts a deadline in the year
    /// it counts from: an issuer that dated a referral into last year moved the recipient's
    /// deadlines, and their misses, into a year already published (an attack pass); one that
    /// referred and closed on 31 December and reopened in February put a term that ran in
    /// February into the closed year (attack pass 18). A deadline whose trigger or ruleset is not
    /// found counts from its `triggeredAt`.
    public static func countsFrom(_ deadlines: [Deadline], events: [CaseEvent], context: Context) -> [Date] {
        let triggers = Set(deadlines.map(\.triggerEventId))
        var byId: [UUID: CaseEvent] = [:]
        for event in events where triggers.contains(event.id) { byId[event.id] = event }
        return deadlines.map { d in
            guard let trigger = byId[d.triggerEventId], let version = context.version(of: d) else {
                return max(d.triggeredAt, d.runsFrom ?? .distantPast)
            }
            return max(countsFor(d.responsible, trigger, version.ruleset), d.runsFrom ?? .distantPast)
        }
    }

    /// When an act counts (``countsAsAct``); without a ruleset, with no grace at all.
    private static func counted(_ event: CaseEvent, _ ruleset: Ruleset?) -> Date {
        ruleset.map { countsAsAct(event, $0) } ?? event.countedAt(grace: 0)
    }
}
