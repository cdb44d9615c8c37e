import EventStore
import Foundation
import Postgres
import Referrals

/// Projector `cases`: case summary, parties, referrals, deadlines, missed-deadline notices and each
/// case's pre-rendered summary document (``CaseDocument``).
///
/// Each case touched by a batch is recomputed from its whole stream up to the batch's cursor
/// (``CaseState/fold`` and ``DeadlineEvaluator``), and its rows are replaced. A published ruleset
/// or a registered institution can change any case's deadlines, so such an event recomputes every
/// case. The rows therefore depend only on the events up to the checkpoint — never on how they
/// were batched — which is what makes a rebuild equal the incremental build.
///
/// The live runner (``makeLive()``) and a rebuild's replay (``makeReplay()``) both keep the case
/// streams they have seen in memory (up to a bound; a case they had to forget is read again), and
/// the live one recomputes every case after a registry change in parts of `recomputeChunk` cases,
/// each its own short transaction (see ``CaseFolder`` and ``ProjectionRunner``). Both fold the same
/// events with the same code.
///
/// Deadline rows hold `dueAt`, `warnAt`, `satisfiedAt`, `cancelledAt` and `missedAtClosure`; the
/// status (pending, due-soon, overdue, …) is derived at query time by `handoff.deadline_status`.
public struct CaseProjector: Projector {
    public let name = "cases"
    public let tables = [
        "case_summary", "case_parties", "referrals", "deadlines", "deadline_notices", "case_documents",
        "reflection_periods", "case_closures",
    ]
    /// How many cases a rebuild's replay keeps in memory, counted in events (about 1 KiB each).
    let replayMemory: Int
    /// How many cases the live projector keeps in memory between batches, counted in events.
    let liveMemory: Int
    /// How many cases one part of the live projector's registry-wide recompute writes.
    let recomputeChunk: Int
    let foldShares: Int?
    let shareEvents: Int

    public init() { self.init(replayMemory: 150_000) }

    /// - Parameters:
    ///   - replayMemory: the events a replay keeps in memory (tests make it small).
    ///   - liveMemory: the events the live projector keeps in memory between batches.
    ///   - recomputeChunk: cases per transaction when a ruleset or institution event recomputes every case.
    ///   - foldShares: how many shares of a replay's part are folded at once (nil: one a processor),
    ///     each of at least `shareEvents` events.
    init(
        replayMemory: Int, liveMemory: Int = 50_000, recomputeChunk: Int = 500, foldShares: Int? = nil,
        shareEvents: Int = 1_000
    ) {
        self.replayMemory = replayMemory
        self.liveMemory = liveMemory
        self.recomputeChunk = recomputeChunk
        self.foldShares = foldShares
        self.shareEvents = shareEvents
    }

    /// Applies a whole batch at once (every part of a recompute together) on `connection`.
    public func apply(
        _ events: [RecordedEvent], through cursor: Cursor, on connection: Connection, tables: ProjectionTables
    )
        async throws
    {
        let folder = CaseFolder(complete: false, memory: 0, chunkCases: Int.max / 2)
        let batch = LiveBatch(events: events, start: .start, end: cursor, resumingAfter: nil)
        try await folder.prepare(batch, reading: connection, tables: tables).writes.run(on: connection, tables: tables)
    }

    /// A live projection that keeps case streams and the registry between batches (see ``CaseFolder``).
    public func makeLive() -> any LiveProjection {
        CaseFolder(complete: false, memory: liveMemory, chunkCases: recomputeChunk)
    }

    /// A replay that keeps case streams in memory between batches (see ``CaseFolder``).
    public func makeReplay() -> any ProjectorReplay {
        CaseFolder(complete: true, memory: replayMemory, foldShares: foldShares, shareEvents: shareEvents)
    }

    // MARK: - Rows

