import EventStore
import Foundation
import Postgres
import Projections
import Referrals
import Testing

@testable import QueryService

/// `GET /v1/deadlines?limit=&after=` over the real read models (Migrations/0006's indexes).
@Suite("Deadline pages")
struct DeadlinePagingTests {
    /// Follows `next` from the first page to the last; returns every row and the pages' sizes.
    static func allPages(_ h: Harness, _ query: String, token: String) async throws -> ([JSONValue], [Int]) {
        var rows: [JSONValue] = []
        var sizes: [Int] = []
        var target = "/v1/deadlines?\(query)"
        for _ in 0..<1000 {
            let reply = try await h.api.get(target, token: token)
            #expect(reply.status == 200, "\(target): \(reply.text)")
            let page = reply.json["deadlines"]?.arrayValue ?? []
            rows += page
            sizes.append(page.count)
            guard let next = reply.json["next"]?.stringValue else {
                #expect(reply.json["next"] == .null)
                return (rows, sizes)
            }
            target = "/v1/deadlines?\(query)&after=\(next)"
        }
        Issue.record("more than 1000 pages")
        return (rows, sizes)
    }

    /// A deadline's identity and place (not its status, which moves with the clock between calls).
    static func key(_ row: JSONValue) -> String {
        ["caseId", "ruleId", "triggerEventId", "dueAt"].map { row[$0]?.stringValue ?? "-" }.joined(separator: " ")
    }

    static func key(_ view: DeadlineView) -> String {
        [view.caseId, view.ruleId, view.triggerEventId.lowercased(), view.dueAt].joined(separator: " ")
    }

    static func key(_ row: DeadlineRow) -> String {
        [
            row.caseId, row.ruleId, row.triggerEventId.uuidString.lowercased(), Timestamp.format(row.dueAt),
            row.status.rawValue,
        ]
        .joined(separator: " ")
    }

    static func keyWithStatus(_ view: DeadlineView) -> String { key(view) + " " + view.status }

    @Test func pagesFollowedToTheEndGiveExactlyTheFilteredListInOrder() async throws {
        let (h, models) = try await ProjectedCases.start()
        defer { Task { await h.stop() } }
        let all = try await models.deadlines()
        #expect(all.count > 100)
        let statuses = Set(all.map(\.status))
        #expect(statuses.isSuperset(of: ["overdue", "met", "pending"]), "\(statuses)")

        // No filter, small pages: every deadline once, in the read model's order.
        let (rows, sizes) = try await Self.allPages(h, "limit=7", token: h.token("natc"))
        #expect(rows.map(Self.key) == all.map(Self.key))
        #expect(sizes.dropLast().allSatisfy { $0 == 7 })
        #expect((1...7).contains(sizes.last ?? 0))

        // Each status, as handoff.deadline_status decides it at one fixed `now`.
        let readSide = ProjectionReadSide(pool: models.pool)
        let now = Date()
        for status in DeadlineFilter.Status.allCases {
            let expected = try await models.deadlines(status: status.rawValue, now: now)
            var paged: [DeadlineRow] = []
            var after: DeadlineCursor?
            repeat {
                let page = try await readSide.deadlinesPage(
                    DeadlineFilter(status: status), visibleTo: nil, after: after, limit: 5, now: now)
                #expect(page.rows.count <= 5)
                paged += page.rows
                after = page.next
            } while after != nil
            #expect(paged.map(Self.key) == expected.map(Self.keyWithStatus), "\(status)")
        }
        let overdue = try await models.deadlines(status: "overdue", now: now)
        #expect(overdue.count > 5)

        // An institution pages through its own cases' deadlines only.
        let own = try await models.deadlines(visibleTo: "opav")
        let (opav, _) = try await Self.allPages(h, "limit=4", token: h.token("opav"))
        #expect(opav.map(Self.key) == own.map(Self.key))
        let visible = Set(try await models.casesVisible(to: "opav"))
        #expect(opav.allSatisfy { visible.contains($0["caseId"]?.stringValue ?? "") })

        // Filters combine with paging.
        let responsible = all.first!.responsible
        let byResponsible = try await models.deadlines(responsible: responsible)
        let encoded = responsible.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let (paged, _) = try await Self.allPages(h, "responsible=\(encoded)&limit=3", token: h.token("natc"))
        #expect(paged.map(Self.key) == byResponsible.map(Self.key))
        let caseId = all.last!.caseId
        let (one, _) = try await Self.allPages(h, "caseId=\(caseId)&limit=2", token: h.token("audit"))
        #expect(one.map(Self.key) == (try await models.deadlines(caseId: caseId)).map(Self.key))
    }

