import Testing

@testable import HTTP

/// Feeds `chunks` one after another and collects every request, stopping at the first error.
func parse(_ chunks: [[UInt8]], limits: HTTPLimits = HTTPLimits()) -> (requests: [HTTPRequest], error: HTTPError?) {
    var parser = HTTPRequestParser(limits: limits)
    var requests: [HTTPRequest] = []
    for chunk in chunks {
        parser.append(chunk)
        do {
            while let request = try parser.next() { requests.append(request) }
        } catch {
            return (requests, error)
        }
    }
    return (requests, nil)
}

func parse(_ text: String, limits: HTTPLimits = HTTPLimits()) -> (requests: [HTTPRequest], error: HTTPError?) {
    parse([Array(text.utf8)], limits: limits)
}

/// One parser input and what must come of it.
struct ParserCase: Sendable, CustomTestStringConvertible {
    enum Outcome: Sendable {
        /// Parses to exactly this many requests with no error; the last has this body.
        case requests(Int, lastBody: String)
        /// Fails with this status (after any requests before it).
        case status(Int)
        /// Needs more bytes: no request, no error.
        case incomplete
    }
    let name: String
    let input: [UInt8]
    let outcome: Outcome

    init(_ name: String, _ input: String, _ outcome: Outcome) {
        self.name = name
        self.input = Array(input.utf8)
        self.outcome = outcome
    }

    init(_ name: String, bytes: [UInt8], _ outcome: Outcome) {
        self.name = name
        self.input = bytes
        self.outcome = outcome
    }

    var testDescription: String { name }
}

