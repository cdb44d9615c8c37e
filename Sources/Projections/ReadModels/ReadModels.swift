import Foundation
import Postgres
import Referrals

/// Queries over the read models, for the query service.
///
/// Every answer comes from the projected tables, so it lags the log by the projectors' lag (see
/// ``ProjectionRunner/lag()``). Deadline statuses are computed at query time against `now`, so a
/// deadline turns due-soon and overdue on time even while nothing is appended.
///
/// Access control is the caller's: pass `visibleTo:` for an institution principal, nothing for a
/// coordinator or auditor.
public struct ReadModels: Sendable {
    public let pool: ConnectionPool

    public init(pool: ConnectionPool) { self.pool = pool }

    // MARK: - Cases

    /// The summary of a case: status, identification status, risk, parties, open referrals,
    /// deadlines and version. nil when the case is unknown (or not yet projected).
    public func caseSummary(_ caseId: String, now: Date = Date()) async throws -> CaseSummary? {
        let result = try await pool.query(
            """
            SELECT case_id, status, identification_status, risk_level, opened_by, opened_at, child, version,
                   last_event_at, closed_at, closure_reason
              FROM handoff.case_summary WHERE case_id = \(caseId)
            """)
        guard let row = result.first else { return nil }
        let referrals = try await pool.query(
            """
            SELECT \(unescaped: Self.referralColumns) FROM handoff.referrals r
             WHERE r.case_id = \(caseId) AND r.status IN ('issued', 'acknowledged', 'accepted') ORDER BY r.ordinal
            """)
        return CaseSummary(
            caseId: try row.decode(0), status: try row.decode(1), identificationStatus: try row.decode(2),
            riskLevel: try row.decodeOptional(3), openedBy: try row.decode(4), openedAt: try Self.time(row, 5),
            child: try row.decode(6), version: try row.decode(7), lastEventAt: try Self.time(row, 8),
            closedAt: try Self.optionalTime(row, 9), closureReason: try row.decodeOptional(10),
            parties: try await parties(of: caseId), openReferrals: try referrals.all.map(Self.referral),
            deadlines: try await deadlines(caseId: caseId, now: now))
    }

    /// The case's pre-rendered summary (``CaseDocument``) with its unsettled deadlines' statuses
    /// filled in as of `now` by `handoff.deadline_status`: one primary-key lookup. The JSON is the
    /// document ``caseSummary(_:now:)`` describes. nil when the case has no document (unknown, not
    /// yet projected, or in a store upgraded to Migrations/0031 whose documents are still being
    /// rendered).
    /// - Returns: the JSON and the case's parties, opener first.
    /// - Throws: ``ProjectionsError/malformedDocument(caseId:)`` when the stored cuts do not fit its body.
    public func caseDocument(_ caseId: String, now: Date = Date()) async throws -> (json: [UInt8], parties: [String])? {
        let result = try await pool.query(
            """
            SELECT array_to_string(d.parties, ','), d.body, array_to_string(d.cuts, ','),
                   (SELECT string_agg(handoff.deadline_status(NULL, t.due, t.warn, \(now)), ',' ORDER BY t.n)
                      FROM unnest(d.open_due, d.open_warn) WITH ORDINALITY AS t(due, warn, n))
              FROM handoff.case_documents d WHERE d.case_id = \(caseId)
            """)
        guard let row = result.first else { return nil }
        // Institution ids, numbers and status names hold no comma.
        func list(_ column: Int) throws -> [String] {
            (try row.decodeOptional(column, as: String.self) ?? "").split(separator: ",").map(String.init)
        }
        let cuts = try list(2).compactMap { Int($0) }
        guard
            let json = CaseDocument.filled(
                body: Array(try row.decode(1, as: String.self).utf8), cuts: cuts, statuses: try list(3))
        else { throw ProjectionsError.malformedDocument(caseId: caseId) }
        return (json, try list(0))
    }

