@testable import ServiceStore
import LoopbackHTTPClient
import Crypto
import EventStore
import Foundation
import HTTP
import HandoffTestSupport
import Postgres
import Projections
import Referrals
import Testing

@testable import QueryService

/// The dashboard (`GET /` and friends) against a real PostgreSQL and the service on a loopback
/// port: cookie sessions, CSRF, who sees what, escaping, logout. Synthetic data only.
@Suite("Dashboard")
struct DashboardTests {
    /// `Origin` as a browser on this server sends it (the test client's `Host` is `127.0.0.1`).
    static let sameOrigin = ("Origin", "http://127.0.0.1")

    /// A `Cookie` header carrying a session id (or anything else, to try).
    static func cookie(_ session: String) -> (String, String) { ("Cookie", "handoff_session=\(session)") }

    /// Signs in with a token and returns the session id its cookie holds (nil when refused).
    static func signIn(_ api: API, token: String) async throws -> String? {
        let reply = try await login(api, token: token)
        guard let setCookie = reply.header("Set-Cookie"), setCookie.hasPrefix("handoff_session=") else { return nil }
        let value = setCookie.dropFirst("handoff_session=".count).prefix { $0 != ";" }
        return value.isEmpty ? nil : String(value)
    }

    static func login(_ api: API, token: String, origin: (String, String) = sameOrigin) async throws -> Reply {
        try await api.request(
            "POST", "/login", json: "token=" + token, contentType: "application/x-www-form-urlencoded",
            headers: [origin])
    }

    /// A page as a browser signed in with `token` sees it (a token that cannot sign in is sent
    /// as if it were a session id, as a forged cookie would be).
    static func page(_ api: API, _ target: String, token: String?) async throws -> Reply {
        guard let token else { return try await api.request("GET", target) }
        let session = try await signIn(api, token: token) ?? token
        return try await api.request("GET", target, headers: [cookie(session)])
    }

    // MARK: - Escaping (no I/O)

    @Test func escapingTurnsEveryHostileCharacterIntoAnEntity() {
        #expect(
            HTML.escape(#"<script>alert("x&y")</script>'"#)
                == "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;")
        #expect(HTML.escape("plain KS-2026-0001 → opav") == "plain KS-2026-0001 → opav")
        #expect(HTML.escape("a\u{0}b\u{1B}c\td\ne") == "a\u{FFFD}b\u{FFFD}c\td\ne")
        #expect(HTML.escape("&amp;") == "&amp;amp;")  // escaped once more, never taken as markup
        let hostile = #""><img src=x onerror=alert(1)>"#
        let cell: HTML = "<td title=\"\(hostile)\">\(hostile)</td>"
        #expect(!cell.text.contains("<img"))
        #expect(cell.text.hasPrefix("<td title=\"&quot;&gt;&lt;img"))
        let row: HTML = "<tr>\(cell)</tr>"  // markup inside markup: not escaped twice
        #expect(row.text == "<tr>" + cell.text + "</tr>")
        #expect(HTML.queryValue("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9")
    }

    @Test func deadlineBoardReadsItsQueryFiltersAndSorts() {
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        func row(_ caseId: String, _ rule: String, _ who: String, _ hours: Double, _ status: DeadlineFilter.Status)
            -> DeadlineRow
        {
            DeadlineRow(
                caseId: caseId, ruleId: rule, title: rule, dueAt: now.addingTimeInterval(hours * 3600), status: status,
                responsible: who, triggerEventId: UUID(), satisfiedAt: nil)
        }
        let rows = [
            row("KS-B", "risk-assessed", "kp-dthb", -5, .overdue),
            row("KS-A", "referral-acknowledged", "opav", 2, .dueSoon),
            row("KS-C", "risk-assessed", "kp-dthb", 1, .dueSoon),
        ]
        var board = DeadlineBoard(query: QueryItems([("institution", "kp-dthb"), ("sort", "case"), ("dir", "desc")]))
        #expect(board.apply(rows).map(\.caseId) == ["KS-C", "KS-B"])
        board = DeadlineBoard(query: QueryItems([("rule", "referral-acknowledged"), ("status", "nonsense")]))
        #expect(board.status == .attention)
        #expect(board.apply(rows).map(\.caseId) == ["KS-A"])
        #expect(DeadlineBoard().apply(rows).map(\.caseId) == ["KS-B", "KS-C", "KS-A"])  // soonest due first
        #expect(DeadlineBoard().sorted(by: .due).queryString == "dir=desc")
        #expect(DeadlineBoard().sorted(by: .rule).queryString == "sort=rule")
    }

