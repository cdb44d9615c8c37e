import EventStore
import Foundation
import HTTP
import Referrals

/// `GET /health`, `GET /metrics` and `GET /v1/audit/access`.
extension QueryService {
    func health(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        do {
            try await store.ping()
            return .json(.ok, #"{"status":"ok"}"#)
        } catch {
            return .json(.serviceUnavailable, #"{"status":"unavailable"}"#, headers: ["Retry-After": "1"])
        }
    }

    func metricsText(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let stats = server.withLock { $0 }?.stats
        let text = metrics.render(server: stats, extra: await metricsHook())
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
