import Foundation
import HTTP
import Referrals
import ServiceStore

/// The frame every dashboard page shares, the response headers of a page, and small renderings
/// (times, statuses, names) used on several pages.
enum DashboardLayout {
    /// No inline script or style anywhere: everything comes from `/assets/`.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// Headers of every dashboard page: HTML, the CSP, and nothing cached (pages hold case data).
    static func pageHeaders() -> HTTPHeaders {
        [
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": contentSecurityPolicy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",  // "no-referrer" would make browsers send `Origin: null` on our own POSTs
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
        ]
    }

    static func response(_ page: HTML) -> HTTPResponse { response(.ok, page) }

    static func response(_ status: HTTPStatus, _ page: HTML, headers extra: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = pageHeaders()
        for field in extra { headers.add(name: field.name, value: field.value) }
        return HTTPResponse(status: status, headers: headers, bytes: Array(page.text.utf8))
    }

    /// A `303 See Other` to `location` (after a form POST, or to the login page).
    static func redirect(to location: String, headers extra: HTTPHeaders = [:]) -> HTTPResponse {
        var headers: HTTPHeaders = ["Location": location, "Cache-Control": "no-store"]
        for field in extra { headers.add(name: field.name, value: field.value) }
        return HTTPResponse(status: HTTPStatus(code: 303, reasonPhrase: "See Other"), headers: headers, bytes: [])
    }

    /// A whole page in `locale`'s language (`<html lang>`, the language switch, and a note while
    /// the translation is unreviewed). `live`: the page refreshes its `data-live-region` parts
    /// when the live stream reports a change. `session`: who is signed in (its logout form carries
    /// the session's CSRF token).
    static func document(
        _ locale: PageLocale, title: String, session: SessionStore.Session?, live: Bool = false, main: HTML
    ) -> HTML {
        let t = locale.t
        let liveAttribute: HTML = live ? " data-live-url=\"/dashboard/live\"" : ""
        return """
            <!doctype html>
            <html lang="\(t.language.tag)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · Handoff</title>
            <link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
            <link rel="stylesheet" href="/assets/dashboard.css">
            <script src="/assets/dashboard.js" defer></script>
            </head>
            <body\(liveAttribute)>
            <a class="skip" href="#main">\(t("layout.skip"))</a>
            <header class="bar">
            <a class="brand" href="/">Handoff</a>
            <span class="synthetic">\(t("layout.synthetic"))</span>
            \(locale.languageSwitch)
            \(session.map { signedIn($0, t) } ?? .empty)
            </header>
            \(locale.notes)
            <main id="main" tabindex="-1">
            \(main)
            </main>
            </body>
            </html>

            """
    }

    private static func signedIn(_ session: SessionStore.Session, _ t: Localizer) -> HTML {
        let principal = session.principal
        let role = roleLabel(principal, t)
        let who = t.html("layout.signedIn", ["user": "<strong>\(principal.user)</strong>", "role": "\(role)"])
        // A person's account may enrol (or see that it has) a one-time code.
        let codes: HTML =
            session.accountId == nil ? .empty : "<a href=\"/account/one-time-code\">\(t("enrol.link"))</a>"
        return """
            <div class="who"><span>\(who)</span>\(codes)
            <form method="post" action="/logout"><input type="hidden" name="csrf" value="\(session.csrfToken)">\
            <button type="submit">\(t("layout.logout"))</button></form></div>
            """
    }

    static func roleLabel(_ principal: Principal, _ t: Localizer) -> String {
        switch principal.role {
        case .coordinator: return t("role.coordinator")
        case .auditor: return t("role.auditor")
        case .institution: return principal.institution.map { institutionName($0, t) } ?? t("role.institution")
        }
    }

    /// An error as a page, in the person's language: a title and message per status (the
    /// service's own message is English and for the API; the page says the same in the catalogue's words).
    static func errorPage(_ error: ServiceError, session: SessionStore.Session?, locale: PageLocale) -> HTTPResponse {
        let t = locale.t
        let status = [400, 401, 403, 404, 429, 503].contains(error.status.code) ? String(error.status.code) : "other"
        let title = t("error.title." + status)
        let main: HTML = """
            <h1>\(title)</h1>
            <p role="alert">\(t("error.message." + status))</p>
            <p><a href="/">\(t("error.back"))</a></p>
            """
        var extra: HTTPHeaders = [:]
        if error.status.code == 503 { extra["Retry-After"] = "1" }
        if error.status.code == 429 { extra["Retry-After"] = String(error.retryAfter ?? 10) }
        return locale.apply(
            response(error.status, document(locale, title: title, session: session, main: main), headers: extra))
    }

    // MARK: - Small renderings

    /// A display name for an institution id in the page's language: the catalogue's name for a
    /// known institution, else the registered name, else the id (`role:<kind>` and unknown ids).
    static func institutionName(_ id: String, _ t: Localizer) -> String {
        t.optional("institution." + id) ?? Institution.demo.first { $0.id == id }?.name ?? id
    }

    /// A rule's title in the page's language, the one definition of which title wins
    /// (docs/rulesets.md): the published ruleset's own title in that language (`titles`), else
    /// the catalogue's `rule.<id>` (rulesets published without `titles`), else the ruleset's
    /// English `title`, else `fallback` (the English title stored with the deadline).
    static func ruleTitle(_ id: String, fallback: String, _ t: Localizer) -> String {
        t.ruleTitles.rule(id, in: t.language.tag) ?? t.optional("rule." + id) ?? t.ruleTitles.rule(id, in: "en")
            ?? fallback
    }

    /// `<time>` with the machine-readable instant and the local time with its zone
    /// (`6.12.2026 14:02 CET`).
    static func time(_ date: Date, _ t: Localizer) -> HTML {
        "<time datetime=\"\(Timestamp.format(date))\">\(t.dateTime(date))</time>"
    }

    /// A stored timestamp text (`2026-11-22 10:00:00.123+00`) as `<time>`.
    static func time(stored text: String, _ t: Localizer) -> HTML {
        guard let date = Timestamp.parse(text) ?? parseStored(text) else { return "\(text)" }
        return time(date, t)
    }

    private static func parseStored(_ text: String) -> Date? {
        Timestamp.parse(text.replacingOccurrences(of: " ", with: "T") + (text.hasSuffix("+00") ? ":00" : ""))
    }

    static func statusLabel(_ status: DeadlineFilter.Status, _ t: Localizer) -> String {
        t("status." + status.rawValue)
    }

    /// A status as a badge; the text carries the meaning, colour only repeats it.
    static func badge(_ status: DeadlineFilter.Status, _ t: Localizer) -> HTML {
        "<span class=\"badge \(status.rawValue)\">\(statusLabel(status, t))</span>"
    }

    static func caseLink(_ caseId: String) -> HTML {
        "<a href=\"/cases/\(HTML.queryValue(caseId))\">\(caseId)</a>"
    }
}
