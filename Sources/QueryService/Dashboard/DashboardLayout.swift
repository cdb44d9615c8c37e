import Foundation
import HTTP
import Referrals

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

    /// A whole page. `live`: the page refreshes its `data-live-region` parts when the live
    /// stream reports a change.
    /// `session`: who is signed in (its logout form carries the session's CSRF token).
    static func document(title: String, session: SessionStore.Session?, live: Bool = false, main: HTML) -> HTML {
        let liveAttribute: HTML = live ? " data-live-url=\"/dashboard/live\"" : ""
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · Handoff</title>
            <link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
            <link rel="stylesheet" href="/assets/dashboard.css">
            <script src="/assets/dashboard.js" defer></script>
            </head>
            <body\(liveAttribute)>
            <a class="skip" href="#main">Skip to content</a>
            <header class="bar">
            <a class="brand" href="/">Handoff</a>
            <span class="synthetic">Synthetic data</span>
            \(session.map(signedIn) ?? .empty)
            </header>
            <main id="main" tabindex="-1">
            \(main)
            </main>
            </body>
            </html>

            """
    }

    private static func signedIn(_ session: SessionStore.Session) -> HTML {
        """
        <div class="who"><span>Signed in as <strong>\(session.principal.user)</strong> \
        (\(roleLabel(session.principal)))</span>
        <form method="post" action="/logout"><input type="hidden" name="csrf" value="\(session.csrfToken)">\
        <button type="submit">Log out</button></form></div>
        """
    }

    static func roleLabel(_ principal: Principal) -> String {
        switch principal.role {
        case .coordinator: return "coordinator"
        case .auditor: return "auditor, read-only"
        case .institution: return principal.institution.map(institutionName) ?? "institution"
        }
    }

    /// An error as a page (the message is one of the service's safe messages).
    static func errorPage(_ error: ServiceError, session: SessionStore.Session?) -> HTTPResponse {
        let title: String =
            switch error.status.code {
            case 403: "Not allowed"
            case 404: "Not found"
            case 400: "Bad request"
            case 503: "Unavailable"
            default: "Something went wrong"
            }
        let main: HTML = """
            <h1>\(title)</h1>
            <p role="alert">\(error.message)</p>
            <p><a href="/">Back to the dashboard</a></p>
            """
        var extra: HTTPHeaders = [:]
        if error.status.code == 503 { extra["Retry-After"] = "1" }
        return response(error.status, document(title: title, session: session, main: main), headers: extra)
    }

    // MARK: - Small renderings

    /// A display name for an institution id (`role:<kind>` and unknown ids as they are).
    static func institutionName(_ id: String) -> String {
        Institution.demo.first { $0.id == id }?.name ?? id
    }

    /// `<time>` with the machine-readable instant and `2026-11-22 10:00 UTC`.
    static func time(_ date: Date) -> HTML {
        let iso = Timestamp.format(date)
        return "<time datetime=\"\(iso)\">\(display(iso))</time>"
    }

    /// A stored timestamp text (`2026-11-22 10:00:00.123+00`) as `<time>`.
    static func time(stored text: String) -> HTML {
        guard let date = Timestamp.parse(text) ?? parseStored(text) else { return "\(text)" }
        return time(date)
    }

    private static func parseStored(_ text: String) -> Date? {
        Timestamp.parse(text.replacingOccurrences(of: " ", with: "T") + (text.hasSuffix("+00") ? ":00" : ""))
    }

    static func display(_ iso: String) -> String {
        // 2026-11-22T10:00:00Z → 2026-11-22 10:00 UTC
        guard iso.count >= 16 else { return iso }
        return String(iso.prefix(10)) + " " + String(iso.dropFirst(11).prefix(5)) + " UTC"
    }

    /// "in 3 d 4 h" or "5 h 10 min ago".
    static func relative(_ date: Date, now: Date) -> String {
        let seconds = date.timeIntervalSince(now)
        let total = Int(abs(seconds))
        let text: String
        if total >= 86_400 {
            text = "\(total / 86_400) d \(total % 86_400 / 3600) h"
        } else if total >= 3600 {
            text = "\(total / 3600) h \(total % 3600 / 60) min"
        } else {
            text = "\(max(1, total / 60)) min"
        }
        return seconds < 0 ? text + " ago" : "in " + text
    }

    static func statusLabel(_ status: DeadlineFilter.Status) -> String {
        switch status {
        case .overdue: "Overdue"
        case .dueSoon: "Due soon"
        case .pending: "Pending"
        case .met: "Met"
        case .metLate: "Met late"
        case .cancelled: "Cancelled"
        }
    }

    /// A status as a badge; the text carries the meaning, colour only repeats it.
    static func badge(_ status: DeadlineFilter.Status) -> HTML {
        "<span class=\"badge \(status.rawValue)\">\(statusLabel(status))</span>"
    }

    static func caseLink(_ caseId: String) -> HTML {
        "<a href=\"/cases/\(HTML.queryValue(caseId))\">\(caseId)</a>"
    }
}
