import EventStore
import HTTP
import Logging
import Postgres
import Referrals
import ServiceStore

/// The one error type of the query service: an HTTP status, a stable snake_case code from
/// API.md, a message safe to show a person (it never repeats submitted values), and details
/// (`field`, `expected`, `actual`) that go into the error object.
public struct ServiceError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPStatus
    public var code: String
    public var message: String
    public var details: [(String, JSONValue)]
    /// For a 429: the seconds `Retry-After` names (10 when not set).
    public var retryAfter: Int?

    /// The details as `key=value` pairs (`field=data.to expected=3 actual=4`), for a command line.
    public var detailText: String {
        details.map { key, value in "\(key)=\(value.stringValue ?? value.serializedString())" }.joined(separator: " ")
    }

    public init(_ status: HTTPStatus, _ code: String, _ message: String, details: [(String, JSONValue)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    static let unauthorized = ServiceError(.unauthorized, "unauthorized", "A valid bearer token is required.")
    static func forbidden(_ message: String) -> ServiceError { ServiceError(.forbidden, "forbidden", message) }
    static func notFound(_ message: String) -> ServiceError { ServiceError(.notFound, "not_found", message) }
    static func badRequest(_ message: String, field: String? = nil) -> ServiceError {
        ServiceError(.badRequest, "bad_request", message, details: field.map { [("field", .string($0))] } ?? [])
    }
    static func invalidEvent(_ message: String, field: String) -> ServiceError {
        ServiceError(.badRequest, "invalid_event", message, details: [("field", .string(field))])
    }
    static let unavailable = ServiceError(
        .serviceUnavailable, "unavailable", "The database is unavailable; retry shortly.")
    /// A case the caller may read that the read models have not caught up with yet (just opened):
    /// not "not found", which would say it does not exist.
    static let notProjectedYet = ServiceError(
        .serviceUnavailable, "unavailable", "The case is not in the read models yet; retry shortly.")
    static func tooManyStreams(limit: Int) -> ServiceError {
        ServiceError(
            .tooManyRequests, "too_many_streams",
            "This token already holds \(limit) open event streams (its dashboard sessions included); close one first.",
            details: [("limit", .number(JSONNumber(limit)))])
    }
    static func tooManyAppends(retryAfter: Duration) -> ServiceError {
        let seconds = max(1, Int((retryAfter / .seconds(1)).rounded(.up)))
        var error = ServiceError(
            .tooManyRequests, "too_many_appends",
            "This institution's recent appends have used up its share of the read models' work; retry after "
                + "\(seconds) s. Nothing was appended.",
            details: [("retryAfter", .number(JSONNumber(seconds)))])
        error.retryAfter = seconds
        return error
    }
    static var tooManyRequests: ServiceError {
        var error = ServiceError(
            .tooManyRequests, "too_many_requests",
            "This caller already has as many requests in progress as one caller may; retry in a moment.")
        error.retryAfter = 1
        return error
    }
    static func tooManyAttempts(retryAfter seconds: Int) -> ServiceError {
        var error = ServiceError(
            .tooManyRequests, "too_many_requests",
            "This caller's refused attempts on this case are recorded up to a limit an hour; retry after \(seconds) s.")
        error.retryAfter = seconds
        return error
    }
    static let internalError = ServiceError(.internalServerError, "internal_error", "Something went wrong on our side.")
    static let unsupportedMediaType = ServiceError(
        .unsupportedMediaType, "unsupported_media_type", "Send the body as Content-Type: application/json.")

    static func wrongExpectedVersion(expected: JSONValue, actual: Int64) -> ServiceError {
        ServiceError(
            .conflict, "wrong_expected_version", "The stream's version is not the one expected.",
            details: [("expected", expected), ("actual", .number(JSONNumber(Int(actual))))])
    }

    /// The response for this error: `{"error": {"code", "message", …details}}`.
    public var response: HTTPResponse {
        var inner = JSONObject()
        inner["code"] = .string(code)
        inner["message"] = .string(message)
        for (key, value) in details { inner[key] = value }
        var headers: HTTPHeaders = [:]
        if status.code == 401 { headers["WWW-Authenticate"] = "Bearer" }
        if status.code == 503 { headers["Retry-After"] = "1" }
        if status.code == 429 { headers["Retry-After"] = String(retryAfter ?? 10) }
        return .json(status, JSONValue.object(JSONObject([("error", .object(inner))])).serialized(), headers: headers)
    }

    /// Maps anything a handler may throw to a service error. Database outages, statements past
    /// their deadline (SQLSTATE 57014 or the client's own) and a pool with no connection free in
    /// time become 503 `unavailable` with `Retry-After`, never 500; other unexpected errors become a
    /// bare 500 that reveals nothing.
    ///
    /// Whatever becomes a 5xx is noted as the current request's cause (type, code, SQLSTATE), so
    /// that its log line says why — the response itself says nothing.
    static func from(_ error: Error) -> ServiceError {
        let mapped = mapping(error)
        if mapped.status.code >= 500 { RequestContext.current?.noteCause(error) }
        return mapped
    }

    /// The status `from(_:)` would answer, without noting a cause for the request's log line.
    static func status(of error: Error) -> Int { mapping(error).status.code }

    private static func mapping(_ error: Error) -> ServiceError {
        switch error {
        case let e as ServiceError: return e
        case let e as ReferralsError: return from(e)
        case let e as ServiceStoreError:
            switch e {
            case .accessLogQueueFull:
                return ServiceError(
                    .serviceUnavailable, "unavailable", "Too many reads are waiting to be access-logged; retry shortly."
                )
            case .accessLogWriteFailed:
                return ServiceError(
                    .serviceUnavailable, "unavailable", "The access log cannot be written; retry shortly.")
            case .invalidCaseId: return .badRequest("Invalid case id.")
            case .tooManySubscriptions:
                return ServiceError(
                    .conflict, "too_many_subscriptions",
                    "This institution keeps \(SubscriptionStore.perOwner) subscriptions already; delete one first "
                        + "(DELETE /v1/subscriptions/{name}).",
                    details: [("limit", .number(JSONNumber(SubscriptionStore.perOwner)))])
            }
        case let e as EventStoreError:
            switch e {
            case .unavailable: return .unavailable
            case .wrongExpectedVersion(let expected, let actual):
                return .wrongExpectedVersion(expected: expectedJSON(expected), actual: actual)
            case .duplicateEventId(let id):
                return ServiceError(
                    .conflict, "duplicate_event_id", "An event id was already used with different content.",
                    details: [("id", .string(id))])
            case .invalid(let field, let message): return .invalidEvent(message, field: field)
            case .database: return .internalError
            }
        case let e as PostgresError where e.isUnavailable: return .unavailable
        default: return .internalError
        }
    }

    static func from(_ error: ReferralsError) -> ServiceError {
        let field: [(String, JSONValue)] = error.field.map { [("field", .string($0))] } ?? []
        switch error.code {
        case .invalidJSON: return ServiceError(.badRequest, "invalid_json", error.message)
        case .forbidden: return ServiceError(.forbidden, "forbidden", error.message, details: field)
        case .notFound: return ServiceError(.notFound, "not_found", error.message)
        case .wrongExpectedVersion:
            return ServiceError(.conflict, "wrong_expected_version", error.message, details: field)
        case .consentRequired:
            return ServiceError(.unprocessableContent, "consent_required", error.message, details: field)
        default: return ServiceError(.badRequest, "invalid_event", error.message, details: field)
        }
    }

    /// `3` as a number, `any`/`no-stream`/`exists` as strings, as the client sent them.
    static func expectedJSON(_ text: String) -> JSONValue {
        if let n = Int(text) { return .number(JSONNumber(n)) }
        return .string(text)
    }
}

extension ServiceError: LoggableError {
    /// The status and the stable code (the message is for the client, the details may echo input).
    public var logMetadata: LogMetadata { ["status": .int(status.code), "error_code": .string(code)] }
}