    static let summary = RowWriter(
        table: "case_summary",
        columns: [
            ("case_id", "text"), ("status", "text"), ("identification_status", "text"), ("risk_level", "text"),
            ("risk_assessed_at", "timestamptz"), ("opened_by", "text"), ("opened_at", "timestamptz"),
            ("opened_year", "int"), ("opening_event_id", "uuid"), ("child", "boolean"), ("sex", "text"),
            ("age_band", "text"), ("nationality", "text"), ("exploitation", "text[]"),
            ("guardian_appointed_at", "timestamptz"), ("reflection_started_at", "timestamptz"),
            ("reflection_days", "int"), ("reflection_ended_at", "timestamptz"), ("last_reviewed_at", "timestamptz"),
            ("closed_at", "timestamptz"), ("closure_reason", "text"), ("reopen_count", "int"),
            ("correction_count", "int"), ("version", "bigint"), ("last_event_id", "uuid"),
            ("last_event_at", "timestamptz"), ("reflection_outcome", "text"),
        ])
    static let parties = RowWriter(
        table: "case_parties", columns: [("case_id", "text"), ("institution", "text"), ("ordinal", "int")])
    /// Every reflection period of a case (Migrations/0038), for the annual report.
    static let reflectionPeriods = RowWriter(
        table: "reflection_periods",
        columns: [
            ("case_id", "text"), ("ordinal", "int"), ("started_at", "timestamptz"), ("days", "int"),
            ("ended_at", "timestamptz"), ("outcome", "text"),
        ])
    static let closures = RowWriter(
        table: "case_closures",
        columns: [
            ("case_id", "text"), ("ordinal", "int"), ("closed_at", "timestamptz"), ("reason", "text"),
            ("reopened_at", "timestamptz"), ("in_error", "boolean"),
        ])
    static let referrals = RowWriter(
        table: "referrals",
        columns: [
            ("case_id", "text"), ("referral_id", "text"), ("from_institution", "text"), ("to_institution", "text"),
            ("purpose", "text"), ("urgency", "text"), ("status", "text"), ("issued_at", "timestamptz"),
            ("issued_event_id", "uuid"), ("acknowledged_at", "timestamptz"), ("accepted_at", "timestamptz"),
            ("declined_at", "timestamptz"), ("decline_reason", "text"), ("completed_at", "timestamptz"),
            ("outcome", "text"), ("ordinal", "int"), ("consent_override", "text"),
            ("consent_withdrawn_at", "timestamptz"), ("withdrawn_at", "timestamptz"), ("withdrawal_reason", "text"),
            ("issued_counted_at", "timestamptz"), ("responded_counted_at", "timestamptz"),
            ("accepted_counted_at", "timestamptz"),
        ])
    static let deadlines = RowWriter(
        table: "deadlines",
        columns: [
            ("case_id", "text"), ("rule_id", "text"), ("ruleset_id", "text"), ("ruleset_version", "int"),
            ("trigger_event_id", "uuid"), ("title", "text"), ("confirmed", "boolean"), ("triggered_at", "timestamptz"),
            ("referral_id", "text"), ("due_at", "timestamptz"), ("warn_at", "timestamptz"), ("responsible", "text"),
            ("satisfied_at", "timestamptz"), ("satisfied_by_event_id", "uuid"), ("cancelled_at", "timestamptz"),
            ("missed_at_closure", "boolean"), ("ordinal", "int"), ("notified", "boolean"), ("case_status", "text"),
            ("settled", "text"), ("counts_from", "timestamptz"), ("counted", "boolean"),
        ])
    static let documents = RowWriter(
        table: "case_documents",
        columns: [
            ("case_id", "text"), ("parties", "text[]"), ("body", "text"), ("cuts", "int[]"),
            ("open_due", "timestamptz[]"), ("open_warn", "timestamptz[]"),
        ])
    static let notices = RowWriter(
        table: "deadline_notices",
        columns: [
            ("event_id", "uuid"), ("case_id", "text"), ("rule_id", "text"), ("trigger_event_id", "uuid"),
            ("due_at", "timestamptz"), ("responsible", "text"), ("recorded_at", "timestamptz"), ("ruleset_id", "text"),
        ])

    /// The zone whose calendar years number the statistics (`opened_year`, `/v1/stats?year=`): the
    /// deployment's, `HANDOFF_TIME_ZONE` (an IANA name), else Kosovo's `Europe/Belgrade` — a case
    /// opened at 00:30 on 1 January in Prishtina counts in the new year. Rebuild the `cases` read
    /// model after changing it.
    public static let statisticsTimeZone: String = {
        let given = ProcessInfo.processInfo.environment["HANDOFF_TIME_ZONE"] ?? ""
        return TimeZone(identifier: given) != nil ? given : "Europe/Belgrade"
    }()

    /// Appends the summary row of a folded case.
    static func addSummary(_ s: CaseState, history: History.CaseHistory, to r: inout RowBatch) {
        let p = s.profile
        r.text(s.caseId)
        r.text(s.status.rawValue)
        r.text(s.identificationStatus.rawValue)
        r.text(s.riskLevel?.rawValue)
        r.time(s.riskAssessedAt)
        r.text(s.openedBy)
        r.time(s.openedAt)
        r.int(Timestamp.year(of: s.openedAt, timeZone: statisticsTimeZone))
        r.uuid(s.openingEventId)
        r.bool(s.isChild)
        r.text(p.sex.rawValue)
        r.text(p.ageBand.rawValue)
        r.text(p.nationality)
        r.textArray(p.exploitation.map(\.rawValue))
        r.time(s.guardianAppointedAt)
        r.time(s.reflectionPeriod?.startedAt)
        r.int(s.reflectionPeriod?.days)
        r.time(s.reflectionPeriod?.endedAt)
        r.time(s.lastReviewedAt)
        r.time(s.isClosed ? s.closedAt : nil)
        r.text(s.isClosed ? s.closureReason?.rawValue : nil)
        r.int(s.reopenCount)
        r.int(s.correctionCount)
        r.int(Int(history.version))
        r.uuid(history.lastEventId)
        r.time(history.lastRecordedAt)
        r.text(s.reflectionPeriod?.outcome?.rawValue)
        r.endRow()
    }

