import EventStore
import Foundation
import Postgres
import Projections
import Referrals
import Testing

@testable import QueryService

/// `GET /v1/cases/{caseId}` answered from the `cases` read model, need-to-know included.
@Suite("Case summaries from the read model")
struct CaseSummaryReadTests {
    /// The pre-rendered documents (`handoff.case_documents`) equal the summary computed from the
    /// read-model tables, for every case, at times of reading on both sides of deadlines' warning
    /// and due times (the statuses the read fills in), with missed-deadline notices, after the
    /// live projector and after a rebuild; a store whose documents are missing (one upgraded to
    /// Migrations/0031) gets them all back from the live projector's next batch.
    @Test func theDocumentsEqualTheReadModelsSummaryAtEveryTimeLiveAndRebuilt() async throws {
        let (h, models) = try await ProjectedCases.start(cases: 80)
        defer { Task { await h.stop() } }
        let runner = ProjectionRunner(store: h.store)
        // Notices for the deadlines already missed, projected onto their cases.
        let report = try await DeadlineWatcher(store: h.store).runOnce(now: Date())
        #expect(report.appended > 0)
        try await h.settle()
        _ = try await runner.catchUp()
        let readSide = ProjectionReadSide(pool: models.pool)
        let ids = try await models.pool.query("SELECT case_id FROM handoff.case_summary ORDER BY case_id").all.map {
            try $0.decode(0, as: String.self)
        }
        #expect(ids.count == 80)
        // Times around some unsettled deadlines' warning and due instants, and far from all of them.
        let open = try await models.pool.query(
            "SELECT warn_at, due_at FROM handoff.deadlines WHERE settled IS NULL ORDER BY due_at, case_id, ordinal"
        )
        .all
        #expect(open.count > 4)
        var times: [Date] = [Date(timeIntervalSince1970: 0), Date(), Date().addingTimeInterval(400 * 86_400)]
        for row in [open[0], open[open.count / 2], open[open.count - 1]] {
            for instant in [try row.decode(0, as: Date.self), try row.decode(1, as: Date.self)] {
                times += [instant.addingTimeInterval(-0.001), instant]
            }
        }
        func compareAll(_ label: String, everyStatus: Bool = true) async throws {
            var statuses: Set<String> = []
            var withNotices = 0
            for now in times {
                for id in ids {
                    let document = try #require(try await readSide.caseSummary(caseId: id, now: now), "\(label) \(id)")
                    let summary = try #require(try await models.caseSummary(id, now: now))
                    let expected = try JSONValue.parse(Array(try JSONEncoder().encode(summary)))
                    #expect(document == expected, "\(label) \(id) at \(Timestamp.format(now))")
                    for d in summary.deadlines { statuses.insert(d.status) }
                    if summary.deadlines.contains(where: { $0.missedNoticeEventId != nil }) { withNotices += 1 }
                }
            }
            guard everyStatus else { return }
            #expect(statuses.isSuperset(of: ["pending", "due-soon", "overdue", "met"]), "\(label): \(statuses)")
            #expect(withNotices > 0, "\(label)")
        }
        try await compareAll("live")
        try await runner.rebuild("cases")
        try await compareAll("rebuilt")
        #expect(try await readSide.caseSummary(caseId: "KS-NOT-THERE", now: Date()) == nil)

        // Documents missing, as in a store upgraded to Migrations/0031: a fresh live projector's
        // next batch renders every case's document again.
        try await h.store.pool.query("DELETE FROM handoff.case_documents")
        times = [Date()]
        // Meanwhile the tables answer (the documents' reference, ReadModels.caseSummary).
        try await compareAll("without documents", everyStatus: false)
        try await h.openCase("KS-DOC-NEW", by: "kp-dthb")
        try await h.settle()
        _ = try await ProjectionRunner(store: h.store).catchUp()
        let counts = try await models.pool.query(
            "SELECT (SELECT count(*) FROM handoff.case_documents), (SELECT count(*) FROM handoff.case_summary)")
        #expect(try counts.first!.decode(0, as: Int.self) == 81)
        #expect(try counts.first!.decode(1, as: Int.self) == 81)
        try await compareAll("healed", everyStatus: false)

        // Referral and deadline rows without their counted times and mark, as in a store upgraded to
        // Migrations/0036, 0037 and 0039:
        // the same renders them again.
        try await h.store.pool.query(
            "UPDATE handoff.referrals SET issued_counted_at = NULL, responded_counted_at = NULL, accepted_counted_at = NULL"
        )
        try await h.store.pool.query("UPDATE handoff.deadlines SET counts_from = NULL, counted = NULL")
        try await h.openCase("KS-DOC-NEW-2", by: "kp-dthb")
        try await h.settle()
        _ = try await ProjectionRunner(store: h.store).catchUp()
        let referrals = try await models.pool.query(
            "SELECT count(*), count(issued_counted_at) FROM handoff.referrals")
        #expect(try referrals.first!.decode(0, as: Int.self) > 0)
        #expect(try referrals.first!.decode(1, as: Int.self) == referrals.first!.decode(0, as: Int.self))
        let deadlines = try await models.pool.query(
            "SELECT count(*), count(counts_from), count(counted) FROM handoff.deadlines")
        #expect(try deadlines.first!.decode(0, as: Int.self) > 0)
        #expect(try deadlines.first!.decode(1, as: Int.self) == deadlines.first!.decode(0, as: Int.self))
        #expect(try deadlines.first!.decode(2, as: Int.self) == deadlines.first!.decode(0, as: Int.self))
    }

