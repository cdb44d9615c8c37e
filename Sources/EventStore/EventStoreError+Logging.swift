import Logging

extension EventStoreError: LoggableError {
    /// The stable code, and the SQLSTATE of a database error: never ids, fields or messages.
    public var logMetadata: LogMetadata {
        var out: LogMetadata = ["error_code": .string(code)]
        if case .database(let message) = self, message.hasPrefix(Self.sqlStatePrefix) {
            let state = message.dropFirst(Self.sqlStatePrefix.count)
            if state.count == 5, state.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
                out["sqlstate"] = .string(String(state))
            }
        }
        return out
    }

    /// How `PostgresError.description` begins for a server error, which `.database` carries.
    private static let sqlStatePrefix = "PostgreSQL error "
}
