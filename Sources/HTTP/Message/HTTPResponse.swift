/// A response: status, headers and a body that is either complete bytes or a stream.
///
/// The server adds `Date`, `Connection` and, for complete bodies, `Content-Length` (any
/// `Content-Length` or `Transfer-Encoding` set here is replaced). A `HEAD` request gets the
/// same head without the body; a streaming body is then never started.
///
/// A streaming body is written with chunked transfer encoding to HTTP/1.1 clients, so the
/// connection can be reused afterwards, and raw followed by a close to HTTP/1.0 clients:
/// ```swift
/// HTTPResponse.stream(headers: ["Content-Type": "text/event-stream"]) { writer in
///     for event in events {
///         try await writer.write("data: \(event)\n\n")   // throws once the client is gone
///     }
/// }
/// ```
public struct HTTPResponse: Sendable {
    /// What follows the head.
    public enum Body: Sendable {
        /// A complete body; `Content-Length` is set from it.
        case bytes([UInt8])
        /// A body produced while it is sent. The closure gets a ``ResponseWriter``; the response
        /// ends when the closure returns. If it throws, the connection is closed.
        case stream(@Sendable (ResponseWriter) async throws -> Void)
    }

    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: Body

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A complete response with the given bytes.
    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], bytes: [UInt8]) {
        self.init(status: status, headers: headers, body: .bytes(bytes))
    }

    /// A JSON response from already encoded JSON text (`Content-Type: application/json`).
    public static func json(_ status: HTTPStatus = .ok, _ json: [UInt8], headers: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = headers
        headers["Content-Type"] = "application/json"
        return HTTPResponse(status: status, headers: headers, body: .bytes(json))
    }

    /// A JSON response from already encoded JSON text (`Content-Type: application/json`).
    public static func json(_ status: HTTPStatus = .ok, _ json: String, headers: HTTPHeaders = [:]) -> HTTPResponse {
        .json(status, Array(json.utf8), headers: headers)
    }

    /// A plain-text response (`Content-Type: text/plain; charset=utf-8`).
    public static func text(_ status: HTTPStatus = .ok, _ text: String, headers: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = headers
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return HTTPResponse(status: status, headers: headers, body: .bytes(Array(text.utf8)))
    }

    /// A streaming response; see the type's documentation.
    public static func stream(
        _ status: HTTPStatus = .ok,
        headers: HTTPHeaders = [:],
        _ produce: @escaping @Sendable (ResponseWriter) async throws -> Void
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers, body: .stream(produce))
    }

    /// The project's JSON error: `{"error":{"code":"<code>","message":"<message>"}}`.
    /// ```swift
    /// HTTPResponse.error(.notFound, code: "not_found", message: "No such case.")
    /// ```
    public static func error(_ status: HTTPStatus, code: String, message: String, headers: HTTPHeaders = [:])
        -> HTTPResponse
    {
        let json = #"{"error":{"code":"# + JSONText.quoted(code) + #","message":"# + JSONText.quoted(message) + "}}"
        return .json(status, json, headers: headers)
    }

    /// The JSON error the HTTP layer itself answers with for a status: `bad_request` (400, 431,
    /// 505), `payload_too_large` (413), `not_found` (404), `method_not_allowed` (405).
    public static func error(_ status: HTTPStatus, message: String, headers: HTTPHeaders = [:]) -> HTTPResponse {
        let code =
            switch status.code {
            case 404: "not_found"
            case 405: "method_not_allowed"
            case 413: "payload_too_large"
            case 503: "unavailable"
            case 400..<500, 505: "bad_request"
            default: "internal_error"
            }
        return .error(status, code: code, message: message, headers: headers)
    }

    /// The body's bytes if it is complete, else `nil`.
    public var bodyBytes: [UInt8]? {
        if case .bytes(let bytes) = body { return bytes }
        return nil
    }
}

/// Minimal JSON string quoting, for the error bodies the HTTP layer writes itself.
enum JSONText {
    static func quoted(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
