import EventStore
import Foundation
import HTTP
import Referrals
import ServiceStore

/// `GET /livez`, `GET /readyz` (and its alias `GET /health`), `GET /metrics` and `GET /v1/audit/access`.
extension QueryService {
    /// `GET /livez`: the process serves requests. Touches no database, so a database outage never
    /// gets a healthy process restarted.
    func liveness(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        .json(.ok, #"{"status":"ok"}"#)
    }

    /// `GET /readyz` and `GET /health`: the database answers within 2 s that it takes writes (not a
    /// standby, not read-only: every read writes its access-log row), asked over
    /// the readiness probe's own connection (never the request pool), one check shared by all
    /// concurrent callers. 503 `{"status":"unavailable"}` otherwise.
    func readiness(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        if await readinessProbe.isReady() { return .json(.ok, #"{"status":"ok"}"#) }
        RequestContext.current?.noteCause(ServiceError.unavailable)  // the probe logged the database's error
        return .json(.serviceUnavailable, #"{"status":"unavailable"}"#, headers: ["Retry-After": "1"])
    }

    /// `GET /metrics`: only for a `metrics` token (`handoff token create --role metrics`). The
    /// counters tell how many events were appended and which routes are used — activity of the
    /// cases — so anonymous callers get 401 and principals of other roles 403.
    func metricsText(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        var access = TokenStore.MetricsAccess.unauthenticated
        if let token = Self.bearerToken(request.headers) {
            do { access = try await tokens.metricsAccess(token) } catch { throw ServiceError.from(error) }
        }
        switch access {
        case .unauthenticated:
            throw ServiceError(.unauthorized, "unauthorized", "/metrics needs a bearer token of role metrics.")
        case .forbidden: throw ServiceError.forbidden("/metrics is read with a token of role metrics.")
        case .granted: break
        }
        let stats = server.withLock { $0 }?.stats
        // Alarms live in the database (the watcher is another process): omitted when it cannot answer.
        let conflicts = try? await store.systemEventIdConflictCounts()
        let text = metrics.render(
            server: stats,
            extra: await metricsHook() + Metrics.systemEventIdConflicts(conflicts) + replicaMetrics()
                + ownPoolMetrics())
        return HTTPResponse(
            status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"], bytes: Array(text.utf8))
    }

    /// The pools the service's tables keep beside the store's: those waiting for a connection to
    /// look up a token or session (a flood of made-up credentials shows here), and access-log
    /// batches waiting for one of the writer's.
    func ownPoolMetrics() -> String {
        var text = "# HELP handoff_db_credential_pool_waiting Requests waiting for a connection to look up a token"
        text += " or session.\n# TYPE handoff_db_credential_pool_waiting gauge\n"
        text += "handoff_db_credential_pool_waiting \(tables.credentialPool.waitingCallers)\n"
        text += "# HELP handoff_db_access_log_pool_waiting Access-log batches waiting for a connection.\n"
        text += "# TYPE handoff_db_access_log_pool_waiting gauge\n"
        text += "handoff_db_access_log_pool_waiting \(tables.accessLogPool.waitingCallers)\n"
        return text
    }

    /// `GET /v1/audit/access`: the access log, newest first, one page (`limit`, default 1000, at
    /// most 10,000) older than the opaque cursor `after`; `next` is the cursor of the following
    /// page, or null on the last. Filters: `caseId`, `institution`, `user`, `from`, `to` (times,
    /// both inclusive). Every parameter is validated: 400 `bad_request` with `field`.
    func auditAccess(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        guard principal.role == .auditor else { throw ServiceError.forbidden("Only auditors read the access log.") }
        let filter = try Self.accessFilter(request)
        var after: AccessCursor?
        if let text = request.query["after"], !text.isEmpty {
            guard let cursor = AccessCursor(encoded: text) else {
                throw ServiceError.badRequest("after must be a cursor this API returned as next.", field: "after")
            }
            after = cursor
        }
        let limit = try Self.limit(request, default: 1000, maximum: 10_000)
        let page = try await accessLog.entries(filter, after: after, limit: limit)
        var w = JSONBytes(capacity: 200 * page.entries.count + 64)
        w.beginObject()
        w.key("entries")
        w.beginArray()
        for e in page.entries {
            w.beginObject()
            w.member("at", e.at)
            w.member("institution", e.institution)
            w.member("user", e.user)
            w.member("role", e.role)
            w.member("caseId", e.caseId)
            w.member("endpoint", e.endpoint)
            w.member("outcome", e.outcome)
            w.endObject()
        }
        w.endArray()
        w.member("next", page.next?.encoded)
        w.endObject()
        return .json(.ok, w.bytes)
    }

    /// The filters of `GET /v1/audit/access`. - Throws: 400 `bad_request` naming the field.
    static func accessFilter(_ request: HTTPRequest) throws -> AccessLog.Filter {
        // (A filter given twice is refused for every API route: `refuseRepeatedParameters`.)
        var filter = AccessLog.Filter()
        if let caseId = request.query["caseId"] {
            guard StreamName.isValidCaseId(caseId) else {
                throw ServiceError.badRequest("A case id is 1-64 characters of A-Z, a-z, 0-9 and -.", field: "caseId")
            }
            filter.caseId = caseId
        }
        if let institution = request.query["institution"] {
            guard Identifiers.isValidInstitutionId(institution) else {
                throw ServiceError.badRequest(
                    "institution is an institution id: 1-64 characters of a-z, 0-9 and -.", field: "institution")
            }
            filter.institution = institution
        }
        if let user = request.query["user"] {
            let hasControl = user.unicodeScalars.contains {
                $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}"
            }
            guard (1...128).contains(user.count), !hasControl else {
                throw ServiceError.badRequest("user is 1-128 characters without control characters.", field: "user")
            }
            filter.user = user
        }
        func time(_ name: String) throws -> Date? {
            guard let text = request.query[name] else { return nil }
            guard let date = Timestamp.parse(text), (1...9999).contains(Timestamp.civil(date).year) else {
                throw ServiceError.badRequest("\(name) must be an RFC 3339 time with a zone.", field: name)
            }
            return date
        }
        filter.from = try time("from")
        filter.to = try time("to")
        if let from = filter.from, let to = filter.to, from > to {
            throw ServiceError.badRequest("to must not be before from.", field: "to")
        }
        return filter
    }

    /// `?limit=`: an integer from 1 up; above `maximum` it is capped. - Throws: 400.
    static func limit(_ request: HTTPRequest, default value: Int, maximum: Int) throws -> Int {
        guard let text = request.query["limit"] else { return value }
        guard text.count <= 9, let n = Int(text), n >= 1 else {
            throw ServiceError.badRequest("limit must be a positive integer.", field: "limit")
        }
        return min(n, maximum)
    }
}
