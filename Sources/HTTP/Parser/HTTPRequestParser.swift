/// A strict HTTP/1.1 request parser: a pure state machine over bytes, with no I/O.
///
/// Feed it bytes as they arrive with ``append(_:)``, then call ``next()`` until it returns `nil`
/// (it needs more bytes). Every complete request is returned in order, so several pipelined
/// requests in one read are all served. After an error the parser stays failed: answer with
/// the error's `status` and close the connection.
///
/// ```swift
/// var parser = HTTPRequestParser()
/// parser.append(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
/// while let request = try parser.next() { … }
/// ```
///
/// Policy (RFC 9112, read strictly; anything listed here is refused before a handler sees it):
/// - Lines end in CRLF. A bare LF or a CR not followed by LF is refused (400): lenient line
///   endings are a request-smuggling vector when a proxy reads them differently.
/// - Up to two empty lines before a request line are ignored (RFC 9112 §2.2); a third is 400.
/// - The version is `HTTP/1.x` (x one digit). `HTTP/2.0`…`HTTP/9.9` is 505; anything else is 400.
///   HTTP/1.1 requests need exactly one `Host` field (400 otherwise).
/// - Request targets are origin-form (`/path?query`), absolute-form (`http://host/path`) or `*`,
///   of visible ASCII only; malformed percent escapes or non-UTF-8 paths and queries are 400.
/// - Header names are tokens with the colon right after them; values hold no control characters
///   (NUL, CR, LF…). A line starting with whitespace (obs-fold) is 400.
/// - `Transfer-Encoding` together with `Content-Length` is 400, as is any coding but exactly
///   `chunked`, and `Transfer-Encoding` on an HTTP/1.0 request. `Content-Length` must be digits;
///   repeated values must all be equal (400 otherwise); a value over the body limit is 413.
/// - Chunked bodies: hex sizes (extensions allowed and ignored), CRLF after each chunk's data,
///   trailers parsed with the header rules and limits, then dropped. The body limit applies to
///   the decoded body.
/// - `Expect: 100-continue` is answered: ``takeContinueRequest()`` tells the connection to send
///   `100 Continue` once the head is accepted and the body is awaited. Other expectations are ignored.
public struct HTTPRequestParser: Sendable {
    private enum State: Sendable {
        case requestLine(emptyLinesSeen: Int)
        case headers
        /// The header block is complete and a body follows (`remaining` bytes, nil: chunked);
        /// nothing more is parsed until ``admitBody(maxBytes:)``.
        case awaitingAdmission(remaining: Int?)
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case failed(HTTPError)
    }

    public let limits: HTTPLimits
    private var state: State = .requestLine(emptyLinesSeen: 0)
    /// The spaces in the request line received so far (``vetRequestLineByte(_:)``).
    private var requestLineSpaces = 0
    private var buffer: [UInt8] = []
    private var position = 0
    private var line: [UInt8] = []
    private var sawCR = false
    private var request: HTTPRequest?
    private var headers = HTTPHeaders()
    private var fieldBytes = 0
    private var fieldCount = 0
    private var continueRequested = false
    /// The body limit of the request being parsed: `limits.maxBodySize`, or less once admitted so.
    private var bodyLimit: Int

    /// When true, the parser stops after a header block that announces a body, so that the
    /// caller can decide (from the method, target and headers — e.g. who is asking) whether and
    /// how much of the body to receive before a byte of it is buffered: see
    /// ``requestAwaitingBody`` and ``admitBody(maxBytes:)``.
    public var pausesBeforeBody = false

    public init(limits: HTTPLimits = HTTPLimits(), pausesBeforeBody: Bool = false) {
        self.limits = limits
        self.bodyLimit = limits.maxBodySize
        self.pausesBeforeBody = pausesBeforeBody
    }

    /// The request (without its body) whose body waits for ``admitBody(maxBytes:)``, and the
    /// body's declared length (nil: chunked, length unknown); nil when no body is waiting.
    public var requestAwaitingBody: (request: HTTPRequest, contentLength: Int?)? {
        guard case .awaitingAdmission(let remaining) = state, let request else { return nil }
        return (request, remaining)
    }

