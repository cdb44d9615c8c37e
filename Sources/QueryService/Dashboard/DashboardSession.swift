import Crypto
import Foundation
import HTTP
import ServiceStore

/// The dashboard's cookie and its CSRF defences. The cookie holds a random session id (see
/// ``SessionStore``) — never an API token — in an `HttpOnly`, `SameSite=Strict` cookie, so page
/// scripts never see it and other sites never send it.
///
/// Served over HTTPS (``QueryServiceConfiguration/publicURL`` starts with `https://`, e.g.
/// behind a TLS-terminating proxy) the cookie is `__Host-handoff_session` with `Secure`: the
/// browser then sends it only over HTTPS, only to this host, and no subdomain or plain-HTTP
/// page can set one of that name. Served over plain HTTP (the demo, local use) it is
/// `handoff_session` without `Secure`. A request's own headers (`X-Forwarded-Proto`) are not
/// trusted for this: a client could send them.
struct DashboardSession: Sendable {
    /// Whether the service is reached over HTTPS.
    var secure: Bool
    /// The origin (`scheme://host[:port]`) browsers use, when configured.
    var publicOrigin: String?
    /// How long a browser keeps the cookie: the session's whole lifetime (the server ends it
    /// earlier when idle).
    var maxAge: Int

    init(publicURL: String?, lifetime: Duration) {
        let url = publicURL.flatMap { URL(string: $0) }
        secure = url?.scheme?.lowercased() == "https"
        publicOrigin = url.flatMap { url in
            guard let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else { return nil }
            return scheme + "://" + host + (url.port.map { ":\($0)" } ?? "")
        }
        maxAge = Int(lifetime.components.seconds)
    }

    var cookieName: String { secure ? "__Host-handoff_session" : "handoff_session" }

    /// The session id in the request's `Cookie` header(s), or nil.
    func secret(in request: HTTPRequest) -> String? {
        for header in request.headers.values(for: "Cookie") {
            for pair in header.split(separator: ";") {
                let trimmed = pair.trimmingCharacters(in: .whitespaces)
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<equals] == cookieName {
                    let value = String(trimmed[trimmed.index(after: equals)...])
                    return value.isEmpty ? nil : value
                }
            }
        }
        return nil
    }

    /// The `Set-Cookie` value that starts a session. The id is `hds_` and base64url: cookie-safe.
    func startCookie(secret: String) -> String {
        "\(cookieName)=\(secret); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The `Set-Cookie` value that ends a session.
    func endCookie() -> String {
        "\(cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// CSRF check for the dashboard's form POSTs (on top of `SameSite=Strict` and the per-session
    /// CSRF token): a browser sends `Origin` (or at least `Sec-Fetch-Site`) with a POST, and it
    /// must be this server's own — the configured public origin when there is one, else the
    /// `Host` the request came to. Without `Origin` (browsers before 2020 left it off some
    /// POSTs), a `Referer` that names another site refuses the request; a missing one proves
    /// nothing (privacy settings strip it), so the CSRF token decides. A request with none of
    /// these headers comes from a non-browser client, which no other site can drive.
    func isSameOrigin(_ request: HTTPRequest) -> Bool {
        if let origin = request.headers["Origin"] {
            guard origin != "null" else { return false }
            if let publicOrigin { return origin.lowercased() == publicOrigin }
            guard let host = request.headers["Host"], !host.isEmpty else { return false }
            return origin == "http://" + host || origin == "https://" + host
        }
        if let referer = request.headers["Referer"] {
            guard let url = URL(string: referer), let scheme = url.scheme?.lowercased(),
                let host = url.host?.lowercased()
            else { return false }
            let origin = scheme + "://" + host + (url.port.map { ":\($0)" } ?? "")
            if let publicOrigin {
                guard origin == publicOrigin else { return false }
            } else {
                guard let requestHost = request.headers["Host"]?.lowercased(), !requestHost.isEmpty,
                    origin == "http://" + requestHost || origin == "https://" + requestHost
                else { return false }
            }
        }
        if let site = request.headers["Sec-Fetch-Site"] {
            return site == "same-origin" || site == "none"
        }
        return true
    }

    /// Whether a form's one `csrf` field is the session's CSRF token (compared in constant time;
    /// a form with two `csrf` fields does not match).
    /// Every dashboard form POST that acts checks both this and ``isSameOrigin(_:)`` (logout
    /// does); pages put the token in a hidden `csrf` field (``DashboardLayout``).
    static func csrfMatches(_ form: QueryItems, _ session: SessionStore.Session) -> Bool {
        // Exactly one token: with two, which one was checked would depend on the reader.
        let tokens = form.values(for: "csrf")
        guard tokens.count == 1, let sent = tokens.first else { return false }
        return constantTimeEquals(Array(sent.utf8), Array(session.csrfToken.utf8))
    }
}
