import EventStore
import Foundation
import Postgres
import Projections
import QueryService
import Referrals

/// `handoff bench report`: the annual report for a year of cases, computed from the read models
/// and rendered as HTML (issue 15's target: 50,000 cases in under 2 s). `--events N` sizes the
/// data set at N / 30 cases (a generated case has about 30 events); the default is 50,000 cases
/// opened across 2025 and the end of 2024.
enum ReportBenchmark {
    /// The year reported on; the generator's cases end on 30 December of it.
    static let year = 2025

    static func run(_ db: BenchDatabase, _ o: StoreBenchmarks.Options, progress: @escaping @Sendable (String) -> Void)
        async throws -> BenchResult
    {
        let cases = max(20, (o.events ?? 1_500_000) / 30)
        let store = db.store(connections: 8)
        defer { Task { await store.pool.close() } }
        let had = Int(
            try await store.pool.query("SELECT count(*) FROM handoff.streams WHERE stream LIKE 'case-%'")
                .first?.decode(0, as: Int64.self) ?? 0)
        if had < cases {
            try await Seeding.referenceData(store, historyRecordedBefore: Ruleset.backfillForever)
            progress("seeding \(cases) synthetic cases…")
            let end = Timestamp.parse("\(year)-12-30T12:00:00Z")!
            _ = try await Seeding.cases(
                store, count: cases, seed: 15, now: end, concurrency: 8,
                progress: { n in if n % 5000 == 0 { progress("\(n) cases") } })
        }
        progress("projecting…")
        let runner = ProjectionRunner(store: store)
        while true {
            _ = try await runner.catchUp()
            if try await runner.lag().allSatisfy({ $0.eventsBehind == 0 }) { break }
        }
        let zone = TimeZone(identifier: "Europe/Belgrade")!
        let models = ReadModels(pool: store.pool)
        let inYear = Int(
            try await store.pool.query(
                """
                SELECT count(*) FROM handoff.case_summary
                 WHERE opened_at >= \(ReportGroupings.yearInterval(year, timeZone: zone).start)::timestamptz
                   AND opened_at < \(ReportGroupings.yearInterval(year, timeZone: zone).end)::timestamptz
                """
            ).first?.decode(0, as: Int64.self) ?? 0)
        // The baseline: one pass over the case and referral read models (what the report must at least read).
        var baseline = Double.infinity
        for _ in 0..<2 {
            let start = ContinuousClock.now
            _ = try await store.pool.query(
                "SELECT (SELECT count(*) FROM handoff.case_summary), (SELECT count(*) FROM handoff.referrals)")
            baseline = min(baseline, elapsedMilliseconds(since: start))
        }
        var times: [Double] = []
        var bytes = 0
        for _ in 0..<3 {
            let start = ContinuousClock.now
            let report = try await models.annualReport(year: year, timeZone: zone)
            let html = AnnualReportPage.html(
                report.published(suppressSmallCells: true), messages: ReportMessages(language: .albanian),
                stylesheet: .linked)
            times.append(elapsedMilliseconds(since: start))
            bytes = html.utf8.count
        }
        let best = times.min() ?? 0
        let median = times.sorted()[times.count / 2]
        var r = BenchResult(
            bench: "report", value: median, unit: "ms", baseline: baseline, p50: median, clients: 1,
            target: "< 2000 ms for a year of 50,000 cases", met: inYear >= 50_000 ? median < 2000 : nil)
        r.extra = [
            ("cases in year", String(inYear)), ("best ms", String(format: "%.0f", best)),
            ("html bytes", String(bytes)),
        ]
        return r
    }
}