    @Test func theDefaultPageIs100AndTheShapeIsAdditive() async throws {
        let (h, models) = try await ProjectedCases.start(cases: 60)
        defer { Task { await h.stop() } }
        let all = try await models.deadlines()
        #expect(all.count > 100)
        let first = try await h.api.get("/v1/deadlines", token: h.token("natc"))
        #expect(first.status == 200)
        let rows = first.json["deadlines"]!.array
        #expect(rows.count == 100)
        #expect(first.json["next"]?.stringValue != nil)
        for key in ["caseId", "ruleId", "title", "dueAt", "status", "responsible", "triggerEventId", "satisfiedAt"] {
            #expect(rows[0][key] != nil, "\(key)")
        }
        // A limit above the maximum is capped, as /v1/events does.
        let capped = try await h.api.get("/v1/deadlines?limit=5000", token: h.token("natc"))
        #expect(capped.status == 200)
        #expect(capped.json["deadlines"]!.array.count == min(all.count, 1000))
        // The rows shown on a page, and only those, are access-logged.
        let log = try await h.api.get("/v1/audit/access?limit=10000", token: h.token("audit"))
        let logged = log.json["entries"]!.array.filter { $0["endpoint"]?.stringValue == "GET /v1/deadlines" }
        let shownFirst = Set(rows.compactMap { $0["caseId"]?.stringValue })
        let shownCapped = Set(capped.json["deadlines"]!.array.compactMap { $0["caseId"]?.stringValue })
        #expect(logged.count == shownFirst.count + shownCapped.count)
    }

    @Test func malformedLimitsAndCursorsAre400() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        let valid = DeadlineCursor(dueAtMicroseconds: 1_790_000_000_000_000, caseId: "KS-1", ordinal: 2).encoded
        func b64(_ s: String) -> String {
            Data(s.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let badCursors = [
            "x", "not a cursor", "%00", valid + "=", valid + "A", String(valid.dropLast()),
            b64("1790000000000000|2"), b64("1790000000000000|2|KS_1"), b64("abc|2|KS-1"), b64("1|-1|KS-1"),
            b64("01790000000000000|2|KS-1"), b64("+1790000000000000|2|KS-1"), b64("1|2147483648|KS-1"),
            b64("999999999999999999999|2|KS-1"), b64("1|2|" + String(repeating: "K", count: 65)),
            String(repeating: "A", count: 400),
        ]
        for cursor in badCursors {
            let encoded = cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? cursor
            let reply = try await h.api.get("/v1/deadlines?after=\(encoded)", token: h.token("natc"))
            #expect(reply.status == 400, "after=\(cursor)")
            #expect(reply.errorCode == "bad_request")
            #expect(reply.errorField == "after", "after=\(cursor)")
        }
        for limit in ["0", "-1", "abc", "1.5", "", "9999999999"] {
            let reply = try await h.api.get("/v1/deadlines?limit=\(limit)", token: h.token("natc"))
            #expect(reply.status == 400, "limit=\(limit)")
            #expect(reply.errorField == "limit")
        }
        // The documented filters are still validated, paged or not.
        let badStatus = try await h.api.get("/v1/deadlines?status=late&after=\(valid)", token: h.token("natc"))
        #expect(badStatus.errorField == "status")
        let ok = try await h.api.get("/v1/deadlines?after=\(valid)&limit=10", token: h.token("natc"))
        #expect(ok.status == 200)
        #expect(ok.json["next"] == .null)
        // An empty cursor is the first page, as for /v1/events.
        #expect(try await h.api.get("/v1/deadlines?after=", token: h.token("natc")).status == 200)
        // A parameter given twice is refused on every API route, not resolved to the first (an
        // operator's pass: `status=overdue&status=met` answered the overdue page); `types` is a list.
        for (target, field) in [
            ("/v1/deadlines?status=overdue&status=met", "status"), ("/v1/deadlines?limit=5&limit=500", "limit"),
            ("/v1/events?after=&limit=1&after=", "after"), ("/v1/stats?year=2026&year=2025", "year"),
            ("/v1/deadlines?x%0A=1&x%0A=2", "query"), ("/v1/deadlines?=a&=b", "query"),
        ] {
            let reply = try await h.api.get(target, token: h.token("natc"))
            #expect(reply.status == 400, "\(target)")
            #expect(reply.errorCode == "bad_request" && reply.errorField == field, "\(target)")
        }
        #expect(
            try await h.api.get("/v1/events?types=CaseOpened&types=CaseClosed", token: h.token("natc")).status == 200)
    }

