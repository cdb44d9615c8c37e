import Crypto
import EventStore
import Foundation
import HTTP
import Postgres
import Referrals

/// `POST /v1/cases/{caseId}/events`: one event or a batch, admitted against the case's own
/// stream and appended with the version that admission saw, so a concurrent writer can never
/// slip an event between the authorization and the append.
extension QueryService {
    struct AppendItem: Sendable {
        var id: UUID
        var idGiven: Bool
        var type: String
        var data: JSONValue
        var occurredAt: Date?
        var correlationId: UUID?
        var causationId: UUID?
    }

    struct AppendRequest: Sendable {
        var items: [AppendItem]
        var batch: Bool
        var expected: ExpectedVersion
        var expectedJSON: JSONValue

        static let itemKeys: Set<String> = ["id", "type", "data", "occurredAt", "correlationId", "causationId"]

        static func parse(_ body: [UInt8]) throws -> AppendRequest {
            let json: JSONValue
            do { json = try JSONValue.parse(body) } catch { throw ServiceError.from(error) }
            guard let object = json.objectValue else {
                throw ServiceError.invalidEvent("The body must be a JSON object.", field: "body")
            }
            var expected = ExpectedVersion.any
            var expectedJSON: JSONValue = "any"
            if let value = object["expectedVersion"] {
                switch value {
                case .number(let n):
                    guard let v = n.intValue, v >= 0 else {
                        throw ServiceError.invalidEvent(
                            "expectedVersion must be a non-negative integer.", field: "expectedVersion")
                    }
                    expected = .exactly(Int64(v))
                case .string(let s) where ["any", "no-stream", "exists"].contains(s):
                    expected = ExpectedVersion(s)!
                default:
                    throw ServiceError.invalidEvent(
                        "expectedVersion must be a number, \"any\", \"no-stream\" or \"exists\".",
                        field: "expectedVersion")
                }
                expectedJSON = value
            }
            if let events = object["events"] {
                for key in object.keys where key != "events" && key != "expectedVersion" {
                    throw ServiceError.invalidEvent("Unknown field in a batch.", field: key)
                }
                guard let list = events.arrayValue else {
                    throw ServiceError.invalidEvent("events must be an array.", field: "events")
                }
                guard !list.isEmpty, list.count <= EventStore.maximumBatch else {
                    throw ServiceError.invalidEvent(
                        "A batch holds 1 to \(EventStore.maximumBatch) events.", field: "events")
                }
                let items = try list.enumerated().map { i, value in
                    try parseItem(value, prefix: "events[\(i)].", allowExpected: false)
                }
                var seen = Set<UUID>()
                for (i, item) in items.enumerated() where !seen.insert(item.id).inserted {
                    throw ServiceError.invalidEvent("An id appears twice in the batch.", field: "events[\(i)].id")
                }
                return AppendRequest(items: items, batch: true, expected: expected, expectedJSON: expectedJSON)
            }
            let item = try parseItem(json, prefix: "", allowExpected: true)
            return AppendRequest(items: [item], batch: false, expected: expected, expectedJSON: expectedJSON)
        }

        static func parseItem(_ value: JSONValue, prefix: String, allowExpected: Bool) throws -> AppendItem {
            guard let object = value.objectValue else {
                throw ServiceError.invalidEvent("An event must be a JSON object.", field: String(prefix.dropLast()))
            }
            for key in object.keys where !itemKeys.contains(key) && !(allowExpected && key == "expectedVersion") {
                throw ServiceError.invalidEvent("Unknown field.", field: prefix + key)
            }
            func uuid(_ key: String) throws -> UUID? {
                guard let v = object[key], v != .null else { return nil }
                guard let s = v.stringValue, let id = UUID(uuidString: s) else {
                    throw ServiceError.invalidEvent("\(key) must be a UUID.", field: prefix + key)
                }
                return id
            }
            guard let type = object["type"]?.stringValue else {
                throw ServiceError.invalidEvent("type is required and must be a string.", field: prefix + "type")
            }
            guard let data = object["data"], data.objectValue != nil else {
                throw ServiceError.invalidEvent("data is required and must be a JSON object.", field: prefix + "data")
            }
            var occurredAt: Date?
            if let v = object["occurredAt"], v != .null {
                guard let s = v.stringValue, let date = Timestamp.parse(s) else {
                    throw ServiceError.invalidEvent(
                        "occurredAt must be an RFC 3339 time with a zone.", field: prefix + "occurredAt")
                }
                occurredAt = date
            }
            let id = try uuid("id")
            return AppendItem(
                id: id ?? UUID(), idGiven: id != nil, type: type, data: data, occurredAt: occurredAt,
                correlationId: try uuid("correlationId"), causationId: try uuid("causationId"))
        }
    }

