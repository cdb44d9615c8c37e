import Postgres

/// An error of the event store, with a stable code that is safe to show a user.
public enum EventStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stream's version was not what the writer expected.
    case wrongExpectedVersion(expected: String, actual: Int64)
    /// An event id was reused with different content.
    case duplicateEventId(String)
    /// The append was malformed; `field` names what.
    case invalid(field: String, message: String)
    /// The database could not be reached (an outage): retry later.
    case unavailable
    /// Anything else from the database; the message leaks no data.
    case database(String)

    /// A stable snake_case code, as used by the HTTP API.
    public var code: String {
        switch self {
        case .wrongExpectedVersion: return "wrong_expected_version"
        case .duplicateEventId: return "duplicate_event_id"
        case .invalid: return "invalid_event"
        case .unavailable: return "unavailable"
        case .database: return "internal_error"
        }
    }

    public var description: String {
        switch self {
        case .wrongExpectedVersion(let expected, let actual):
            return "wrong expected version: expected \(expected), actual \(actual)"
        case .duplicateEventId(let id): return "event id \(id) was already used with different content"
        case .invalid(let field, let message): return "\(field): \(message)"
        case .unavailable: return "the database is unavailable"
        case .database(let message): return message
        }
    }

    /// Maps a PostgreSQL error raised by the store's SQL into a store error.
    static func from(_ error: Error) -> Error {
        guard let pg = error as? PostgresError else { return error }
        if pg.isUnavailable { return EventStoreError.unavailable }
        if let refusal = refusal(code: pg.sqlState ?? "", detail: pg.detail, message: pg.serverMessage) {
            return refusal
        }
        switch pg.sqlState {
        case "22P02", "22P05", "22032", "22007", "22008", "22003", "54001":
            return EventStoreError.invalid(field: "data", message: "not valid JSON or a malformed value")
        default: return EventStoreError.database(pg.description)
        }
    }

    /// An append's refusal by the SQL functions (Migrations/0030), raised (`handoff.append`) or
    /// returned as one append's outcome (`handoff.append_group`): its SQLSTATE, its DETAIL
    /// (`key=value;…`) and its message. Nil for any other code.
    static func refusal(code: String, detail: String?, message: String?) -> EventStoreError? {
        let detail = detail ?? ""
        func value(_ key: String) -> String? {
            for part in detail.split(separator: ";") {
                let kv = part.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0] == key { return String(kv[1]) }
            }
            return nil
        }
        switch code {
        case "HF001":
            return .wrongExpectedVersion(expected: value("expected") ?? "?", actual: Int64(value("actual") ?? "") ?? -1)
        case "HF002": return .duplicateEventId(value("id") ?? "?")
        case "HF003": return .invalid(field: value("field") ?? "events", message: message ?? "invalid")
        default: return nil
        }
    }
}