    /// The institutions that may see a case: its opener, then every referral recipient.
    public func parties(of caseId: String) async throws -> [String] {
        try await pool.query(
            "SELECT institution FROM handoff.case_parties WHERE case_id = \(caseId) ORDER BY ordinal"
        ).all.map { try $0.decode(0) }
    }

    /// Whether `institution` is a party to the case (per the read model).
    public func isParty(_ institution: String, caseId: String) async throws -> Bool {
        try await !pool.query(
            "SELECT 1 FROM handoff.case_parties WHERE case_id = \(caseId) AND institution = \(institution)"
        ).isEmpty
    }

    /// The ids of every case `institution` is party to, in id order: the filter for `/v1/events`.
    public func casesVisible(to institution: String) async throws -> [String] {
        try await pool.query(
            "SELECT case_id FROM handoff.case_parties WHERE institution = \(institution) ORDER BY case_id"
        ).all.map { try $0.decode(0) }
    }

    // MARK: - Deadlines

    /// Deadlines, soonest due first, filtered as `GET /v1/deadlines` is.
    ///
    /// - Parameters:
    ///   - status: `pending`, `due-soon`, `overdue`, `met`, `met-late` or `cancelled` (as of `now`).
    ///   - visibleTo: only cases this institution is party to.
    ///   - caseStatus: only deadlines of `open` or of `closed` cases; nil: all.
    public func deadlines(
        status: String? = nil, caseId: String? = nil, responsible: String? = nil, visibleTo: String? = nil,
        caseStatus: String? = nil, now: Date = Date(), limit: Int = 10_000
    ) async throws -> [DeadlineView] {
        let result = try await pool.query(
            """
            SELECT d.case_id, d.rule_id, d.title, d.due_at, d.warn_at,
                   handoff.deadline_status(d.settled, d.due_at, d.warn_at, \(now)),
                   d.responsible, d.trigger_event_id, d.satisfied_at, d.referral_id, d.ruleset_id,
                   d.ruleset_version, d.confirmed,
                   CASE WHEN d.notified THEN
                   (SELECT n.event_id FROM handoff.deadline_notices n
                     WHERE n.case_id = d.case_id AND n.rule_id = d.rule_id AND n.trigger_event_id = d.trigger_event_id
                       AND (n.ruleset_id IS NULL OR n.ruleset_id = d.ruleset_id)
                     ORDER BY n.recorded_at, n.event_id LIMIT 1) END,
                   \(unescaped: Self.deadlineCounted)
              FROM handoff.deadlines d
             WHERE (\(caseId)::text IS NULL OR d.case_id = \(caseId))
               AND (\(responsible)::text IS NULL OR d.responsible = \(responsible))
               AND (\(caseStatus)::text IS NULL OR d.case_status = \(caseStatus))
               AND (\(visibleTo)::text IS NULL OR EXISTS (
                    SELECT 1 FROM handoff.case_parties p WHERE p.case_id = d.case_id AND p.institution = \(visibleTo)))
               AND (\(status)::text IS NULL OR handoff.deadline_status(d.settled, d.due_at, d.warn_at, \(now)) = \(status))
             ORDER BY d.due_at, d.case_id, d.ordinal
             LIMIT \(max(0, limit))
            """)
        return try result.all.map { row in
            DeadlineView(
                caseId: try row.decode(0), ruleId: try row.decode(1), title: try row.decode(2),
                dueAt: try Self.time(row, 3), warnAt: try Self.time(row, 4), status: try row.decode(5),
                responsible: try row.decode(6), triggerEventId: try row.decode(7),
                satisfiedAt: try Self.optionalTime(row, 8),
                referralId: try row.decodeOptional(9), rulesetId: try row.decode(10),
                rulesetVersion: try row.decode(11),
                confirmed: try row.decode(12), missedNoticeEventId: try row.decodeOptional(13),
                counted: try row.decode(14))
        }
    }

    // MARK: - Referrals

