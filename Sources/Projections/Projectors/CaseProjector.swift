import EventStore
import Foundation
import Postgres
import Referrals

/// Projector `cases`: case summary, parties, referrals, deadlines and missed-deadline notices.
///
/// Each case touched by a batch is recomputed from its whole stream up to the batch's cursor
/// (``CaseState/fold`` and ``DeadlineEvaluator``), and its rows are replaced. A published ruleset
/// or a registered institution can change any case's deadlines, so such an event recomputes every
/// case. The rows therefore depend only on the events up to the checkpoint — never on how they
/// were batched — which is what makes a rebuild equal the incremental build.
///
/// Deadline rows hold `dueAt`, `warnAt`, `satisfiedAt`, `cancelledAt` and `missedAtClosure`; the
/// status (pending, due-soon, overdue, …) is derived at query time by `handoff.deadline_status`.
public struct CaseProjector: Projector {
    public let name = "cases"
    public let tables = ["case_summary", "case_parties", "referrals", "deadlines", "deadline_notices"]
    /// How many cases are recomputed per statement group when every case must be.
    let chunk = 500

    public init() {}

    public func apply(
        _ events: [RecordedEvent], through cursor: Cursor, on connection: Connection, tables: ProjectionTables
    )
        async throws
    {
        var touched: Set<String> = []
        var everything = false
        var notices: [JSONValue] = []
        for event in events {
            if event.stream.hasPrefix("case-") {
                touched.insert(String(event.stream.dropFirst(5)))
            } else if event.stream == "sop-rulesets" || event.stream == "institutions" {
                everything = true
            } else if event.stream.hasPrefix("sop-"), event.type == "SopDeadlineMissed",
                let data = try? JSONValue.parse(event.data),
                case .sopDeadlineMissed(let ruleId, let dueAt, let trigger, let responsible)? =
                    try? SystemEventBody.decode(type: event.type, data: data)
            {
                notices.append([
                    "event_id": Cell.uuid(event.id), "case_id": .string(String(event.stream.dropFirst(4))),
                    "rule_id": .string(ruleId), "trigger_event_id": Cell.uuid(trigger), "due_at": Cell.time(dueAt),
                    "responsible": .string(responsible), "recorded_at": .string(event.recordedAt),
                ])
            }
        }
        try await Self.notices.insert(notices, on: connection, tables: tables)
        if everything {
            let all = try await connection.query(
                SQL(text: "SELECT case_id FROM \(tables.qualified("case_summary"))", parameters: []))
            for row in all.all { touched.insert(try row.decode(0)) }
        }
        guard !touched.isEmpty else { return }
        let rulesets = try await History.rulesets(through: cursor, on: connection)
        let institutions = try await History.institutions(through: cursor, on: connection)
        let ids = touched.sorted()
        var start = 0
        while start < ids.count {
            let slice = Array(ids[start..<min(start + chunk, ids.count)])
            start += chunk
            let histories = try await History.cases(slice, through: cursor, on: connection)
            var summaries: [JSONValue] = []
            var parties: [JSONValue] = []
            var referrals: [JSONValue] = []
            var deadlines: [JSONValue] = []
            for caseId in slice {
                guard let history = histories[caseId],
                    let state = CaseState.fold(caseId: caseId, events: history.events)
                else { continue }
                let events = history.events
                summaries.append(Self.summaryRow(state, history: history))
                for (i, party) in state.parties.enumerated() {
                    parties.append(["case_id": .string(caseId), "institution": .string(party), "ordinal": .int(i)])
                }
                for (i, id) in state.referralOrder.enumerated() {
                    guard let r = state.referrals[id] else { continue }
                    referrals.append(Self.referralRow(caseId, r, ordinal: i))
                }
                let evaluated = DeadlineEvaluator.evaluate(
                    caseId: caseId, events: events, rulesets: rulesets, now: Date(timeIntervalSince1970: 0),
                    institutions: institutions)
                for (i, d) in evaluated.enumerated() { deadlines.append(Self.deadlineRow(d, ordinal: i)) }
            }
            for writer in [Self.summary, Self.parties, Self.referrals, Self.deadlines] {
                try await writer.delete(slice, on: connection, tables: tables)
            }
            try await Self.summary.insert(summaries, on: connection, tables: tables)
            try await Self.parties.insert(parties, on: connection, tables: tables)
            try await Self.referrals.insert(referrals, on: connection, tables: tables)
            try await Self.deadlines.insert(deadlines, on: connection, tables: tables)
        }
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
            ("last_event_at", "timestamptz"),
        ])
    static let parties = RowWriter(
        table: "case_parties", columns: [("case_id", "text"), ("institution", "text"), ("ordinal", "int")])
    static let referrals = RowWriter(
        table: "referrals",
        columns: [
            ("case_id", "text"), ("referral_id", "text"), ("from_institution", "text"), ("to_institution", "text"),
            ("purpose", "text"), ("urgency", "text"), ("status", "text"), ("issued_at", "timestamptz"),
            ("issued_event_id", "uuid"), ("acknowledged_at", "timestamptz"), ("accepted_at", "timestamptz"),
            ("declined_at", "timestamptz"), ("decline_reason", "text"), ("completed_at", "timestamptz"),
            ("outcome", "text"), ("ordinal", "int"),
        ])
    static let deadlines = RowWriter(
        table: "deadlines",
        columns: [
            ("case_id", "text"), ("rule_id", "text"), ("ruleset_id", "text"), ("ruleset_version", "int"),
            ("trigger_event_id", "uuid"), ("title", "text"), ("confirmed", "boolean"), ("triggered_at", "timestamptz"),
            ("referral_id", "text"), ("due_at", "timestamptz"), ("warn_at", "timestamptz"), ("responsible", "text"),
            ("satisfied_at", "timestamptz"), ("satisfied_by_event_id", "uuid"), ("cancelled_at", "timestamptz"),
            ("missed_at_closure", "boolean"), ("ordinal", "int"),
        ])
    static let notices = RowWriter(
        table: "deadline_notices",
        columns: [
            ("event_id", "uuid"), ("case_id", "text"), ("rule_id", "text"), ("trigger_event_id", "uuid"),
            ("due_at", "timestamptz"), ("responsible", "text"), ("recorded_at", "timestamptz"),
        ])

    static func summaryRow(_ s: CaseState, history: History.CaseHistory) -> JSONValue {
        let p = s.profile
        return [
            "case_id": .string(s.caseId), "status": .string(s.status.rawValue),
            "identification_status": .string(s.identificationStatus.rawValue),
            "risk_level": Cell.text(s.riskLevel?.rawValue), "risk_assessed_at": Cell.time(s.riskAssessedAt),
            "opened_by": .string(s.openedBy), "opened_at": Cell.time(s.openedAt),
            "opened_year": .int(Timestamp.civil(s.openedAt).year), "opening_event_id": Cell.uuid(s.openingEventId),
            "child": .bool(s.isChild), "sex": .string(p.sex.rawValue), "age_band": .string(p.ageBand.rawValue),
            "nationality": .string(p.nationality), "exploitation": .array(p.exploitation.map { .string($0.rawValue) }),
            "guardian_appointed_at": Cell.time(s.guardianAppointedAt),
            "reflection_started_at": Cell.time(s.reflectionPeriod?.startedAt),
            "reflection_days": Cell.int(s.reflectionPeriod?.days),
            "reflection_ended_at": Cell.time(s.reflectionPeriod?.endedAt),
            "last_reviewed_at": Cell.time(s.lastReviewedAt), "closed_at": Cell.time(s.isClosed ? s.closedAt : nil),
            "closure_reason": Cell.text(s.isClosed ? s.closureReason?.rawValue : nil),
            "reopen_count": .int(s.reopenCount), "correction_count": .int(s.correctionCount),
            "version": .int(Int(history.version)), "last_event_id": Cell.uuid(history.lastEventId),
            "last_event_at": Cell.time(history.lastRecordedAt),
        ]
    }

    static func referralRow(_ caseId: String, _ r: Referral, ordinal: Int) -> JSONValue {
        [
            "case_id": .string(caseId), "referral_id": .string(r.id), "from_institution": .string(r.from),
            "to_institution": .string(r.to), "purpose": .string(r.purpose.rawValue),
            "urgency": .string(r.urgency.rawValue), "status": .string(r.status.rawValue),
            "issued_at": Cell.time(r.issuedAt), "issued_event_id": Cell.uuid(r.issuedByEventId),
            "acknowledged_at": Cell.time(r.acknowledgedAt), "accepted_at": Cell.time(r.acceptedAt),
            "declined_at": Cell.time(r.declinedAt), "decline_reason": Cell.text(r.declineReason?.rawValue),
            "completed_at": Cell.time(r.completedAt), "outcome": Cell.text(r.outcome?.rawValue),
            "ordinal": .int(ordinal),
        ]
    }

    static func deadlineRow(_ d: Deadline, ordinal: Int) -> JSONValue {
        [
            "case_id": .string(d.caseId), "rule_id": .string(d.ruleId), "ruleset_id": .string(d.rulesetId),
            "ruleset_version": .int(d.rulesetVersion), "trigger_event_id": Cell.uuid(d.triggerEventId),
            "title": .string(d.title), "confirmed": .bool(d.confirmed), "triggered_at": Cell.time(d.triggeredAt),
            "referral_id": Cell.text(d.referralId), "due_at": Cell.time(d.dueAt), "warn_at": Cell.time(d.warnAt),
            "responsible": .string(d.responsible), "satisfied_at": Cell.time(d.satisfiedAt),
            "satisfied_by_event_id": Cell.uuid(d.satisfiedByEventId), "cancelled_at": Cell.time(d.cancelledAt),
            "missed_at_closure": .bool(d.missedAtClosure), "ordinal": .int(ordinal),
        ]
    }
}
