/// An error's cause as it may be logged: its type, and a code that the error itself declares safe.
///
/// An error's `description` can carry values (a SQL parameter, a field of an event, a path), so
/// the logger never prints one it does not know. A type that wants more than its name in the log
/// conforms to ``LoggableError`` and says exactly what.
public protocol LoggableError: Error {
    /// Metadata safe to log: codes and SQLSTATEs, never values.
    var logMetadata: LogMetadata { get }
}

extension LogMetadata {
    /// `error_type` (the error's Swift type) plus what a ``LoggableError`` declares.
    public static func cause(_ error: any Error) -> LogMetadata {
        var out: LogMetadata = ["error_type": .string(String(reflecting: type(of: error)))]
        if let loggable = error as? any LoggableError {
            for (key, value) in loggable.logMetadata { out[key] = value }
        }
        return out
    }
}