    // MARK: - Sessions

    @Test func loginSetsAnHttpOnlySameSiteStrictCookieAndNeverEchoesTheToken() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        // The token form is one link away from the persons' password form.
        let passwordForm = try await h.api.get("/login", token: nil)
        #expect(passwordForm.text.contains("href=\"/login?with=token\""))
        let form = try await h.api.get("/login?with=token", token: nil)
        #expect(form.status == 200)
        #expect(form.text.contains("<label for=\"token\">"))
        #expect(form.header("Content-Security-Policy")?.contains("script-src 'self'") == true)
        #expect(form.header("Content-Security-Policy")?.contains("unsafe-inline") == false)

        let reply = try await Self.login(h.api, token: h.token("natc"))
        #expect(reply.status == 303)
        #expect(reply.header("Location") == "/")
        let cookie = try #require(reply.header("Set-Cookie"))
        #expect(cookie.hasPrefix("handoff_session=hds_"))  // a session id, never the token
        #expect(!cookie.contains(h.token("natc")))
        #expect(cookie.contains("; HttpOnly"))
        #expect(cookie.contains("; SameSite=Strict"))
        #expect(cookie.contains("; Path=/"))
        #expect(!reply.text.contains(h.token("natc")))

        let home = try await Self.page(h.api, "/", token: h.token("natc"))
        #expect(home.status == 200)
        #expect(home.header("Content-Type") == "text/html; charset=utf-8")
        #expect(home.text.contains("Deadlines across institutions"))
        #expect(!home.text.contains(h.token("natc")))
    }

    @Test func aBadTokenOrAForeignOriginIsRefused() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let bogus = "hnd_not-a-real-token-0123456789"
        let bad = try await Self.login(h.api, token: bogus)
        #expect(bad.status == 401)
        #expect(bad.header("Set-Cookie") == nil)
        #expect(bad.text.contains("That token is not valid"))
        #expect(!bad.text.contains(bogus))
        let empty = try await Self.login(h.api, token: "")
        #expect(empty.status == 401)
        #expect(empty.header("Set-Cookie") == nil)
        // CSRF: a valid token posted from another site, or from an opaque origin, sets nothing.
        for origin in ["http://evil.example", "null", "http://127.0.0.1.evil.example"] {
            let foreign = try await Self.login(h.api, token: h.token("natc"), origin: ("Origin", origin))
            #expect(foreign.status == 403, "\(origin)")
            #expect(foreign.header("Set-Cookie") == nil, "\(origin)")
        }
        let crossSite = try await Self.login(h.api, token: h.token("natc"), origin: ("Sec-Fetch-Site", "cross-site"))
        #expect(crossSite.status == 403)
    }

    @Test func pagesRequireTheCookieAndTheAPIDoesNotAcceptIt() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        for target in ["/", "/cases/KS-NONE-1", "/?status=all"] {
            let anonymous = try await Self.page(h.api, target, token: nil)
            #expect(anonymous.status == 303, "\(target)")
            #expect(anonymous.header("Location") == "/login", "\(target)")
            let stale = try await Self.page(h.api, target, token: "hnd_revoked-or-made-up")
            #expect(stale.status == 303, "\(target)")
            // A bearer header is the API's credential, not the dashboard's.
            let bearer = try await h.api.get(target, token: h.token("natc"))
            #expect(bearer.status == 303, "\(target)")
        }
        let live = try await Self.page(h.api, "/dashboard/live", token: nil)
        #expect(live.status == 401)
        let api = try await Self.page(h.api, "/v1/deadlines", token: h.token("natc"))
        #expect(api.status == 401)
        // Revoking the token behind a session ends the session at its next request
        // (SessionTests: also when revoked by another process).
        let tokens = h.service.tokens
        let token = try await tokens.create(role: .coordinator, institution: "natc", user: "coordinator-2")
        let session = try #require(try await Self.signIn(h.api, token: token))
        #expect(try await h.api.request("GET", "/", headers: [Self.cookie(session)]).status == 200)
        try await tokens.revoke(token: token)
        #expect(try await h.api.request("GET", "/", headers: [Self.cookie(session)]).status == 303)
        // Assets are public and need no session.
        let css = try await h.api.get("/assets/dashboard.css", token: nil)
        #expect(css.status == 200)
        #expect(css.header("Content-Type")?.hasPrefix("text/css") == true)
    }

    @Test func logoutClearsTheCookieAndChecksTheOrigin() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let session = try #require(try await Self.signIn(h.api, token: h.token("natc")))
        let home = try await h.api.request("GET", "/", headers: [Self.cookie(session)])
        let csrf = try #require(SessionTests.csrfField(home.text))
        let foreign = try await h.api.request(
            "POST", "/logout", json: "csrf=" + csrf, contentType: "application/x-www-form-urlencoded",
            headers: [Self.cookie(session), ("Origin", "http://evil.example")])
        #expect(foreign.status == 403)
        #expect(foreign.header("Set-Cookie") == nil)
        let reply = try await h.api.request(
            "POST", "/logout", json: "csrf=" + csrf, contentType: "application/x-www-form-urlencoded",
            headers: [Self.cookie(session), Self.sameOrigin])
        #expect(reply.status == 303)
        #expect(reply.header("Location") == "/login")
        let cookie = try #require(reply.header("Set-Cookie"))
        #expect(cookie.hasPrefix("handoff_session=;"))
        #expect(cookie.contains("Max-Age=0"))
        #expect(cookie.contains("HttpOnly"))
    }

    // MARK: - Who sees what (real projections)

    /// A service over the real read models: the demo institutions and the default ruleset, then
    /// cases appended through the API and projected.
    static func projectedHarness() async throws -> Harness {
        let db = try await TestDatabase.make()
        let setup = db.store(poolSize: 2)
        let metadata = EventMetadata(actor: EventActor(institution: "natc", user: "setup"))
        try await setup.append(
            to: .institutions,
            events: Institution.demo.map(Harness.registration))
        try await setup.append(
            to: .sopRulesets,
            events: [
                NewEvent(
                    type: "SopRulesetPublished", data: Ruleset.kosovoDefault.document.serializedString(),
                    metadata: metadata)
            ])
        await setup.pool.close()
        return try await Harness.start(readSide: ProjectionReadSide(pool: db.pool(size: 4)), db: db)
    }

    static func project(_ h: Harness) async throws {
        try await h.settle()
        let runner = ProjectionRunner(store: h.store)
        for _ in 0..<300 {
            _ = try await runner.catchUp()
            if try await runner.lag().allSatisfy({ $0.eventsBehind == 0 }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ClientError(description: "projections did not catch up")
    }

    /// Two cases three weeks old: KS-DA-1 of the police alone, KS-DB-1 opened by the victim
    /// advocates and referred to the state shelter (isf).
    static func seedCases(_ h: Harness) async throws {
        let weeksAgo = Date().addingTimeInterval(-21 * 86_400)
        for (caseId, by) in [("KS-DA-1", "kp-dthb"), ("KS-DB-1", "opav")] {
            try await h.openCase(caseId, by: by, occurredAt: weeksAgo)
        }
        try await h.refer("KS-DB-1", "R-1", to: "isf", by: "opav")
        try await project(h)
    }

    @Test func aCoordinatorSeesDeadlinesAcrossInstitutionsAndCompliance() async throws {
        let h = try await Self.projectedHarness()
        defer { Task { await h.stop() } }
        try await Self.seedCases(h)
        let page = try await Self.page(h.api, "/?status=all", token: h.token("natc"))
        #expect(page.status == 200)
        #expect(page.text.contains("/cases/KS-DA-1"))
        #expect(page.text.contains("/cases/KS-DB-1"))
        #expect(page.text.contains("Compliance per institution"))
        #expect(page.text.contains("Compliance per rule"))
        #expect(page.text.contains("data-live-url=\"/dashboard/live\""))
        // Filters: one institution's deadlines only.
        let police = try await Self.page(h.api, "/?status=all&institution=kp-dthb", token: h.token("natc"))
        #expect(police.text.contains("/cases/KS-DA-1"))
        // The default view lists what needs attention: three-week-old cases have overdue deadlines.
        let attention = try await Self.page(h.api, "/", token: h.token("natc"))
        #expect(attention.text.contains("class=\"badge overdue\""))
        // Reading the dashboard is access-logged, per case shown.
        let log = try await h.api.get("/v1/audit/access", token: h.token("audit"))
        let entries = log.json["entries"]!.array.filter { $0["endpoint"]?.stringValue == "GET /" }
        #expect(Set(entries.compactMap { $0["caseId"]?.stringValue }) == ["KS-DA-1", "KS-DB-1"])
        #expect(
            entries.allSatisfy {
                $0["user"]?.stringValue == "coordinator-1" || $0["role"]?.stringValue == "coordinator"
            })
        // The auditor sees the same plus the access log.
        let audit = try await Self.page(h.api, "/?status=all", token: h.token("audit"))
        #expect(audit.text.contains("/cases/KS-DA-1"))
        #expect(audit.text.contains("Access log"))
        #expect(!page.text.contains("Access log"))
    }

    @Test func anInstitutionSeesOnlyItsOwnCases() async throws {
        let h = try await Self.projectedHarness()
        defer { Task { await h.stop() } }
        try await Self.seedCases(h)
        let shelter = try await Self.page(h.api, "/?status=all", token: h.token("isf"))
        #expect(shelter.status == 200)
        #expect(shelter.text.contains("Interim Security Facility"))
        #expect(shelter.text.contains("Inbox"))
        #expect(shelter.text.contains("/cases/KS-DB-1"))  // referred to it
        #expect(!shelter.text.contains("KS-DA-1"))
        #expect(!shelter.text.contains("Compliance per"))
        let police = try await Self.page(h.api, "/?status=all", token: h.token("kp-dthb"))
        #expect(police.text.contains("/cases/KS-DA-1"))
        #expect(!police.text.contains("KS-DB-1"))
        let bystander = try await Self.page(h.api, "/?status=all", token: h.token("iom-kosovo"))
        #expect(!bystander.text.contains("KS-DA-1") && !bystander.text.contains("KS-DB-1"))

        // The case page: parties read it (access-logged), others are refused.
        let casePage = try await Self.page(h.api, "/cases/KS-DB-1", token: h.token("isf"))
        #expect(casePage.status == 200)
        #expect(casePage.text.contains("Timeline"))
        #expect(casePage.text.contains("opav → isf (R-1)"))
        #expect(casePage.text.contains("Chain verification is shown to coordinators and auditors."))
        let refused = try await Self.page(h.api, "/cases/KS-DB-1", token: h.token("kp-dthb"))
        #expect(refused.status == 404)  // as for a case that does not exist
        #expect(refused.header("Content-Type") == "text/html; charset=utf-8")
        #expect(try await Self.page(h.api, "/cases/KS-NOPE-9", token: h.token("natc")).status == 404)
        #expect(try await Self.page(h.api, "/cases/bad_id", token: h.token("natc")).status == 400)
        let coordinator = try await Self.page(h.api, "/cases/KS-DB-1", token: h.token("natc"))
        #expect(coordinator.text.contains("Chain valid"))
        #expect(coordinator.text.contains("ReferralIssued"))
        let log = try await h.api.get("/v1/audit/access?caseId=KS-DB-1", token: h.token("audit"))
        let reads = log.json["entries"]!.array.filter { $0["endpoint"]?.stringValue == "GET /cases/{caseId}" }
        #expect(
            Set(reads.compactMap { "\($0["institution"]?.stringValue ?? "-") \($0["outcome"]?.stringValue ?? "-")" })
                == ["isf allowed", "natc allowed", "kp-dthb denied"])
    }

    /// Reviews repeated inside one term: the case page and `GET /v1/deadlines` show each term as
    /// met, and say which do not count in the figures (``Deadline/counted``).
    @Test func termsLeftOutOfTheFiguresSaySo() async throws {
        let h = try await Self.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-DR-1", by: "kp-dthb")
        for _ in 0..<3 {
            let reply = try await h.api.post(
                "/v1/cases/KS-DR-1/events", token: h.token("kp-dthb"), #"{"type":"CaseReviewed","data":{}}"#)
            #expect(reply.status == 201)
        }
        try await Self.project(h)
        let api = try await h.api.get("/v1/deadlines?caseId=KS-DR-1", token: h.token("kp-dthb"))
        let reviews = api.json["deadlines"]!.array.filter { $0["ruleId"]?.stringValue == "case-review" }
        #expect(reviews.count == 4)
        #expect(reviews.filter { $0["counted"]?.boolValue == false }.count == 2)
        #expect(reviews.filter { $0["status"]?.stringValue == "met" }.count == 3)
        let summary = try await h.api.get("/v1/cases/KS-DR-1", token: h.token("kp-dthb"))
        #expect(summary.json["deadlines"]!.array.filter { $0["counted"]?.boolValue == false }.count == 2)
        let page = try await Self.page(h.api, "/cases/KS-DR-1", token: h.token("kp-dthb"))
        #expect(page.text.components(separatedBy: "not counted: met within an earlier term").count == 3)

        // Attack pass 24: a case opened, its police deadlines met and the case closed as a
        // duplicate, in one request. The met terms stay met and say why they do not count (the
        // figures: AnnualReportTests.throwawayCasesClosedAsDuplicatesPadNothing).
        let padded = try await h.api.post(
            "/v1/cases/KP-DR-PAD-1/events", token: h.token("kp-dthb"),
            """
            {"events":[{"type":"CaseOpened","data":{"identificationStatus":"presumed","profile":\
            {"sex":"female","ageBand":"18-24","child":false,"nationality":"XK","exploitation":["sexual"]}}},
            {"type":"ReferralIssued","data":{"referralId":"VA-1","to":"opav","purpose":"victim-advocacy"}},
            {"type":"RiskAssessed","data":{"level":"low"}},
            {"type":"IdentificationStatusChanged","data":{"status":"identified"}},
            {"type":"CaseReviewed","data":{}},
            {"type":"CaseClosed","data":{"reason":"duplicate"}}]}
            """)
        #expect(padded.status == 201, "\(padded.text)")
        try await Self.project(h)
        let terms = try await h.api.get("/v1/deadlines?caseId=KP-DR-PAD-1", token: h.token("kp-dthb"))
        let met = terms.json["deadlines"]!.array.filter { $0["status"]?.stringValue == "met" }
        #expect(met.count >= 3)
        #expect(met.allSatisfy { $0["counted"]?.boolValue == false })
        let padPage = try await Self.page(h.api, "/cases/KP-DR-PAD-1", token: h.token("kp-dthb"))
        #expect(
            padPage.text.components(
                separatedBy: "not counted: met by the institution that closed the case as a duplicate"
            )
            .count == met.count + 1)
    }

    // MARK: - Hostile values

    @Test func hostileValuesAreEscapedOnEveryPage() async throws {
        let hostile = #"<script>alert("x")</script>"#
        let attribute = #""><img src=x onerror=alert(1)>"#
        let row = DeadlineRow(
            caseId: "KS-EVIL-1", ruleId: hostile, title: hostile + attribute, dueAt: Date().addingTimeInterval(-3600),
            status: .overdue, responsible: attribute, triggerEventId: UUID(), satisfiedAt: nil)
        let item = InboxItem(
            caseId: "KS-EVIL-1", referralId: hostile, from: attribute, purpose: hostile, urgency: attribute,
            status: hostile, issuedAt: Date())
        let h = try await Harness.start(readSide: StubReadSide(deadlineRows: [row], inboxItems: [item]))
        defer { Task { await h.stop() } }
        // A token's user name is checked now, but one made before that may be hostile too.
        let token = try await TokenStore(pool: h.store.pool).create(
            role: .auditor, institution: "audit", user: "auditor")
        try await h.store.pool.query(
            """
            UPDATE handoff.api_tokens SET "user" = '<b onmouseover=alert(1)>auditor</b>'
             WHERE token_hash = \(ByteA(SHA256.hash(Array(token.utf8))))
            """)
        let filtered =
            "/?status=overdue&rule=" + HTML.queryValue(hostile) + "&institution=" + HTML.queryValue(attribute)
        for (target, who) in [("/", token), (filtered, token), ("/", h.token("isf"))] {
            let page = try await Self.page(h.api, target, token: who)
            #expect(page.status == 200)
            #expect(page.text.contains("KS-EVIL-1"), "\(target)")
            #expect(!page.text.contains("<script>alert"), "\(target)")
            #expect(!page.text.contains("<img src=x"), "\(target)")
            #expect(!page.text.contains("<b onmouseover"), "\(target)")
            #expect(page.text.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"), "\(target)")
        }
        let auditorPage = try await Self.page(h.api, "/", token: token)
        #expect(auditorPage.text.contains("&lt;b onmouseover=alert(1)&gt;auditor&lt;/b&gt;"))
    }
}