    /// Lets the waiting body be received, at most `maxBytes` of it (never more than
    /// `limits.maxBodySize`); a body over that makes ``next()`` throw 413. Does nothing when no
    /// body is waiting.
    public mutating func admitBody(maxBytes: Int) {
        guard case .awaitingAdmission(let remaining) = state else { return }
        bodyLimit = max(0, min(maxBytes, limits.maxBodySize))
        if let remaining {
            guard remaining <= bodyLimit else {
                state = .failed(.payloadTooLarge("the body is larger than \(bodyLimit) bytes"))
                return
            }
            state = .fixedBody(remaining: remaining)
        } else {
            state = .chunkSize
        }
    }

    /// Adds received bytes. Nothing is parsed until ``next()``.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Whether the parser sits between requests with no unparsed bytes (the connection is idle).
    public var isIdle: Bool {
        if case .requestLine(0) = state, line.isEmpty, !sawCR, position == buffer.count { return true }
        return false
    }

    /// The bytes received and not parsed yet (after a paused header block: the start of the body).
    public var unparsedByteCount: Int { buffer.count - position }

    /// Whether bytes of an unfinished request have been received (or are buffered unparsed).
    public var hasPartialRequest: Bool { !isIdle }

    /// Returns `true` once per request whose client sent `Expect: 100-continue` and whose body
    /// is now awaited: the connection should write `HTTP/1.1 100 Continue` before reading on.
    public mutating func takeContinueRequest() -> Bool {
        defer { continueRequested = false }
        return continueRequested
    }

    /// Parses buffered bytes and returns the next complete request, or `nil` when more bytes
    /// are needed.
    /// - Throws: ``HTTPError`` with the status to answer (400, 413, 431, 505). The same error is
    ///   thrown on every later call.
    public mutating func next() throws(HTTPError) -> HTTPRequest? {
        if case .failed(let error) = state { throw error }
        do {
            let result = try step()
            compact()
            return result
        } catch {
            state = .failed(error)
            buffer = []
            position = 0
            throw error
        }
    }

