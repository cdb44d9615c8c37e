import Foundation
import Postgres
import Referrals

extension ReadModels {
    /// When a referral counts as issued in the report: when it was on the record for its recipient
    /// (Migrations/0036), the stated time only for a row projected before that migration, until
    /// the projector renders it again.
    static let referralIssued: StaticString = "coalesce(issued_counted_at, issued_at)"
    /// When a deadline counts in the report: when it runs from for the institution responsible
    /// (Migrations/0037), its trigger's stated time only for a row projected before that.
    static let deadlineCountsFrom: StaticString = "coalesce(counts_from, triggered_at)"
    /// Whether a deadline row counts in the compliance figures (``Deadline/counted``; a row projected
    /// before Migrations/0039 counts until the projector renders its case again). Unqualified: only
    /// the deadlines table has the column.
    public static let deadlineCounted: StaticString = "counted IS NOT FALSE"

    /// The annual report's figures for `year` and the year before, from the read models (a few
    /// grouped queries, run at once on the pool's connections; no scan of the event log). Years are
    /// calendar years in `timeZone`; deadline statuses are as of `now`.
    ///
    /// What is counted: cases by the `occurredAt` of their opening, each closed at its year's end
    /// when a closure before that end was not undone by then; each case closed in a year once there,
    /// by the reason of its last closure in it;
    /// victims = cases opened in the year whose current identification status is identified, or
    /// presumed/potential ("presumed"); referrals by when they were on the record for their
    /// recipient, and deadlines by when they run from for the institution responsible
    /// (``referralIssued``, ``deadlineCountsFrom``); reflection periods by their start.
    public func annualReport(year: Int, timeZone: TimeZone, now: Date = Date()) async throws -> AnnualReport {
        let period = ReportGroupings.yearInterval(year, timeZone: timeZone)
        let previous = ReportGroupings.yearInterval(year - 1, timeZone: timeZone)
        let (s0, s1, e) = (previous.start, period.start, period.end)
        typealias Counts = [String: [String: Int]]
        var tables: [ReportTable] = []
        // The queries run at once, each on a connection of the pool (as many as it lends).
        async let caseRows = pool.query(
            """
            SELECT p, identification_status,
                   CASE WHEN EXISTS (
                       SELECT 1 FROM handoff.case_closures k
                        WHERE k.case_id = c.case_id AND k.closed_at < c.year_end AND NOT k.in_error
                          AND (k.reopened_at IS NULL OR k.reopened_at >= c.year_end))
                        THEN 'closed' ELSE 'open' END, count(*)
              FROM (SELECT s.case_id, s.identification_status, x.p,
                           CASE WHEN x.p = 1 THEN \(e)::timestamptz ELSE \(s1)::timestamptz END AS year_end
                      FROM handoff.case_summary s,
                           LATERAL (SELECT CASE WHEN s.opened_at >= \(s1)::timestamptz THEN 1 ELSE 0 END AS p) x
                     WHERE s.opened_at >= \(s0)::timestamptz AND s.opened_at < \(e)::timestamptz) c
             GROUP BY 1, 2, 3
            """
        )
        // Cases closed in each year, each by the reason of its last closure in that year: a case
        // closed and reopened again and again is one case closed (attack pass 20 had an opener
        // close and reopen one case 200 times in one request, and "reintegrated" went 54 → 278).
        async let closureRows = pool.query(
            """
            SELECT p, reason, count(*)
              FROM (SELECT DISTINCT ON (case_id, p) case_id, p, reason
                      FROM (SELECT case_id, ordinal, closed_at, reason,
                                   CASE WHEN closed_at >= \(s1)::timestamptz THEN 1 ELSE 0 END AS p
                              FROM handoff.case_closures
                             WHERE closed_at >= \(s0)::timestamptz AND closed_at < \(e)::timestamptz
                               AND NOT in_error) k
                     ORDER BY case_id, p, closed_at DESC, ordinal DESC) last
             GROUP BY 1, 2
            """
        )
        async let victimRows = pool.query(
            """
            SELECT CASE WHEN opened_at >= \(s1)::timestamptz THEN 1 ELSE 0 END, identification_status, sex, age_band, child,
                   nationality, array_to_string(exploitation, ','), count(*)
              FROM handoff.case_summary
             WHERE opened_at >= \(s0)::timestamptz AND opened_at < \(e)::timestamptz
               AND identification_status IN ('identified', 'presumed', 'potential')
             GROUP BY 1, 2, 3, 4, 5, 6, 7
            """
        )
        async let referralRows = pool.query(
            """
            SELECT CASE WHEN \(unescaped: Self.referralIssued) >= \(s1)::timestamptz THEN 1 ELSE 0 END, purpose,
                   to_institution,
                   CASE WHEN declined_at IS NOT NULL THEN coalesce(decline_reason, 'other') END, consent_override,
                   consent_withdrawn_at IS NOT NULL, count(*),
                   count(*) FILTER (WHERE coalesce(acknowledged_at, accepted_at, declined_at) IS NOT NULL),
                   count(accepted_at), count(declined_at), count(*) FILTER (WHERE status = 'withdrawn'),
                   count(completed_at)
              FROM handoff.referrals
             WHERE \(unescaped: Self.referralIssued) >= \(s0)::timestamptz
               AND \(unescaped: Self.referralIssued) < \(e)::timestamptz
             GROUP BY 1, 2, 3, 4, 5, 6
            """
        )
        async let deadlineRows = pool.query(
            """
            SELECT CASE WHEN \(unescaped: Self.deadlineCountsFrom) >= \(s1)::timestamptz THEN 1 ELSE 0 END, responsible,
                   rule_id, confirmed, handoff.deadline_status(settled, due_at, warn_at, \(now)), count(*)
              FROM handoff.deadlines
             WHERE \(unescaped: Self.deadlineCountsFrom) >= \(s0)::timestamptz
               AND \(unescaped: Self.deadlineCountsFrom) < \(e)::timestamptz
               AND \(unescaped: Self.deadlineCounted)
             GROUP BY 1, 2, 3, 4, 5
            """
        )
        async let reflectionRows = pool.query(
            """
            SELECT CASE WHEN r.started_at >= \(s1)::timestamptz THEN 1 ELSE 0 END, coalesce(r.days, \(ReflectionPeriod.defaultDays)),
                   -- A period never ended whose case is closed does not run: it can have no outcome
                   -- until the case is reopened (an auditor's pass found 8 of 31 "running" so).
                   CASE WHEN r.ended_at IS NOT NULL THEN coalesce(r.outcome, 'other')
                        WHEN s.status = 'closed' THEN 'case-closed' ELSE 'running' END,
                   count(*)
              FROM handoff.reflection_periods r LEFT JOIN handoff.case_summary s ON s.case_id = r.case_id
             WHERE r.started_at >= \(s0)::timestamptz AND r.started_at < \(e)::timestamptz
             GROUP BY 1, 2, 3
            """
        )
        async let timingRows = pool.query(
            """
            SELECT CASE WHEN issued >= \(s1)::timestamptz THEN 1 ELSE 0 END, purpose,
                   count(responded),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM responded - issued)),
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM responded - issued)),
                   count(accepted),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM accepted - issued)),
                   percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM accepted - issued))
              FROM (
                -- By time of record (DeadlineEvaluator.referralTimes); the stated times only for
                -- rows projected before Migrations/0036.
                SELECT purpose, \(unescaped: Self.referralIssued) AS issued,
                       CASE WHEN coalesce(acknowledged_at, accepted_at, declined_at) IS NOT NULL THEN
                           coalesce(responded_counted_at, coalesce(acknowledged_at, accepted_at, declined_at))
                       END AS responded,
                       CASE WHEN accepted_at IS NOT NULL THEN coalesce(accepted_counted_at, accepted_at) END AS accepted
                  FROM handoff.referrals
                 WHERE \(unescaped: Self.referralIssued) >= \(s0)::timestamptz
                   AND \(unescaped: Self.referralIssued) < \(e)::timestamptz
              ) r
             GROUP BY 1, 2
            """
        )
        async let kindRows = pool.query(
            "SELECT institution_id, coalesce(kinds[1], 'unknown') FROM handoff.institutions")

        // Cases opened, by identification status and how the year ended for them.
        var cases: [Counts] = [[:], [:]]
        for row in try await caseRows.all {
            let p: Int = try row.decode(0)
            cases[p][try row.decode(1) as String, default: [:]][try row.decode(2) as String, default: 0] +=
                try row.decode(3)
        }
        tables.append(
            .make(
                id: "cases-by-identification", rowDimension: "dimension.identificationStatus",
                rowOrder: IdentificationStatus.allCases.map(\.rawValue), columns: ["open", "closed"],
                current: cases[1], previous: cases[0], rowTotals: true, columnTotals: true))

        // Closures by reason.
        var closures: [Counts] = [[:], [:]]
        for row in try await closureRows.all {
            closures[try row.decode(0) as Int][try row.decode(1) as String, default: [:]]["closures"] = try row.decode(
                2)
        }
        tables.append(
            .make(
                id: "closures-by-reason", rowDimension: "dimension.closureReason",
                rowOrder: ClosureReason.allCases.map(\.rawValue), columns: ["closures"], current: closures[1],
                previous: closures[0], rowTotals: false, columnTotals: true))

        // Victims by profile.
        var bySex: [Counts] = [[:], [:]]
        var byAge: [Counts] = [[:], [:]]
        var byChild: [Counts] = [[:], [:]]
        var byCitizenship: [Counts] = [[:], [:]]
        var byNationality: [Counts] = [[:], [:]]
        var byExploitation: [Counts] = [[:], [:]]
        for row in try await victimRows.all {
            let p: Int = try row.decode(0)
            guard let column = ReportGroupings.victimColumn(try row.decode(1)) else { continue }
            let n: Int = try row.decode(7)
            bySex[p][try row.decode(2) as String, default: [:]][column, default: 0] += n
            byAge[p][ReportGroupings.ageGroup(try row.decode(3)), default: [:]][column, default: 0] += n
            byChild[p][(try row.decode(4) as Bool) ? "child" : "adult", default: [:]][column, default: 0] += n
            let nationality: String = try row.decode(5)
            byCitizenship[p][ReportGroupings.citizenship(nationality), default: [:]][column, default: 0] += n
            byNationality[p][nationality, default: [:]][column, default: 0] += n
            let forms: String = try row.decode(6)
            let groups = Set(forms.split(separator: ",").map { ReportGroupings.exploitationGroup(String($0)) })
            for g in groups { byExploitation[p][g, default: [:]][column, default: 0] += n }
        }
        let victimColumns = ["identified", "presumed"]
        for (id, dimension, order, counts) in [
            ("victims-by-sex", "dimension.sex", Sex.allCases.map(\.rawValue), bySex),
            ("victims-by-age", "dimension.ageGroup", ReportGroupings.ageGroups, byAge),
            ("victims-by-child", "dimension.childAdult", ReportGroupings.childAdult, byChild),
            ("victims-by-citizenship", "dimension.citizenship", ReportGroupings.citizenshipGroups, byCitizenship),
            ("victims-by-nationality", "dimension.nationality", [ReportGroupings.reportingCountry], byNationality),
        ] {
            tables.append(
                .make(
                    id: id, rowDimension: dimension, rowOrder: order, columns: victimColumns, current: counts[1],
                    previous: counts[0], rowTotals: true, columnTotals: true))
        }
        // A victim with several forms counts once in each: no column total.
        tables.append(
            .make(
                id: "victims-by-exploitation", rowDimension: "dimension.exploitation",
                rowOrder: ReportGroupings.exploitationGroups, columns: victimColumns, current: byExploitation[1],
                previous: byExploitation[0], rowTotals: true, columnTotals: false))

        // Referrals.
        var byPurpose: [Counts] = [[:], [:]]
        var byRecipient: [Counts] = [[:], [:]]
        var byKind: [Counts] = [[:], [:]]
        var declined: [Counts] = [[:], [:]]
        var overrides: [Counts] = [[:], [:]]
        var kinds: [String: String] = [:]
        for row in try await kindRows.all { kinds[try row.decode(0)] = try row.decode(1) }
        let steps = ["issued", "acknowledged", "accepted", "declined", "withdrawn", "completed"]
        for row in try await referralRows.all {
            let p: Int = try row.decode(0)
            let n: Int = try row.decode(6)
            let purpose: String = try row.decode(1)
            let recipient: String = try row.decode(2)
            let kind = kinds[recipient] ?? "unknown"
            for (i, step) in steps.enumerated() {
                let count: Int = try row.decode(6 + i)
                guard count > 0 else { continue }
                byPurpose[p][purpose, default: [:]][step, default: 0] += count
                byRecipient[p][recipient, default: [:]][step, default: 0] += count
                byKind[p][kind, default: [:]][step, default: 0] += count
            }
            if let reason: String = try row.decodeOptional(3) {
                declined[p][reason, default: [:]]["referrals", default: 0] += n
            }
            if let reason: String = try row.decodeOptional(4) {
                overrides[p][reason, default: [:]]["referrals", default: 0] += n
            }
            if try row.decode(5) as Bool {
                overrides[p]["consent-withdrawn", default: [:]]["referrals", default: 0] += n
            }
        }
        tables.append(
            .make(
                id: "referrals-by-purpose", rowDimension: "dimension.purpose",
                rowOrder: ReferralPurpose.allCases.map(\.rawValue), columns: steps, current: byPurpose[1],
                previous: byPurpose[0], rowTotals: false, columnTotals: true))
        tables.append(
            .make(
                id: "referrals-by-recipient", rowDimension: "dimension.institution", rowOrder: [], columns: steps,
                current: byRecipient[1], previous: byRecipient[0], rowTotals: false, columnTotals: true))
        tables.append(
            .make(
                id: "referrals-by-recipient-kind", rowDimension: "dimension.institutionKind", rowOrder: [],
                columns: steps, current: byKind[1], previous: byKind[0], rowTotals: false, columnTotals: true))
        tables.append(
            .make(
                id: "declines-by-reason", rowDimension: "dimension.declineReason",
                rowOrder: DeclineReason.allCases.map(\.rawValue), columns: ["referrals"], current: declined[1],
                previous: declined[0], rowTotals: false, columnTotals: true))
        // Overrides by reason add up; consent withdrawn is a separate count after the total.
        var overrideTable = ReportTable.make(
            id: "consent-overrides-by-reason", rowDimension: "dimension.overrideReason",
            rowOrder: ConsentOverrideReason.allCases.map(\.rawValue), columns: ["referrals"],
            current: overrides[1].filter { $0.key != "consent-withdrawn" },
            previous: overrides[0].filter { $0.key != "consent-withdrawn" }, rowTotals: false, columnTotals: true)
        overrideTable.id = "consent-overrides-by-reason"
        tables.append(overrideTable)
        tables.append(
            .make(
                id: "consent-withdrawn", rowDimension: "dimension.consent", rowOrder: ["consent-withdrawn"],
                columns: ["referrals"], current: overrides[1].filter { $0.key == "consent-withdrawn" },
                previous: overrides[0].filter { $0.key == "consent-withdrawn" }, rowTotals: false,
                columnTotals: false))

        // SOP compliance per institution and per rule.
        var byInstitution: [Counts] = [[:], [:]]
        var byRule: [Counts] = [[:], [:]]
        var unconfirmedRules: Set<String> = []
        for row in try await deadlineRows.all {
            let p: Int = try row.decode(0)
            let rule: String = try row.decode(2)
            let column = ReportGroupings.complianceColumn(try row.decode(4))
            let n: Int = try row.decode(5)
            byInstitution[p][try row.decode(1) as String, default: [:]][column, default: 0] += n
            byRule[p][rule, default: [:]][column, default: 0] += n
            if p == 1, !(try row.decode(3) as Bool) { unconfirmedRules.insert(rule) }
        }
        let outcomes = ["met", "met-late", "missed", "running", "cancelled"]
        tables.append(
            .make(
                id: "compliance-by-institution", rowDimension: "dimension.responsible", rowOrder: [],
                columns: outcomes, current: byInstitution[1], previous: byInstitution[0], rowTotals: true,
                columnTotals: true))
        tables.append(
            .make(
                id: "compliance-by-rule", rowDimension: "dimension.rule", rowOrder: [], columns: outcomes,
                current: byRule[1], previous: byRule[0], rowTotals: true, columnTotals: true))

        // Reflection periods.
        var lengths: [Counts] = [[:], [:]]
        var reflectionOutcomes: [Counts] = [[:], [:]]
        for row in try await reflectionRows.all {
            let p: Int = try row.decode(0)
            let n: Int = try row.decode(3)
            lengths[p][ReportGroupings.reflectionLength(try row.decode(1)), default: [:]]["periods", default: 0] += n
            reflectionOutcomes[p][try row.decode(2) as String, default: [:]]["periods", default: 0] += n
        }
        tables.append(
            .make(
                id: "reflection-lengths", rowDimension: "dimension.reflectionDays",
                rowOrder: ReportGroupings.reflectionLengths, columns: ["periods"], current: lengths[1],
                previous: lengths[0], rowTotals: false, columnTotals: true))
        tables.append(
            .make(
                id: "reflection-outcomes", rowDimension: "dimension.reflectionOutcome",
                rowOrder: ReflectionOutcome.allCases.map(\.rawValue) + ["running", "case-closed"], columns: ["periods"],
                current: reflectionOutcomes[1], previous: reflectionOutcomes[0], rowTotals: false,
                columnTotals: true))

        // Timing per purpose.
        var timing: [String: [Int: (ReferralTiming.Hours, ReferralTiming.Hours)]] = [:]
        for row in try await timingRows.all {
            func hours(_ i: Int) throws -> Double? { (try row.decodeOptional(i) as Double?).map { $0 / 3600 } }
            let ack = ReferralTiming.Hours(count: try row.decode(2), median: try hours(3), p90: try hours(4))
            let acc = ReferralTiming.Hours(count: try row.decode(5), median: try hours(6), p90: try hours(7))
            timing[try row.decode(1), default: [:]][try row.decode(0)] = (ack, acc)
        }
        let none = ReferralTiming.Hours(count: 0, median: nil, p90: nil)
        let purposes =
            ReferralPurpose.allCases.map(\.rawValue).filter { timing[$0] != nil }
            + timing.keys.filter { ReferralPurpose(rawValue: $0) == nil }.sorted()
        let timings = purposes.map { p in
            ReferralTiming(
                purpose: p, acknowledge: timing[p]?[1]?.0 ?? none, accept: timing[p]?[1]?.1 ?? none,
                previousAcknowledge: timing[p]?[0]?.0 ?? none, previousAccept: timing[p]?[0]?.1 ?? none)
        }

        // Methods: rulesets in force and unconfirmed rules.
        var inForce: [AnnualReport.RulesetInForce] = []
        let versions = try await pool.query(
            """
            SELECT ruleset_id, version, title, effective_from::text, effective_from <= (\(s1)::timestamptz AT TIME ZONE \(timeZone.identifier)::text)::date
              FROM handoff.sop_rulesets
             WHERE effective_from < (\(e)::timestamptz AT TIME ZONE \(timeZone.identifier)::text)::date
             ORDER BY ruleset_id, effective_from, version
            """
        ).all
        var latestBefore: [String: AnnualReport.RulesetInForce] = [:]
        for row in versions {
            let r = AnnualReport.RulesetInForce(
                rulesetId: try row.decode(0), version: try row.decode(1), title: try row.decode(2),
                effectiveFrom: try row.decode(3))
            if try row.decode(4) as Bool { latestBefore[r.rulesetId] = r } else { inForce.append(r) }
        }
        inForce = latestBefore.values.sorted { $0.rulesetId < $1.rulesetId } + inForce
        let unconfirmed = unconfirmedRules.sorted()

        return AnnualReport(
            year: year, timeZone: timeZone.identifier, period: period, previousPeriod: previous, asOf: now,
            tables: tables, timing: timings, rulesets: inForce, unconfirmedRules: unconfirmed)
    }
}
