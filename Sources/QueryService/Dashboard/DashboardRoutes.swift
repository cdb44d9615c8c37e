import EventStore
import Foundation
import HTTP
import Referrals

/// How `makeRouter()` hands its route registration to the dashboard.
typealias RouteRegistration = (
    HTTPMethod, String, @escaping @Sendable (HTTPRequest, RouteParameters) async throws -> HTTPResponse
) -> Void

/// The coordinators' dashboard (API.md: `GET /`): server-rendered pages for a browser that logs in
/// with a token kept in an `HttpOnly`, `SameSite=Strict` cookie. The JSON API keeps its bearer
/// tokens; the cookie is accepted only by the routes here.
///
/// | route | does |
/// |---|---|
/// | `GET /` | the role's dashboard (coordinator, auditor, institution), or a redirect to `/login` |
/// | `GET /login`, `POST /login` | the login form; a valid token sets the cookie |
/// | `POST /logout` | clears the cookie |
/// | `GET /cases/{caseId}` | the case page (access-logged) |
/// | `GET /reports/annual?year=&lang=` | the annual report (coordinator, auditor; see `AnnualReportPage`) |
/// | `GET /dashboard/live` | SSE: `event: change` when events the caller may see were appended |
/// | `GET /assets/…` | the stylesheet, script and icon (no inline code, so a strict CSP) |
extension QueryService {
    func registerDashboard(_ on: RouteRegistration) {
        on(.GET, "/") { [self] r, _ in await page(r) { try await dashboardHome(r, $0) } }
        on(.GET, "/login") { [self] r, _ in await loginForm(r) }
        on(.POST, "/login") { [self] r, _ in await login(r) }
        on(.POST, "/logout") { [self] r, _ in logout(r) }
        on(.GET, "/cases/{caseId}") { [self] r, p in await page(r) { try await casePage(r, p, $0) } }
        on(.GET, "/dashboard/live") { [self] r, _ in try await dashboardLive(r) }
        on(.GET, "/assets/dashboard.css") { _, _ in DashboardAssets.response(DashboardAssets.css, type: "text/css") }
        on(.GET, "/assets/dashboard.js") { _, _ in
            DashboardAssets.response(DashboardAssets.script, type: "text/javascript")
        }
        on(.GET, "/assets/icon.svg") { _, _ in DashboardAssets.response(DashboardAssets.icon, type: "image/svg+xml") }
        on(.GET, "/reports/annual") { [self] r, _ in await page(r) { try await annualReportPage(r, $0) } }
        on(.GET, "/assets/report.css") { _, _ in DashboardAssets.response(AnnualReportPage.css, type: "text/css") }
    }

    // MARK: - Sessions

    /// The principal of the session cookie; nil without a cookie or with a token that no longer works.
    /// - Throws: 503 during an outage.
    func dashboardPrincipal(_ request: HTTPRequest) async throws -> Principal? {
        guard let token = DashboardSession.token(in: request) else { return nil }
        do {
            let principal = try await tokens.authenticate(token)
            RequestContext.current?.principal = principal
            return principal
        } catch { throw ServiceError.from(error) }
    }

    /// Runs a page for a signed-in principal: without a session, to the login page; errors as pages.
    private func page(
        _ request: HTTPRequest, _ body: (Principal) async throws -> HTTPResponse
    ) async -> HTTPResponse {
        var principal: Principal?
        do {
            principal = try await dashboardPrincipal(request)
            guard let principal else { return DashboardLayout.redirect(to: "/login") }
            return try await body(principal)
        } catch {
            return DashboardLayout.errorPage(ServiceError.from(error), principal: principal)
        }
    }