    /// Appends the rows of a case's parties, opener first.
    static func addParties(_ s: CaseState, to r: inout RowBatch) {
        for (i, party) in s.parties.enumerated() {
            r.text(s.caseId)
            r.text(party)
            r.int(i)
            r.endRow()
        }
    }

    /// Appends a row for each of a case's reflection periods, in the order they started. A period's
    /// length is the term of its deadline (the rule whose term its `days` sets), as the evaluator
    /// judged it: a running period corrected longer keeps the length it had, since the corrector's
    /// own deadline is never put off (an auditor's pass found a 30-day period corrected to 90
    /// counted as 61-90 days and ended at day 30). Without such a deadline, the `days` given.
    static func addReflectionPeriods(
        _ s: CaseState, deadlines: [Deadline], context: DeadlineEvaluator.Context, to r: inout RowBatch
    ) {
        for (i, period) in s.reflectionPeriods.enumerated() {
            let term = deadlines.first { d in
                d.triggerEventId == period.startEventId
                    && context.rule(of: d)?.withinDaysFromField == "days"
            }
            r.text(s.caseId)
            r.int(i)
            r.time(period.startedAt)
            r.int(term.map { Int(($0.dueAt.timeIntervalSince(period.startedAt) / 86_400).rounded()) } ?? period.days)
            r.time(period.endedAt)
            r.text(period.outcome?.rawValue)
            r.endRow()
        }
    }

    /// Appends a row for every closure of a case, in order.
    static func addClosures(_ s: CaseState, to r: inout RowBatch) {
        for (i, closure) in s.closures.enumerated() {
            r.text(s.caseId)
            r.int(i)
            r.time(closure.closedAt)
            r.text(closure.reason.rawValue)
            r.time(closure.reopenedAt)
            r.bool(closure.inError)
            r.endRow()
        }
    }

    /// Appends the rows of a case's referrals, in issue order.
    /// - Parameter times: each referral's ``DeadlineEvaluator/ReferralTimes``.
    static func addReferrals(
        _ s: CaseState, times: [String: DeadlineEvaluator.ReferralTimes], to r: inout RowBatch
    ) {
        for (i, id) in s.referralOrder.enumerated() {
            guard let ref = s.referrals[id] else { continue }
            let counted = times[id]
            r.text(s.caseId)
            r.text(ref.id)
            r.text(ref.from)
            r.text(ref.to)
            r.text(ref.purpose.rawValue)
            r.text(ref.urgency.rawValue)
            r.text(ref.status.rawValue)
            r.time(ref.issuedAt)
            r.uuid(ref.issuedByEventId)
            r.time(ref.acknowledgedAt)
            r.time(ref.acceptedAt)
            r.time(ref.declinedAt)
            r.text(ref.declineReason?.rawValue)
            r.time(ref.completedAt)
            r.text(ref.outcome?.rawValue)
            r.int(i)
            r.text(ref.consentOverride?.rawValue)
            r.time(ref.consentWithdrawnAt)
            r.time(ref.withdrawnAt)
            r.text(ref.withdrawalReason?.rawValue)
            r.time(counted?.issued)
            r.time(counted?.responded)
            r.time(counted?.accepted)
            r.endRow()
        }
    }

    /// Appends the rows of a case's deadlines, in trigger order, with the case's status (what the
    /// coordinator's board filters on).
    /// - Parameter countsFrom: for each deadline, ``DeadlineEvaluator/countsFrom(_:events:context:)``
    ///   (one a deadline, in the same order).
    static func addDeadlines(
        _ deadlines: [Deadline], countsFrom: [Date], caseStatus: CaseStatus, to r: inout RowBatch
    ) {
        for (i, (d, countsFrom)) in zip(deadlines, countsFrom).enumerated() {
            r.text(d.caseId)
            r.text(d.ruleId)
            r.text(d.rulesetId)
            r.int(d.rulesetVersion)
            r.uuid(d.triggerEventId)
            r.text(d.title)
            r.bool(d.confirmed)
            r.time(d.triggeredAt)
            r.text(d.referralId)
            r.time(d.dueAt)
            r.time(d.warnAt)
            r.text(d.responsible)
            r.time(d.satisfiedAt)
            r.uuid(d.satisfiedByEventId)
            r.time(d.cancelledAt)
            r.bool(d.missedAtClosure)
            r.int(i)
            r.bool(d.notified)
            r.text(caseStatus.rawValue)
            r.text(d.settled?.rawValue)
            r.time(countsFrom)
            r.bool(d.counted)
            r.endRow()
        }
    }

    /// Appends the row of a `SopDeadlineMissed` notice.
    static func addNotice(
        _ event: RecordedEvent, caseId: String, ruleId: String, rulesetId: String?, dueAt: Date, trigger: UUID,
        responsible: String, to r: inout RowBatch
    ) {
        r.uuid(event.id)
        r.text(caseId)
        r.text(ruleId)
        r.uuid(trigger)
        r.time(dueAt)
        r.text(responsible)
        r.text(event.recordedAt)
        r.text(rulesetId)
        r.endRow()
    }
}
