import EventStore
import Foundation
import LoopbackHTTPClient
import Referrals
import Testing

@testable import QueryService

/// The access log as an auditor relies on it, attacked the way a monitored institution would:
/// with nothing but its own token and the public API (issue 12, "An audit that shows everything").
@Suite("Audit trail")
struct AuditTrailTests {
    /// One page of `GET /v1/audit/access` as the auditor sees it.
    struct Page {
        var entries: [JSONValue]
        var next: String?
    }

    static func auditPage(_ h: Harness, _ query: String) async throws -> Page {
        let reply = try await h.api.get("/v1/audit/access" + query, token: h.token("audit"))
        guard reply.status == 200 else { throw ClientError(description: "audit: \(reply.status) \(reply.text)") }
        return Page(entries: reply.json["entries"]?.array ?? [], next: reply.json["next"]?.stringValue)
    }

    static func line(_ e: JSONValue) -> String {
        let who = e["institution"]?.stringValue ?? "-"
        return "\(who) \(e["caseId"]?.stringValue ?? "?") \(e["endpoint"]?.stringValue ?? "?") "
            + (e["outcome"]?.stringValue ?? "?")
    }

    /// Reads `count` times with at most `width` requests in flight.
    static func read(_ h: Harness, _ path: String, as caller: String, count: Int, width: Int = 8) async throws {
        try await withThrowingTaskGroup(of: Int.self) { group in
            var started = 0
            while started < min(width, count) {
                group.addTask { try await h.api.get(path, token: h.token(caller)).status }
                started += 1
            }
            while let status = try await group.next() {
                #expect(status == 200)
                if started < count {
                    group.addTask { try await h.api.get(path, token: h.token(caller)).status }
                    started += 1
                }
            }
        }
    }

    /// A party floods the log with a thousand reads of a case; the reads that others make after
    /// it are still the first thing the auditor sees, in the API and on the case page.
    @Test func aThousandReadsByOnePartyDoNotHideLaterReads() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        try await h.openCase("KS-FL-1")
        try await h.refer("KS-FL-1", "R-1", to: "opav")
        try await Self.read(h, "/v1/cases/KS-FL-1/history", as: "kp-dthb", count: 1_005)
        #expect(try await h.api.get("/v1/cases/KS-FL-1/history", token: h.token("opav")).status == 200)
        #expect(try await h.api.get("/v1/cases/KS-FL-1", token: h.token("natc")).status == 200)

