import EventStore
import Foundation
import HTTP
import Referrals

/// `GET /livez`, `GET /readyz` (and its alias `GET /health`), `GET /metrics` and `GET /v1/audit/access`.
extension QueryService {
    /// `GET /livez`: the process serves requests. Touches no database, so a database outage never
    /// gets a healthy process restarted.
    func liveness(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        .json(.ok, #"{"status":"ok"}"#)
    }

    /// `GET /readyz` and `GET /health`: the database answers `SELECT 1` within 2 s, asked over
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
        if let token = Self.bearerToken(request) {
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
        let text = metrics.render(server: stats, extra: await metricsHook() + Metrics.systemEventIdConflicts(conflicts))
        return HTTPResponse(
            status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"], bytes: Array(text.utf8))
    }

    func auditAccess(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        guard principal.role == .auditor else { throw ServiceError.forbidden("Only auditors read the access log.") }
        let caseId = request.query["caseId"]
        if let caseId, !StreamName.isValidCaseId(caseId) {
            throw ServiceError.badRequest("A case id is 1-64 characters of A-Z, a-z, 0-9 and -.", field: "caseId")
        }
        let limit = try Self.limit(request, default: 1000, maximum: 10_000)
        let entries = try await accessLog.entries(caseId: caseId, limit: limit)
        let list: [JSONValue] = entries.map { e in
            .object(
                JSONObject([
                    ("at", .string(e.at)), ("institution", e.institution.map(JSONValue.string) ?? .null),
                    ("user", .string(e.user)), ("role", .string(e.role)), ("caseId", .string(e.caseId)),
                    ("endpoint", .string(e.endpoint)),
                ]))
        }
        return .json(.ok, JSONValue.object(JSONObject([("entries", .array(list))])).serialized())
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