    private mutating func compact() {
        if position == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 65_536)
            position = 0
        } else if position > 4_096 && position * 2 > buffer.count {
            buffer.removeFirst(position)
            position = 0
        }
    }

    private mutating func step() throws(HTTPError) -> HTTPRequest? {
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .awaitingAdmission:
                return nil
            case .requestLine(let emptyLinesSeen):
                guard
                    let requestLine = try scanLine(
                        limit: limits.maxRequestLineLength,
                        overflow: .headersTooLarge("the request line is too long"), requestLine: true)
                else { return nil }
                if requestLine.isEmpty {
                    guard emptyLinesSeen < 2 else { throw .malformed("too many empty lines before the request line") }
                    state = .requestLine(emptyLinesSeen: emptyLinesSeen + 1)
                    continue
                }
                request = try Self.parseRequestLine(requestLine)
                headers = HTTPHeaders()
                fieldBytes = 0
                fieldCount = 0
                state = .headers
            case .headers:
                guard
                    let headerLine = try scanLine(
                        limit: limits.maxHeaderBlockSize - fieldBytes - 2,
                        overflow: .headersTooLarge("the header block is too large"))
                else { return nil }
                if headerLine.isEmpty {
                    if let complete = try headerBlockEnded() { return complete }
                    continue
                }
                headers.fields.append(try countedField(headerLine))
            case .fixedBody(let remaining):
                let available = buffer.count - position
                guard available > 0 else { return nil }
                let take = min(available, remaining)
                let bytes = buffer[position..<(position + take)]
                request!.body.append(contentsOf: bytes)
                position += take
                if take == remaining { return finishRequest() }
                state = .fixedBody(remaining: remaining - take)
            case .chunkSize:
                guard
                    let sizeLine = try scanLine(
                        limit: limits.maxChunkLineLength, overflow: .malformed("the chunk-size line is too long"))
                else { return nil }
                let size = try parseChunkSize(sizeLine)
                if size == 0 {
                    fieldBytes = 0
                    fieldCount = 0
                    state = .trailers
                } else {
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let available = buffer.count - position
                guard available > 0 else { return nil }
                let take = min(available, remaining)
                let bytes = buffer[position..<(position + take)]
                request!.body.append(contentsOf: bytes)
                position += take
                state = take == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - take)
            case .chunkDataEnd:
                guard try scanLine(limit: 0, overflow: .malformed("chunk data is longer than its size")) != nil
                else { return nil }
                state = .chunkSize
            case .trailers:
                guard
                    let trailerLine = try scanLine(
                        limit: limits.maxHeaderBlockSize - fieldBytes - 2,
                        overflow: .headersTooLarge("the trailer block is too large"))
                else { return nil }
                if trailerLine.isEmpty { return finishRequest() }
                _ = try countedField(trailerLine)
            }
        }
    }

    /// Moves bytes into `line` until CRLF; returns the line without it, or `nil` at the end of
    /// the buffer. A line longer than `limit` throws `overflow` as soon as it is seen.
    /// - Parameter requestLine: each byte is vetted as it arrives, so that what cannot begin a
    ///   request line (a TLS handshake, binary noise) is refused at once, not after the idle
    ///   timeout: a token for the method, then printable ASCII, at most two spaces.
    private mutating func scanLine(limit: Int, overflow: HTTPError, requestLine: Bool = false) throws(HTTPError)
        -> [UInt8]?
    {
        while position < buffer.count {
            let byte = buffer[position]
            position += 1
            if sawCR {
                sawCR = false
                guard byte == ASCII.lf else { throw .malformed("a CR not followed by LF") }
                defer {
                    line = []
                    requestLineSpaces = 0
                }
                return line
            }
            if byte == ASCII.cr {
                sawCR = true
            } else if byte == ASCII.lf {
                throw .malformed("a bare LF line ending")
            } else {
                if requestLine { try vetRequestLineByte(byte) }
                line.append(byte)
                if line.count > limit { throw overflow }
            }
        }
        return nil
    }

    /// The longest method a request line may begin with.
    static let maxMethodLength = 24

    /// Refuses `byte` unless it may follow the request line so far (`method SP target SP version`).
    private mutating func vetRequestLineByte(_ byte: UInt8) throws(HTTPError) {
        if byte == ASCII.space {
            requestLineSpaces += 1
            guard requestLineSpaces <= 2 else { throw .malformed("the request line is not 'method target version'") }
        } else if requestLineSpaces == 0 {
            guard ASCII.isTokenCharacter(byte) else { throw .malformed("the method is not a token") }
            // No method is near this long (the longest registered are 17 letters).
            guard line.count < Self.maxMethodLength else { throw .malformed("the method is too long") }
        } else {
            guard (0x21...0x7E).contains(byte) else {
                throw .malformed("the request line has a character that must be percent-encoded")
            }
        }
    }

    private static func parseRequestLine(_ bytes: [UInt8]) throws(HTTPError) -> HTTPRequest {
        let parts = bytes.split(separator: ASCII.space, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("the request line is not 'method target version'") }
        let (methodBytes, targetBytes, versionBytes) = (parts[0], parts[1], parts[2])
        guard !methodBytes.isEmpty, methodBytes.allSatisfy(ASCII.isTokenCharacter) else {
            throw .malformed("the method is not a token")
        }
        guard !targetBytes.isEmpty, targetBytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw .malformed("the request target has characters that must be percent-encoded")
        }
        let version = try parseVersion(versionBytes)
        let method = HTTPMethod(String(decoding: methodBytes, as: UTF8.self))
        guard let target = RequestTarget(Array(targetBytes)) else {
            throw .malformed("the request target is not a valid path and query")
        }
        if target.path == "*" && method != .OPTIONS {
            throw .malformed("the asterisk target is only for OPTIONS")
        }
        return HTTPRequest(
            method: method, rawTarget: String(decoding: targetBytes, as: UTF8.self), target: target,
            version: version, headers: HTTPHeaders())
    }

    private static func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPError) -> HTTPVersion {
        let v = Array(bytes)
        guard v.count == 8, v.starts(with: Array("HTTP/".utf8)), v[6] == UInt8(ascii: "."),
            (48...57).contains(v[5]), (48...57).contains(v[7])
        else { throw .malformed("the protocol version is not HTTP/1.x") }
        let major = Int(v[5] - 48)
        let minor = Int(v[7] - 48)
        if major >= 2 {
            throw HTTPError(
                code: .versionNotSupported, status: .httpVersionNotSupported,
                message: "only HTTP/1.0 and HTTP/1.1 are served on this port")
        }
        guard major == 1 else { throw .malformed("the protocol version is not HTTP/1.x") }
        return HTTPVersion(major: 1, minor: minor)
    }

    /// Validates one field line and counts it against the header limits.
    private mutating func countedField(_ bytes: [UInt8]) throws(HTTPError) -> HTTPHeaders.Field {
        fieldBytes += bytes.count + 2
        fieldCount += 1
        guard fieldCount <= limits.maxHeaderCount else { throw .headersTooLarge("there are too many header fields") }
        guard bytes[0] != ASCII.space && bytes[0] != ASCII.tab else {
            throw .malformed("obsolete line folding (a header line starting with whitespace)")
        }
        guard let colon = bytes.firstIndex(of: ASCII.colon) else { throw .malformed("a header line has no colon") }
        let name = bytes[..<colon]
        guard !name.isEmpty, name.allSatisfy(ASCII.isTokenCharacter) else {
            throw .malformed("a header name is empty or not a token")
        }
        var value = bytes[(colon + 1)...]
        while let first = value.first, first == ASCII.space || first == ASCII.tab { value = value.dropFirst() }
        while let last = value.last, last == ASCII.space || last == ASCII.tab { value = value.dropLast() }
        guard value.allSatisfy(ASCII.isFieldValueCharacter) else {
            throw .malformed("a header value contains a control character")
        }
        return HTTPHeaders.Field(
            name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
    }

    /// Whether `value` is a Host header's `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2):
    /// a registered name (unreserved, percent-encoded and sub-delimiter characters) or an IP
    /// literal in brackets, then a port of at most 65535. Empty is allowed (a target without an
    /// authority). A value with a slash, `@`, spaces, a double quote, a second colon outside
    /// brackets and the like names no host: the request is refused, so no page can echo or compare
    /// such a value. (The sub-delimiters `'(),;=` are allowed in a registered name, as the RFC says.)
    static func isValidHost(_ value: [UInt8]) -> Bool {
        guard value.count <= 255 else { return false }
        var rest = value[...]
        if rest.first == UInt8(ascii: "[") {
            guard let close = rest.firstIndex(of: UInt8(ascii: "]")), close > rest.startIndex + 1 else { return false }
            let literal = rest[(rest.startIndex + 1)..<close]
            guard literal.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { return false }
            rest = rest[(close + 1)...]
        } else {
            let end = rest.firstIndex(of: UInt8(ascii: ":")) ?? rest.endIndex
            guard rest[..<end].allSatisfy(isRegisteredNameByte) else { return false }
            rest = rest[end...]
        }
        guard let colon = rest.first else { return true }
        let port = rest.dropFirst()
        return colon == UInt8(ascii: ":") && port.count <= 5 && port.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
            && (Int(String(decoding: port, as: UTF8.self)) ?? 0) <= 65_535
    }

    private static func isHexDigit(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
    }

    /// `unreserved / pct-encoded / sub-delims` (RFC 3986), the `%` without checking its digits.
    private static func isRegisteredNameByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return Array("-._~%!$&'()*+,;=".utf8).contains(b)
        }
    }

    /// Decides how the body is framed once the header block is complete; returns the request
    /// when it has no body.
    private mutating func headerBlockEnded() throws(HTTPError) -> HTTPRequest? {
        request!.headers = headers
        let version = request!.version
        let hosts = headers.values(for: "Host")
        if version != .http1_0 && hosts.count != 1 {
            throw .malformed("an HTTP/1.1 request needs exactly one Host header")
        }
        if hosts.count > 1 { throw .malformed("more than one Host header") }
        if let host = hosts.first, !Self.isValidHost(Array(host.utf8)) {
            throw .malformed("the Host header is not a host with an optional port")
        }

        let transferEncodings = headers.values(for: "Transfer-Encoding")
        let contentLengths = headers.values(for: "Content-Length")
        if !transferEncodings.isEmpty {
            guard contentLengths.isEmpty else {
                throw .malformed("both Transfer-Encoding and Content-Length are present")
            }
            guard version != .http1_0 else { throw .malformed("Transfer-Encoding on an HTTP/1.0 request") }
            let codings = transferEncodings.flatMap { $0.split(separator: ",") }
                .map { $0.trimmingHTTPWhitespace().lowercasedASCII() }
                .filter { !$0.isEmpty }
            guard codings == ["chunked"] else { throw .malformed("the only transfer coding accepted is chunked") }
            state = pausesBeforeBody ? .awaitingAdmission(remaining: nil) : .chunkSize
        } else if !contentLengths.isEmpty {
            let length = try parseContentLength(contentLengths)
            guard length > 0 else { return finishRequest() }
            state = pausesBeforeBody ? .awaitingAdmission(remaining: length) : .fixedBody(remaining: length)
        } else {
            return finishRequest()
        }
        if version != .http1_0 && headers.hasToken("100-continue", in: "Expect") {
            continueRequested = true
        }
        return nil
    }

    private func parseContentLength(_ values: [String]) throws(HTTPError) -> Int {
        var canonical: Substring?
        for value in values {
            for element in value.split(separator: ",", omittingEmptySubsequences: false) {
                let digits = element.trimmingHTTPWhitespace()
                guard !digits.isEmpty, digits.utf8.allSatisfy({ (48...57).contains($0) }) else {
                    throw .malformed("Content-Length is not a non-negative decimal number")
                }
                var significant = digits.drop { $0 == "0" }
                if significant.isEmpty { significant = "0" }
                if let canonical, canonical != significant {
                    throw .malformed("Content-Length values disagree")
                }
                canonical = significant
            }
        }
        guard let canonical, canonical.utf8.count <= 18, let length = Int(canonical), length <= limits.maxBodySize
        else { throw .payloadTooLarge("the body is larger than \(limits.maxBodySize) bytes") }
        return length
    }

    private func parseChunkSize(_ bytes: [UInt8]) throws(HTTPError) -> Int {
        var end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.endIndex
        let extensions = bytes[end...]
        guard extensions.allSatisfy(ASCII.isFieldValueCharacter) else {
            throw .malformed("a chunk extension contains a control character")
        }
        // BWS before the extension's semicolon.
        while end > 0 && extensions.first == UInt8(ascii: ";")
            && (bytes[end - 1] == ASCII.space || bytes[end - 1] == ASCII.tab)
        {
            end -= 1
        }
        let hex = bytes[..<end]
        guard !hex.isEmpty, hex.allSatisfy({ ASCII.hexValue($0) != nil }) else {
            throw .malformed("a chunk size is not hexadecimal")
        }
        let budget = bodyLimit - request!.body.count
        var size = 0
        for digit in hex {
            size = size * 16 + Int(ASCII.hexValue(digit)!)
            if size > budget { throw .payloadTooLarge("the body is larger than \(bodyLimit) bytes") }
        }
        return size
    }

    private mutating func finishRequest() -> HTTPRequest {
        defer {
            request = nil
            headers = HTTPHeaders()
            continueRequested = false
            bodyLimit = limits.maxBodySize
            state = .requestLine(emptyLinesSeen: 0)
        }
        return request!
    }
}
