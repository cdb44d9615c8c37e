import EventStore
import Foundation
import HTTP
import Referrals

/// `GET /health`, `GET /metrics` and `GET /v1/audit/access`.
extension QueryService {
    func health(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        if await Self.answers(within: .seconds(2), { [store] in try await store.ping() }) {
            return .json(.ok, #"{"status":"ok"}"#)
        }
        return .json(.serviceUnavailable, #"{"status":"unavailable"}"#, headers: ["Retry-After": "1"])
    }

    /// True when `probe` succeeds within `limit`. A database that is frozen rather than down never
    /// answers and libpq would wait forever: the probe is left to finish on its own and the health
    /// check answers anyway.
    static func answers(within limit: Duration, _ probe: @escaping @Sendable () async throws -> Void) async -> Bool {
        let outcome = FirstOutcome()
        return await withCheckedContinuation { continuation in
            outcome.continuation = continuation
            let timer = Task {
                try? await Task.sleep(for: limit)
                outcome.resolve(false)
            }
            Task {
                outcome.resolve((try? await probe()) != nil)
                timer.cancel()  // no sleeping task (and timer) left behind per answered check
            }
        }
    }

    func metricsText(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
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

/// Resumes a continuation with the first of several results.
private final class FirstOutcome: @unchecked Sendable {
    // @unchecked: every access to `continuation` holds `lock`.
    private let lock = NSLock()
    var continuation: CheckedContinuation<Bool, Never>? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
    private var stored: CheckedContinuation<Bool, Never>?

    func resolve(_ value: Bool) {
        let c = lock.withLock { () -> CheckedContinuation<Bool, Never>? in
            defer { stored = nil }
            return stored
        }
        c?.resume(returning: value)
    }
}
