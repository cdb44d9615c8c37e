import Logging

extension HTTPError: LoggableError {
    /// The stable code and the `errno` of a failed system call.
    public var logMetadata: LogMetadata {
        var out: LogMetadata = ["error_code": .string(code.rawValue)]
        if let errno = self.errno { out["errno"] = .int(Int(errno)) }
        return out
    }
}
