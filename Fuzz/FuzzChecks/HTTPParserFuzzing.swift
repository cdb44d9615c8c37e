import HTTP

/// The fuzz check of ``HTTPRequestParser``.
///
/// Input layout: byte 0 is a control byte, then `n` split bytes, then the payload the parser
/// sees. Control bits 0–2 give `n` (0–7): the payload is fed in `n + 1` chunks, cut at
/// `split * payload.count / 255` for each split byte. Bit 3 selects tiny limits (64-byte body,
/// 128-byte header block, 4 fields…) so that small inputs reach every limit.
///
/// Checked for every input: no trap; the outcome (requests, error, final state) is the same
/// whether the payload arrives whole or in chunks; an error has one of the documented statuses
/// 400, 413, 431, 505 and is thrown again on every later call; every request respects the
/// limits and the framing rules the parser documents.
public enum HTTPParserFuzzing {
    /// The statuses ``HTTPRequestParser/next()`` documents.
    public static let documentedStatuses: Set<Int> = [400, 413, 431, 505]

    static let tinyLimits = HTTPLimits(
        maxBodySize: 64, maxRequestLineLength: 64, maxHeaderBlockSize: 128, maxHeaderCount: 4, maxChunkLineLength: 12)

    public static func check(_ input: [UInt8]) throws(InvariantViolation) {
        guard let control = input.first else { return }
        let limits = control & 0x08 != 0 ? tinyLimits : HTTPLimits()
        let splitBytes = input.dropFirst().prefix(Int(control & 0x07))
        let payload = Array(input.dropFirst(1 + splitBytes.count))
        var chunks: [ArraySlice<UInt8>] = []
        var start = 0
        for cut in splitBytes.map({ Int($0) * payload.count / 255 }).sorted() {
            chunks.append(payload[start..<cut])
            start = cut
        }
        chunks.append(payload[start...])

        let whole = try feed([payload[...]], limits: limits)
        try checkOutcome(whole, limits: limits)
        if chunks.count > 1 {
            let split = try feed(chunks, limits: limits)
            try expect(
                split == whole,
                "feeding the payload in \(chunks.count) chunks changed the outcome: \(split) instead of \(whole)")
        }
    }

    /// What a parser made of a byte stream, comparable across chunkings.
    struct Outcome: Equatable, CustomStringConvertible {
        var requests: [ParsedRequest] = []
        var error: HTTPError?
        var hasPartialRequest = false

        var description: String {
            "\(requests.count) requests, error \(error.map { "\($0.status.code) \($0)" } ?? "none"), "
                + "partial \(hasPartialRequest)"
        }
    }

    /// The observable fields of an ``HTTPRequest``.
    struct ParsedRequest: Equatable {
        var method: String
        var rawTarget: String
        var path: String
        var pathSegments: [String]
        var query: QueryItems
        var version: HTTPVersion
        var headers: HTTPHeaders
        var body: [UInt8]

        init(_ request: HTTPRequest) {
            method = request.method.rawValue
            rawTarget = request.rawTarget
            path = request.path
            pathSegments = request.pathSegments
            query = request.query
            version = request.version
            headers = request.headers
            body = request.body
        }
    }

