import EventStore
import Foundation
import HTTP
import Referrals
import ServiceStore

/// How `makeRouter()` hands its route registration to the dashboard.
typealias RouteRegistration = (
    HTTPMethod, String, @escaping @Sendable (HTTPRequest, RouteParameters) async throws -> HTTPResponse
) -> Void

/// The coordinators' dashboard (API.md: `GET /`): server-rendered pages for a browser that logs in
/// with a token once and then holds a server-side session (``SessionStore``) through an
/// `HttpOnly`, `SameSite=Strict` cookie of a random id. The JSON API keeps its bearer tokens; the
/// cookie is accepted only by the routes here.
///
/// | route | does |
/// |---|---|
/// | `GET /` | the role's dashboard (coordinator, auditor, institution), or a redirect to `/login` |
/// | `GET /login`, `POST /login` | the sign-in forms: a person's password and one-time code (see `SignInPages`), or (`?with=token`) an API token; either starts a session and sets its cookie |
/// | `POST /logout` | ends the session (its CSRF token required) and clears the cookie |
/// | `GET /cases/{caseId}` | the case page (access-logged), with the forms of what an institution may record |
/// | `POST /cases`, `POST /cases/{caseId}/events` | an institution's forms (``registerForms(_:)``) |
/// | `GET /reports/annual?year=&lang=` | the annual report (coordinator, auditor; see `AnnualReportPage`) |
/// | `GET /dashboard/live` | SSE: `event: change` when events the caller may see were appended |
/// | `GET /assets/…` | the stylesheet, script and icon (no inline code, so a strict CSP) |
extension QueryService {
    func registerDashboard(_ on: RouteRegistration) {
        on(.GET, "/") { [self] r, _ in await page(r) { try await dashboardHome(r, $0, $1) } }
        on(.GET, "/login") { [self] r, _ in
            r.query["with"] == "token" ? await loginForm(r) : await signInForm(r)
        }
        on(.POST, "/login") { [self] r, _ in await login(r) }
        on(.POST, "/logout") { [self] r, _ in await logout(r) }
        on(.GET, "/cases/{caseId}") { [self] r, p in await page(r) { try await casePage(r, p, $0, $1) } }
        registerForms(on)
        on(.GET, "/dashboard/live") { [self] r, _ in try await dashboardLive(r) }
        on(.GET, "/assets/dashboard.css") { _, _ in DashboardAssets.response(DashboardAssets.css, type: "text/css") }
        on(.GET, "/assets/dashboard.js") { _, _ in
            DashboardAssets.response(DashboardAssets.script, type: "text/javascript")
        }
        on(.GET, "/assets/icon.svg") { _, _ in DashboardAssets.response(DashboardAssets.icon, type: "image/svg+xml") }
        // Pages without an icon link (the annual report) make browsers ask for this one.
        on(.GET, "/favicon.ico") { _, _ in DashboardAssets.response(DashboardAssets.icon, type: "image/svg+xml") }
        on(.GET, "/reports/annual") { [self] r, _ in
            await page(r) { session, locale in try await annualReportPage(r, session, locale) }
        }
        on(.GET, "/assets/report.css") { _, _ in DashboardAssets.response(AnnualReportPage.css, type: "text/css") }
        registerSignIn(on)
    }

    // MARK: - Sessions

    /// The live session of the request's cookie (marked as used); nil without a cookie, or when
    /// the session ended, expired, or its token was revoked or its account disabled — and while
    /// it may only enrol a one-time code (``anySession(_:)`` returns those too). - Throws: 503
    /// during an outage.
    func dashboardSession(_ request: HTTPRequest, automatic: Bool = false) async throws -> SessionStore.Session? {
        guard let session = try await anySession(request, automatic: automatic), !session.enrolmentPending else {
            return nil
        }
        return session
    }

