import Foundation
import HTTP

/// The dashboard's session: the API token itself, kept by the browser in an `HttpOnly`,
/// `SameSite=Strict` cookie, so page scripts never see it and other sites never send it.
///
/// The cookie holds nothing but a token that `TokenStore.authenticate` accepted at login, so its
/// value is always cookie-safe (`hnd_` and base64url). It is checked again on every request:
/// a revoked token ends the session — at once when revoked through the service's `TokenStore`,
/// otherwise within the token cache's TTL (docs/operations.md, "Tokens").
enum DashboardSession {
    static let cookieName = "handoff_session"
    /// How long a browser keeps the cookie (a working day).
    static let maxAge = 8 * 3600

    /// The token in the request's `Cookie` header(s), or nil.
    static func token(in request: HTTPRequest) -> String? {
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

    /// The `Set-Cookie` value that starts a session (`Secure` when the request came over HTTPS
    /// through a proxy that says so).
    static func startCookie(token: String, request: HTTPRequest) -> String {
        "\(cookieName)=\(token); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + secure(request)
    }

    /// The `Set-Cookie` value that ends a session.
    static func endCookie(request: HTTPRequest) -> String {
        "\(cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + secure(request)
    }

    private static func secure(_ request: HTTPRequest) -> String {
        request.headers["X-Forwarded-Proto"]?.lowercased() == "https" ? "; Secure" : ""
    }

    /// CSRF check for the dashboard's form POSTs (on top of `SameSite=Strict`): a browser sends
    /// `Origin` (or at least `Sec-Fetch-Site`) with a POST, and it must be this server's own.
    /// A request with neither comes from a non-browser client, which no other site can drive.
    static func isSameOrigin(_ request: HTTPRequest) -> Bool {
        if let origin = request.headers["Origin"] {
            guard let host = request.headers["Host"], !host.isEmpty, origin != "null" else { return false }
            return origin == "http://" + host || origin == "https://" + host
        }
        if let site = request.headers["Sec-Fetch-Site"] {
            return site == "same-origin" || site == "none"
        }
        return true
    }
}
