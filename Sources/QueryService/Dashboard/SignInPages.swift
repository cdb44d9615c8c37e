import Crypto
import Foundation
import HTTP
import Logging
import Referrals
import ServiceStore

/// A person's sign-in (issue 14): `/login` with a user name, a password and, when the account has
/// one, a one-time code; and `/account/one-time-code`, where a person enrols an authenticator app
/// by typing a manual key (no QR code) and confirming it with a code. Coordinators and auditors
/// must enrol at their first sign-in: until they have, their session reaches this page only.
///
/// | route | does |
/// |---|---|
/// | `GET /login` | the password form (`?with=token`: the API-token form, for operators) |
/// | `POST /login` | `user`, `password`, `code`: starts a session (a `token` field: the token sign-in) |
/// | `GET /account/one-time-code` | the manual key and the confirmation form |
/// | `POST /account/one-time-code` | `code`, `csrf`: confirms the key; the session may then do everything |
///
/// Every answer is in the person's language; a failed attempt is answered only after a growing
/// delay (``SignInPolicy``, waited with `Task.sleep`), and logged with the user name, the outcome
/// and the request id — never the password or the code.
extension QueryService {
    /// The enrolment page's path.
    static let enrolmentPath = "/account/one-time-code"

    func registerSignIn(_ on: RouteRegistration) {
        on(.GET, Self.enrolmentPath) { [self] r, _ in await enrolmentPage(r) }
        on(.POST, Self.enrolmentPath) { [self] r, _ in await confirmEnrolment(r) }
    }

    /// The password sign-in form. `problem`: a message from the catalogue shown as an alert;
    /// `userName`: what was typed (kept, so that only the password and code are typed again);
    /// `retryAfter`: the seconds a 429 names in `Retry-After`.
    func signInForm(
        _ request: HTTPRequest, status: HTTPStatus = .ok, problem: String? = nil, userName: String = "",
        focusCode: Bool = false, retryAfter: Int? = nil
    ) async -> HTTPResponse {
        let locale = pageLocale(request)
        let t = locale.t
        var message = problem
        // A cookie whose session is no longer live: say why the person is here again.
        if message == nil, let secret = cookies.secret(in: request) {
            do {
                // Only asked, not marked as used: showing the login page is no sign of activity.
                if try await sessions.resume(secret, markUsed: false) == nil { message = t("signin.sessionEnded") }
            } catch {}
        }
        let alert: HTML = message.map { "<p class=\"problem\" role=\"alert\" id=\"login-problem\">\($0)</p>" } ?? .empty
        let described: HTML = message == nil ? .empty : " aria-describedby=\"login-problem\""
        let userFocus: HTML = focusCode || !userName.isEmpty ? .empty : " autofocus"
        let passwordFocus: HTML = !focusCode && !userName.isEmpty ? " autofocus" : .empty
        let codeFocus: HTML = focusCode ? " autofocus" : .empty
        // Where the demo keeps its persons' passwords: on the demo's page only.
        let demoHelp: HTML =
            configuration.showsDemoHints
            ? """
            <p>\(t.html("signin.demoHelp", [
                "file": "<code>.handoff/persons.json</code>", "coordinator": "<code>natc</code>",
                "auditor": "<code>audit</code>",
            ]))</p>
            """ : .empty
        let main: HTML = """
            <div class="login">
            <h1>\(t("login.heading", ["app": "Handoff"]))</h1>
            <p>\(t("signin.help"))</p>
            \(demoHelp)
            \(alert)
            <form method="post" action="/login" id="password-sign-in">
            <div class="field"><label for="user">\(t("signin.user"))</label>
            <input id="user" name="user" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" \
            maxlength="64" required value="\(userName)"\(described)\(userFocus)></div>
            <div class="field"><label for="password">\(t("signin.password"))</label>
            <input id="password" name="password" type="password" autocomplete="current-password" maxlength="1024" \
            required\(passwordFocus)></div>
            <div class="field"><label for="code">\(t("signin.code"))</label>
            <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="12" \
            aria-describedby="code-hint"\(codeFocus)>
            <p class="hint" id="code-hint">\(t("signin.codeHint"))</p></div>
            <button type="submit">\(t("login.submit"))</button>
            </form>
            <p><a href="/login?with=token" id="token-sign-in">\(t("signin.withToken"))</a></p>
            </div>
            """
        var headers: HTTPHeaders = [:]
        if let retryAfter { headers["Retry-After"] = String(retryAfter) }
        return locale.apply(
            DashboardLayout.response(
                status, DashboardLayout.document(locale, title: t("login.title"), session: nil, main: main),
                headers: headers))
    }