    /// The language of a page for `request` (LanguageChoice: `?lang=`, cookie, `Accept-Language`,
    /// the deployment's default) and its time zone.
    func pageLocale(_ request: HTTPRequest) -> PageLocale {
        PageLocale(
            request, defaultLanguage: configuration.defaultLanguage, timeZone: configuration.timeZone,
            ruleTitles: rulesets.titles)
    }

    /// Runs a page for a signed-in principal: without a session, to the login page; errors as pages.
    /// Every answer carries the language cookie when the switch chose the language.
    func page(
        _ request: HTTPRequest, _ body: (SessionStore.Session, PageLocale) async throws -> HTTPResponse
    ) async -> HTTPResponse {
        _ = try? await rulesets.current()  // fresh rule titles (at most one small read every 2 s)
        let locale = pageLocale(request)
        var session: SessionStore.Session?
        do {
            session = try await anySession(request)
            guard let session else { return locale.apply(DashboardLayout.redirect(to: "/login")) }
            // A coordinator or auditor who has not enrolled a one-time code may do nothing else.
            if session.enrolmentPending { return locale.apply(DashboardLayout.redirect(to: Self.enrolmentPath)) }
            return locale.apply(try await body(session, locale))
        } catch {
            return DashboardLayout.errorPage(ServiceError.from(error), session: session, locale: locale)
        }
    }

    private func loginForm(_ request: HTTPRequest, status: HTTPStatus = .ok, problem: String? = nil) async
        -> HTTPResponse
    {
        let locale = pageLocale(request)
        let t = locale.t
        let alert: HTML = problem.map { "<p class=\"problem\" role=\"alert\" id=\"login-problem\">\($0)</p>" } ?? .empty
        let described: HTML = problem == nil ? .empty : " aria-describedby=\"login-problem\""
        // Where the demo keeps its tokens: on the demo's page only.
        let help: HTML =
            configuration.showsDemoHints
            ? """
            <p>\(t.html("login.help", [
                "file": "<code>.handoff/tokens.json</code>", "coordinator": "<code>natc</code>",
                "auditor": "<code>audit</code>",
            ]))</p>
            """ : .empty
        let main: HTML = """
            <div class="login">
            <h1>\(t("login.heading", ["app": "Handoff"]))</h1>
            \(help)
            \(alert)
            <form method="post" action="/login">
            <div class="field"><label for="token">\(t("login.token"))</label>
            <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required\(described)></div>
            <button type="submit">\(t("login.submit"))</button>
            </form>
            <p><a href="/login" id="password-sign-in-link">\(t("signin.withPassword"))</a></p>
            </div>
            """
        return locale.apply(
            DashboardLayout.response(
                status, DashboardLayout.document(locale, title: t("login.title"), session: nil, main: main)))
    }