    private func loginForm(_ request: HTTPRequest, status: HTTPStatus = .ok, problem: String? = nil) async
        -> HTTPResponse
    {
        let alert: HTML = problem.map { "<p class=\"problem\" role=\"alert\" id=\"login-problem\">\($0)</p>" } ?? .empty
        let described: HTML = problem == nil ? .empty : " aria-describedby=\"login-problem\""
        let main: HTML = """
            <div class="login">
            <h1>Sign in to Handoff</h1>
            <p>Paste your API token. In the demo, the tokens are in <code>.handoff/tokens.json</code>: \
            <code>natc</code> is the coordinator, <code>audit</code> the auditor, the others are institutions.</p>
            \(alert)
            <form method="post" action="/login">
            <div class="field"><label for="token">API token</label>
            <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required\(described)></div>
            <button type="submit">Sign in</button>
            </form>
            </div>
            """
        return DashboardLayout.response(status, DashboardLayout.document(title: "Sign in", principal: nil, main: main))
    }

    /// `POST /login` with a form-encoded `token`: a valid token sets the cookie and goes to `/`.
    /// The token is never echoed back, not even when it is refused.
    private func login(_ request: HTTPRequest) async -> HTTPResponse {
        guard DashboardSession.isSameOrigin(request) else {
            return await loginForm(request, status: .forbidden, problem: "This form must be sent from this site.")
        }
        let form = QueryItems(percentEncoded: request.body) ?? QueryItems()
        let token = (form["token"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let principal: Principal?
        do {
            principal = try await tokens.authenticate(token)
        } catch {
            return DashboardLayout.errorPage(ServiceError.from(error), principal: nil)
        }
        guard principal != nil else {
            return await loginForm(
                request, status: .unauthorized, problem: "That token is not valid. Check it and try again.")
        }
        return DashboardLayout.redirect(
            to: "/", headers: ["Set-Cookie": DashboardSession.startCookie(token: token, request: request)])
    }

    private func logout(_ request: HTTPRequest) -> HTTPResponse {
        guard DashboardSession.isSameOrigin(request) else {
            return DashboardLayout.errorPage(
                ServiceError.forbidden("This form must be sent from this site."), principal: nil)
        }
        return DashboardLayout.redirect(
            to: "/login", headers: ["Set-Cookie": DashboardSession.endCookie(request: request)])
    }

    // MARK: - Pages

    private func dashboardHome(_ request: HTTPRequest, _ principal: Principal) async throws -> HTTPResponse {
        let board = DeadlineBoard(query: request.query)
        let now = Date()
        let main: HTML
        switch principal.role {
        case .coordinator, .auditor:
            main = try await coordinatorMain(request, principal, board: board, now: now)
        case .institution:
            guard let institution = principal.institution else { throw ServiceError.forbidden("No institution.") }
            main = try await institutionMain(request, principal, institution: institution, board: board, now: now)
        }
        let title = principal.role == .institution ? "Inbox and deadlines" : "Deadlines across institutions"
        return DashboardLayout.response(
            DashboardLayout.document(title: title, principal: principal, live: true, main: main))
    }

    /// The deadlines a board asks for, visible to `institution` (nil: all), with the full set's
    /// institutions and rules for the filter menus.
    private func boardRows(_ board: DeadlineBoard, visibleTo institution: String?) async throws -> (
        all: [DeadlineRow], shown: [DeadlineRow]
    ) {
        var all: [DeadlineRow] = []
        for status in board.status.statuses {
            all += try await readSide.deadlines(DeadlineFilter(status: status), visibleTo: institution)
        }
        return (all, board.apply(all))
    }

    private func filterMenus(_ rows: [DeadlineRow], board: DeadlineBoard) -> (
        institutions: [String], rules: [(id: String, title: String)]
    ) {
        var institutions = Set(rows.map(\.responsible))
        if let chosen = board.institution { institutions.insert(chosen) }
        var rules: [String: String] = [:]
        for row in rows { rules[row.ruleId] = row.title }
        if let chosen = board.rule, rules[chosen] == nil { rules[chosen] = chosen }
        return (
            institutions.sorted { DashboardLayout.institutionName($0) < DashboardLayout.institutionName($1) },
            rules.map { (id: $0.key, title: $0.value) }.sorted { $0.title < $1.title }
        )
    }

    private func coordinatorMain(
        _ request: HTTPRequest, _ principal: Principal, board: DeadlineBoard, now: Date
    ) async throws -> HTML {
        let (all, shown) = try await boardRows(board, visibleTo: nil)
        let attention =
            board.status == .attention
            ? all : try await boardRows(DeadlineBoard(), visibleTo: nil).all
        let report = try await readSide.stats(year: nil)
        let displayed = Array(shown.prefix(DeadlineBoard.rowLimit))
        try await accessLog.record(principal, caseIds: Set(displayed.map(\.caseId)), endpoint: Self.endpoint(request))
        let menus = filterMenus(all, board: board)
        let overdue = attention.filter { $0.status == .overdue }.count
        let dueSoon = attention.filter { $0.status == .dueSoon }.count
        let suppress = principal.role != .auditor
        var titles: [String: String] = [:]
        for row in all { titles[row.ruleId] = row.title }
        let ruleTitles = titles
        let byInstitution = DashboardTables.compliance(
            DashboardTables.aggregate(report.compliance, by: \.institution), keyHeader: "Institution",
            keyLabel: { HTML("\(DashboardLayout.institutionName($0))") },
            caption: "Deadline outcomes per responsible institution, all years."
                + (suppress ? " Counts under 5 are shown as <5." : ""),
            suppress: suppress, id: "compliance-institution")
        let byRule = DashboardTables.compliance(
            DashboardTables.aggregate(report.compliance, by: \.ruleId), keyHeader: "Rule",
            keyLabel: { id in
                ruleTitles[id].map { HTML("\($0)<span class=\"sub\">\(id)</span>") } ?? HTML("\(id)")
            },
            caption: "Deadline outcomes per SOP rule, all years."
                + (suppress ? " Counts under 5 are shown as <5." : ""),
            suppress: suppress, id: "compliance-rule")
        var auditPanel: HTML = .empty
        if principal.role == .auditor {
            let entries = try await accessLog.entries(limit: 50).entries
            auditPanel = """
                <section aria-labelledby="access-h"><h2 id="access-h">Access log</h2>
                <div data-live-region id="access-region">\(DashboardTables.accessLog(entries, caption: "The 50 newest reads of case data, newest first, refused attempts included.", id: "access"))</div>
                </section>
                """
        }
        return """
            <h1>Deadlines across institutions</h1>
            <p class="lede">SOP deadlines of every institution, as the National Anti-Trafficking Coordinator sees them.\
            \(principal.role == .auditor ? " Read-only: auditors see counts unsuppressed and the access log." : "")</p>
            <p class="live-status" id="live-status" role="status">Live updates start when the page has loaded.</p>
            <div data-live-region id="tiles-region" class="tiles">
            <a class="tile overdue" href="/?status=overdue"><span class="n">\(overdue)</span> overdue</a>
            <a class="tile due-soon" href="/?status=due-soon"><span class="n">\(dueSoon)</span> due soon</a>
            <p class="updated">As of \(DashboardLayout.time(now))</p>
            </div>
            <section aria-labelledby="deadlines-h"><h2 id="deadlines-h">\(board.status.label)</h2>
            \(DashboardTables.deadlineFilters(board, institutions: menus.institutions, rules: menus.rules, action: "/"))
            <div data-live-region id="deadlines-region">\(DashboardTables.deadlines(shown, total: shown.count, board: board, caption: "Deadlines: \(board.status.label.lowercased())\(board.institution.map { ", responsible: " + DashboardLayout.institutionName($0) } ?? "")\(board.rule.map { ", rule: " + $0 } ?? "").", now: now, action: "/", id: "deadlines"))</div>
            </section>
            <div class="columns">
            <section aria-labelledby="ci-h"><h2 id="ci-h">Compliance per institution</h2>
            <div data-live-region id="ci-region">\(byInstitution)</div></section>
            <section aria-labelledby="cr-h"><h2 id="cr-h">Compliance per rule</h2>
            <div data-live-region id="cr-region">\(byRule)</div></section>
            </div>
            \(auditPanel)
            """
    }

    private func institutionMain(
        _ request: HTTPRequest, _ principal: Principal, institution: String, board: DeadlineBoard, now: Date
    ) async throws -> HTML {
        let items = try await readSide.inbox(institution: institution)
        let (all, shown) = try await boardRows(board, visibleTo: institution)
        let displayed = shown.prefix(DeadlineBoard.rowLimit)
        try await accessLog.record(
            principal, caseIds: Set(items.map(\.caseId) + displayed.map(\.caseId)), endpoint: Self.endpoint(request))
        let menus = filterMenus(all, board: board)
        let name = DashboardLayout.institutionName(institution)
        return """
            <h1>\(name)</h1>
            <p class="lede">Your inbox and the deadlines of the cases you are party to.</p>
            <p class="live-status" id="live-status" role="status">Live updates start when the page has loaded.</p>
            <section aria-labelledby="inbox-h"><h2 id="inbox-h">Inbox</h2>
            <div data-live-region id="inbox-region">\(DashboardTables.inbox(items, institution: institution, now: now))</div>
            </section>
            <section aria-labelledby="deadlines-h"><h2 id="deadlines-h">Deadlines of your cases: \(board.status.label.lowercased())</h2>
            \(DashboardTables.deadlineFilters(board, institutions: menus.institutions, rules: menus.rules, action: "/"))
            <div data-live-region id="deadlines-region">\(DashboardTables.deadlines(shown, total: shown.count, board: board, caption: "Deadlines of cases \(name) is party to.", now: now, action: "/", id: "deadlines"))</div>
            </section>
            """
    }

    private func casePage(_ request: HTTPRequest, _ params: RouteParameters, _ principal: Principal) async throws
        -> HTTPResponse
    {
        let caseId = try Self.caseId(params)
        let loaded = try await caseRead(request, principal, caseId: caseId) {
            try await authorizeCaseRead(principal, caseId: caseId)
        }
        guard let state = loaded.state else { throw Self.noSuchCase }
        let notices = try await store.readAll(stream: StreamName.sop(caseId)!)
        let events = (loaded.recorded + notices).sorted { $0.cursor < $1.cursor }
        let mayVerify = principal.role == .coordinator || principal.role == .auditor
        let chain = mayVerify ? try await store.verify(stream: StreamName.case(caseId)!) : nil
        let deadlines = try await readSide.deadlines(
            DeadlineFilter(caseId: caseId), visibleTo: principal.role == .institution ? principal.institution : nil)
        try await accessLog.record(principal, caseIds: [caseId], endpoint: Self.endpoint(request))
        let access =
            principal.role == .auditor
            ? try await accessLog.entries(AccessLog.Filter(caseId: caseId), limit: 50).entries : nil
        let record = principal.role == .auditor ? try await store.verifyAccessRecord(caseId: caseId) : nil
        let main = CasePage.render(
            caseId: caseId, state: state, lines: CasePage.lines(events, state: state), chain: chain,
            deadlines: deadlines, access: access, accessRecord: record, now: Date())
        return DashboardLayout.response(
            DashboardLayout.document(title: "Case \(caseId)", principal: principal, main: main))
    }

    // MARK: - Live updates

    /// `GET /dashboard/live`: an event stream that says `change` whenever events the caller may
    /// see were appended, so the page re-reads itself. It carries no case data (only how many
    /// events), so it is not access-logged; the page's re-read is.
    private func dashboardLive(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard let principal = try await dashboardPrincipal(request) else {
            return .text(.unauthorized, "Sign in first.\n", headers: ["Cache-Control": "no-store"])
        }
        let start = try await store.headCursor()
        let headers: HTTPHeaders = [
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
        ]
        return .stream(headers: headers) { [self] writer in
            metrics.sseClientConnected()
            defer { metrics.sseClientDisconnected() }
            try await follow(writer, principal: principal, from: start, types: nil, pageSize: 500, retryMilliseconds: 3000) {
                "event: change\ndata: {\"events\":\($0.count)}\n\n"
            }
        }
    }
}