    /// `POST /login` with `user`, `password` and `code`: see ``AccountStore/signIn(userName:password:code:now:)``.
    func accountLogin(_ request: HTTPRequest, _ form: QueryItems) async -> HTTPResponse {
        let locale = pageLocale(request)
        let t = locale.t
        let typed = String((form["user"] ?? "").prefix(256))
        let shown = AccountStore.normalize(typed)
        let keep = Identifiers.isValidUserName(shown) ? shown : ""
        let address = request.remoteHost
        guard signInGate.enter(address) else {
            configuration.logger.labeled("sign-in").notice(
                "sign-in turned away: too many at once",
                metadata: ["request": .string(RequestContext.current?.id ?? "")])
            return await signInForm(
                request, status: .tooManyRequests, problem: t("signin.busy"), userName: keep, retryAfter: 1)
        }
        let result: AccountStore.SignInResult
        do {
            defer { signInGate.leave(address) }
            result = try await accounts.signIn(
                userName: typed, password: form["password"] ?? "", code: form["code"])
        } catch {
            return DashboardLayout.errorPage(ServiceError.from(error), session: nil, locale: locale)
        }
        // Only an account's name is logged: a password or a token typed into the name field is not.
        let logged = result.knownName ? keep : "(not an account's name)"
        var metadata: LogMetadata = ["user": .string(logged), "outcome": .string(result.outcome.logName)]
        if let id = RequestContext.current?.id { metadata["request"] = .string(id) }
        configuration.logger.labeled("sign-in").log(
            level: result.outcome.isFailure || result.outcome == .locked ? .notice : .info, "sign-in attempt",
            metadata: metadata)
        // The growing wait after a failure, without holding a thread; a cancelled wait (the
        // client left, the service stops) only answers sooner.
        if result.delay > .zero { try? await Task.sleep(for: result.delay) }
        switch result.outcome {
        case .signedIn(let account), .enrolmentRequired(let account):
            let pending: Bool
            if case .enrolmentRequired = result.outcome { pending = true } else { pending = false }
            let secret: String
            do {
                // A session the browser held before (perhaps someone else's) ends with this sign-in.
                if let old = cookies.secret(in: request) { try await sessions.end(old) }
                secret = try await sessions.start(for: account, enrolmentPending: pending).secret
            } catch {
                return DashboardLayout.errorPage(ServiceError.from(error), session: nil, locale: locale)
            }
            return locale.apply(
                DashboardLayout.redirect(
                    to: pending ? Self.enrolmentPath : "/", headers: ["Set-Cookie": cookies.startCookie(secret: secret)]
                ))
        case .codeRequired:
            return await signInForm(
                request, status: .unauthorized, problem: t("signin.codeRequired"), userName: keep, focusCode: true)
        case .wrongCredentials:
            return await signInForm(
                request, status: .unauthorized, problem: t("signin.wrongCredentials"), userName: keep)
        case .wrongCode:
            return await signInForm(
                request, status: .unauthorized, problem: t("signin.wrongCode"), userName: keep, focusCode: true)
        case .replayedCode:
            return await signInForm(
                request, status: .unauthorized, problem: t("signin.replayedCode"), userName: keep, focusCode: true)
        case .locked:
            return await signInForm(
                request, status: .tooManyRequests, problem: t("signin.locked"), userName: keep, retryAfter: 60)
        }
    }

    /// The session of the request's cookie, enrolment-pending ones included (only the enrolment
    /// page and logout accept those; ``dashboardSession(_:)`` does not).
    ///
    /// - Parameter automatic: a request an open page makes by itself (its live stream), not the
    ///   person: it does not renew the session's idle time. So does a page re-read with
    ///   ``DashboardAssets/liveRefreshHeader``.
    func anySession(_ request: HTTPRequest, automatic: Bool = false) async throws -> SessionStore.Session? {
        guard let secret = cookies.secret(in: request) else { return nil }
        do {
            // The dashboard's own refresh of its live regions is not the person at work: it
            // must not keep an unattended page's session from going idle.
            let session = try await sessions.resume(
                secret, markUsed: !automatic && request.headers[DashboardAssets.liveRefreshHeader] == nil)
            RequestContext.current?.principal = session?.principal
            // Read-your-writes follows the credential: the token, or the person's account.
            RequestContext.current?.credentialKey = session?.streamKey
            // A page costs several queries: a session's pages count against its caller's requests
            // in progress as the API's do (an attack pass flooded its own case page on 2,400
            // connections of one session, and other institutions' reads failed with 503).
            if let session { try admit(session.principal) }
            return session
        } catch { throw ServiceError.from(error) }
    }