let parserCases: [ParserCase] = [
    // Valid
    .init("simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", .requests(1, lastBody: "")),
    .init("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", .requests(1, lastBody: "")),
    .init("HTTP/1.2 is served as 1.x", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", .requests(1, lastBody: "")),
    .init(
        "content-length body", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        .requests(1, lastBody: "hello")),
    .init(
        "zero content-length", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", .requests(1, lastBody: "")),
    .init(
        "leading zeros in content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhello",
        .requests(1, lastBody: "hello")),
    .init(
        "repeated equal content-length",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", .requests(1, lastBody: "abc")
    ),
    .init(
        "content-length list of equal values", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc",
        .requests(1, lastBody: "abc")),
    .init(
        "chunked body",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        .requests(1, lastBody: "hello world")),
    .init(
        "chunked uppercase hex and extension",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\nA;name=value\r\n0123456789\r\n0\r\n\r\n",
        .requests(1, lastBody: "0123456789")),
    .init(
        "chunk extension after whitespace",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 ;x\r\nz\r\n0\r\n\r\n",
        .requests(1, lastBody: "z")),
    .init(
        "chunked with trailers",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Checksum: 1\r\nX-More: 2\r\n\r\n",
        .requests(1, lastBody: "ok")),
    .init(
        "pipelined three",
        "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiGET /3 HTTP/1.1\r\nHost: a\r\n\r\n",
        .requests(3, lastBody: "")),
    .init(
        "one and two leading empty lines",
        "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", .requests(2, lastBody: "")),
    .init(
        "absolute-form target", "GET http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n",
        .requests(1, lastBody: "")),
    .init("asterisk for OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", .requests(1, lastBody: "")),
    .init(
        "header value with obs-text and tabs", "GET / HTTP/1.1\r\nHost: a\r\nX: \tv\u{00E9}lue \t\r\n\r\n",
        .requests(1, lastBody: "")),
    .init("empty header value", "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", .requests(1, lastBody: "")),
    .init("custom method token", "PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n", .requests(1, lastBody: "")),
    // Incomplete
    .init("head without final CRLF", "GET / HTTP/1.1\r\nHost: a\r\n", .incomplete),
    .init(
        "body shorter than content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", .incomplete),
    .init(
        "chunked without last chunk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
        .incomplete),
    .init("lone CR at end", "GET / HTTP/1.1\r", .incomplete),
    // Malformed: 400
    .init("bare LF line endings", "GET / HTTP/1.1\nHost: a\n\n", .status(400)),
    .init("bare LF in header block", "GET / HTTP/1.1\r\nHost: a\n\r\n", .status(400)),
    .init("CR without LF", "GET / HTTP/1.1\rHost: a\r\n\r\n", .status(400)),
    .init("three leading empty lines", "\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("missing Host on 1.1", "GET / HTTP/1.1\r\n\r\n", .status(400)),
    .init("two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .status(400)),
    .init("Host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", .status(400)),
    .init("Host with user info", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", .status(400)),
    .init("Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", .status(400)),
    .init("Host with a quote", "GET / HTTP/1.1\r\nHost: a\"><x\r\n\r\n", .status(400)),
    .init("Host with two colons", "GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n", .status(400)),
    .init("Host with a long port", "GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", .status(400)),
    .init("Host with a port past 65535", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", .status(400)),
    .init("Host IPv6 unclosed", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", .status(400)),
    .init("Host IPv6 with a name", "GET / HTTP/1.1\r\nHost: [evil.example]\r\n\r\n", .status(400)),
    .init("Host with a port", "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n", .requests(1, lastBody: "")),
    .init("Host IPv6 with a port", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", .requests(1, lastBody: "")),
    .init("Host IPv4", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", .requests(1, lastBody: "")),
    .init("Host empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n", .requests(1, lastBody: "")),
    .init("lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", .status(400)),
    .init("version with two digits", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", .status(400)),
    .init("HTTP/2.0 is 505", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", .status(505)),
    .init("HTTP/3.0 is 505", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", .status(505)),
    .init("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", .status(505)),
    .init("missing version", "GET /\r\nHost: a\r\n\r\n", .status(400)),
    .init("two spaces in request line", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("tab in request line", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("method not a token", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("target not origin-form", "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("authority-form target", "CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("asterisk for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("malformed percent escape", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("truncated percent escape", "GET /a% HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("percent escape to invalid UTF-8", "GET /a%FF HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("malformed query escape", "GET /a?b=%G0 HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("fragment in target", "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n", .status(400)),
    .init("whitespace before first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", .status(400)),
    .init("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", .status(400)),
    .init("header without colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", .status(400)),
    .init("empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: value\r\n\r\n", .status(400)),
    .init("header name with slash", "GET / HTTP/1.1\r\nHost: a\r\nX/Y: 1\r\n\r\n", .status(400)),
    .init("NUL in header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", .status(400)),
    .init("NUL in header name", "GET / HTTP/1.1\r\nHost: a\r\nX\u{0}: b\r\n\r\n", .status(400)),
    .init("DEL in header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7F}b\r\n\r\n", .status(400)),
    .init("NUL in target", "GET /\u{0} HTTP/1.1\r\nHost: a\r\n\r\n", .status(400)),
    .init(
        "CL and TE (CL.TE smuggling)",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", .status(400)),
    .init(
        "TE and CL (TE.CL smuggling)",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
        .status(400)),
    .init(
        "conflicting content-lengths",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", .status(400)),
    .init(
        "conflicting content-length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd",
        .status(400)),
    .init("negative content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", .status(400)),
    .init("plus-signed content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", .status(400)),
    .init("hex content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", .status(400)),
    .init("empty content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", .status(400)),
    .init("content-length with inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", .status(400)),
    .init("unknown transfer coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", .status(400)),
    .init(
        "gzip then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        .status(400)),
    .init(
        "chunked twice",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        .status(400)),
    .init("identity coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", .status(400)),
    .init(
        "obfuscated chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", .status(400)
    ),
    .init("chunked on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", .status(400)),
    .init("chunk size not hex", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .status(400)),
    .init("empty chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", .status(400)),
    .init(
        "negative chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", .status(400)),
    .init(
        "0x chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
        .status(400)),
    .init(
        "chunk data longer than size",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", .status(400)),
    .init(
        "chunk data without CRLF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab0\r\n\r\n",
        .status(400)),
    .init(
        "chunk size with bare LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n0\r\n\r\n",
        .status(400)),
    .init(
        "control character in chunk extension",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;\u{1}\r\na\r\n0\r\n\r\n", .status(400)),
    .init(
        "malformed trailer", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
        .status(400)),
    .init(
        "obs-fold in trailer",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n 2\r\n\r\n", .status(400)),
    .init(
        "valid then garbage keeps the first", "GET / HTTP/1.1\r\nHost: a\r\n\r\n\u{1}\u{2}\u{3} nonsense\r\n",
        .status(400)),
    .init(
        "TLS client hello", bytes: [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03, 0x0D, 0x0A],
        .status(400)),
    // Size limits: 413 and 431
    .init(
        "huge content-length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
        .status(413)),
    .init(
        "huge chunk size",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n", .status(413)),
    .init(
        "chunk size overflowing Int",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000001\r\n", .status(413)),
]

@Suite("HTTPRequestParser")
struct ParserTests {
    @Test("table", arguments: parserCases)
    func table(_ testCase: ParserCase) {
        let whole = parse([testCase.input])
        switch testCase.outcome {
        case .requests(let count, let lastBody):
            #expect(whole.error == nil)
            #expect(whole.requests.count == count)
            #expect(whole.requests.last?.bodyText == lastBody)
        case .status(let status):
            #expect(whole.error?.status.code == status, "\(String(describing: whole.error))")
        case .incomplete:
            #expect(whole.error == nil)
            #expect(whole.requests.isEmpty)
        }
        // Byte-at-a-time feeding reaches the same outcome.
        let split = parse(testCase.input.map { [$0] })
        #expect(split.requests.count == whole.requests.count)
        #expect(split.error?.status == whole.error?.status)
        #expect(split.requests.map(\.body) == whole.requests.map(\.body))
    }

    @Test func parsesFieldsOfARequest() throws {
        let text =
            "POST /v1/cases/KS%2F1/events%20x?after=a%20b&types=A,B&plus=1+2&flag&after=second HTTP/1.1\r\n"
            + "Host: example\r\nX-Trace: one\r\nx-trace: two\r\nContent-Length: 2\r\n\r\n{}"
        let result = parse(text)
        let request = try #require(result.requests.first)
        #expect(request.method == .POST)
        #expect(request.rawTarget == "/v1/cases/KS%2F1/events%20x?after=a%20b&types=A,B&plus=1+2&flag&after=second")
        #expect(request.path == "/v1/cases/KS/1/events x")
        #expect(request.pathSegments == ["v1", "cases", "KS/1", "events x"])
        #expect(request.query["after"] == "a b")
        #expect(request.query.values(for: "after") == ["a b", "second"])
        #expect(request.query["types"] == "A,B")
        #expect(request.query["plus"] == "1 2")
        #expect(request.query["flag"] == "")
        #expect(request.query["missing"] == nil)
        #expect(request.headers["x-trace"] == "one")
        #expect(request.headers.values(for: "X-TRACE") == ["one", "two"])
        #expect(request.headers.fields.map(\.name) == ["Host", "X-Trace", "x-trace", "Content-Length"])
        #expect(request.version == .http1_1)
        #expect(request.keepAlive)
        #expect(request.bodyText == "{}")
    }

    @Test func rootAndTrailingSlashSegments() {
        #expect(HTTPRequest(method: .GET, target: "/").pathSegments == [])
        #expect(HTTPRequest(method: .GET, target: "/a/").pathSegments == ["a", ""])
        #expect(HTTPRequest(method: .GET, target: "/a//b").pathSegments == ["a", "", "b"])
        #expect(HTTPRequest(method: .GET, target: "http://h:8080").path == "/")
        #expect(HTTPRequest(method: .GET, target: "http://h?x=1").query["x"] == "1")
    }

    @Test func keepAliveRules() throws {
        let cases: [(String, Bool)] = [
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
            ("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false),
            ("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        ]
        for (text, keepAlive) in cases {
            let request = try #require(parse(text).requests.first)
            #expect(request.keepAlive == keepAlive, "\(text)")
        }
    }

    @Test func pipelinedRequestsComeOutInOrder() {
        var text = ""
        for index in 0..<50 {
            text += "POST /\(index) HTTP/1.1\r\nHost: a\r\nContent-Length: \(String(index).utf8.count)\r\n\r\n\(index)"
        }
        let result = parse(text)
        #expect(result.error == nil)
        #expect(result.requests.map(\.path) == (0..<50).map { "/\($0)" })
        #expect(result.requests.map(\.bodyText) == (0..<50).map { "\($0)" })
    }

    @Test func errorIsSticky() {
        var parser = HTTPRequestParser()
        parser.append(Array("GET / HTTP/1.1\nHost: a\r\n\r\n".utf8))
        #expect(throws: HTTPError.self) { try parser.next() }
        parser.append(Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(throws: HTTPError.self) { try parser.next() }
    }

    /// What cannot begin a request line is refused as it arrives, not after the idle timeout: a
    /// TLS handshake, binary noise, a third space, a control character in the target.
    @Test func aRequestLineThatCannotBeIsRefusedBeforeItsEnd() {
        let beginnings: [[UInt8]] = [
            [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00], Array("GE".utf8) + [0x07], Array("GET / HTTP/1.1 x".utf8),
            Array("GET /a".utf8) + [0x01], [UInt8(ascii: "G"), 0x80],
            Array(repeating: UInt8(ascii: "A"), count: 2_000),  // a "method" no request begins with
        ]
        for beginning in beginnings {
            let result = parse([beginning])
            #expect(result.error?.status.code == 400, "\(beginning)")
        }
        // A plausible beginning waits for the rest, trickled a byte at a time.
        for prefix in ["GET", "GET ", "GET /cases?x=1", "GET /cases HTTP/1."] {
            #expect(parse(prefix.utf8.map { [$0] }).error == nil, "\(prefix)")
        }
    }

    @Test func idleAndPartialState() throws {
        var parser = HTTPRequestParser()
        #expect(parser.isIdle)
        parser.append(Array("GET / HT".utf8))
        #expect(try parser.next() == nil)
        #expect(parser.hasPartialRequest)
        parser.append(Array("TP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect(try parser.next() != nil)
        #expect(parser.isIdle)
    }

    @Test func expectContinueIsSignalledOnceWhenTheBodyIsAwaited() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n".utf8))
        #expect(try parser.next() == nil)
        let first = parser.takeContinueRequest()
        let second = parser.takeContinueRequest()
        #expect(first)
        #expect(!second)
        parser.append(Array("abc".utf8))
        #expect(try parser.next()?.bodyText == "abc")

        var noBody = HTTPRequestParser()
        noBody.append(Array("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n".utf8))
        #expect(try noBody.next() != nil)
        let signalled = noBody.takeContinueRequest()
        #expect(!signalled)
    }

    /// A valid request split at every byte boundary parses exactly as when fed whole.
    @Test func splitAtEveryByteEqualsWhole() throws {
        let text =
            "POST /v1/cases/A-1/events?x=%41 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
            + "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: t\r\n\r\n"
            + "GET /next HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
        let bytes = Array(text.utf8)
        let whole = parse([bytes])
        #expect(whole.error == nil)
        #expect(whole.requests.count == 2)
        for cut in 0...bytes.count {
            let split = parse([Array(bytes[..<cut]), Array(bytes[cut...])])
            #expect(split.error == nil)
            #expect(split.requests.map(\.path) == whole.requests.map(\.path), "cut at \(cut)")
            #expect(split.requests.map(\.body) == whole.requests.map(\.body), "cut at \(cut)")
            #expect(split.requests.map(\.headers) == whole.requests.map(\.headers), "cut at \(cut)")
            #expect(split.requests.map(\.query) == whole.requests.map(\.query), "cut at \(cut)")
        }
        let byteAtATime = parse(bytes.map { [$0] })
        #expect(byteAtATime.requests.map(\.body) == whole.requests.map(\.body))
        #expect(byteAtATime.requests.map(\.headers) == whole.requests.map(\.headers))
    }

    /// Random bytes never crash the parser or make it return more than it was sent.
    @Test func randomBytesNeverCrash() {
        var generator = SplitMix64(seed: 0x5EED)
        for _ in 0..<2_000 {
            let length = Int(generator.next() % 512)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if generator.next() % 2 == 0 {
                bytes = Array("GET / HTTP/1.1\r\n".utf8) + bytes
            }
            let result = parse([bytes])
            #expect(result.requests.count <= bytes.count / 16 + 1)
            if let error = result.error {
                #expect([400, 413, 431, 505].contains(error.status.code))
            }
        }
    }
}

/// A small deterministic generator so the random tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("HTTPRequestParser mutations")
struct ParserMutationTests {
    /// Valid requests with random bytes replaced, inserted or deleted: whole and split feeding
    /// agree, and every failure carries one of the documented statuses.
    @Test func mutatedRequestsParseTheSameWholeOrSplit() {
        let seeds = [
            "POST /a?b=c HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody",
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\nT: 1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
        ].map { Array($0.utf8) }
        let interesting: [UInt8] = [0, 9, 10, 13, 32, 44, 45, 48, 58, 59, 70, 0x7F, 0xFF]
        var generator = SplitMix64(seed: 42)
        for round in 0..<3_000 {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<(1 + Int(generator.next() % 3)) {
                let position = Int(generator.next() % UInt64(bytes.count))
                let byte = interesting[Int(generator.next() % UInt64(interesting.count))]
                switch generator.next() % 3 {
                case 0: bytes[position] = byte
                case 1: bytes.insert(byte, at: position)
                default: bytes.remove(at: position)
                }
            }
            let whole = parse([bytes])
            let cut = Int(generator.next() % UInt64(bytes.count + 1))
            let split = parse([Array(bytes[..<cut]), Array(bytes[cut...])])
            #expect(split.error?.status == whole.error?.status, "\(bytes)")
            #expect(split.requests.map(\.body) == whole.requests.map(\.body))
            if let error = whole.error {
                #expect([400, 413, 431, 505].contains(error.status.code))
            }
        }
    }
}
