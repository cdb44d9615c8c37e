import Foundation
import Postgres
import Referrals

extension ReadModels {
    /// `GET /v1/stats`: case counts by sex, age band, nationality, form of exploitation and
    /// identification status, and deadline outcomes per rule and per responsible institution, for
    /// cases opened in `year` (the local year, `opened_year`; every year when nil), and the
    /// deadlines that count (``Deadline/counted``) counted in the year they run from for the
    /// institution responsible, as the annual report counts them (``deadlineCountsFrom``: an opener
    /// that dated its opening years back put every later deadline of others in that case, their
    /// misses too, in that old year: attack pass 18). Computed from the case and deadline read
    /// models at query time, with deadline statuses as of `now`.
    ///
    /// - Parameter suppressSmallCells: show counts from 1 to 4 as `"<5"` — set for every role but
    ///   auditor.
    public func stats(year: Int? = nil, suppressSmallCells: Bool, now: Date = Date()) async throws -> Stats {
        let s = suppressSmallCells
        let raw = try await statsCounts(year: year, now: now)
        let groups = raw.counts.mapValues { $0.mapValues { StatCount($0, suppress: s) } }
        let cases = raw.cases
        var byRule: [String: [String: Int]] = [:]
        var byResponsible: [String: [String: Int]] = [:]
        for o in raw.outcomes {
            byRule[o.ruleId, default: [:]][o.status, default: 0] += o.count
            byResponsible[o.responsible, default: [:]][o.status, default: 0] += o.count
        }
        func compliance(_ counts: [String: Int]) -> ComplianceCounts {
            ComplianceCounts(
                met: StatCount(counts["met"] ?? 0, suppress: s),
                metLate: StatCount(counts["met-late"] ?? 0, suppress: s),
                overdue: StatCount(counts["overdue"] ?? 0, suppress: s),
                dueSoon: StatCount(counts["due-soon"] ?? 0, suppress: s),
                pending: StatCount(counts["pending"] ?? 0, suppress: s),
                cancelled: StatCount(counts["cancelled"] ?? 0, suppress: s))
        }
        return Stats(
            year: year, suppressed: s, cases: StatCount(cases, suppress: s), bySex: groups["sex"] ?? [:],
            byAgeBand: groups["ageBand"] ?? [:], byNationality: groups["nationality"] ?? [:],
            byExploitation: groups["exploitation"] ?? [:],
            byIdentificationStatus: groups["identificationStatus"] ?? [:],
            deadlineCompliance: Stats.DeadlineCompliance(
                byRule: byRule.mapValues(compliance), byResponsible: byResponsible.mapValues(compliance)))
    }
}

/// The counts behind the statistics, before any suppression.
public struct StatsCounts: Sendable, Hashable {
    /// One deadline outcome cell: how many deadlines of a rule, for one responsible party, have a status.
    public struct Outcome: Sendable, Hashable {
        public var ruleId: String
        public var responsible: String
        public var status: String
        public var count: Int
    }

    public var cases: Int
    /// Dimension (`sex`, `ageBand`, `nationality`, `exploitation`, `identificationStatus`) → value → cases.
    public var counts: [String: [String: Int]]
    public var outcomes: [Outcome]
}

extension ReadModels {
    /// Case counts per dimension and deadline outcomes per (rule, responsible, status) for cases
    /// opened in `year` (every year when nil), with deadline statuses as of `now`. Unsuppressed.
    public func statsCounts(year: Int? = nil, now: Date = Date()) async throws -> StatsCounts {
        let profile = try await pool.query(
            """
            WITH c AS (SELECT * FROM handoff.case_summary WHERE \(year)::int IS NULL OR opened_year = \(year)::int)
            SELECT 'cases', '', count(*) FROM c
            UNION ALL SELECT 'sex', sex, count(*) FROM c GROUP BY sex
            UNION ALL SELECT 'ageBand', age_band, count(*) FROM c GROUP BY age_band
            UNION ALL SELECT 'nationality', nationality, count(*) FROM c GROUP BY nationality
            UNION ALL SELECT 'identificationStatus', identification_status, count(*) FROM c
                      GROUP BY identification_status
            UNION ALL SELECT 'exploitation', e, count(*) FROM c, unnest(c.exploitation) AS e GROUP BY e
            UNION ALL SELECT 'consentOverride', r.consent_override, count(*)
                        FROM handoff.referrals r JOIN c ON c.case_id = r.case_id
                       WHERE r.consent_override IS NOT NULL GROUP BY r.consent_override
            UNION ALL SELECT 'consentWithdrawn', 'openReferrals', count(*)
                        FROM handoff.referrals r JOIN c ON c.case_id = r.case_id
                       WHERE r.consent_withdrawn_at IS NOT NULL
            """)
        var cases = 0
        var groups: [String: [String: Int]] = [:]
        for row in profile.all {
            let dimension: String = try row.decode(0)
            let n: Int = try row.decode(2)
            if dimension == "cases" {
                cases = n
            } else {
                groups[dimension, default: [:]][try row.decode(1)] = n
            }
        }
        let rows = try await pool.query(
            """
            SELECT d.rule_id, d.responsible,
                   handoff.deadline_status(d.settled, d.due_at, d.warn_at, \(now)) AS status,
                   count(*)
              FROM handoff.deadlines d
             WHERE (\(year)::int IS NULL
                    OR extract(year FROM \(unescaped: Self.deadlineCountsFrom) AT TIME ZONE \(CaseProjector.statisticsTimeZone))::int
                       = \(year)::int)
               AND \(unescaped: Self.deadlineCounted)
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            """)
        let outcomes = try rows.all.map { row in
            StatsCounts.Outcome(
                ruleId: try row.decode(0), responsible: try row.decode(1), status: try row.decode(2),
                count: try row.decode(3))
        }
        return StatsCounts(cases: cases, counts: groups, outcomes: outcomes)
    }
}