    /// Need-to-know: the read model's parties let a party in without a stream fold; a party the
    /// read model has not caught up with yet is let in by the stream; others get 404 (as for a
    /// missing case) and are logged as denied; a case the read model does not have is 404 for everyone.
    @Test func partiesFromTheReadModelAndTheStreamWhenItLags() async throws {
        let seedHarness = try await Harness.start()
        let db = seedHarness.db
        await seedHarness.stop()
        let h = try await Harness.start(readSide: ProjectionReadSide(pool: db.pool(size: 4)), db: db)
        defer { Task { await h.stop() } }
        try await h.openCase("KS-NK-1", by: "kp-dthb")
        try await h.settle()
        let runner = ProjectionRunner(store: h.store)
        _ = try await runner.catchUp()
        // Referred after the projection ran: the read model does not name opav yet.
        try await h.refer("KS-NK-1", "R-1", to: "opav")
        let lagging = try await h.api.get("/v1/cases/KS-NK-1", token: h.token("opav"))
        #expect(lagging.status == 200)
        #expect(lagging.json["parties"]!.array.compactMap(\.stringValue) == ["kp-dthb"])  // as projected
        for caller in ["kp-dthb", "natc", "audit"] {
            #expect(try await h.api.get("/v1/cases/KS-NK-1", token: h.token(caller)).status == 200, "\(caller)")
        }
        #expect(try await h.api.get("/v1/cases/KS-NK-1", token: h.token("isf")).status == 404)
        try await h.settle()
        _ = try await runner.catchUp()
        let caughtUp = try await h.api.get("/v1/cases/KS-NK-1", token: h.token("opav"))
        #expect(caughtUp.json["parties"]!.array.compactMap(\.stringValue) == ["kp-dthb", "opav"])
        #expect(try await h.api.get("/v1/cases/KS-NK-1", token: h.token("isf")).status == 404)
        for caller in ["kp-dthb", "natc", "audit", "isf"] {
            #expect(try await h.api.get("/v1/cases/KS-NK-404", token: h.token(caller)).status == 404, "\(caller)")
        }
        #expect(try await h.api.get("/v1/cases/KS_NK", token: h.token("natc")).status == 400)
        // Just opened, not projected yet: its opener (and the coordinator) are told to retry, not
        // that it does not exist; a non-party gets the 404 of a missing case. Nothing is logged
        // for the 503s (nothing was read, nothing refused).
        try await h.openCase("KS-NK-2", by: "kp-dthb")
        for caller in ["kp-dthb", "natc"] {
            let early = try await h.api.get("/v1/cases/KS-NK-2", token: h.token(caller))
            #expect(early.status == 503, "\(caller)")
            #expect(early.errorCode == "unavailable", "\(caller)")
            #expect(early.header("Retry-After") == "1", "\(caller)")
        }
        #expect(try await h.api.get("/v1/cases/KS-NK-2", token: h.token("isf")).status == 404)
        // Every 200 was logged as allowed, every 404 as denied; newest first.
        let log = try await h.api.get("/v1/audit/access?caseId=KS-NK-1", token: h.token("audit"))
        let readers = log.json["entries"]!.array.map {
            ($0["institution"]?.stringValue ?? "-") + " " + ($0["outcome"]?.stringValue ?? "-")
        }
        #expect(
            readers == [
                "isf denied", "opav allowed", "isf denied", "audit allowed", "natc allowed", "kp-dthb allowed",
                "opav allowed",
            ])
        let missing = try await h.api.get("/v1/audit/access?caseId=KS-NK-404", token: h.token("audit"))
        let outcomes = missing.json["entries"]!.array.map { $0["outcome"]?.stringValue }
        #expect(outcomes == Array(repeating: "denied", count: 4))
    }
}