    @Test func cursorsRoundTripAndRejectOtherSpellings() {
        for cursor in [
            DeadlineCursor(dueAtMicroseconds: 0, caseId: "A", ordinal: 0),
            DeadlineCursor(dueAtMicroseconds: -1, caseId: "KS-2026-000123", ordinal: 7),
            DeadlineCursor(
                dueAtMicroseconds: 253_402_300_799_999_999, caseId: String(repeating: "z", count: 64),
                ordinal: Int(Int32.max)),
        ] {
            #expect(DeadlineCursor(encoded: cursor.encoded) == cursor)
            #expect(!cursor.encoded.contains("="))
        }
    }

    /// The page query never sorts the whole table: with sequential scans and sorts priced out,
    /// PostgreSQL still has a plan that reads the 0006 indexes in order (a small test table
    /// would otherwise be scanned sequentially, which says nothing).
    @Test func pageQueriesAreIndexRangeScans() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let connection = try await h.db.connect()
        defer { connection.close() }
        try await connection.execute("SET enable_seqscan = off; SET enable_sort = off; SET enable_bitmapscan = off")
        let after = DeadlineCursor(dueAtMicroseconds: 1_790_000_000_123_456, caseId: "KS-1", ordinal: 3)
        let cases: [(DeadlineFilter.Status?, [String])] = [
            (.overdue, ["deadlines_open_page", "deadlines_missed_open_page"]), (.pending, ["deadlines_open_page"]),
            (.dueSoon, ["deadlines_open_page"]), (nil, ["deadlines_page"]), (.met, ["deadlines_page"]),
        ]
        // The board's default (open cases) reads Migrations/0020's indexes, case status leading.
        let byCaseStatus: [(DeadlineFilter.Status?, [String])] = [
            (.overdue, ["deadlines_case_status_open_page", "deadlines_case_status_missed_open_page"]),
            (.pending, ["deadlines_case_status_open_page"]), (.dueSoon, ["deadlines_case_status_open_page"]),
            (nil, ["deadlines_case_status_page"]), (.met, ["deadlines_case_status_page"]),
        ]
        let all =
            cases.map { (DeadlineFilter(status: $0.0), $0.1) }
            + byCaseStatus.map { (DeadlineFilter(status: $0.0, caseStatus: .open), $0.1) }
        for (filter, indexes) in all {
            let status = filter
            let query = DeadlinePageQuery(
                filter: filter, visibleTo: nil, after: after, limit: 101, now: Date()
            ).sql
            let plan = try await connection.query(SQL(text: "EXPLAIN " + query.text, parameters: query.parameters))
            let text = try plan.all.map { try $0.decode(0, as: String.self) }.joined(separator: "\n")
            for index in indexes { #expect(text.contains(index), "\(status as Any): \(text)") }
            #expect(!text.contains("Sort  ("), "\(status as Any): \(text)")  // no Sort node (Merge Append merges)
            #expect(!text.contains("Seq Scan"), "\(status as Any): \(text)")
        }
    }
}