    /// Who is appending to which case (set once the request is parsed, as the case's record is
    /// consulted), and whether the case is hidden from them (missing, or they are not a party).
    struct AppendAttempt {
        var principal: Principal?
        var caseId: String?
        var hidden = false
    }

    func appendEvents(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        var caller = AppendAttempt()
        do {
            return try await appendEventsUnrecorded(request, params, &caller)
        } catch {
            throw await refusedAppend(error, caller, request)
        }
    }

    /// A refused append as the error to answer, recorded: counted in the metrics, and
    /// access-logged as `denied` when it was refused after the case's record was consulted. The
    /// API and the dashboard's forms record their refusals through this one function.
    ///
    /// A refusal on a case hidden from the caller is an attempt on a case it may not see. A
    /// refusal on a case it is party to says something of the case's record — which referrals
    /// exist and to whom, whether the case is open, when it was opened, its version — so it is a
    /// read of the case and is logged like one (a sixth attack pass read a case's state through
    /// deliberately refused batches, with nothing in the access log).
    func refusedAppend(_ error: Error, _ caller: AppendAttempt, _ request: HTTPRequest) async -> ServiceError {
        var e = ServiceError.from(error)
        if let principal = caller.principal, let caseId = caller.caseId, (400..<500).contains(e.status.code) {
            do {
                // An attempt on a case hidden from the caller counts against its allowance of
                // refused attempts there (``DeniedAttempts``); a party's own refusal (a version
                // conflict, a refused event) is recorded as always, and answered as it is.
                if e.status.code == 403 || e.status.code == 404 {
                    try await recordDenied(principal, caseId: caseId, request)
                } else {
                    try await accessLog.record(
                        principal, caseIds: [caseId], endpoint: Self.endpoint(request), outcome: .denied)
                }
            } catch { e = ServiceError.from(error) }
        }
        metrics.recordAppend(outcome: e.code, events: 0)
        return e
    }

    private func appendEventsUnrecorded(
        _ request: HTTPRequest, _ params: RouteParameters, _ caller: inout AppendAttempt
    ) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        let caseId = try Self.caseId(params)
        try Self.requireJSON(request)
        let parsed = try AppendRequest.parse(request.body)
        // From here on a refusal may come from the case's record (see `refusedAppend`).
        caller.principal = principal
        caller.caseId = caseId
        let result = try await caseWriter.append(parsed, by: principal, to: caseId, hidden: &caller.hidden)
        return appended(result)
    }

    /// The response error for a rejected event: in a batch the field names the event
    /// (`events[2].data.to`); `CaseOpened` on an existing case says what the stream is at.
    static func admissionError(_ error: ReferralsError, index: Int?, actual: Int64) -> ServiceError {
        var e = ServiceError.from(error)
        if error.code == .wrongExpectedVersion {
            e.details = [("expected", "no-stream"), ("actual", .number(JSONNumber(Int(actual))))]
        } else if let index, let field = error.field {
            e.details = [("field", .string("events[\(index)].\(field)"))]
        }
        return e
    }

    /// Counts an accepted append in the metrics (created, or a retry found again); the API and the
    /// dashboard's forms count theirs through this one function.
    func recordAppended(_ result: AppendResult) {
        metrics.recordAppend(
            outcome: result.deduplicated ? "deduplicated" : "created",
            events: result.deduplicated ? 0 : result.events.count)
    }

    /// The 201 (or, for a retry, 200) answer to an append, with `leading` members first.
    func appended(_ result: AppendResult, leading: [(String, JSONValue)] = []) -> HTTPResponse {
        recordAppended(result)
        var events: [JSONValue] = []
        for e in result.events {
            events.append(
                .object(
                    JSONObject([
                        ("id", .string(e.id.uuidString.lowercased())), ("version", .number(JSONNumber(Int(e.version)))),
                        ("cursor", .string(e.cursor.description)), ("hash", .string(e.hash.hexString)),
                    ])))
        }
        let body = JSONValue.object(
            JSONObject(
                leading + [
                    ("streamVersion", .number(JSONNumber(Int(result.streamVersion)))), ("events", .array(events)),
                ]
            ))
        return .json(result.deduplicated ? .ok : .created, body.serialized())
    }
}
