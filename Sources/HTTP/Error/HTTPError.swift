import Glibc

/// The one error type of the HTTP module.
///
/// `code` is stable and safe to show; `message` is for a person and never contains request data.
/// For errors found while parsing a request, `status` is the status the server answers with
/// before it closes the connection.
public struct HTTPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable identifier for the kind of failure.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The bytes are not a well-formed HTTP/1.x request (400).
        public static let malformedRequest = Code(rawValue: "malformed_request")
        /// The request line or header block is over its limit, or there are too many headers (431).
        public static let headersTooLarge = Code(rawValue: "headers_too_large")
        /// The body is over its limit (413).
        public static let payloadTooLarge = Code(rawValue: "payload_too_large")
        /// The request names HTTP/2 or later on an HTTP/1 connection (505).
        public static let versionNotSupported = Code(rawValue: "version_not_supported")
        /// The peer closed the connection or reset it; a streaming writer throws this.
        public static let clientDisconnected = Code(rawValue: "client_disconnected")
        /// Nothing arrived (or could be sent) within the idle timeout.
        public static let timedOut = Code(rawValue: "timed_out")
        /// The server is shutting down and stopped waiting on this socket.
        public static let shuttingDown = Code(rawValue: "shutting_down")
        /// The server is not in a state that allows the call (e.g. `start()` twice).
        public static let invalidState = Code(rawValue: "invalid_state")
        /// A system call failed; `errno` says which error.
        public static let systemCall = Code(rawValue: "system_call")
    }

    public var code: Code
    /// The response status this error maps to (400, 413, 431, 505 for parse errors; 500 otherwise).
    public var status: HTTPStatus
    /// A short explanation for a person.
    public var message: String
    /// The `errno` of a failed system call, if any.
    public var errno: Int32?

    public init(code: Code, status: HTTPStatus = .internalServerError, message: String, errno: Int32? = nil) {
        self.code = code
        self.status = status
        self.message = message
        self.errno = errno
    }

    public var description: String {
        if let errno { "\(code): \(message) (errno \(errno))" } else { "\(code): \(message)" }
    }

    static func malformed(_ message: String) -> HTTPError {
        HTTPError(code: .malformedRequest, status: .badRequest, message: message)
    }

    static func headersTooLarge(_ message: String) -> HTTPError {
        HTTPError(code: .headersTooLarge, status: .requestHeaderFieldsTooLarge, message: message)
    }

    static func payloadTooLarge(_ message: String) -> HTTPError {
        HTTPError(code: .payloadTooLarge, status: .payloadTooLarge, message: message)
    }

    static func system(_ call: String, errno: Int32) -> HTTPError {
        HTTPError(code: .systemCall, message: "\(call) failed", errno: errno)
    }

    static let clientDisconnected = HTTPError(code: .clientDisconnected, message: "the client closed the connection")
    static let timedOut = HTTPError(
        code: .timedOut, status: .requestTimeout, message: "the connection was idle too long")
    static let shuttingDown = HTTPError(
        code: .shuttingDown, status: .serviceUnavailable, message: "the server is shutting down")
}
