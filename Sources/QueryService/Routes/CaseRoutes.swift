import Crypto
import EventStore
import Foundation
import HTTP
import Referrals
import ServiceStore

/// `GET /v1/cases/{caseId}`, `…/history` and `…/verify`.
extension QueryService {
    /// The one answer to a read of a case the caller may not read, whether the case exists or not:
    /// the same status and body for both, so that case ids cannot be probed.
    static let noSuchCase = ServiceError.notFound("No case with this id.")

    /// Reads the case stream and checks that `principal` may read it (party, coordinator, auditor).
    /// - Parameter reads: where to read it (the primary unless given).
    /// - Throws: ``noSuchCase`` (404) when the case does not exist and when the caller is not a
    ///   party: a non-party learns nothing about which ids exist.
    func authorizeCaseRead(_ principal: Principal, caseId: String, on reads: ReadPath? = nil) async throws
        -> CaseAccess.LoadedCase
    {
        let loaded = try await (reads ?? primaryReads).access.load(caseId: caseId)
        guard let state = loaded.state, CasePolicy.mayRead(principal, state) else { throw Self.noSuchCase }
        return loaded
    }

    /// Runs the body of a case route for an authenticated caller. A refusal (403 or 404) is
    /// recorded in the access log as a `denied` attempt on `caseId` before it is answered; when
    /// that row cannot be written the answer is 503, as for an allowed read, and past the
    /// caller's allowance of refused attempts on the case 429 (``recordDenied(_:caseId:_:)``).
    func caseRead<T>(
        _ request: HTTPRequest, _ principal: Principal, caseId: String, _ body: () async throws -> T
    ) async throws -> T {
        do {
            return try await body()
        } catch {
            let refusal = ServiceError.from(error)
            guard refusal.status.code == 403 || refusal.status.code == 404 else { throw refusal }
            try await recordDenied(principal, caseId: caseId, request)
            throw refusal
        }
    }

    /// The summary comes from the `cases` read model, and so does the first need-to-know check:
    /// the parties of a case only ever grow (an opener, then referral recipients; nothing removes
    /// one), so a party in the read model — however far it lags — is a party in the log too, and
    /// that read costs no stream fold. Only when the read model does not name the caller (or has
    /// no parties, or no such case yet) is the case stream read and folded, which is authoritative:
    /// a lagging projection can delay nothing and leak nothing.
    func caseSummary(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        let caseId = try Self.caseId(params)
        let summary = try await caseRead(request, principal, caseId: caseId) {
            try await withReads(request) { reads in
                let summary = try await reads.readSide.caseSummaryDocument(caseId: caseId)
                let allowedByReadModel =
                    summary?.parties.map { CasePolicy.mayRead(principal, isParty: $0.contains) } ?? false
                if !allowedByReadModel {
                    _ = try await authorizeCaseRead(principal, caseId: caseId, on: reads)
                }
                // The caller may read it (the stream said so), so it exists: the projector lags.
                guard let summary else { throw ServiceError.notProjectedYet }
                return summary
            }
        }
        try await accessLog.record(principal, caseIds: [caseId], endpoint: Self.endpoint(request))
        return .json(.ok, summary.json)
    }

    func caseHistory(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        let caseId = try Self.caseId(params)
        var asOf: Date?
        if let text = request.query["asOf"] {
            guard let date = Timestamp.parse(text) else {
                throw ServiceError.badRequest("asOf must be an RFC 3339 time with a zone.", field: "asOf")
            }
            asOf = date
        }
        // The case and its notices from one server: a notice is never seen before its case's events.
        let (loaded, notices) = try await caseRead(request, principal, caseId: caseId) {
            try await withReads(request) { reads in
                let loaded = try await authorizeCaseRead(principal, caseId: caseId, on: reads)
                return (loaded, try await reads.store.readAll(stream: StreamName.sop(caseId)!))
            }
        }
        var events = loaded.history(with: notices)
        if let asOf { events.removeAll { $0.recordedDate > asOf } }
        try await accessLog.record(principal, caseIds: [caseId], endpoint: Self.endpoint(request))
        return .json(.ok, "{\"caseId\":" + EventJSON.quote(caseId) + ",\"events\":" + EventJSON.array(events) + "}")
    }

    func verifyCase(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        let caseId = try Self.caseId(params)
        let stream = StreamName.case(caseId)!
        try await caseRead(request, principal, caseId: caseId) {
            guard principal.role == .auditor || principal.role == .coordinator else {
                throw ServiceError.forbidden("Only auditors and coordinators verify chains.")
            }
            guard try await store.version(of: stream) > 0 else { throw Self.noSuchCase }
        }
        guard let (report, notices) = try await store.verifyCase(caseId) else { throw Self.noSuchCase }
        try await accessLog.record(principal, caseIds: [caseId], endpoint: Self.endpoint(request))
        // After this read's own row is written, so the check covers it too.
        let record = try await store.verifyAccessRecord(caseId: caseId)
        var body: JSONObject
        if let problem = report.problem {
            body = JSONObject([
                ("valid", false),
                ("firstInvalidVersion", problem.version.map { .number(JSONNumber(Int($0))) } ?? .null),
                ("stream", .string(problem.stream)), ("reason", .string(problem.reason)),
            ])
        } else {
            body = JSONObject([
                ("valid", true), ("events", .number(JSONNumber(Int(report.events)))),
                ("headHash", report.headHash.map { .string($0.hexString) } ?? .null),
                ("notices", .number(JSONNumber(Int(notices)))),
            ])
        }
        body["accessLog"] = Self.accessRecordJSON(record)
        return .json(.ok, JSONValue.object(body).serialized())
    }

    /// Whether a case's read record is intact: `{"valid": true, "entries": N}` or
    /// `{"valid": false, "entries": N, "firstInvalidSeq": S|null, "reason": "…"}`.
    static func accessRecordJSON(_ report: AccessLogReport) -> JSONValue {
        var object = JSONObject([("valid", .bool(report.valid)), ("entries", .number(JSONNumber(Int(report.rows))))])
        if let problem = report.problem {
            object["firstInvalidSeq"] = problem.seq.map { .number(JSONNumber(Int($0))) } ?? .null
            object["reason"] = .string(problem.reason)
        }
        return .object(object)
    }
}
