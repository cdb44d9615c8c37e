import Crypto
import EventStore
import Foundation
import HTTP
import Referrals

/// `GET /v1/cases/{caseId}`, `…/history` and `…/verify`.
extension QueryService {
    /// Reads the case stream and checks that `principal` may read it (party, coordinator, auditor).
    /// - Throws: 404 when the case does not exist, 403 when the caller is not a party.
    func authorizeCaseRead(_ principal: Principal, caseId: String) async throws -> CaseAccess.LoadedCase {
        let loaded = try await access.load(caseId: caseId)
        guard let state = loaded.state else { throw ServiceError.notFound("No case with this id.") }
        guard CasePolicy.mayRead(principal, state) else {
            throw ServiceError.forbidden("Only parties of a case, coordinators and auditors may read it.")
        }
        return loaded
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
        let summary = try await readSide.caseSummaryDocument(caseId: caseId)
        let allowedByReadModel = summary?.parties.map { CasePolicy.mayRead(principal, isParty: $0.contains) } ?? false
        if !allowedByReadModel {
            _ = try await authorizeCaseRead(principal, caseId: caseId)
        }
        guard let summary else {
            throw ServiceError.notFound("The case is not in the read model yet; retry shortly.")
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
        let loaded = try await authorizeCaseRead(principal, caseId: caseId)
        let notices = try await store.readAll(stream: StreamName.sop(caseId)!)
        var events = (loaded.recorded + notices).sorted { $0.cursor < $1.cursor }
        if let asOf { events.removeAll { $0.recordedDate > asOf } }
        try await accessLog.record(principal, caseIds: [caseId], endpoint: Self.endpoint(request))
        return .json(.ok, "{\"caseId\":" + EventJSON.quote(caseId) + ",\"events\":" + EventJSON.array(events) + "}")
    }

    func verifyCase(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        let caseId = try Self.caseId(params)
        guard principal.role == .auditor || principal.role == .coordinator else {
            throw ServiceError.forbidden("Only auditors and coordinators verify chains.")
        }
        let stream = StreamName.case(caseId)!
        guard try await store.version(of: stream) > 0 else { throw ServiceError.notFound("No case with this id.") }
        let report = try await store.verify(stream: stream)
        try await accessLog.record(principal, caseIds: [caseId], endpoint: Self.endpoint(request))
        let body: JSONValue
        if let problem = report.problem {
            body = .object(
                JSONObject([
                    ("valid", false),
                    ("firstInvalidVersion", problem.version.map { .number(JSONNumber(Int($0))) } ?? .null),
                    ("stream", .string(problem.stream)), ("reason", .string(problem.reason)),
                ]))
        } else {
            body = .object(
                JSONObject([
                    ("valid", true), ("events", .number(JSONNumber(Int(report.events)))),
                    ("headHash", report.headHash.map { .string($0.hexString) } ?? .null),
                ]))
        }
        return .json(.ok, body.serialized())
    }
}