    /// `GET /v1/inbox`: open referrals (issued, acknowledged or accepted; not declined, completed or withdrawn)
    /// addressed to `institution` on cases that are open — urgent first, then oldest first.
    public func inbox(institution: String) async throws -> [ReferralView] {
        try await pool.query(
            """
            SELECT \(unescaped: Self.referralColumns) FROM handoff.referrals r
              JOIN handoff.case_summary c ON c.case_id = r.case_id
             WHERE r.to_institution = \(institution) AND r.status IN ('issued', 'acknowledged', 'accepted')
               AND c.status = 'open'
             ORDER BY r.urgency = 'urgent' DESC, r.issued_at, r.case_id, r.referral_id
            """
        ).all.map(Self.referral)
    }

    /// Every referral of a case, in issue order.
    public func referrals(caseId: String) async throws -> [ReferralView] {
        try await pool.query(
            "SELECT \(unescaped: Self.referralColumns) FROM handoff.referrals r WHERE r.case_id = \(caseId) ORDER BY r.ordinal"
        ).all.map(Self.referral)
    }

    static let referralColumns: StaticString = """
        r.case_id, r.referral_id, r.from_institution, r.to_institution, r.purpose, r.urgency, r.status, r.issued_at,
        r.issued_event_id, r.acknowledged_at, r.accepted_at, r.declined_at, r.decline_reason, r.completed_at, r.outcome,
        r.withdrawn_at, r.withdrawal_reason
        """

    static func referral(_ row: Row) throws -> ReferralView {
        ReferralView(
            caseId: try row.decode(0), referralId: try row.decode(1), from: try row.decode(2), to: try row.decode(3),
            purpose: try row.decode(4), urgency: try row.decode(5), status: try row.decode(6),
            issuedAt: try time(row, 7), issuedEventId: try row.decode(8), acknowledgedAt: try optionalTime(row, 9),
            acceptedAt: try optionalTime(row, 10), declinedAt: try optionalTime(row, 11),
            declineReason: try row.decodeOptional(12), completedAt: try optionalTime(row, 13),
            outcome: try row.decodeOptional(14), withdrawnAt: try optionalTime(row, 15),
            withdrawalReason: try row.decodeOptional(16))
    }

    // MARK: - Registry

    /// Registered institutions, by id.
    public func institutions() async throws -> [InstitutionView] {
        try await pool.query(
            "SELECT institution_id, name, array_to_json(kinds)::text, registered_at FROM handoff.institutions ORDER BY 1"
        ).all.map { row in
            InstitutionView(
                id: try row.decode(0), name: try row.decode(1), kinds: try Self.textArray(row, 2),
                registeredAt: try Self.time(row, 3))
        }
    }

    /// Published ruleset versions, by id and version.
    public func rulesets() async throws -> [RulesetView] {
        try await pool.query(
            """
            SELECT ruleset_id, version, title, effective_from::text, rule_count, published_at
              FROM handoff.sop_rulesets ORDER BY ruleset_id, version
            """
        ).all.map { row in
            RulesetView(
                id: try row.decode(0), version: try row.decode(1), title: try row.decode(2),
                effectiveFrom: try row.decode(3), rules: try row.decode(4), publishedAt: try Self.time(row, 5))
        }
    }

    // MARK: - Decoding

    static func time(_ row: Row, _ column: Int) throws -> String {
        Timestamp.format(try row.decode(column, as: Date.self))
    }

    static func optionalTime(_ row: Row, _ column: Int) throws -> String? {
        try row.decodeOptional(column, as: Date.self).map(Timestamp.format)
    }

    /// A `text[]` selected as `array_to_json(…)::text`.
    static func textArray(_ row: Row, _ column: Int) throws -> [String] {
        guard let text: String = try row.decodeOptional(column), let value = try? JSONValue.parse(text),
            let items = value.arrayValue
        else { return [] }
        return items.compactMap(\.stringValue)
    }
}