    /// `POST /login` with a form-encoded `token`: a valid token starts a session, sets its cookie
    /// and goes to `/`. The token is never echoed back, not even when it is refused, and never
    /// put in the cookie.
    private func login(_ request: HTTPRequest) async -> HTTPResponse {
        let form = QueryItems(percentEncoded: request.body) ?? QueryItems()
        guard cookies.isSameOrigin(request) else {
            let problem = pageLocale(request).t("login.foreignOrigin")
            return form["token"] == nil
                ? await signInForm(request, status: .forbidden, problem: problem)
                : await loginForm(request, status: .forbidden, problem: problem)
        }
        // A person's account signs in with `user` and `password`; operators and machine
        // clients with an API `token`.
        guard form["token"] != nil else { return await accountLogin(request, form) }
        let token = (form["token"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let secret: String
        do {
            guard let credential = try await tokens.credential(token) else {
                return await loginForm(
                    request, status: .unauthorized, problem: pageLocale(request).t("login.badToken"))
            }
            // A session the browser held before (perhaps someone else's) ends with this sign-in,
            // as with a person's password.
            if let old = cookies.secret(in: request) { try await sessions.end(old) }
            secret = try await sessions.start(for: credential).secret
        } catch {
            return DashboardLayout.errorPage(ServiceError.from(error), session: nil, locale: pageLocale(request))
        }
        return pageLocale(request).apply(
            DashboardLayout.redirect(to: "/", headers: ["Set-Cookie": cookies.startCookie(secret: secret)]))
    }

    /// `POST /logout` with the session's `csrf` field: ends the session on the server and clears
    /// the cookie. Without a live session there is nothing to end: the cookie is cleared.
    private func logout(_ request: HTTPRequest) async -> HTTPResponse {
        guard cookies.isSameOrigin(request) else {
            return DashboardLayout.errorPage(
                ServiceError.forbidden("This form must be sent from this site."), session: nil,
                locale: pageLocale(request))
        }
        do {
            if let secret = cookies.secret(in: request), let session = try await sessions.resume(secret) {
                let form = QueryItems(percentEncoded: request.body) ?? QueryItems()
                guard DashboardSession.csrfMatches(form, session) else {
                    return DashboardLayout.errorPage(
                        ServiceError.forbidden("This form has expired; reload the page and try again."),
                        session: session, locale: pageLocale(request))
                }
                try await sessions.end(secret)
            }
        } catch {
            return DashboardLayout.errorPage(ServiceError.from(error), session: nil, locale: pageLocale(request))
        }
        return DashboardLayout.redirect(to: "/login", headers: ["Set-Cookie": cookies.endCookie()])
    }

    // MARK: - Pages

    /// The role's dashboard; `feedback`: the refusal of the open-case form just sent, shown in it.
    func dashboardHome(
        _ request: HTTPRequest, _ session: SessionStore.Session, _ locale: PageLocale,
        feedback: CaseForm.Feedback? = nil
    ) async throws -> HTTPResponse {
        let principal = session.principal
        let t = locale.t
        let board = DeadlineBoard(query: request.query)
        let now = Date()
        let main: HTML
        switch principal.role {
        case .coordinator, .auditor:
            main = try await coordinatorMain(request, principal, board: board, now: now, t)
        case .institution:
            guard let institution = principal.institution else { throw ServiceError.forbidden("No institution.") }
            main = try await institutionMain(
                request, session, institution: institution, board: board, now: now, feedback: feedback, t)
        }
        let title = t(principal.role == .institution ? "home.titleInstitution" : "home.titleCoordinator")
        return DashboardLayout.response(
            feedback?.status ?? .ok,
            DashboardLayout.document(locale, title: title, session: session, live: true, main: main))
    }

    /// The deadlines a board asks for, visible to `institution` (nil: all), with the full set's
    /// institutions and rules for the filter menus.
    private func boardRows(_ board: DeadlineBoard, visibleTo institution: String?) async throws -> (
        all: [DeadlineRow], shown: [DeadlineRow]
    ) {
        var all: [DeadlineRow] = []
        for status in board.status.statuses {
            all += try await readSide.deadlines(
                DeadlineFilter(status: status, caseStatus: board.caseStatus), visibleTo: institution)
        }
        return (all, board.apply(all))
    }

    private func filterMenus(_ rows: [DeadlineRow], board: DeadlineBoard, _ t: Localizer) -> (
        institutions: [String], rules: [(id: String, title: String)]
    ) {
        var institutions = Set(rows.map(\.responsible))
        if let chosen = board.institution { institutions.insert(chosen) }
        var rules: [String: String] = [:]
        for row in rows { rules[row.ruleId] = DashboardLayout.ruleTitle(row.ruleId, fallback: row.title, t) }
        if let chosen = board.rule, rules[chosen] == nil { rules[chosen] = chosen }
        return (
            institutions.sorted { DashboardLayout.institutionName($0, t) < DashboardLayout.institutionName($1, t) },
            rules.map { (id: $0.key, title: $0.value) }.sorted { $0.title < $1.title }
        )
    }

    private func coordinatorMain(
        _ request: HTTPRequest, _ principal: Principal, board: DeadlineBoard, now: Date, _ t: Localizer
    ) async throws -> HTML {
        let (all, shown) = try await boardRows(board, visibleTo: nil)
        let attention =
            board.status == .attention
            ? all : try await boardRows(DeadlineBoard(), visibleTo: nil).all
        let report = try await readSide.stats(year: nil)
        // Unfiltered, the board shares its rows among the institutions responsible.
        let (displayed, leftOut) =
            board.institution == nil
            ? DeadlineBoard.fairShare(shown, limit: DeadlineBoard.rowLimit)
            : (Array(shown.prefix(DeadlineBoard.rowLimit)), [:])
        try await accessLog.record(principal, caseIds: Set(displayed.map(\.caseId)), endpoint: Self.endpoint(request))
        let menus = filterMenus(all, board: board, t)
        let overdue = attention.filter { $0.status == .overdue }.count
        let dueSoon = attention.filter { $0.status == .dueSoon }.count
        let suppress = principal.role != .auditor
        var titles: [String: String] = [:]
        for row in all { titles[row.ruleId] = DashboardLayout.ruleTitle(row.ruleId, fallback: row.title, t) }
        let ruleTitles = titles
        let byInstitution = DashboardTables.compliance(
            DashboardTables.aggregate(report.compliance, by: \.institution), keyHeader: t("col.institution"),
            keyLabel: { HTML("\(DashboardLayout.institutionName($0, t))") },
            caption: t("compliance.captionInstitution") + (suppress ? " " + t("compliance.suppressed") : ""),
            suppress: suppress, id: "compliance-institution", t)
        let byRule = DashboardTables.compliance(
            DashboardTables.aggregate(report.compliance, by: \.ruleId), keyHeader: t("col.rule"),
            keyLabel: { id in
                let title = ruleTitles[id] ?? t.optional("rule." + id)
                return title.map { HTML("\($0)<span class=\"sub\">\(id)</span>") } ?? HTML("\(id)")
            },
            caption: t("compliance.captionRule") + (suppress ? " " + t("compliance.suppressed") : ""),
            suppress: suppress, id: "compliance-rule", t)
        let findings = DashboardTables.consentFindings(report.counts, suppress: suppress, t)
        var auditPanel: HTML = .empty
        if principal.role == .auditor {
            let entries = try await accessLog.entries(limit: 50).entries
            auditPanel = """
                <section aria-labelledby="access-h"><h2 id="access-h">\(t("audit.heading"))</h2>
                <div data-live-region id="access-region">\(DashboardTables.accessLog(entries, caption: t("audit.caption", ["n": "50"]), id: "access", t))</div>
                </section>
                """
        }
        let responsible = board.institution.map {
            t("board.captionResponsible", ["name": DashboardLayout.institutionName($0, t)])
        }
        let caption =
            t("board.caption", ["status": board.status.label(t).lowercased()]) + (responsible ?? "")
            + (board.rule.map { t("board.captionRule", ["rule": $0]) } ?? "") + "."
        let tiles: HTML = """
            <a class="tile overdue" href="/?status=overdue">\(t.html("board.tileOverdue", ["n": "<span class=\"n\">\(overdue)</span>"]))</a>
            <a class="tile due-soon" href="/?status=due-soon">\(t.html("board.tileDueSoon", ["n": "<span class=\"n\">\(dueSoon)</span>"]))</a>
            <p class="updated">\(t.html("board.asOf", ["time": DashboardLayout.time(now, t)]))</p>
            """
        return """
            <h1>\(t("home.titleCoordinator"))</h1>
            <p class="lede">\(t("board.lede"))\
            \(principal.role == .auditor ? " " + t("board.auditorNote") : "")</p>
            \(Self.liveStatus(t))
            <div data-live-region id="tiles-region" class="tiles">
            \(tiles)
            </div>
            <section aria-labelledby="deadlines-h"><h2 id="deadlines-h">\(board.status.label(t))</h2>
            \(DashboardTables.deadlineFilters(board, institutions: menus.institutions, rules: menus.rules, action: "/", t))
            <div data-live-region id="deadlines-region">\(DashboardTables.deadlines(displayed, total: shown.count, board: board, caption: caption, now: now, action: "/", id: "deadlines", t))\
            \(DashboardTables.leftOut(leftOut, board: board, t))</div>
            </section>
            <div class="columns">
            <section aria-labelledby="ci-h"><h2 id="ci-h">\(t("compliance.byInstitution"))</h2>
            <div data-live-region id="ci-region">\(byInstitution)</div></section>
            <section aria-labelledby="cr-h"><h2 id="cr-h">\(t("compliance.byRule"))</h2>
            <div data-live-region id="cr-region">\(byRule)</div></section>
            </div>
            <section aria-labelledby="consent-h"><h2 id="consent-h">\(t("consent.heading"))</h2>
            <div data-live-region id="consent-region">\(findings)</div></section>
            \(auditPanel)
            """
    }

    /// The live-update status line; the script takes its messages, in the page's language, from
    /// the element's `data-msg-*` attributes.
    static func liveStatus(_ t: Localizer) -> HTML {
        """
        <p class="live-status" id="live-status" role="status" data-msg-old-browser="\(t("live.oldBrowser"))" \
        data-msg-updated="\(t("live.updated"))" data-msg-failed="\(t("live.failed"))" \
        data-msg-connected="\(t("live.connected"))" data-msg-reconnecting="\(t("live.reconnecting"))">\
        \(t("live.waiting"))</p>
        """
    }

    private func institutionMain(
        _ request: HTTPRequest, _ session: SessionStore.Session, institution: String, board: DeadlineBoard,
        now: Date, feedback: CaseForm.Feedback?, _ t: Localizer
    ) async throws -> HTML {
        let principal = session.principal
        let items = try await readSide.inbox(institution: institution)
        // The inbox's steps carry each case's version as the case's own stream has it.
        let streams = Set(items.prefix(DeadlineBoard.rowLimit).compactMap { StreamName.case($0.caseId) })
        var versions: [String: Int64] = [:]
        for (stream, version) in try await store.versions(of: streams) {
            if let caseId = stream.caseId { versions[caseId] = version }
        }
        let opening = CaseFormView(
            action: "/cases", csrf: session.csrfToken, expectedVersion: nil, now: now,
            kinds: try await institutions.known(), own: institution, feedback: feedback, t: t)
        let (all, shown) = try await boardRows(board, visibleTo: institution)
        let displayed = shown.prefix(DeadlineBoard.rowLimit)
        try await accessLog.record(
            principal, caseIds: Set(items.map(\.caseId) + displayed.map(\.caseId)), endpoint: Self.endpoint(request))
        let menus = filterMenus(all, board: board, t)
        let name = DashboardLayout.institutionName(institution, t)
        return """
            <h1>\(name)</h1>
            <p class="lede">\(t("institution.lede"))</p>
            \(Self.liveStatus(t))
            <section aria-labelledby="inbox-h"><h2 id="inbox-h">\(t("inbox.heading"))</h2>
            <div data-live-region id="inbox-region">\(DashboardTables.inbox(items, institution: institution, now: now, t) { item in
                CaseFormView.inboxActions(item, version: versions[item.caseId], csrf: session.csrfToken, t)
            })</div>
            </section>
            \(CaseFormView.openingSection(opening))
            <section aria-labelledby="deadlines-h"><h2 id="deadlines-h">\(t("inbox.deadlinesHeading", ["status": board.status.label(t).lowercased()]))</h2>
            \(DashboardTables.deadlineFilters(board, institutions: menus.institutions, rules: menus.rules, action: "/", t))
            <div data-live-region id="deadlines-region">\(DashboardTables.deadlines(shown, total: shown.count, board: board, caption: t("inbox.deadlinesCaption", ["name": name]), now: now, action: "/", id: "deadlines", t))</div>
            </section>
            """
    }

    /// The case page; `feedback`: the refusal of the form just sent, shown in that form (and
    /// answered with its status).
    func casePage(
        _ request: HTTPRequest, _ params: RouteParameters, _ session: SessionStore.Session, _ locale: PageLocale,
        feedback: CaseForm.Feedback? = nil
    ) async throws -> HTTPResponse {
        let principal = session.principal
        let caseId = try Self.caseId(params)
        let loaded = try await caseRead(request, principal, caseId: caseId) {
            try await authorizeCaseRead(principal, caseId: caseId)
        }
        guard let state = loaded.state else { throw Self.noSuchCase }
        let notices = try await store.readAll(stream: StreamName.sop(caseId)!)
        let events = loaded.history(with: notices)
        let mayVerify = principal.role == .coordinator || principal.role == .auditor
        let chain = mayVerify ? try await store.verifyCase(caseId)?.report : nil
        let deadlines = try await readSide.deadlines(
            DeadlineFilter(caseId: caseId), visibleTo: principal.role == .institution ? principal.institution : nil)
        try await accessLog.record(principal, caseIds: [caseId], endpoint: Self.endpoint(request))
        // The auditor pages back through who read the case, 50 reads at a time (`?reads=` the
        // cursor of `GET /v1/audit/access`): a non-party's refused probes cannot push a party's
        // reads out of sight (an eleventh attack pass filled the page with them).
        let olderThan = request.query["reads"].flatMap(AccessCursor.init(encoded:))
        let access =
            principal.role == .auditor
            ? try await accessLog.entries(AccessLog.Filter(caseId: caseId), after: olderThan, limit: 50) : nil
        let record = principal.role == .auditor ? try await store.verifyAccessRecord(caseId: caseId) : nil
        let now = Date()
        var forms: HTML = .empty
        if principal.role == .institution, let institution = principal.institution {
            let view = CaseFormView(
                action: "/cases/\(HTML.queryValue(caseId))/events", csrf: session.csrfToken,
                expectedVersion: loaded.version, now: now, kinds: try await institutions.known(),
                own: institution, feedback: feedback, t: locale.t)
            forms = CaseFormView.caseSection(principal, state: state, view: view)
        }
        let main = CasePage.render(
            caseId: caseId, state: state, lines: CasePage.lines(events, state: state), chain: chain,
            deadlines: deadlines, access: access, accessPaged: olderThan != nil, accessRecord: record, forms: forms,
            now: now, locale.t)
        return DashboardLayout.response(
            feedback?.status ?? .ok,
            DashboardLayout.document(
                locale, title: locale.t("case.title", ["id": caseId]), session: session, main: main))
    }

    // MARK: - Live updates

    /// `GET /dashboard/live`: an event stream that says `change` whenever events the caller may
    /// see were appended, so the page re-reads itself. It carries no case data (only how many
    /// events), so it is not access-logged; the page's re-read is.
    private func dashboardLive(_ request: HTTPRequest) async throws -> HTTPResponse {
        // Opened by the page itself (and again after every reconnect): not a sign of the person.
        guard let session = try await dashboardSession(request, automatic: true) else {
            return .text(.unauthorized, "Sign in first.\n", headers: ["Cache-Control": "no-store"])
        }
        // Counted with the API streams of the token behind the session; an account's sessions
        // together, in a key space of their own (``SessionStore/Session/streamKey``).
        let lease = try streamLease(session.streamKey)
        let start = try await store.headCursor()
        return eventStreamResponse(lease) { [self] writer in
            try await follow(
                writer, principal: session.principal, from: start, types: nil, pageSize: 500,
                retryMilliseconds: 3000, stillAllowed: { [sessions] in try await sessions.isLive(id: session.id) }
            ) {
                "event: change\ndata: {\"events\":\($0.count)}\n\n"
            }
        }
    }
}
