import Logging

extension ProjectionsError: LoggableError {
    /// The stable code (projector names are not data, but the code says enough).
    public var logMetadata: LogMetadata { ["error_code": .string(code)] }
}
