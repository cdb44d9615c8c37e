import EventStore
import Foundation
import HTTP
import ServiceStore
import Referrals

/// The dashboard's form POSTs: an institution's person records case events from the inbox and
/// the case page, and opens cases, without the API.
///
/// | route | does |
/// |---|---|
/// | `POST /cases` | opens a case under a server-issued id (the path of `POST /v1/cases`), then 303 to its page |
/// | `POST /cases/{caseId}/events` | one case event (the path of `POST /v1/cases/{caseId}/events`), then 303 to the case page |
///
/// Each form is checked before anything else: a live session (else 303 to `/login`), a request
/// from this site (``DashboardSession/isSameOrigin(_:)``) and the session's CSRF token — a form
/// failing either gets a 403 page and nothing is appended. Then the form becomes the request the
/// API would have received (``CaseForm``) and goes through the same admission: ``CaseWriter``
/// with the case's version when the page was rendered as the expected version. A refusal of what
/// was typed is shown in the form, beside its field, in the person's language (400, or 422 for
/// `consent_required`); a change made meanwhile gets a 409 page that links to the fresh case; the
/// rest are the dashboard's error pages (403, 404, 503).
extension QueryService {
    func registerForms(_ on: RouteRegistration) {
        on(.POST, "/cases") { [self] r, _ in await openCaseForm(r) }
        on(.POST, "/cases/{caseId}/events") { [self] r, p in await caseEventForm(r, p) }
    }