        for query in ["?caseId=KS-FL-1", "", "?caseId=KS-FL-1&limit=2"] {
            let page = try await Self.auditPage(h, query)
            #expect(page.entries.count >= 2, "\(query)")
            #expect(
                page.entries.prefix(2).map(Self.line) == [
                    "natc KS-FL-1 GET /v1/cases/{caseId} allowed",
                    "opav KS-FL-1 GET /v1/cases/{caseId}/history allowed",
                ], "\(query)")
        }
        let byInstitution = try await Self.auditPage(h, "?institution=opav")
        #expect(byInstitution.entries.map(Self.line) == ["opav KS-FL-1 GET /v1/cases/{caseId}/history allowed"])
        let byUser = try await Self.auditPage(h, "?user=coordinator-1&caseId=KS-FL-1")
        #expect(byUser.entries.map(Self.line) == ["natc KS-FL-1 GET /v1/cases/{caseId} allowed"])

        // The auditor's case page lists the newest reads first: its own visit, then natc, then opav.
        let casePage = try await DashboardTests.page(h.api, "/cases/KS-FL-1", token: h.token("audit"))
        #expect(casePage.status == 200)
        let text = casePage.text
        let table = try #require(text.range(of: "Who read this case")).upperBound
        let rest = text[table...]
        let natc = try #require(rest.range(of: "coordinator-1"))
        let opav = try #require(rest.range(of: "opav-officer"))
        #expect(natc.lowerBound < opav.lowerBound)
        #expect(!rest[..<opav.lowerBound].contains("kp-dthb-officer"))
        // And pages back through every one of them, 50 at a time: no flood of reads (nor of a
        // non-party's refused probes: an eleventh attack pass) puts a read out of the auditor's sight.
        var shown = text
        var pages = 1
        var policeSeen = false
        while let start = shown.range(of: #"id="earlier-reads" href=""#)?.upperBound {
            let link = String(shown[start...].prefix { $0 != "\"" && $0 != "#" })
            let page = try await DashboardTests.page(h.api, link, token: h.token("audit"))
            #expect(
                page.status == 200 && page.text.contains("Newest reads") && page.text.contains("earlier reads"),
                "\(link): \(page.status)")
            policeSeen = policeSeen || page.text.contains("kp-dthb-officer")
            shown = page.text
            pages += 1
        }
        #expect(policeSeen && pages == 21, "\(pages) pages")
        // A cursor that is not one is no error: the newest reads.
        let unknown = try await DashboardTests.page(h.api, "/cases/KS-FL-1?reads=x", token: h.token("audit"))
        #expect(unknown.status == 200 && !unknown.text.contains("Newest reads"))
    }

    /// A non-party probes an existing case and a missing one on every case route and gets the
    /// same status and the same body for both; the auditor sees every probe as a denied attempt.
    /// A party's refused append says something of the case's record (which referrals exist and to
    /// whom, whether the case is open, its version): it is logged as a `denied` attempt, as a
    /// non-party's is. A sixth attack pass read a case's state through deliberately refused
    /// batches with nothing in the access log. A malformed request, refused before the case is
    /// consulted, is not.
    @Test func aPartysRefusedAppendIsLoggedAsARead() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        try await h.openCase("KS-RA-1")
        try await h.refer("KS-RA-1", "R-1", to: "opav")
        try await h.refer("KS-RA-1", "R-2", to: "isf")
        let isf = h.token("isf")
        let probes = [
            #"{"type":"ReferralAccepted","data":{"referralId":"R-1"}}"#,
            #"{"events":[{"type":"ReferralIssued","data":{"referralId":"R-1","to":"opav","purpose":"victim-advocacy"}},{"type":"RiskAssessed","data":{"level":"bogus"}}]}"#,
            #"{"type":"CaseReopened","data":{"reason":"new-information"}}"#,
            #"{"type":"RiskAssessed","data":{"level":"high"},"expectedVersion":1}"#,
        ]
        for body in probes {
            let reply = try await h.api.post("/v1/cases/KS-RA-1/events", token: isf, body)
            #expect((400..<500).contains(reply.status), "\(body): \(reply.status)")
        }
        #expect(try await h.api.post("/v1/cases/KS-RA-1/events", token: isf, "{not json").status == 400)
        let page = try await Self.auditPage(h, "?caseId=KS-RA-1&institution=isf")
        #expect(
            page.entries.map(Self.line)
                == Array(repeating: "isf KS-RA-1 POST /v1/cases/{caseId}/events denied", count: probes.count))
        // What the party was allowed to do is unchanged, and is no read.
        let accepted = #"{"type":"ReferralAccepted","data":{"referralId":"R-2"}}"#
        #expect(try await h.api.post("/v1/cases/KS-RA-1/events", token: isf, accepted).status == 201)
        #expect(try await Self.auditPage(h, "?caseId=KS-RA-1&institution=isf").entries.count == probes.count)
    }

    @Test func aNonPartyCannotTellAnExistingCaseFromAMissingOne() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        try await h.openCase("KS-PR-1")
        try await h.refer("KS-PR-1", "R-1", to: "opav")
        let existing = "KS-PR-1"
        let missing = "KS-PR-404"
        let isf = h.token("isf")
        var probes = 0
        func same(_ method: String, _ path: (String) -> String, json: String? = nil, token: String = isf) async throws {
            let a = try await h.api.request(method, path(existing), token: token, json: json)
            let b = try await h.api.request(method, path(missing), token: token, json: json)
            let label = "\(method) \(path("{id}")) \(json ?? "")"
            #expect(a.status == b.status, "\(label)")
            #expect(a.text == b.text, "\(label)")
            #expect(a.header("Content-Type") == b.header("Content-Type"), "\(label)")
            #expect(a.header("Content-Length") == b.header("Content-Length"), "\(label)")
            #expect(!a.text.contains("kp-dthb") && !a.text.contains("R-1"), "\(label)")
            probes += 1
        }
        try await same("GET", { "/v1/cases/\($0)" })
        try await same("GET", { "/v1/cases/\($0)/history" })
        try await same("GET", { "/v1/cases/\($0)/history?asOf=2030-01-01T00:00:00Z" })
        try await same("GET", { "/v1/cases/\($0)/verify" })
        let appends = [
            Harness.referralJSON("R-9", to: "isf"),
            #"{"type":"ReferralAccepted","data":{"referralId":"R-1"}}"#,
            #"{"type":"RiskAssessed","data":{"level":"high"},"expectedVersion":2}"#,
            #"{"type":"RiskAssessed","data":{"level":"high"},"expectedVersion":"exists"}"#,
            #"{"type":"RiskAssessed","data":{"level":"high"},"expectedVersion":"no-stream"}"#,
            #"{"type":"RiskAssessed","data":{"level":"bogus"}}"#,
            #"{"type":"NoSuchType","data":{}}"#,
            #"{"events":[{"type":"RiskAssessed","data":{"level":"low"}},{"type":"CaseReviewed","data":{}}]}"#,
            #"{"type":"CaseOpened","data":{"identificationStatus":"presumed"}}"#,
        ]
        for body in appends {
            try await same("POST", { "/v1/cases/\($0)/events" }, json: body)
        }
        // The dashboard's case page, through a session of the same institution.
        let pageA = try await DashboardTests.page(h.api, "/cases/\(existing)", token: isf)
        let pageB = try await DashboardTests.page(h.api, "/cases/\(missing)", token: isf)
        #expect(pageA.status == 404)
        #expect(pageA.status == pageB.status)
        // Each page comes from its own sign-in, so only the session's CSRF token may differ.
        func normalized(_ text: String, _ id: String) -> String {
            text.replacingOccurrences(of: id, with: "ID").replacingOccurrences(
                of: #"name="csrf" value="[^"]*""#, with: "csrf", options: .regularExpression)
        }
        #expect(normalized(pageA.text, existing) == normalized(pageB.text, missing))
        probes += 1
        // Nothing was appended by the probes.
        #expect(try await h.store.version(of: StreamName.case(existing)!) == 2)
        #expect(try await h.store.version(of: StreamName.case(missing)!) == 0)

        // The auditor sees every probe of both ids as a denied attempt by isf.
        for id in [existing, missing] {
            let page = try await Self.auditPage(h, "?caseId=\(id)&institution=isf")
            #expect(page.entries.count == probes, "\(id)")
            #expect(page.entries.allSatisfy { $0["outcome"]?.stringValue == "denied" }, "\(id)")
            #expect(page.entries.allSatisfy { $0["user"]?.stringValue == "isf-officer" }, "\(id)")
            #expect(
                Set(page.entries.compactMap { $0["endpoint"]?.stringValue }) == [
                    "GET /v1/cases/{caseId}", "GET /v1/cases/{caseId}/history", "GET /v1/cases/{caseId}/verify",
                    "POST /v1/cases/{caseId}/events", "GET /cases/{caseId}",
                ], "\(id)")
        }
        // Parties and coordinators are unaffected, and their reads are allowed entries.
        #expect(try await h.api.get("/v1/cases/\(existing)/history", token: h.token("opav")).status == 200)
        #expect(try await h.api.get("/v1/cases/\(missing)/history", token: h.token("natc")).status == 404)
        let last = try await Self.auditPage(h, "?caseId=\(existing)&limit=1")
        #expect(last.entries.map(Self.line) == ["opav KS-PR-1 GET /v1/cases/{caseId}/history allowed"])
        let coordinator = try await Self.auditPage(h, "?caseId=\(missing)&institution=natc")
        #expect(coordinator.entries.map(Self.line) == ["natc KS-PR-404 GET /v1/cases/{caseId}/history denied"])
    }

    /// Filtering deadlines by a case the institution is not party to answers the same empty list
    /// for an existing and a missing case, and is recorded as a denied attempt.
    @Test func deadlinesOfAForeignCaseAreADeniedAttempt() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        try await h.openCase("KS-DL-1")
        let a = try await h.api.get("/v1/deadlines?caseId=KS-DL-1", token: h.token("isf"))
        let b = try await h.api.get("/v1/deadlines?caseId=KS-DL-404", token: h.token("isf"))
        #expect(a.status == 200)
        #expect(a.text == b.text)
        for id in ["KS-DL-1", "KS-DL-404"] {
            let page = try await Self.auditPage(h, "?caseId=\(id)")
            #expect(page.entries.map(Self.line) == ["isf \(id) GET /v1/deadlines denied"])
        }
        // A party's filtered read of its own case is no attempt on someone else's.
        #expect(try await h.api.get("/v1/deadlines?caseId=KS-DL-1", token: h.token("kp-dthb")).status == 200)
        #expect(try await Self.auditPage(h, "?caseId=KS-DL-1&institution=kp-dthb").entries.isEmpty)
    }

    /// Paging with the cursor yields every entry exactly once, newest first, while new reads keep
    /// arriving: they are newer than the first page and never shift later pages.
    @Test func pagingYieldsEveryEntryOnceNewestFirstWhileReadsArrive() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        let count = 40
        for n in 1...count { try await h.openCase("KS-PG-\(n)") }
        try await h.openCase("KS-PG-NEW")
        for n in 1...count {
            #expect(try await h.api.get("/v1/cases/KS-PG-\(n)/history", token: h.token("kp-dthb")).status == 200)
        }
        let reading = Task {
            while !Task.isCancelled {
                _ = try await h.api.get("/v1/cases/KS-PG-NEW/history", token: h.token("natc"))
            }
        }
        defer { reading.cancel() }
        // Let some of the concurrent reads land before the first page.
        for _ in 0..<200 {
            if try await !Self.auditPage(h, "?caseId=KS-PG-NEW&limit=1").entries.isEmpty { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        var seen: [JSONValue] = []
        var after = ""
        var pages = 0
        repeat {
            let page = try await Self.auditPage(h, "?limit=7&after=\(after)")
            #expect(page.entries.count <= 7)
            seen += page.entries
            pages += 1
            if page.next == nil { break }
            after = try #require(page.next)
            // More reads arrive between pages.
            _ = try await h.api.get("/v1/cases/KS-PG-1/history", token: h.token("opav"))
        } while pages < 10_000
        reading.cancel()
        let mine = seen.filter { $0["caseId"]?.stringValue != "KS-PG-NEW" }
        #expect(mine.compactMap { $0["caseId"]?.stringValue } == (1...count).reversed().map { "KS-PG-\($0)" })
        // Every concurrent read in the pages came before (is newer than) the first of the others.
        let firstOld = try #require(seen.firstIndex { $0["caseId"]?.stringValue != "KS-PG-NEW" })
        #expect(seen[firstOld...].allSatisfy { $0["caseId"]?.stringValue != "KS-PG-NEW" })
        // Times never increase down the pages.
        let times = seen.compactMap { $0["at"]?.stringValue }
        #expect(times.count == seen.count)
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 >= $1 })
        // The last page says so; an empty `after` is the first page.
        #expect(try await Self.auditPage(h, "?after=").entries.count >= count)
    }

    /// Every parameter is checked: 400 `bad_request` naming the field, and nothing else answers.
    @Test func everyAuditParameterIsValidated() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        let cursorOfOtherKind = Data("deadline:5".utf8).base64EncodedString()
        let cases: [(String, String)] = [
            ("caseId=bad%20id", "caseId"), ("caseId=", "caseId"),
            ("caseId=\(String(repeating: "A", count: 65))", "caseId"),
            ("institution=KP", "institution"), ("institution=", "institution"), ("institution=a%2Fb", "institution"),
            ("user=", "user"), ("user=a%0Ab", "user"), ("user=\(String(repeating: "u", count: 129))", "user"),
            ("from=yesterday", "from"), ("from=2026-13-01T00:00:00Z", "from"), ("to=2026-01-01", "to"),
            ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
            ("limit=0", "limit"), ("limit=-1", "limit"), ("limit=abc", "limit"), ("limit=1e3", "limit"),
            ("after=garbage!", "after"), ("after=\(cursorOfOtherKind)", "after"), ("after=YWNjZXNzOjA", "after"),
            ("after=YWNjZXNzOi0x", "after"), ("after=YWNjZXNzOjAx", "after"),
        ]
        for (query, field) in cases {
            let reply = try await h.api.get("/v1/audit/access?" + query, token: h.token("audit"))
            #expect(reply.status == 400, "\(query)")
            #expect(reply.errorCode == "bad_request", "\(query)")
            #expect(reply.errorField == field, "\(query)")
        }
        for caller in ["kp-dthb", "natc"] {
            #expect(try await h.api.get("/v1/audit/access", token: h.token(caller)).status == 403)
        }
        #expect(try await h.api.get("/v1/audit/access", token: nil).status == 401)
        // Valid forms are accepted.
        for query in [
            "from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from=2026-01-01T01:00:00%2B01:00", "limit=99999",
            "after=YWNjZXNzOjE", "user=auditor-1", "institution=opav&caseId=KS-1",
        ] {
            let reply = try await h.api.get("/v1/audit/access?" + query, token: h.token("audit"))
            #expect(reply.status == 200, "\(query) \(reply.text)")
            #expect(reply.json["next"] != nil, "\(query)")
        }
    }

    /// `from` and `to` bound `at`, both inclusive.
    @Test func fromAndToBoundTheTimeOfTheRead() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        try await h.openCase("KS-TM-1")
        #expect(try await h.api.get("/v1/cases/KS-TM-1/history", token: h.token("natc")).status == 200)
        let all = try await Self.auditPage(h, "?caseId=KS-TM-1")
        let at = try #require(all.entries.first?["at"]?.stringValue)
        #expect(try await Self.auditPage(h, "?caseId=KS-TM-1&from=\(at)&to=\(at)").entries.count == 1)
        #expect(try await Self.auditPage(h, "?caseId=KS-TM-1&to=2000-01-01T00:00:00Z").entries.isEmpty)
        #expect(try await Self.auditPage(h, "?caseId=KS-TM-1&from=2999-01-01T00:00:00Z").entries.isEmpty)
    }
}
