import Foundation

/// Computes a case's SOP deadlines: a pure function of the case's events, the rulesets and
/// `now`. Nothing is stored; the same inputs always give the same deadlines.
///
/// Semantics (docs/time-of-record.md):
/// - Deadlines run from the trigger's `occurredAt` (business time). `dueAt = occurredAt +
///   within`, counted by the ruleset's ``RulesetClock`` (calendar days in its zone, elapsed
///   hours, working days with its holidays) (the urgent variant when the trigger's referral is urgent; the trigger's days
///   field when the rule names one). A deadline that an institution other than the trigger's
///   actor must meet runs from the trigger's time of record under the ruleset's
///   `lateTriggerGrace` (none by default: from `recordedAt`): nobody can be made late by a
///   backdated entry.
/// - Satisfying events count at their time of record (``CaseEvent/countedAt(grace:)``):
///   `occurredAt` if recorded within the grace, otherwise `recordedAt − grace`; and never before
///   the trigger. Events that end deadlines count when they were recorded, with no grace
///   (``Ruleset/cancellationGrace(for:)``).
/// - A deadline with a `SopDeadlineMissed` notice (``NoticeKey``) is never `met` nor `cancelled`,
///   unless the notice was recorded after the event that met it in time or cancelled it (then the
///   notice came from a read that had not seen that event, and counts for nothing).
/// - Each trigger is judged by the version of each ruleset series whose `effectiveFrom` is the
///   latest not after the time the trigger counts from: its `occurredAt`, but no earlier than the
///   late-entry grace before its time of record (``judging(_:_:)``; ties: the higher version).
/// - A deadline is met by the first later event in the stream that satisfies the rule; its
///   `occurredAt` is `satisfiedAt` (`met` if ≤ `dueAt`, else `met-late`). A recurring rule's
///   satisfying event starts the next deadline; a term met before the last counted term of its
///   chain fell due, or before half its own term had run, is left out of the compliance figures
///   (``Deadline/counted``).
/// - A rule's `cancelledBy` events end its open deadlines (by default `CaseClosed`, and for rules
///   triggered by a referral that referral's `ReferralWithdrawn`): one not yet due at the
///   event's time of record becomes `cancelled`; one already past due stays `overdue` for good
///   (`missedAtClosure`) — ending it does not excuse a missed deadline. Satisfaction is judged
///   before cancellation. No deadline starts while closed.
/// - `CaseReopened` carries on every deadline the last closure cancelled that is still not due
///   when the case is reopened (counted for each deadline as a trigger of it would be), as if it
///   had never been closed, and starts a new deadline (from the reopening) of every other rule
///   with `reopenRetriggers` whose deadline the last closure ended unmet; the old one keeps its
///   status. A later identification status carries on what a `not-a-victim` finding cancelled the
///   same way. Another institution's deadline the closure or finding cancelled runs on with the
///   time between the two given back, whenever it was due; the author's own already due runs on
///   (missed) only when the closure or finding is undone within the late-entry grace of its
///   recording.
/// - A `role` responsibility names the role's holder: the opener if it holds the role, else the
///   recipient of the first referral to an institution of that kind not declined or withdrawn. A
///   role deadline that starts while nobody holds the role is the opener's until a referral brings
///   a holder in; it is then the holder's, with the rule's whole term from the moment that referral
///   was recorded, unless it was already due (then it stays the opener's miss). A holder's referral
///   declined or withdrawn before the deadline fell due (as recorded) gives it to another holder
///   already brought in, a whole term from the hand-back (the same holder through another of its
///   referrals keeps it as it was), or back to the opener: due as first after the opener's own
///   withdrawal; after another's act, with the time the opener had left when it referred.
/// - No event counts later than it was recorded (``CaseEvent/occurredAtCapped``).
/// - What met a deadline and is taken back before it fell due meets it no longer: a referral
///   other than the trigger's (`referralPurposes`, not `sameReferral`) withdrawn while no other
///   such referral stands; an identification decision changed back by the responsible
///   institution (another's change takes nothing back: the case, undecided again, gets a new
///   deadline). Taken back by the responsible institution, the deadline runs on due when it was
///   (missed, if undone within the late-entry grace after its due time); a referral withdrawn by
///   its issuer, another institution, gives the time it stood met back.
/// - An event that meets or ends a deadline only as corrected does so no earlier than the
///   correction was recorded.
/// - `RecordCorrected` is applied before rules look at an event's data, but it changes only what
///   is still running when it is recorded: a deadline already due, settled or noticed by the
///   correction's time of record keeps what the record said of it until then (no correction
///   erases, moves or excuses it); the corrector's own running deadline is never put off by its
///   correction, and one the corrected data no longer starts is cancelled at the correction's time
///   of record (never erased); and a deadline the corrected data starts for an institution
///   other than the corrector runs from the correction's time of record (docs/time-of-record.md,
///   section 2).
public enum DeadlineEvaluator {
    /// Evaluates the deadlines of one case at `now`, in the order they were triggered.
    ///
    /// - Parameters:
    ///   - events: the case stream in order, starting with `CaseOpened`.
    ///   - rulesets: every published ruleset version (any series, any order).
    ///   - institutions: resolves `role` responsibilities to parties.
    ///   - notices: the case's `SopDeadlineMissed` notices, each with the time it was recorded
    ///     (the first, when there are several).
    public static func evaluate(
        caseId: String, events: [CaseEvent], rulesets: [Ruleset], now: Date,
        institutions: [Institution] = Institution.demo, notices: [NoticeKey: Date] = [:]
    ) -> [Deadline] {
        evaluate(
            caseId: caseId, events: events, context: Context(rulesets: rulesets, institutions: institutions), now: now,
            notices: notices
        )
        .deadlines
    }

    /// The rulesets and institutions an evaluation reads, arranged once for evaluating many cases
    /// (the ruleset series sorted by `effectiveFrom`, the kinds of each institution).
    public struct Context: Sendable {
        /// Each series' versions, in the order they took effect.
        let versions: [[RulesetVersion]]
        let kinds: [String: [InstitutionKind]]
        /// Each version by series and number.
        private let byNumber: [String: [Int: RulesetVersion]]

        /// - Parameters:
        ///   - rulesets: every published ruleset version (any series, any order).
        ///   - institutions: resolves `role` responsibilities to parties.
        public init(rulesets: [Ruleset], institutions: [Institution] = Institution.demo) {
            versions = Dictionary(grouping: rulesets, by: \.id).values.map { versions in
                versions.sorted { ($0.effectiveFrom, $0.version) < ($1.effectiveFrom, $1.version) }
                    .map(RulesetVersion.init)
            }.sorted { $0[0].ruleset.id < $1[0].ruleset.id }
            var byNumber: [String: [Int: RulesetVersion]] = [:]
            for version in versions.joined() where byNumber[version.ruleset.id]?[version.ruleset.version] == nil {
                byNumber[version.ruleset.id, default: [:]][version.ruleset.version] = version
            }
            self.byNumber = byNumber
            kinds = Dictionary(institutions.map { ($0.id, $0.kinds) }, uniquingKeysWith: { a, _ in a })
        }

        /// The ruleset version that judges `deadline` (its series and version), if published.
        public func ruleset(of deadline: Deadline) -> Ruleset? { version(of: deadline)?.ruleset }

        /// ``ruleset(of:)`` as the evaluator holds it.
        func version(of deadline: Deadline) -> RulesetVersion? {
            byNumber[deadline.rulesetId]?[deadline.rulesetVersion]
        }

        /// The rule that judges `deadline`, if published.
        public func rule(of deadline: Deadline) -> SopRule? { judgedRule(of: deadline)?.rule }

        /// ``rule(of:)`` as the evaluator holds it.
        func judgedRule(of deadline: Deadline) -> JudgedRule? { version(of: deadline)?.rule(deadline.ruleId) }
    }

    /// A published ruleset version as the evaluator holds it: by reference, so that judging a
    /// trigger and keeping a deadline's rule copy a pointer, not the dozen fields of a ``Ruleset``
    /// and of a ``SopRule`` (those copies were the largest part of a rebuild's reference counting).
    final class RulesetVersion: Sendable, JudgingVersion {
        let ruleset: Ruleset
        let rules: [JudgedRule]

        var effectiveFrom: Date { ruleset.effectiveFrom }

        func lateEntryGrace(for event: CaseEvent) -> TimeInterval { ruleset.lateEntryGrace(for: event) }

        init(_ ruleset: Ruleset) {
            self.ruleset = ruleset
            rules = ruleset.rules.map { JudgedRule(rule: $0, ruleset: ruleset) }
        }

        /// The rule with this id, if any.
        func rule(_ id: String) -> JudgedRule? { rules.first { $0.rule.id == id } }
    }

    /// What choosing the version that judges an event reads of a version (``judging(_:_:)``).
    protocol JudgingVersion {
        var effectiveFrom: Date { get }
        func lateEntryGrace(for event: CaseEvent) -> TimeInterval
    }

    /// A rule with the ruleset version that judges it (its graces, its clock), by reference.
    final class JudgedRule: Sendable {
        let rule: SopRule
        let ruleset: Ruleset