    /// The session and the form of a dashboard POST, or the response that refuses it: no session
    /// (to the login page), a foreign origin or a missing or wrong CSRF token (403), a body that
    /// is not a form (415).
    private func checkedForm(_ request: HTTPRequest, _ locale: PageLocale) async -> Result<
        (SessionStore.Session, QueryItems), FormRefusal
    > {
        let session: SessionStore.Session?
        do { session = try await dashboardSession(request) } catch {
            return .failure(
                FormRefusal(DashboardLayout.errorPage(ServiceError.from(error), session: nil, locale: locale)))
        }
        guard let session else { return .failure(FormRefusal(locale.apply(DashboardLayout.redirect(to: "/login")))) }
        let media = request.headers["Content-Type"]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces)
        let form = QueryItems(percentEncoded: request.body)
        guard cookies.isSameOrigin(request), let form, DashboardSession.csrfMatches(form, session) else {
            return .failure(FormRefusal(Self.formRefusedPage(session: session, locale: locale)))
        }
        guard media?.lowercased() == "application/x-www-form-urlencoded" else {
            return .failure(
                FormRefusal(
                    DashboardLayout.errorPage(ServiceError.unsupportedMediaType, session: session, locale: locale)))
        }
        return .success((session, form))
    }

    /// A response that ends a form POST early.
    struct FormRefusal: Error {
        var response: HTTPResponse
        init(_ response: HTTPResponse) { self.response = response }
    }

    /// `POST /cases/{caseId}/events`.
    private func caseEventForm(_ request: HTTPRequest, _ params: RouteParameters) async -> HTTPResponse {
        let locale = pageLocale(request)
        let session: SessionStore.Session
        let form: QueryItems
        switch await checkedForm(request, locale) {
        case .failure(let refusal): return refusal.response
        case .success(let checked): (session, form) = checked
        }
        let caseId: String
        let submission: CaseForm.Submission
        do {
            caseId = try Self.caseId(params)
            submission = try CaseForm.submission(form, zone: locale.t.timeZone, opening: false)
        } catch let feedback as CaseForm.Feedback {
            return await page(request) { session, locale in
                try await casePage(request, params, session, locale, feedback: feedback)
            }
        } catch {
            return DashboardLayout.errorPage(ServiceError.from(error), session: session, locale: locale)
        }
        let principal = session.principal
        var caller = AppendAttempt(principal: principal, caseId: caseId)
        do {
            let item = AppendItem(
                id: submission.id, idGiven: submission.idGiven, type: submission.type.rawValue,
                data: .object(submission.data), occurredAt: submission.occurredAt, correlationId: nil,
                causationId: nil)
            func append(expecting version: Int64) async throws -> AppendResult {
                let parsed = AppendRequest(
                    items: [item], batch: false, expected: .exactly(version),
                    expectedJSON: .number(JSONNumber(Int(version))))
                return try await caseWriter.append(parsed, by: principal, to: caseId, hidden: &caller.hidden)
            }
            let rendered = submission.expectedVersion ?? 0
            let result: AppendResult
            do {
                result = try await append(expecting: rendered)
            } catch let refusal as ServiceError where refusal.code == "wrong_expected_version" {
                // Recorded meanwhile by others: once more against the case as it is now, when
                // nothing the form depends on changed (admission still decides); else 409.
                guard let now = try await unchangedFor(submission, caseId: caseId, since: rendered) else {
                    throw refusal
                }
                result = try await append(expecting: now)
            }
            recordAppended(result)
            return locale.apply(DashboardLayout.redirect(to: "/cases/" + HTML.queryValue(caseId)))
        } catch {
            let refusal = await refusedAppend(error, caller, request)
            if caller.hidden, principal.role == .institution {
                // A case the person may not see (missing, or not a party): one answer for both,
                // whatever the refusal, so that case ids cannot be probed through the forms.
                return DashboardLayout.errorPage(Self.noSuchCase, session: session, locale: locale)
            }
            if let feedback = CaseForm.feedback(for: refusal, submission) {
                return await page(request) { session, locale in
                    try await casePage(request, params, session, locale, feedback: feedback)
                }
            }
            if refusal.code == "wrong_expected_version" || refusal.code == "duplicate_event_id" {
                return Self.conflictPage(caseId: caseId, session: session, locale: locale)
            }
            return DashboardLayout.errorPage(refusal, session: session, locale: locale)
        }
    }

    /// The case's version now, when what `submission` depends on (``CaseForm/subject(of:in:)``) is
    /// as it was at the version its page was rendered at; nil when it changed, or the case cannot
    /// be read.
    private func unchangedFor(_ submission: CaseForm.Submission, caseId: String, since rendered: Int64) async throws
        -> Int64?
    {
        let loaded = try await access.load(caseId: caseId)
        guard let now = loaded.state, loaded.version > rendered,
            let then = loaded.state(atVersion: rendered),
            CaseForm.subject(of: submission, in: then) == CaseForm.subject(of: submission, in: now)
        else { return nil }
        return loaded.version
    }

    /// `POST /cases`.
    private func openCaseForm(_ request: HTTPRequest) async -> HTTPResponse {
        let locale = pageLocale(request)
        let session: SessionStore.Session
        let form: QueryItems
        switch await checkedForm(request, locale) {
        case .failure(let refusal): return refusal.response
        case .success(let checked): (session, form) = checked
        }
        var submission: CaseForm.Submission?
        do {
            submission = try CaseForm.submission(form, zone: locale.t.timeZone, opening: true)
            let opened = try await openCase(CaseForm.openingBody(submission!), by: session.principal)
            recordAppended(opened.result)
            return locale.apply(DashboardLayout.redirect(to: "/cases/" + HTML.queryValue(opened.caseId)))
        } catch {
            var feedback = error as? CaseForm.Feedback
            let refusal = ServiceError.from(error)
            if feedback == nil, let submission { feedback = CaseForm.feedback(for: refusal, submission) }
            if let feedback {
                return await page(request) { session, locale in
                    try await dashboardHome(request, session, locale, feedback: feedback)
                }
            }
            return DashboardLayout.errorPage(refusal, session: session, locale: locale)
        }
    }

    // MARK: - Pages

    /// 409: the case changed since the page was rendered; nothing was recorded.
    static func conflictPage(caseId: String, session: SessionStore.Session, locale: PageLocale) -> HTTPResponse {
        let t = locale.t
        let main: HTML = """
            <h1>\(t("form.conflict.title"))</h1>
            <p role="alert" id="conflict">\(t("form.conflict.message"))</p>
            <p><a href="/cases/\(HTML.queryValue(caseId))" id="reload">\(t("form.conflict.reload"))</a></p>
            """
        return locale.apply(
            DashboardLayout.response(
                .conflict,
                DashboardLayout.document(locale, title: t("form.conflict.title"), session: session, main: main)))
    }

    /// 403: a form from another site, or without the session's CSRF token; nothing was recorded.
    static func formRefusedPage(session: SessionStore.Session, locale: PageLocale) -> HTTPResponse {
        let t = locale.t
        let main: HTML = """
            <h1>\(t("form.csrf.title"))</h1>
            <p role="alert" id="csrf-refused">\(t("form.csrf.message"))</p>
            <p><a href="/">\(t("error.back"))</a></p>
            """
        return locale.apply(
            DashboardLayout.response(
                .forbidden, DashboardLayout.document(locale, title: t("form.csrf.title"), session: session, main: main))
        )
    }
}
