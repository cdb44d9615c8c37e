import Logging

extension PostgresError: LoggableError {
    /// The kind and the SQLSTATE: never the server's message or detail, which can quote values.
    public var logMetadata: LogMetadata {
        var out: LogMetadata = ["error_kind": .string(kind.description)]
        if let sqlState { out["sqlstate"] = .string(sqlState) }
        return out
    }
}