        init(rule: SopRule, ruleset: Ruleset) {
            self.rule = rule
            self.ruleset = ruleset
        }
    }

    /// A case's deadlines and the state its events fold to (``CaseState/fold(caseId:events:)``).
    public struct Evaluation: Sendable {
        /// nil when the history is empty or does not start with `CaseOpened` (then there are no deadlines).
        public var state: CaseState?
        /// As ``evaluate(caseId:events:rulesets:now:institutions:)`` returns them.
        public var deadlines: [Deadline]
        /// The stretches of time given back to each deadline by another's act (a closure and
        /// reopening, a referral withdrawn): the corrections' bookkeeping, so that what a
        /// correction gives back leaves out what the record already gave for the same stretch.
        var pauses: [StartKey: [(from: Date, to: Date)]] = [:]
        /// The moment each deadline's term runs from as the evaluation ended (a cap is a term).
        var runsFrom: [StartKey: Date] = [:]
    }

    /// ``evaluate(caseId:events:rulesets:now:institutions:)`` with a prepared ``Context``, also
    /// returning the folded state, so that a caller that needs both folds the events once.
    public static func evaluate(
        caseId: String, events: [CaseEvent], context: Context, now: Date, notices: [NoticeKey: Date] = [:]
    ) -> Evaluation {
        // The record as it stood before any correction (the whole answer when there is none).
        let corrections = events.filter { if case .recordCorrected = $0.body { true } else { false } }
        var current = evaluatePass(
            caseId: caseId, events: events, context: context, now: now, notices: notices, effective: [:],
            floor: { _, _ in nil }, bookkeeping: !corrections.isEmpty)
        guard !corrections.isEmpty else { return marked(current, context, events) }
        // A correction changes only what is still running when it is recorded. The record is
        // evaluated as it stood before each correction and after it, in the order they were
        // recorded: a deadline that was due, settled or noticed when a correction came keeps what
        // the record said of it until then (no correction erases, moves or excuses it); one
        // still running takes what the corrected record says — except that the corrector's own
        // running deadline is never put off, and one the corrected record no longer starts is
        // cancelled at the correction's time of record, not erased. A deadline a correction starts
        // for an institution other than the corrector runs from the correction's time of record:
        // no correction makes another institution late.
        let ordered = corrections.enumerated().sorted {
            ($0.element.recordedOrOccurredAt, $0.offset)
                < ($1.element.recordedOrOccurredAt, $1.offset)
        }.map(\.element)
        let position = Dictionary(events.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        var applied: Set<UUID> = []
        var correctedAt: [UUID: Date] = [:]  // each corrected event: when its last correction so far was recorded
        // An institution's own running deadline its correction cancelled (the trigger corrected
        // away): started again for it by a trigger recorded afterwards — before that deadline was
        // due, or within the late-entry grace after — it is due when the first was. Correcting a
        // case's opening status to "identified" and changing it back to "presumed" is a decision
        // taken back, and a decision taken back earns no new term (a sixth attack pass put off an
        // identification deadline 30 days at a time this way). Only the institution's own act
        // resumes it: another's starts a whole term, as without the correction (a ninth pass).
        var resumed: [(was: Deadline, cancelledAt: Date, grace: TimeInterval)] = []
        let recordedAt = { (id: UUID) -> Date? in position[id].map { events[$0].recordedOrOccurredAt } }
        // What one correction decided of a deadline holds through every later one. Each pass
        // recomputes the record from the stream, so without these a later correction — anyone's,
        // even an innocent one — gave back what an earlier one had settled (a seventh attack pass:
        // a prosecutor's correction of its own risk level lifted the police's cap, its floor, and
        // a centre's time given back, and made the centre overdue with a notice at once).
        // - `caps`: the longest term an institution's own deadline may have, from the moment it
        //   runs from, once its own correction would have lengthened it (or resumed it, above) —
        //   a term, so that time another institution gives back later (a closure and reopening)
        //   still moves it (a ninth attack pass);
        // - `givenBack`: the time given back to another's deadline that a correction revived,
        //   given at the correction's place in the stream, so that what happens later (a
        //   hand-back and a new referral: a whole new term; a closure and reopening) happens to
        //   the revived deadline (a ninth attack pass had it added to a new term as well);
        // - `floors`: when a deadline a correction started runs from for anyone but the corrector.
        // A cap is the institution's it was decided for (a deadline handed to another holder
        // does not take it); time given back goes to whoever holds the deadline where the
        // correction stands, unless that is the corrector.
        var caps: [StartKey: (term: TimeInterval, warnGap: TimeInterval, responsible: String)] = [:]
        // A due time (and warn time) no later than the deadline's cap allows.
        func capped(_ key: StartKey, _ responsible: String, _ runsFrom: Date, _ dueAt: Date, _ warnAt: Date)
            -> (dueAt: Date, warnAt: Date)
        {
            cap(caps, key, responsible, runsFrom, dueAt, warnAt)
        }
        var givenBack: [UUID: [(key: StartKey, corrector: String, seconds: TimeInterval)]] = [:]
        var floors: [StartKey: (at: Date, corrector: String)] = [:]
        for correction in ordered {
            applied.insert(correction.id)
            let at = correction.recordedOrOccurredAt
            let corrector = correction.actor.institution
            if case .recordCorrected(let target, _, _) = correction.body { correctedAt[target] = at }
            let before = Dictionary(
                current.deadlines.map { (StartKey($0), $0) }, uniquingKeysWith: { first, _ in first })
            // The record with this correction, and with what earlier ones decided applied inside the
            // pass, where a due time is compared with a closure, a decline or a hand-back (applied
            // afterwards, a closure after a capped due time still cancelled the deadline, and a
            // decline before a due time given back handed nothing back: an eighth attack pass).
            func pass() -> Evaluation {
                evaluatePass(
                    caseId: caseId, events: events, context: context, now: now, notices: notices,
                    effective: effectiveData(events, applying: applied), correctedAt: correctedAt,
                    floor: { key, responsible in
                        if let floor = floors[key] { return responsible != floor.corrector ? floor.at : nil }
                        return before[key] == nil && responsible != corrector ? at : nil
                    }, givenBack: givenBack, adjust: capped, bookkeeping: true)
            }
            let first = pass()
            // The record before this correction as it stood when the correction was recorded: the
            // stream up to it, with the corrections and decisions before it. (The whole stream
            // also has what came after: a finding the correction takes away, undone later by a
            // status change, looked as if it had never stopped the deadline, and the time it had
            // stood excused was not given back — a tenth attack pass made a victim advocate
            // overdue, with a notice, that way.)
            // (Computed only when a deadline could be revived by this correction — it costs a pass
            // over the stream up to the correction — from what earlier corrections had decided
            // when this one came.)
            var beforeAtKnown: [StartKey: Deadline]?
            let decidedBefore = (caps: caps, givenBack: givenBack, floors: floors)
            func beforeAt() -> [StartKey: Deadline] {
                if let beforeAtKnown { return beforeAtKnown }
                guard let end = position[correction.id] else { return [:] }
                let (caps, givenBack, floors) = decidedBefore
                let earlier = evaluatePass(
                    caseId: caseId, events: Array(events[...end]), context: context, now: now, notices: notices,
                    effective: effectiveData(events, applying: applied.subtracting([correction.id])),
                    correctedAt: correctedAt.filter { $0.value < at },
                    floor: { key, responsible in floors[key].flatMap { responsible != $0.corrector ? $0.at : nil } },
                    givenBack: givenBack, adjust: { cap(caps, $0, $1, $2, $3, $4) })
                let known = Dictionary(
                    earlier.deadlines.map { (StartKey($0), $0) }, uniquingKeysWith: { first, _ in first })
                beforeAtKnown = known
                return known
            }
            // Whether `id` came after this correction in the stream (recorded after it, or after it
            // in its batch).
            let here = position[correction.id] ?? events.count
            func since(_ id: UUID?) -> Bool { id.flatMap { position[$0] }.map { $0 > here } ?? false }
            // Met by the time of this correction by an act on the record then: an act recorded
            // after it (or after it in its batch), dated back within the late-entry grace, was not
            // (an invariant test: a reflection period's end recorded after a correction had
            // shortened the period, dated before the correction, made the period met against its
            // uncorrected 365 days; an attack pass sent the decision in the correction's batch).
            func met(_ d: Deadline) -> Bool {
                guard let satisfiedAt = d.satisfiedAt, satisfiedAt <= at else { return false }
                return !since(d.satisfiedByEventId)
            }
            // A notice counts from when it was recorded: one written after this correction (the
            // watcher saw the corrected record) does not make the record before it final, nor
            // keep an excuse the correction takes away (an invariant test: a notice of the
            // corrected record's missed deadline, recorded later, kept it cancelled).
            // (Strictly before: a notice recorded at the correction's instant was written from the
            // corrected record — one of the uncorrected record's miss would find it due by then.)
            func noticed(_ d: Deadline) -> Bool {
                d.notified && notices.contains { key, recordedAt in d.isNoticed(by: key) && recordedAt < at }
            }
            func frozen(_ d: Deadline) -> Bool {
                noticed(d) || d.dueAt <= at || met(d) || (d.cancelledAt.map { $0 <= at } ?? false)
            }
            // Started by a trigger recorded after this correction: the corrected record was in force
            // when it began, and it alone says whether and how it runs (an invariant test: a
            // deadline a reopening started after the correction was "cancelled" at the
            // correction's time, before it existed).
            func startedSince(_ d: Deadline) -> Bool { since(d.triggerEventId) }
            // What the corrected record no longer excuses is not excused: a cancellation or a
            // satisfaction the corrected data no longer makes (a not-a-victim finding corrected to
            // "identified", a decision corrected back to "presumed") gives way to the corrected
            // record, whenever the correction comes (an attack pass cancelled deadlines by a
            // finding and corrected the finding away; a sixth corrected a child flag away and,
            // after the centre's due time, back: no guardian deadline was left at all). Another
            // institution's deadline gets back the time it stood excused. What ends or meets it
            // later than the correction (a closure recorded after it) ends or meets the revived
            // deadline then; one the corrected record still shows met by then is not revived (the
            // same correction recorded twice made a deadline met in time met late: a review).
            func excusedNoLonger(_ was: Deadline, _ d: Deadline) -> Bool {
                !noticed(was) && (was.cancelledAt != nil || was.satisfiedAt != nil)
                    && (d.cancelledAt.map { $0 > at } ?? true) && (!met(d) || metWhileExcused(was, d))
                    && (since(d.satisfiedByEventId) ? .distantFuture : d.satisfiedAt ?? .distantFuture)
                        > (was.satisfiedAt ?? was.cancelledAt ?? .distantPast)
            }

            // Met, as corrected, by an act recorded after the due time while the excuse stood: no
            // notice could be written meanwhile, so it met the deadline late, when it was recorded
            // (a twelfth attack pass: a finding cancelled the advocate deadline, the referral was
            // recorded after the due time dated before it, and the finding was corrected away —
            // the deadline stayed cancelled, never overdue).
            // Only the corrector's own: another's revived deadline gets the time it stood excused
            // back instead (a review: judged late here, the victim advocate's referral made the
            // police late after the prosecution corrected its finding away). An excuse that was a
            // satisfaction (a decision) is one too.
            func metWhileExcused(_ was: Deadline, _ d: Deadline) -> Bool {
                d.responsible == corrector
                    && (d.satisfiedByEventId.flatMap(recordedAt).map { $0 > d.dueAt } ?? false)
            }

            // 1. What this correction decides, for this pass and every later one.
            var decided = false
            for d in first.deadlines {
                let key = StartKey(d)
                guard let was = before[key] else { continue }
                // The corrector's own deadline is never put off by its correction: its own entry
                // error earns it no relief (an attack pass corrected a reflection period from 1 day
                // to 60 before each due time; a seventh corrected it to 365 days while a finding
                // had it cancelled, then corrected the finding away). Its term is compared, not its
                // due time, so that another's pause later in the stream is no lengthening (a review).
                if was.responsible == corrector, d.responsible == corrector,
                    let from = first.runsFrom[key], let wasFrom = current.runsFrom[key],
                    d.dueAt.timeIntervalSince(from) > was.dueAt.timeIntervalSince(wasFrom)
                {
                    caps[key] = (
                        was.dueAt.timeIntervalSince(wasFrom), was.dueAt.timeIntervalSince(was.warnAt), corrector
                    )
                    decided = true
                }
                // Another institution's deadline revived: it gets back the time it stood excused
                // (as when a closure or finding is undone by a new event: an attack pass corrected
                // a child flag away and back an hour before the centre's due time), from when the
                // excuse was put on the record, not from a back-dated satisfaction (a sixth pass
                // back-dated a decision by a day and corrected it away a second later), less what
                // the corrected record already gives back for the same stretch (a closure and
                // reopening while the excuse stood: a ninth pass). Excused as the record stood when
                // the correction was recorded, also when what came after undid the excuse in the
                // whole stream (`beforeAt`).
                // (What `excusedNoLonger` asks of the corrected deadline alone, first: without it, no
                // deadline of the record before is revived, and that record need not be computed.)
                let revivable = (d.cancelledAt.map { $0 > at } ?? true) && (!met(d) || metWhileExcused(was, d))
                guard revivable,
                    let excused = frozen(was) && excusedNoLonger(was, d)
                        ? was : beforeAt()[key].flatMap({ frozen($0) && excusedNoLonger($0, d) ? $0 : nil }),
                    excused.responsible != corrector, var excusedAt = excused.cancelledAt ?? excused.satisfiedAt
                else { continue }
                if excused.cancelledAt == nil, let recorded = excused.satisfiedByEventId.flatMap(recordedAt) {
                    excusedAt = max(excusedAt, recorded)
                }
                let given = (first.pauses[key] ?? []).reduce(0.0) { sum, pause in
                    sum + max(0, min(pause.to, at).timeIntervalSince(max(pause.from, excusedAt)))
                }
                let more = at.timeIntervalSince(excusedAt) - given
                guard more > 0 else { continue }
                givenBack[correction.id, default: []].append((key, corrector, more))
                decided = true
            }
            // The corrector's own running deadline this correction no longer starts (its trigger
            // corrected away) is resumed by what starts its rule again soon (below).
            let firstKeys = Set(first.deadlines.map(StartKey.init))
            for was in current.deadlines where !firstKeys.contains(StartKey(was)) && !frozen(was) {
                if was.responsible == corrector, let version = context.version(of: was) {
                    resumed.append((was, at, version.ruleset.lateEntryGrace(for: correction)))
                }
            }
            // (A deadline this correction brings in is resumed too, whenever its trigger was
            // recorded: with the opening corrected, an earlier change to "potential" starts one.)
            for d in first.deadlines where caps[StartKey(d)] == nil {
                guard let started = recordedAt(d.triggerEventId), let from = first.runsFrom[StartKey(d)] else {
                    continue
                }
                let isNew = before[StartKey(d)] == nil
                // Started again by the institution itself: another's act (the prosecution changing the
                // status back to "presumed") starts a whole term, as without the correction (a ninth
                // attack pass: the police were left the old due time by the prosecution's act).
                guard let p = position[d.triggerEventId], events[p].actor.institution == d.responsible else { continue }
                if let r = resumed.first(where: { r in
                    r.was.ruleId == d.ruleId && r.was.rulesetId == d.rulesetId && r.was.responsible == d.responsible
                        && (isNew || started >= r.cancelledAt) && started.timeIntervalSince(r.was.dueAt) < r.grace
                        && d.dueAt > r.was.dueAt
                }) {
                    caps[StartKey(d)] = (
                        r.was.dueAt.timeIntervalSince(from), r.was.dueAt.timeIntervalSince(r.was.warnAt), d.responsible
                    )
                    decided = true
                }
            }
            let after = decided ? pass() : first
            // Every deadline new in this correction runs, for anyone but the corrector, from it —
            // in every later pass too, whoever holds it then (a review: one that ended as the
            // corrector's got no floor, and a later correction moved it).
            for d in after.deadlines where before[StartKey(d)] == nil && floors[StartKey(d)] == nil {
                floors[StartKey(d)] = (at, corrector)
            }

            // 2. The record after this correction: what was final before it stays; what was still
            // running takes the corrected record (with every decision above applied in it).
            var merged: [Deadline] = []
            var runsFrom: [StartKey: Date] = [:]
            for raw in after.deadlines {
                var d = raw
                let key = StartKey(d)
                runsFrom[key] = after.runsFrom[key]
                guard let was = before[key], !startedSince(was) else {
                    merged.append(d)
                    continue
                }
                if frozen(was) {
                    if excusedNoLonger(was, d) {
                        if since(d.satisfiedByEventId), let s = d.satisfiedAt, s < at {
                            d.satisfiedAt = at
                            d.status = status(of: d, now: now)
                        } else if metWhileExcused(was, d), let by = d.satisfiedByEventId.flatMap(recordedAt),
                            let s = d.satisfiedAt, s < by
                        {
                            d.satisfiedAt = by
                            d.status = status(of: d, now: now)
                        }
                        merged.append(d)
                    } else {
                        merged.append(was)
                        runsFrom[key] = current.runsFrom[key]
                    }
                    continue
                }
                // A correction makes nothing true in the past: what it ends or meets of a running
                // deadline counts from its time of record, with the due time the deadline had then.
                // (Else a finding corrected away and back again ended the deadline at the finding's
                // first time, and the next time it was corrected away, the time from then was given
                // back twice; and a decision restored by a correction was judged against the due
                // time without the time an earlier correction had given back: a review.)
                if let ended = d.cancelledAt, ended <= at {
                    d.cancelledAt = at
                    (d.dueAt, d.warnAt) = (was.dueAt, was.warnAt)
                }
                if met(d) {
                    d.satisfiedAt = at
                    (d.dueAt, d.warnAt) = (was.dueAt, was.warnAt)
                }
                d.status = status(of: d, now: now)
                merged.append(d)
            }
            // A running deadline the corrected record no longer starts does not vanish: it is
            // cancelled at the correction's time of record, in sight (an attack pass corrected a
            // case's opening status to make its identification deadline disappear without a
            // trace).
            let afterKeys = Set(after.deadlines.map(StartKey.init))
            for was in current.deadlines where !afterKeys.contains(StartKey(was)) && !startedSince(was) {
                runsFrom[StartKey(was)] = current.runsFrom[StartKey(was)]
                if frozen(was) {
                    merged.append(was)
                    continue
                }
                var stopped = was
                stopped.cancelledAt = at
                // Not running when a later closure came: it missed nothing at that closure; nor
                // when a later act would have met it (an invariant test: a case's opening corrected
                // to "identified", months later another's finding met the deadline the correction
                // had ended — late, against the opener).
                stopped.missedAtClosure = false
                (stopped.satisfiedAt, stopped.satisfiedByEventId) = (nil, nil)
                stopped.status = status(of: stopped, now: now)
                merged.append(stopped)
            }
            // In the order they were triggered (the stream's order), as a single pass gives them.
            let order = Dictionary(
                after.deadlines.enumerated().map { (StartKey($1), $0) }, uniquingKeysWith: { a, _ in a })
            merged = merged.enumerated().sorted { a, b in
                let pa = position[a.element.triggerEventId] ?? Int.max
                let pb = position[b.element.triggerEventId] ?? Int.max
                if pa != pb { return pa < pb }
                return (order[StartKey(a.element)] ?? Int.max, a.offset) < (
                    order[StartKey(b.element)] ?? Int.max, b.offset
                )
            }.map(\.element)
            current = Evaluation(state: after.state, deadlines: merged, runsFrom: runsFrom)
        }
        // The mark is the merged record's: a correction's pass may have settled a term otherwise.
        return marked(current, context, events)
    }

    /// `evaluation` with its recurring terms' counted marks (``markCounted(_:recurring:actedAt:)``),
    /// set once, on the record as evaluation ends.
    private static func marked(_ evaluation: Evaluation, _ context: Context, _ events: [CaseEvent]) -> Evaluation {
        var result = evaluation
        if let state = result.state { leaveOutOwnDuplicates(&result.deadlines, state) }
        let rules = result.deadlines.map { context.judgedRule(of: $0) }
        let triggers = Set(
            zip(result.deadlines, rules).compactMap { $1?.rule.recurring == true ? $0.triggerEventId : nil })
        guard !triggers.isEmpty else { return result }
        var byId: [UUID: CaseEvent] = [:]
        for event in events where triggers.contains(event.id) && byId[event.id] == nil { byId[event.id] = event }
        markCounted(
            &result.deadlines, recurring: rules.map { $0?.rule.recurring ?? false },
            actedAt: zip(result.deadlines, rules).map { d, judged in
                guard let judged, let trigger = byId[d.triggerEventId] else { return d.triggeredAt }
                // And never before the term ran for the institution responsible (another's trigger
                // counts for it from its time of record: a review of this session).
                return max(countsAsAct(trigger, judged.ruleset), countsFor(d.responsible, trigger, judged.ruleset))
            })
        return result
    }

    /// A due time (and warn time) no later than `caps` allows the deadline `key` of `responsible`
    /// (the longest term its own correction left it, from the moment it runs from).
    static func cap(
        _ caps: [StartKey: (term: TimeInterval, warnGap: TimeInterval, responsible: String)], _ key: StartKey,
        _ responsible: String, _ runsFrom: Date, _ dueAt: Date, _ warnAt: Date
    ) -> (dueAt: Date, warnAt: Date) {
        guard let cap = caps[key], cap.responsible == responsible, dueAt > runsFrom.addingTimeInterval(cap.term)
        else { return (dueAt, warnAt) }
        let latest = runsFrom.addingTimeInterval(cap.term)
        return (latest, max(runsFrom, min(warnAt, latest.addingTimeInterval(-cap.warnGap))))
    }

    /// One evaluation of the case with the corrections in `effective` applied. `floor` gives,
    /// for a deadline about to start (its key and responsible institution), the earliest time it
    /// may run from, or nil. `correctedAt`: for each corrected event, when its correction was
    /// recorded — an event that meets or ends a deadline only as corrected does so no earlier than
    /// that (a correction makes nothing true in the past: an attack pass corrected an old status
    /// change into a not-a-victim finding, and the cancellation counted from the old event).
    /// `adjust` gives, for a deadline being scheduled (its key and responsible institution, the
    /// moment its term runs from, the due and warn times the term gives), the times earlier
    /// corrections decided for it. `givenBack`: for each correction, the time to give back, where
    /// it stands in the stream, to deadlines it revived (by key and responsible institution).
    static func evaluatePass(
        caseId: String, events: [CaseEvent], context: Context, now: Date, notices: [NoticeKey: Date],
        effective: [UUID: JSONValue], correctedAt: [UUID: Date] = [:], floor: (StartKey, String) -> Date?,
        givenBack: [UUID: [(key: StartKey, corrector: String, seconds: TimeInterval)]] = [:],
        adjust: (StartKey, String, Date, Date, Date) -> (dueAt: Date, warnAt: Date) = { _, _, _, dueAt, warnAt in
            (dueAt, warnAt)
        },
        bookkeeping: Bool = false
    ) -> Evaluation {
        let series = context.versions
        let kinds = context.kinds

        var state: CaseState?
        var deadlines: [Deadline] = []
        var book: [Bookkeeping] = []  // parallel to deadlines
        var open: [Int] = []  // indices into deadlines still satisfiable
        var keys: Set<StartKey> = []
        var lastClosure: UUID?
        var issuing: [String: CaseEvent] = [:]  // each referral's ReferralIssued

        func schedule(_ index: Int, runsFrom: Date) {
            let clock = book[index].judged.ruleset.clock
            let term = book[index].term
            let dueAt =
                term.workingDays.map { clock.addWorkingDays($0, to: runsFrom) } ?? clock.add(term.within, to: runsFrom)
            book[index].runsFrom = runsFrom
            // With what earlier corrections decided of it (its cap, the time given back to it).
            (deadlines[index].dueAt, deadlines[index].warnAt) = adjust(
                StartKey(deadlines[index]), deadlines[index].responsible, runsFrom, dueAt,
                term.warn.map { max(runsFrom, clock.subtract($0, from: dueAt)) } ?? dueAt)
        }

        func start(_ judged: JudgedRule, trigger: CaseEvent, data: () -> JSONValue, state: CaseState) {
            guard keys.insert(StartKey(rule: judged.rule.id, ruleset: judged.ruleset.id, trigger: trigger.id)).inserted
            else {
                return
            }
            let referralId = trigger.body.referralId
            let referral = referralId.flatMap { state.referrals[$0] }
            let urgent = referral?.urgency == .urgent
            var within = (urgent ? judged.rule.urgentWithin : nil) ?? judged.rule.within
            var workingDays = urgent && judged.rule.urgentWithin != nil ? nil : judged.rule.withinWorkingDays
            if let field = judged.rule.withinDaysFromField, let days = data()[field]?.numberValue?.intValue {
                within = ISODuration(days: days)
                workingDays = nil
            }
            // A role is its holder's (``holder(of:in:kinds:)``); while nobody holds it, the opener's
            // until an institution that holds it is brought in (see `assign`).
            var unassignedRole: InstitutionKind?
            var roleHolder: (institution: String, referral: String?)?
            if case .role(let kind) = judged.rule.responsible {
                roleHolder = holder(of: kind, in: state, kinds: kinds)
                if roleHolder == nil { unassignedRole = kind }
            }
            let responsible: String =
                switch judged.rule.responsible {
                case .referralRecipient: referral?.to ?? state.openedBy
                case .referralIssuer: referral?.from ?? state.openedBy
                case .caseOpener: state.openedBy
                case .triggerActor: trigger.actor.institution
                case .institution(let id): id
                case .role: roleHolder?.institution ?? state.openedBy
                }
            // A trigger makes no other institution late: that institution's deadline runs from the
            // moment the trigger was recorded, or from its occurredAt only within the ruleset's
            // lateTriggerGrace (none by default). The trigger's own actor gets no relief for a late
            // entry; nor does an occurredAt dated ahead of its recording buy it time.
            var runsFrom = countsFor(responsible, trigger, judged.ruleset)
            if let earliest = floor(
                StartKey(rule: judged.rule.id, ruleset: judged.ruleset.id, trigger: trigger.id), responsible)
            {
                runsFrom = max(runsFrom, earliest)
            }
            let warn = (urgent ? judged.rule.urgentWarnBefore : nil) ?? judged.rule.warnBefore
            open.append(deadlines.count)
            book.append(
                Bookkeeping(
                    judged: judged, term: Term(within: within, workingDays: workingDays, warn: warn),
                    meetingTypes: EventTypes(judged.rule.satisfiedBy.events),
                    endingTypes: EventTypes(judged.rule.cancelledBy.flatMap(\.events)),
                    runsFrom: runsFrom, startedFrom: runsFrom, unassigned: unassignedRole,
                    assignedBy: roleHolder?.referral))
            deadlines.append(
                Deadline(
                    caseId: caseId, ruleId: judged.rule.id, title: judged.rule.title, rulesetId: judged.ruleset.id,
                    rulesetVersion: judged.ruleset.version, confirmed: judged.rule.confirmed,
                    triggerEventId: trigger.id,
                    triggeredAt: trigger.occurredAt, referralId: referralId, dueAt: runsFrom, warnAt: runsFrom,
                    status: .pending, responsible: responsible, satisfiedAt: nil, satisfiedByEventId: nil,
                    cancelledAt: nil, missedAtClosure: false))
            schedule(deadlines.count - 1, runsFrom: runsFrom)
        }

        // Carries on the deadlines `ending` cancelled (counting `undoing` for each deadline as a
        // trigger of it would: ``countsFor``); returns their rules' ids. Another institution's
        // deadline is carried on with the time between the ending and the undoing given back (its
        // clock was stopped by someone else's act), whenever it was due; so is the author's own
        // when another undoes its ending after its due time (an eleventh attack pass: a shelter
        // reopened the police's closure a minute after the police's due time, and the police were
        // overdue, with a notice) — before it, it is due when it was (a review: else a colluder's
        // reopening put the author's own deadline off by the time the case stood closed). The
        // author's own, undone by itself: not yet due, due when it was; already due, only if
        // undone within the late-entry grace of when it was made (an attack pass closed a case a
        // minute before a deadline and reopened it a minute after) — then missed, as if never
        // made, and met no earlier than it was undone: while it stood cancelled, no notice could
        // be written, and only a notice stops a late entry dated before the due time.
        func carryOn(endedBy ending: UUID, undoneBy undoing: CaseEvent, data: () -> JSONValue) -> Set<String> {
            var rules: Set<String> = []
            for index in deadlines.indices
            where book[index].endedBy?.id == ending && !book[index].undone && deadlines[index].satisfiedAt == nil
                && !endsAgain(undoing, data: data, index)
            {
                guard let endedAt = deadlines[index].cancelledAt else { continue }
                let countsAt = countsFor(deadlines[index].responsible, undoing, book[index].judged.ruleset)
                let responsible = deadlines[index].responsible
                let ownEnding = book[index].endedBy?.actor.institution == responsible
                // Another's closure or finding paused this deadline, or another undid the
                // institution's own after its due time: the time between is given back — for its
                // own ending, once (a twelfth attack pass had a colluding shelter reopen the police's
                // closures again and again, each just after the due time: never overdue); again,
                // as if the institution had undone it itself.
                let givenBack =
                    !ownEnding
                    || (undoing.actor.institution != responsible && deadlines[index].dueAt <= countsAt
                        && !book[index].ownEndingsUndoneByAnother.contains(responsible))
                if givenBack {
                    if ownEnding { book[index].ownEndingsUndoneByAnother.insert(responsible) }
                    book[index].pauses.append((endedAt, countsAt))
                    schedule(
                        index,
                        runsFrom: book[index].runsFrom.addingTimeInterval(max(0, countsAt.timeIntervalSince(endedAt))))
                } else if deadlines[index].dueAt <= countsAt {
                    guard undoneSoonAfter(endedAt, by: undoing, book[index].judged.ruleset) else { continue }
                }
                if ownEnding, !givenBack, deadlines[index].dueAt <= undoing.recordedOrOccurredAt {
                    book[index].metNoEarlierThan = undoing.recordedOrOccurredAt
                }
                deadlines[index].cancelledAt = nil
                book[index].endedBy = nil
                book[index].settledBy = nil
                open.append(index)
                rules.insert(book[index].judged.rule.id)
            }
            open.sort()
            return rules
        }

        // Whether `event` would itself end the deadline at `index` (a second not-a-victim finding
        // undoes nothing).
        func endsAgain(_ event: CaseEvent, data: () -> JSONValue, _ index: Int) -> Bool {
            book[index].judged.rule.cancelledBy.contains { cancels($0, event, data: data, deadlines[index]) }
        }

        // A role deadline nobody held when it started is the opener's until a referral brings in
        // an institution that holds the role: then it is that institution's, with the rule's whole
        // term from the moment the referral was recorded (nobody answers for time before they
        // could see the case). One already due by then stays the opener's miss: it did not bring
        // the role in in time.
        func assign(_ kind: InstitutionKind, to holder: String, by referralId: String, at event: CaseEvent) {
            for index in open where book[index].unassigned == kind {
                book[index].unassigned = nil
                let referredAt = countsFor(holder, event, book[index].judged.ruleset)
                guard deadlines[index].dueAt > referredAt else { continue }
                // A deadline a correction started runs for its new holder from that correction too.
                var joinedAt = referredAt
                if let earliest = floor(StartKey(deadlines[index]), holder) { joinedAt = max(joinedAt, earliest) }
                deadlines[index].responsible = holder
                book[index].assignedBy = referralId
                // The opener's clock stops while the holder has the deadline (see `unassign`): from
                // the referral, also when the holder's clock starts later (a review: the opener was
                // charged for the time until a correction it had made after referring).
                book[index].openerClock = (runsFrom: book[index].runsFrom, stoppedAt: referredAt)
                schedule(index, runsFrom: max(book[index].runsFrom, joinedAt))
            }
        }

        // The referral that gave a role deadline its holder, declined or withdrawn before the
        // deadline fell due: it is the opener's again, due as it was first, until another holder
        // is found (a referral issued and taken back in one batch charges the recipient nothing).
        // One already due stays the holder's: declining afterwards hands no miss back.
        func unassign(by referralId: String, at event: CaseEvent, in state: CaseState) {
            // When it was recorded: an act that relieves its author earns no back-dating.
            let handedBackAt = event.recordedOrOccurredAt
            for index in open where book[index].assignedBy == referralId {
                guard case .role(let kind) = book[index].judged.rule.responsible, deadlines[index].dueAt > handedBackAt
                else { continue }
                book[index].assignedBy = nil
                // Another holder already brought in answers with a whole term from when it became
                // the holder: the hand-back, or its own referral if recorded later (an attack pass
                // had a centre decline an hour before its due time, leaving the hour to another
                // centre referred for something else the same morning).
                if let next = holder(of: kind, in: state, kinds: kinds), let by = next.referral {
                    book[index].assignedBy = by
                    // The same institution through another of its referrals keeps the deadline as
                    // it was (an attack pass had a centre decline a guardianship referral while a
                    // second referral, issued a minute earlier, restarted its term).
                    guard next.institution != deadlines[index].responsible else { continue }
                    let since = max(
                        countsFor(next.institution, issuing[by] ?? event, book[index].judged.ruleset), handedBackAt)
                    deadlines[index].responsible = next.institution
                    schedule(index, runsFrom: max(book[index].startedFrom, since))
                    meetByActWhileAway(index, handedBackBy: event, at: handedBackAt, in: state)
                    continue
                }
                // Back to the opener: its own withdrawal, due as first; handed back by another's act
                // (the holder declining, a third party withdrawing), with the time it had left when
                // it brought the holder in (its clock stood still meanwhile: an attack pass had a
                // centre decline at once, again and again, and each time the opener got a whole
                // term), or a whole term from then if the deadline was never the opener's.
                book[index].unassigned = kind
                deadlines[index].responsible = state.openedBy
                let handedBack = countsFor(state.openedBy, event, book[index].judged.ruleset)
                let runsFrom: Date
                if event.actor.institution == state.openedBy {
                    runsFrom = book[index].startedFrom
                } else if let clock = book[index].openerClock {
                    runsFrom = clock.runsFrom.addingTimeInterval(max(0, handedBack.timeIntervalSince(clock.stoppedAt)))
                } else {
                    runsFrom = max(book[index].startedFrom, handedBack)
                }
                schedule(index, runsFrom: runsFrom)
                if deadlines[index].dueAt <= handedBackAt { book[index].metNoEarlierThan = handedBackAt }
                meetByActWhileAway(index, handedBackBy: event, at: handedBackAt, in: state)
            }
        }

        // A role deadline handed to an institution is met by what that institution recorded of it
        // while the deadline was another's: its act is on the record (attack pass 21: a shelter's
        // referral to a centre took the police's guardian deadline away, the police recorded the
        // appointment, the shelter withdrew, and the police were overdue). It counts when it
        // counted as an act, no earlier than the hand-back.
        func meetByActWhileAway(_ index: Int, handedBackBy event: CaseEvent, at handedBackAt: Date, in state: CaseState)
        {
            guard deadlines[index].satisfiedAt == nil, !book[index].judged.rule.recurring else { return }
            let trigger = deadlines[index].triggerEventId
            guard
                let act = events.prefix(while: { $0.id != event.id }).drop(while: { $0.id != trigger }).dropFirst()
                    .first(where: { e in
                        book[index].meetingTypes.contains(EventTypes(e.type))
                            && satisfies(
                                e, data: { effective[e.id] ?? e.body.data }, rule: book[index].judged.rule,
                                deadline: deadlines[index], state: state)
                    })
            else { return }
            let satisfiedAt = max(
                countsAsAct(act, book[index].judged.ruleset), deadlines[index].triggeredAt, handedBackAt,
                book[index].metNoEarlierThan ?? .distantPast)
            deadlines[index].satisfiedAt = satisfiedAt
            deadlines[index].satisfiedByEventId = act.id
            book[index].metBy = act
            book[index].metRecordedAt = max(act.recordedOrOccurredAt, correctedAt[act.id] ?? .distantPast)
            book[index].settledBy = satisfiedAt <= deadlines[index].dueAt ? event : nil
            open.removeAll { $0 == index }
        }

        for event in events {
            // In place (not `CaseState.applying`), so the state's dictionaries are not copied per event.
            if state == nil { state = CaseState(caseId: caseId, opening: event) } else { state!.apply(event) }
            guard let current = state else { return Evaluation(state: nil, deadlines: []) }
            // Time a correction gave back to a deadline it revived, given where the correction
            // stands in the stream: what comes after it happens to the revived deadline.
            for back in givenBack.isEmpty ? [] : givenBack[event.id] ?? [] {
                guard
                    let index = open.first(where: {
                        StartKey(deadlines[$0]) == back.key && deadlines[$0].responsible != back.corrector
                    })
                else { continue }
                schedule(index, runsFrom: book[index].runsFrom.addingTimeInterval(back.seconds))
            }
            switch event.body {
            case .referralIssued(let referralId, let to, _, _, _):
                issuing[referralId] = event
                for kind in kinds[to] ?? [] { assign(kind, to: to, by: referralId, at: event) }
            case .referralDeclined(let referralId, _), .referralWithdrawn(let referralId, _):
                unassign(by: referralId, at: event, in: current)
            default:
                break
            }
            // The event's (corrected) data as JSON, built only if a rule looks at it.
            var built: JSONValue?
            func data() -> JSONValue {
                if let built { return built }
                let value = effective[event.id] ?? event.body.data
                built = value
                return value
            }

            // 0. What met a deadline and is taken back before the deadline fell due meets it no
            // longer (the taking back counts as a trigger does: ``countsFor``). A referral its
            // issuer withdraws (a rule met by some referral, not the trigger's own): issuing and
            // taking back is not having referred — unless another such referral still stands. A
            // status set otherwise (an identification decision changed back to presumed): a
            // decision undone is no decision. Taken back by the responsible institution itself, the
            // deadline runs on, due when it was (missed, if undone within a day after the due
            // time); by another institution, nobody is made late by another's act (below).
            for index in deadlines.indices
            where deadlines[index].satisfiedAt != nil && !book[index].judged.rule.recurring
                && takesBack(event, data: data, book[index], responsible: deadlines[index].responsible)
            {
                let countsAt = countsFor(deadlines[index].responsible, event, book[index].judged.ruleset)
                let byAnother = event.actor.institution != deadlines[index].responsible
                // Taken back by the responsible institution after the due time: what stood met for
                // less than the late-entry grace never met it (a decision recorded a minute before
                // the due time and undone a minute after is no decision): it runs on, missed.
                // How long it stood met on the record, from when its satisfaction was recorded.
                let metAt = max(deadlines[index].satisfiedAt!, book[index].metRecordedAt ?? .distantPast)
                let undoneSoon =
                    book[index].metRecordedAt.map { undoneSoonAfter($0, by: event, book[index].judged.ruleset) }
                    ?? false
                guard deadlines[index].dueAt > countsAt || byAnother || undoneSoon else { continue }
                if case .referralWithdrawn = event.body,
                    let standing = events.prefix(while: { $0.id != event.id })
                        .drop(while: { $0.id != deadlines[index].triggerEventId }).dropFirst()
                        .first(where: { e in
                            e.id != deadlines[index].satisfiedByEventId
                                && (e.body.referralId.flatMap { current.referrals[$0]?.status } ?? .issued)
                                    != .withdrawn
                                && satisfies(
                                    e, data: { effective[e.id] ?? e.body.data }, rule: book[index].judged.rule,
                                    deadline: deadlines[index], state: current)
                        })
                {
                    // Met by the referral that still stands, when it counted.
                    deadlines[index].satisfiedAt = max(
                        countsAsAct(standing, book[index].judged.ruleset),
                        deadlines[index].triggeredAt, book[index].metNoEarlierThan ?? .distantPast)
                    deadlines[index].satisfiedByEventId = standing.id
                    book[index].metBy = standing
                    book[index].metRecordedAt = max(
                        standing.recordedOrOccurredAt, correctedAt[standing.id] ?? .distantPast)
                    book[index].settledBy = deadlines[index].satisfiedAt! <= deadlines[index].dueAt ? standing : nil
                    continue
                }
                deadlines[index].satisfiedAt = nil
                deadlines[index].satisfiedByEventId = nil
                book[index].metBy = nil
                book[index].metRecordedAt = nil
                book[index].settledBy = nil
                if !byAnother, deadlines[index].dueAt <= event.recordedOrOccurredAt {
                    book[index].metNoEarlierThan = event.recordedOrOccurredAt
                }
                // A referral withdrawn by its issuer, another institution: the time it stood met is
                // given back, so that a referral issued and withdrawn by another moves nothing.
                if byAnother {
                    book[index].pauses.append((metAt, countsAt))
                    schedule(
                        index,
                        runsFrom: book[index].runsFrom.addingTimeInterval(max(0, countsAt.timeIntervalSince(metAt))))
                }
                open.append(index)
                open.sort()
            }

            // 1. Satisfaction of open deadlines (and re-arming recurring rules).
            var rearm: [String] = []
            let type = EventTypes(event.type)
            open.removeAll { index in
                guard book[index].meetingTypes.contains(type),
                    satisfies(
                        event, data: data, rule: book[index].judged.rule, deadline: deadlines[index], state: current)
                else { return false }
                var satisfiedAt = max(
                    countsAsAct(event, book[index].judged.ruleset),
                    deadlines[index].triggeredAt,
                    book[index].metNoEarlierThan ?? .distantPast)
                var recordedAt = event.recordedOrOccurredAt
                if let corrected = correctedAt[event.id],
                    !satisfies(
                        event, data: { event.body.data }, rule: book[index].judged.rule, deadline: deadlines[index],
                        state: current)
                {
                    satisfiedAt = max(satisfiedAt, corrected)
                    recordedAt = max(recordedAt, corrected)
                }
                deadlines[index].satisfiedAt = satisfiedAt
                deadlines[index].satisfiedByEventId = event.id
                book[index].metBy = event
                book[index].metRecordedAt = recordedAt
                if deadlines[index].satisfiedAt! <= deadlines[index].dueAt { book[index].settledBy = event }
                if book[index].judged.rule.recurring, !rearm.contains(book[index].judged.rule.id) {
                    rearm.append(book[index].judged.rule.id)
                }
                return true
            }
            if !current.isClosed {
                for ruleId in rearm {
                    for versions in series {
                        if let judged = judging(event, versions)?.rule(ruleId) {
                            start(judged, trigger: event, data: data, state: current)
                        }
                    }
                }
            }

            // 2. Events that end open deadlines (the rule's `cancelledBy`; by default the case's
            // closure and, for referral rules, the referral's withdrawal): not yet due → cancelled;
            // past due (or notified) → missed for good.
            open.removeAll { index in
                guard book[index].endingTypes.contains(type),
                    book[index].judged.rule.cancelledBy.contains(where: {
                        cancels($0, event, data: data, deadlines[index])
                    })
                else { return false }
                // Ending a deadline is no act the deadline asked for: it counts when it was recorded,
                // with no late-entry grace (an attack pass recorded a closure two seconds after a
                // due time, dated a minute before it, and the miss was cancelled before the watcher
                // saw it). A backfilled history keeps its graces.
                var endedAt = event.countedAt(grace: book[index].judged.ruleset.cancellationGrace(for: event))
                if let corrected = correctedAt[event.id],
                    !book[index].judged.rule.cancelledBy.contains(where: {
                        cancels($0, event, data: { event.body.data }, deadlines[index])
                    })
                {
                    endedAt = max(endedAt, corrected)
                }
                if deadlines[index].dueAt > endedAt, !noticed(deadlines[index], before: event, in: notices) {
                    deadlines[index].cancelledAt = endedAt
                    book[index].settledBy = event
                } else {
                    deadlines[index].missedAtClosure = true
                }
                book[index].endedBy = event
                book[index].undone = false
                return true
            }
            if case .caseClosed = event.body {
                lastClosure = event.id
                continue
            }
            guard !current.isClosed else { continue }

            // 2b. Reopening carries on what the closure cancelled that was not yet due then, as if
            // the case had never been closed: closing a case a moment before a deadline and
            // reopening it excuses nothing. The reopening counts as a trigger does: for another
            // institution's deadline from its time of record (a reopening dated back, even before
            // the closure, makes nobody late for the time the case was closed), for the reopener's
            // own no later than it was recorded. It restarts the rules that say so and whose
            // deadline the closure ended otherwise unmet.
            var carried: Set<String> = []
            // Starts again, from `event`, the rules that say so (`reopenRetriggers`) whose deadline
            // `ending` ended unmet and that were not carried on.
            func restart(endedBy ending: UUID) {
                var restarted = carried
                for index in deadlines.indices
                where book[index].endedBy?.id == ending && !book[index].undone && deadlines[index].satisfiedAt == nil
                    && !endsAgain(event, data: data, index)
                {
                    book[index].undone = true
                    guard restarted.insert(book[index].judged.rule.id).inserted else { continue }
                    let triggerId = deadlines[index].triggerEventId
                    for versions in series {
                        guard let judged = judging(event, versions)?.rule(book[index].judged.rule.id),
                            judged.rule.reopenRetriggers
                        else { continue }
                        // The original trigger's data (e.g. a reflection period's days), as corrected.
                        let original = { effective[triggerId] ?? current.bodies[triggerId]?.data ?? [:] }
                        start(judged, trigger: event, data: original, state: current)
                    }
                }
            }
            if case .caseReopened = event.body, let closure = lastClosure {
                carried = carryOn(endedBy: closure, undoneBy: event, data: data)
                restart(endedBy: closure)
            }

            // 2c. A status change that cancelled deadlines (a not-a-victim finding), changed again,
            // carries them on as a reopening does: finding someone not a victim and changing it back
            // a moment later excuses nothing; and, as a reopening does, it starts again the rules
            // that say so whose deadline the finding ended for good (an attack pass reversed a
            // finding after more than a day, and no victim advocate was ever due).
            if case .identificationStatusChanged = event.body {
                let findings = Set(
                    book.compactMap { $0.endedBy?.type == .identificationStatusChanged ? $0.endedBy?.id : nil }
                ).subtracting([event.id])
                for finding in findings.sorted(by: { $0.uuidString < $1.uuidString }) {
                    carried.formUnion(carryOn(endedBy: finding, undoneBy: event, data: data))
                    restart(endedBy: finding)
                }
            }

            // 3. New deadlines this event triggers.
            for versions in series {
                guard let version = judging(event, versions) else { continue }
                for judged in version.rules
                where judged.rule.trigger.events.contains(event.type)
                    && judged.rule.trigger.conditions.allMatch(event.type, data)
                    && !judged.rule.trigger.exceptActorKinds.contains(where: {
                        kinds[event.actor.institution]?.contains($0) ?? false
                    })
                    && !carried.contains(judged.rule.id)
                    && !(judged.rule.trigger.oneOpenAtATime
                        && open.contains {
                            book[$0].judged.rule.id == judged.rule.id
                                && book[$0].judged.ruleset.id == judged.ruleset.id
                        })
                {
                    start(judged, trigger: event, data: data, state: current)
                }
            }
        }

        for index in deadlines.indices {
            deadlines[index].notified = noticed(deadlines[index], before: book[index].settledBy, in: notices)
            deadlines[index].status = status(of: deadlines[index], now: now)
            deadlines[index].runsFrom = book[index].runsFrom
        }
        var pauses: [StartKey: [(from: Date, to: Date)]] = [:]
        var runsFrom: [StartKey: Date] = [:]
        for index in deadlines.indices where bookkeeping {
            runsFrom[StartKey(deadlines[index])] = book[index].runsFrom
            if !book[index].pauses.isEmpty { pauses[StartKey(deadlines[index])] = book[index].pauses }
        }
        return Evaluation(state: state, deadlines: deadlines, pauses: pauses, runsFrom: runsFrom)
    }

    /// Marks the recurring rules' terms that count for nothing (``Deadline/counted``). Each rule,
    /// ruleset series and institution responsible is a chain of terms in trigger order, each
    /// started by the act that met the one before. The first term counts. A later term met in time
    /// does not when it was met no later than the due time of the last term that counted (that
    /// term's period already had its act), nor when it was met before half its term had run since
    /// the act that met the term before, or since its own trigger counted as an act (the act that
    /// started it and the one that met it are one act twice: a review made late and repeated a
    /// minute later made every other term of an always-late institution on time, a review of this
    /// session found). Any other term (met late, missed, running, cancelled, or met in time after
    /// both) counts, and its due time becomes the bound. Reviews every 28 days of a 30-day rule all
    /// count; 990 reviews in one batch count as one; reviews every 9 days the first term only;
    /// reviews a little more than half a term apart each (at most one more a term than monthly
    /// reviews give). Only a met deadline is ever left out, so no miss is. `actedAt`: when each
    /// deadline's trigger counted as an act (``countsAsAct(_:_:)``), and for its institution
    /// (``countsFor(_:_:_:)``).
    static func markCounted(_ deadlines: inout [Deadline], recurring: [Bool], actedAt: [Date]) {
        struct Chain: Hashable {
            var ruleId: String
            var rulesetId: String
            var responsible: String
        }
        var bound: [Chain: Date] = [:]
        // When the term before met its act: a term runs from there however its trigger was dated
        // (attack pass 19 dated a late review weeks back, so that its repeat a second later met a
        // term that had "run" weeks); and never from before its trigger counted as an act (attack
        // pass 20 dated a reopening, which starts a term afresh, 16 days back and reviewed a
        // second later).
        var previousMet: [Chain: Date] = [:]
        for index in deadlines.indices where recurring[index] {
            let d = deadlines[index]
            let chain = Chain(ruleId: d.ruleId, rulesetId: d.rulesetId, responsible: d.responsible)
            let ranFrom = max(actedAt[index], previousMet[chain] ?? actedAt[index])
            previousMet[chain] = d.satisfiedAt
            if let last = bound[chain], d.settled == .met, let satisfiedAt = d.satisfiedAt,
                satisfiedAt <= last
                    || satisfiedAt.timeIntervalSince(ranFrom) < d.dueAt.timeIntervalSince(d.triggeredAt) / 2
            {
                deadlines[index].counted = false
            } else {
                bound[chain] = d.dueAt
            }
        }
    }

    /// A case whose closure, not undone, says it is a `duplicate` is the record of a person another
    /// case already holds: the terms that the institution which closed it as one met in it do not
    /// count in the compliance figures (`counted` false). Attack pass 24 opened a case, met each of the
    /// police's deadlines in it and closed it as a duplicate, in one request, ten times: 40 met
    /// deadlines more, and no other trace in the figures. Only a met term is ever left out — a
    /// late, missed or cancelled one counts as it is, so no closure takes a miss away — and only
    /// the closer's own: another institution's statement that a case is a duplicate leaves the
    /// closer's rivals' figures alone. A reopening undoes it.
    static func leaveOutOwnDuplicates(_ deadlines: inout [Deadline], _ state: CaseState) {
        guard let closer = state.duplicateClosedBy else { return }
        for index in deadlines.indices where deadlines[index].responsible == closer && deadlines[index].settled == .met
        {
            deadlines[index].counted = false
        }
    }

    /// Whether a notice of `deadline` counts: one recorded before `event`, the event that met the
    /// deadline by its due time or cancelled it (nil while none has, or for an event not recorded
    /// yet) — the deadline is then never `met` nor `cancelled`. A notice recorded after that event
    /// was written from a read that had not seen it (the watcher races the append) and counts for
    /// nothing. A notice of a deadline met late, or ended after it fell due, always counts.
    static func noticed(_ deadline: Deadline, before event: CaseEvent?, in notices: [NoticeKey: Date]) -> Bool {
        let settledAt = event?.recordedAt
        return notices.contains { key, recordedAt in
            deadline.isNoticed(by: key) && settledAt.map { recordedAt <= $0 } ?? true
        }
    }

    /// When `event` counts as the act a deadline asks for: its `occurredAt`, but no earlier than
    /// the ruleset's late-entry grace before its time of record (``CaseEvent/countedAt(grace:)``).
    static func countsAsAct(_ event: CaseEvent, _ ruleset: Ruleset) -> Date {
        event.countedAt(grace: ruleset.lateEntryGrace(for: event))
    }

    /// When `event` counts for a deadline `responsible` must meet, as a trigger of it would: at its `occurredAt` (no later
    /// than recorded) for the deadline's own institution, from its time of record under the
    /// ruleset's `lateTriggerGrace` for any other — what it starts, restarts or carries on makes
    /// nobody late for time before they could know of it.
    static func countsFor(_ responsible: String, _ event: CaseEvent, _ ruleset: Ruleset) -> Date {
        responsible == event.actor.institution
            ? event.occurredAtCapped : event.countedAt(grace: ruleset.lateTriggerGrace(for: event))
    }

    /// A set of case event types as bits: what a deadline's rule answers to, asked of every open
    /// deadline for every event without copying a rule.
    struct EventTypes {
        private var bits: UInt64 = 0

        init() {}

        init(_ type: CaseEventType) { bits = Self.bit(type) }

        init(_ types: some Sequence<CaseEventType>) {
            for type in types { bits |= Self.bit(type) }
        }

        /// Whether any type of `other` is one of these.
        func contains(_ other: EventTypes) -> Bool { bits & other.bits != 0 }

        private static let ordinals = Dictionary(
            uniqueKeysWithValues: CaseEventType.allCases.enumerated().map { ($1, $0) })

        private static func bit(_ type: CaseEventType) -> UInt64 { 1 << UInt64(ordinals[type]!) }
    }

    /// What the evaluation keeps of each deadline beside the ``Deadline`` itself.
    struct Bookkeeping {
        /// Its rule, with the version that judges it (its graces, its clock).
        let judged: JudgedRule
        var term: Term
        /// The event types that may meet it and that may end it (``EventTypes``): a case of a
        /// thousand open referrals asked every rule of each of its two thousand deadlines about
        /// every event, a second of the projector's time for one case (an attack pass).
        var meetingTypes = EventTypes()
        var endingTypes = EventTypes()
        /// The moment it runs from.
        var runsFrom: Date
        /// The moment it ran from when it started (a role deadline given back to the opener runs
        /// from it again).
        var startedFrom: Date
        /// The role nobody held when it started (the opener answers), until a referral brings a
        /// holder in.
        var unassigned: InstitutionKind?
        /// The referral that made its role's holder responsible.
        var assignedBy: String?
        /// The event that cancelled or ended it (its author, and whether it was a status change a
        /// later change undoes, are read from it).
        var endedBy: CaseEvent?
        /// A role deadline the opener held and handed to a holder: when the opener's clock ran from
        /// and when it stopped (the holder was brought in).
        var openerClock: (runsFrom: Date, stoppedAt: Date)?
        /// Whether what ended it was undone (a reopening, a finding changed): it was carried on or
        /// started again then, or stays ended for good; no later event undoes it again.
        var undone = false
        /// The event that met it in time or cancelled it (what a notice must precede to count).
        var settledBy: CaseEvent?
        /// The event that met it (its type, author and referral are read from it).
        var metBy: CaseEvent?
        /// When what met it was put on the record: `metBy`'s time of record, or the time of record
        /// of the correction that made it meet the deadline. How long a satisfaction stood is
        /// measured from here, never from a back-dated `satisfiedAt` (a sixth attack pass
        /// back-dated a decision by 23 hours, took it back a second later, and the time "given
        /// back" was 23 hours; another corrected an old event into a decision and undid it more
        /// than a day after that event, but an hour after the correction).
        var metRecordedAt: Date?
        /// The stretches given back to it by another's act (see ``Evaluation``).
        var pauses: [(from: Date, to: Date)] = []
        /// An own deadline brought back after its due time (its author's closure or finding undone
        /// within the grace, its own referral to the role's holder withdrawn): nothing meets it
        /// earlier than that. While it was cancelled or another's, no notice could be written, and
        /// only a notice stops a late entry dated before the due time from meeting it (an eleventh
        /// attack pass closed a case before a due time and, an hour after it, reopened it and
        /// referred, dated before the closure: met).
        var metNoEarlierThan: Date?
        /// The institutions responsible for it whose own closure or finding another institution
        /// has once undone after its due time (giving them the time between): a second time is
        /// judged as their own undoing.
        var ownEndingsUndoneByAnother: Set<String> = []
    }

    /// Who holds `kind` in the case: its opener, if of that kind; else the recipient of the first
    /// referral (in issue order) to an institution of that kind that was not declined or withdrawn,
    /// with that referral.
    static func holder(of kind: InstitutionKind, in state: CaseState, kinds: [String: [InstitutionKind]])
        -> (institution: String, referral: String?)?
    {
        if kinds[state.openedBy]?.contains(kind) ?? false { return (state.openedBy, nil) }
        for id in state.referralOrder {
            guard let r = state.referrals[id], r.status != .declined, r.status != .withdrawn,
                kinds[r.to]?.contains(kind) ?? false
            else { continue }
            return (r.to, id)
        }
        return nil
    }

    /// Whether `event` takes back what met a deadline: the withdrawal of the referral that met a
    /// rule met by some referral (not its trigger's own, `sameReferral`), or an identification
    /// status set to a value the rule's satisfying conditions do not accept after a change that met it.
    static func takesBack(_ event: CaseEvent, data: () -> JSONValue, _ book: Bookkeeping, responsible: String)
        -> Bool
    {
        switch event.body {
        case .referralWithdrawn(let referralId, _):
            return book.metBy?.body.referralId == referralId && !book.judged.rule.satisfiedBy.sameReferral
        case .identificationStatusChanged:
            // Only by the responsible institution: another's change leaves the deadline as it
            // stood (met, or met late) and, when the case is undecided again, starts a new one
            // with a whole term (ruleset version 7). An attack pass had the prosecution undo a
            // decision of its own, or the police's made late, to move the police's deadline.
            return event.actor.institution == responsible && book.metBy?.type == .identificationStatusChanged
                && !book.judged.rule.satisfiedBy.conditions.allMatch(event.type, data)
        default:
            return false
        }
    }

    /// Whether `undoing` was recorded within the ruleset's late-entry grace of `madeAt`: an act
    /// undone that soon by its author (a closure, a finding, a decision, a referral made a minute
    /// before a due time and undone a minute after) counts as never made.
    static func undoneSoonAfter(_ madeAt: Date, by undoing: CaseEvent, _ ruleset: Ruleset) -> Bool {
        undoing.recordedOrOccurredAt.timeIntervalSince(madeAt) < ruleset.lateEntryGrace(for: undoing)
    }

    /// How a started deadline's due time is counted from the moment it runs from.
    struct Term {
        var within: ISODuration
        var workingDays: Int?
        var warn: ISODuration?
    }

    /// What makes a started deadline unique: rule, ruleset series and trigger (ids never hold `/`,
    /// so this is the `rule/ruleset/trigger` key the evaluator has always used).
    struct StartKey: Hashable {
        var rule: String
        var ruleset: String
        var trigger: UUID

        init(rule: String, ruleset: String, trigger: UUID) {
            self.rule = rule
            self.ruleset = ruleset
            self.trigger = trigger
        }

        init(_ deadline: Deadline) {
            self.init(rule: deadline.ruleId, ruleset: deadline.rulesetId, trigger: deadline.triggerEventId)
        }
    }

    /// Whether `event` ends `deadline` by `cancellation` (never the deadline's own trigger).
    static func cancels(
        _ cancellation: SopRule.Cancellation, _ event: CaseEvent, data: () -> JSONValue, _ deadline: Deadline
    ) -> Bool {
        guard event.id != deadline.triggerEventId, cancellation.events.contains(event.type),
            cancellation.conditions.allMatch(event.type, data)
        else { return false }
        return !cancellation.sameReferral || event.body.referralId == deadline.referralId
    }

    /// The status of a deadline at `now`.
    static func status(of d: Deadline, now: Date) -> DeadlineStatus {
        if let settled = d.settled { return settled }
        if now >= d.dueAt { return .overdue }
        return now >= d.warnAt ? .dueSoon : .pending
    }

    /// The version of one series in force at `date`, if any (its versions in the order they took
    /// effect: ``Ruleset``s, or ``RulesetVersion``s as the evaluator holds them).
    static func inForce<Version: JudgingVersion>(_ versions: [Version], at date: Date) -> Version? {
        versions.last { $0.effectiveFrom <= date }
    }

    /// The version of a series that judges `event` as a trigger: the one in force when the event
    /// counts — its `occurredAt`, but no earlier than the late-entry grace (of the version in force
    /// when it was recorded) before its time of record (``CaseEvent/countedAt(grace:)``). An issuer
    /// dated its referrals before a new version took effect and kept the recipient under the old
    /// one's shorter terms for ever (attack pass 18); an entry dated back within the grace is judged
    /// as of when it happened.
    static func judging<Version: JudgingVersion>(_ event: CaseEvent, _ versions: [Version]) -> Version? {
        guard let recordedAt = event.recordedAt, let atRecord = inForce(versions, at: recordedAt) else {
            return inForce(versions, at: event.occurredAt)
        }
        return inForce(versions, at: event.countedAt(grace: atRecord.lateEntryGrace(for: event)))
            ?? inForce(versions, at: event.occurredAt)
    }

    static func satisfies(
        _ event: CaseEvent, data: () -> JSONValue, rule: SopRule, deadline: Deadline, state: CaseState
    ) -> Bool {
        let s = rule.satisfiedBy
        guard event.id != deadline.triggerEventId, s.events.contains(event.type),
            s.conditions.allMatch(event.type, data)
        else { return false }
        if s.sameReferral, event.body.referralId != deadline.referralId { return false }
        if s.byResponsible, event.actor.institution != deadline.responsible { return false }
        if s.byRecipient {
            guard let id = deadline.referralId, state.referrals[id]?.to == event.actor.institution else { return false }
        }
        if let purposes = s.referralPurposes {
            guard let id = event.body.referralId, let referral = state.referrals[id],
                purposes.contains(referral.purpose)
            else { return false }
        }
        return true
    }

    /// The `data` of every corrected event with its corrections merged in, by event id; with
    /// `applying`, only those corrections (by their event ids).
    static func effectiveData(_ events: [CaseEvent], applying: Set<UUID>? = nil) -> [UUID: JSONValue] {
        var data: [UUID: JSONValue] = [:]
        guard events.contains(where: { if case .recordCorrected = $0.body { true } else { false } }) else {
            return data
        }
        var types: [UUID: CaseEventType] = [:]
        for event in events {
            types[event.id] = event.type
            guard case .recordCorrected(let target, _, let correction) = event.body, let type = types[target],
                type != .recordCorrected, applying?.contains(event.id) ?? true
            else { continue }
            let original = data[target] ?? events.first { $0.id == target }!.body.data
            let merged = original.merging(.object(correction))
            if (try? CaseEventBody.decode(type: type, data: merged)) != nil { data[target] = merged }
        }
        return data
    }
}

extension Ruleset: DeadlineEvaluator.JudgingVersion {}