    /// `GET /account/one-time-code`: the manual key (base32, in groups of four) and a form for the
    /// code that confirms it; a note when the account has a code already.
    private func enrolmentPage(_ request: HTTPRequest, status: HTTPStatus = .ok, problem: String? = nil) async
        -> HTTPResponse
    {
        let locale = pageLocale(request)
        let t = locale.t
        let session: SessionStore.Session
        let secret: [UInt8]?
        do {
            guard let found = try await anySession(request) else {
                return locale.apply(DashboardLayout.redirect(to: "/login"))
            }
            session = found
            guard let accountId = found.accountId else {
                throw ServiceError.forbidden("One-time codes belong to persons' accounts, not to API tokens.")
            }
            secret = try await accounts.pendingOneTimeCode(accountId: accountId, sessionId: found.id)
        } catch {
            return DashboardLayout.errorPage(ServiceError.from(error), session: nil, locale: locale)
        }
        let lede = t(AccountStore.requiresOneTimeCode(session.principal.role) ? "enrol.required" : "enrol.optional")
        let alert: HTML = problem.map { "<p class=\"problem\" role=\"alert\" id=\"enrol-problem\">\($0)</p>" } ?? .empty
        let described: HTML =
            problem == nil ? " aria-describedby=\"enrol-step2\"" : " aria-describedby=\"enrol-problem\""
        let body: HTML
        if let secret {
            body = """
                <p>\(lede)</p>
                <ol>
                <li><p>\(t("enrol.step1"))</p>
                <p class="manual-key"><span>\(t("enrol.key")):</span> <code id="manual-key" \
                data-secret="\(Base32.encode(secret))">\(Base32.grouped(secret))</code></p>
                <p class="hint">\(t("enrol.details"))</p></li>
                <li><p id="enrol-step2">\(t("enrol.step2"))</p>
                \(alert)
                <form method="post" action="\(Self.enrolmentPath)">
                <input type="hidden" name="csrf" value="\(session.csrfToken)">
                <div class="field"><label for="code">\(t("signin.code"))</label>
                <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="12" \
                required autofocus\(described)></div>
                <button type="submit">\(t("enrol.submit"))</button>
                </form></li>
                </ol>
                """
        } else {
            body = "<p role=\"status\">\(t("enrol.already"))</p><p><a href=\"/\">\(t("error.back"))</a></p>"
        }
        let main: HTML = "<div class=\"login\"><h1>\(t("enrol.title"))</h1>\(body)</div>"
        return locale.apply(
            DashboardLayout.response(
                status,
                DashboardLayout.document(
                    locale, title: t("enrol.title"), session: session.enrolmentPending ? nil : session, main: main)))
    }

    /// `POST /account/one-time-code` with `code` and `csrf` (and from this site): a code that
    /// matches the key shown makes it the account's, and the session may do everything.
    private func confirmEnrolment(_ request: HTTPRequest) async -> HTTPResponse {
        let locale = pageLocale(request)
        let t = locale.t
        guard cookies.isSameOrigin(request) else {
            return DashboardLayout.errorPage(
                ServiceError.forbidden(t("login.foreignOrigin")), session: nil, locale: locale)
        }
        do {
            guard let session = try await anySession(request) else {
                return locale.apply(DashboardLayout.redirect(to: "/login"))
            }
            let form = QueryItems(percentEncoded: request.body) ?? QueryItems()
            guard DashboardSession.csrfMatches(form, session) else {
                return await enrolmentPage(request, status: .forbidden, problem: t("signin.formExpired"))
            }
            guard let accountId = session.accountId else {
                throw ServiceError.forbidden("One-time codes belong to persons' accounts, not to API tokens.")
            }
            guard
                try await accounts.confirmOneTimeCode(
                    accountId: accountId, sessionId: session.id, code: form["code"] ?? "")
            else {
                configuration.logger.labeled("sign-in").notice(
                    "one-time code enrolment refused",
                    metadata: [
                        "user": .string(session.principal.user), "request": .string(RequestContext.current?.id ?? ""),
                    ])
                return await enrolmentPage(request, status: .unprocessableContent, problem: t("enrol.wrongCode"))
            }
            try await sessions.completeEnrolment(id: session.id)
            configuration.logger.labeled("sign-in").info(
                "one-time code enrolled",
                metadata: [
                    "user": .string(session.principal.user), "request": .string(RequestContext.current?.id ?? ""),
                ])
        } catch {
            return DashboardLayout.errorPage(ServiceError.from(error), session: nil, locale: locale)
        }
        return locale.apply(DashboardLayout.redirect(to: "/"))
    }
}