    static func feed(_ chunks: [ArraySlice<UInt8>], limits: HTTPLimits) throws(InvariantViolation) -> Outcome {
        var parser = HTTPRequestParser(limits: limits)
        var outcome = Outcome()
        for chunk in chunks {
            parser.append(chunk)
            do {
                while let request = try parser.next() {
                    outcome.requests.append(ParsedRequest(request))
                    _ = parser.takeContinueRequest()
                }
                _ = parser.takeContinueRequest()
            } catch {
                outcome.error = error
                break
            }
        }
        if let error = outcome.error {
            // Documented: after an error the parser stays failed with the same error.
            parser.append(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            do {
                let request = try parser.next()
                throw InvariantViolation(
                    "a failed parser returned \(request == nil ? "nil" : "a request") after \(error)")
            } catch let again as HTTPError {
                try expect(again == error, "a failed parser threw \(again) after \(error)")
            } catch let violation as InvariantViolation {
                throw violation
            } catch {
                throw InvariantViolation("unexpected error \(error)")
            }
        }
        outcome.hasPartialRequest = parser.hasPartialRequest
        return outcome
    }

    static func checkOutcome(_ outcome: Outcome, limits: HTTPLimits) throws(InvariantViolation) {
        if let error = outcome.error {
            try expect(
                documentedStatuses.contains(error.status.code), "undocumented status \(error.status.code) for \(error)")
        }
        for (i, request) in outcome.requests.enumerated() {
            try checkRequest(request, limits: limits, index: i)
        }
    }

    static func checkRequest(_ request: ParsedRequest, limits: HTTPLimits, index: Int) throws(InvariantViolation) {
        let at = "request \(index)"
        try expect(!request.method.isEmpty && request.method.utf8.allSatisfy(isTokenByte), "\(at): method not a token")
        try expect(
            !request.rawTarget.isEmpty && request.rawTarget.utf8.allSatisfy { (0x21...0x7E).contains($0) },
            "\(at): target has bytes outside visible ASCII")
        try expect(request.version.major == 1 && (0...9).contains(request.version.minor), "\(at): version")
        try expect(
            request.body.count <= limits.maxBodySize, "\(at): body of \(request.body.count) bytes over the limit")
        try expect(request.headers.count <= limits.maxHeaderCount, "\(at): \(request.headers.count) header fields")
        var blockSize = 0
        for field in request.headers {
            try expect(!field.name.isEmpty && field.name.utf8.allSatisfy(isTokenByte), "\(at): header name not a token")
            try expect(field.value.utf8.allSatisfy(isFieldValueByte), "\(at): control character in a header value")
            try expect(
                field.value.utf8.first.map(isWhitespace) != true && field.value.utf8.last.map(isWhitespace) != true,
                "\(at): header value not trimmed")
            blockSize += field.name.utf8.count + 1 + minimumRawSize(field.value) + 2
        }
        try expect(blockSize <= limits.maxHeaderBlockSize, "\(at): header block of \(blockSize) bytes over the limit")

        let hosts = request.headers.values(for: "Host")
        try expect(hosts.count <= 1, "\(at): \(hosts.count) Host fields")
        if request.version != .http1_0 { try expect(hosts.count == 1, "\(at): HTTP/1.1 without Host") }
        let transferEncodings = request.headers.values(for: "Transfer-Encoding")
        let contentLengths = request.headers.values(for: "Content-Length")
        try expect(
            transferEncodings.isEmpty || contentLengths.isEmpty, "\(at): both Transfer-Encoding and Content-Length")
        if !transferEncodings.isEmpty {
            try expect(request.version != .http1_0, "\(at): Transfer-Encoding on HTTP/1.0")
        } else if let first = contentLengths.first {
            let digits = first.split(separator: ",", omittingEmptySubsequences: false).first.map {
                $0.trimmingCharacters(in: [" ", "\t"])
            }
            let significant = digits?.drop { $0 == "0" }
            let length = significant.flatMap { $0.isEmpty ? 0 : Int($0) }
            try expect(
                length == request.body.count, "\(at): Content-Length disagrees with a \(request.body.count)-byte body")
        } else {
            try expect(request.body.isEmpty, "\(at): a body without Content-Length or Transfer-Encoding")
        }
    }

    /// RFC 9110 `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// RFC 9110 `field-vchar`, space and tab (obs-text allowed): no other control characters.
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
    }

    /// The fewest raw bytes a decoded header value can come from: invalid UTF-8 (obs-text) is
    /// decoded to U+FFFD, three bytes, from as little as one byte.
    static func minimumRawSize(_ value: String) -> Int {
        value.utf8.count - 2 * value.unicodeScalars.count { $0 == "\u{FFFD}" }
    }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> Substring {
        var result = self
        while let first = result.first, set.contains(first) { result = result.dropFirst() }
        while let last = result.last, set.contains(last) { result = result.dropLast() }
        return result
    }
}
