import Testing

@testable import HTTP

/// Every limit with its default value, exactly at the bound and one past it.
@Suite("HTTPRequestParser limits")
struct ParserLimitTests {
    let limits = HTTPLimits()

    /// A request line of exactly `length` bytes (without CRLF).
    func requestLine(length: Int) -> String {
        let fixed = "GET / HTTP/1.1".utf8.count
        return "GET /" + String(repeating: "a", count: length - fixed) + " HTTP/1.1"
    }

    @Test(arguments: [(16_384, nil), (16_385, 431)] as [(Int, Int?)])
    func requestLineLength(length: Int, status: Int?) {
        let line = requestLine(length: length)
        #expect(line.utf8.count == length)
        let result = parse(line + "\r\nHost: a\r\n\r\n")
        #expect(result.error?.status.code == status)
        #expect(result.requests.count == (status == nil ? 1 : 0))
    }

    /// A header block (without the request line and the final empty line) of exactly `size` bytes.
    func headerBlock(size: Int) -> String {
        let host = "Host: a\r\n"
        let fillerOverhead = "X-Fill: \r\n".utf8.count
        let block = host + "X-Fill: " + String(repeating: "v", count: size - host.utf8.count - fillerOverhead) + "\r\n"
        precondition(block.utf8.count == size)
        return block
    }

    @Test(arguments: [(16_384, nil), (16_385, 431)] as [(Int, Int?)])
    func headerBlockSize(size: Int, status: Int?) {
        let text = "GET / HTTP/1.1\r\n" + headerBlock(size: size) + "\r\n"
        #expect(parse(text).error?.status.code == status)
        // Fed in uneven pieces the outcome is the same.
        let bytes = Array(text.utf8)
        let pieces = stride(from: 0, to: bytes.count, by: 7).map { Array(bytes[$0..<min($0 + 7, bytes.count)]) }
        #expect(parse(pieces).error?.status.code == status)
    }

    @Test func headerBlockOverLimitFailsBeforeItsLineEnds() {
        // A flood without any line end is refused as soon as it passes the bound.
        let flood = "GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: 16_400)
        #expect(parse(flood).error?.status.code == 431)
        let lineFlood = "GET /" + String(repeating: "a", count: 16_400)
        #expect(parse(lineFlood).error?.status.code == 431)
    }

    @Test func manySmallHeadersOverTheBlockSize() {
        // 99 fields of 166 bytes plus Host stay within the count but pass the byte limit.
        let field = "X-" + String(repeating: "n", count: 10) + ": " + String(repeating: "v", count: 150) + "\r\n"
        let text = "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: field, count: 99) + "\r\n"
        #expect(parse(text).error?.status.code == 431)
    }

    @Test(arguments: [(100, nil), (101, 431)] as [(Int, Int?)])
    func headerCount(count: Int, status: Int?) {
        let fields = (1..<count).map { "X-\($0): \($0)\r\n" }.joined()
        let result = parse("GET / HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n")
        #expect(result.error?.status.code == status)
        if status == nil { #expect(result.requests.first?.headers.count == count) }
    }

    @Test(arguments: [(1_048_576, nil), (1_048_577, 413)] as [(Int, Int?)])
    func contentLengthBody(size: Int, status: Int?) {
        let head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(size)\r\n\r\n"
        // Past the bound the head alone is refused: the body is never read.
        let body = status == nil ? [UInt8](repeating: 0x61, count: size) : []
        let result = parse([Array(head.utf8), body])
        #expect(result.error?.status.code == status)
        if status == nil { #expect(result.requests.first?.body.count == size) }
    }

    @Test(arguments: [(1_048_576, nil), (1_048_577, 413)] as [(Int, Int?)])
    func chunkedBody(size: Int, status: Int?) {
        // Two chunks, so the limit applies to the sum and not to each chunk.
        let first = size / 2
        let second = size - first
        var bytes = Array("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        bytes += Array((String(first, radix: 16) + "\r\n").utf8) + [UInt8](repeating: 0x62, count: first) + [13, 10]
        bytes += Array((String(second, radix: 16) + "\r\n").utf8) + [UInt8](repeating: 0x63, count: second) + [13, 10]
        bytes += Array("0\r\n\r\n".utf8)
        let result = parse([bytes])
        #expect(result.error?.status.code == status)
        if status == nil { #expect(result.requests.first?.body.count == size) }
    }

    @Test func chunkedSingleChunkOneOverTheLimitIsRefusedAtItsSizeLine() {
        let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(parse(head + String(1_048_577, radix: 16) + "\r\n").error?.status.code == 413)
        #expect(parse(head + String(1_048_576, radix: 16) + "\r\n").error == nil)
    }

    @Test(arguments: [(16_384, nil), (16_385, 431)] as [(Int, Int?)])
    func trailerBlockSize(size: Int, status: Int?) {
        let overhead = "X-T: \r\n".utf8.count
        let trailer = "X-T: " + String(repeating: "t", count: size - overhead) + "\r\n"
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n" + trailer + "\r\n"
        #expect(parse(text).error?.status.code == status)
    }

    @Test(arguments: [(100, nil), (101, 431)] as [(Int, Int?)])
    func trailerCount(count: Int, status: Int?) {
        let trailers = (0..<count).map { "T-\($0): \($0)\r\n" }.joined()
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + trailers + "\r\n"
        #expect(parse(text).error?.status.code == status)
    }

    @Test(arguments: [(4_096, nil), (4_097, 400)] as [(Int, Int?)])
    func chunkLineLength(length: Int, status: Int?) {
        let sizeLine = "1;" + String(repeating: "e", count: length - 2)
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + sizeLine + "\r\nz\r\n0\r\n\r\n"
        #expect(parse(text).error?.status.code == status)
    }

    @Test func customLimitsAreHonoured() {
        let small = HTTPLimits(maxBodySize: 4, maxRequestLineLength: 20, maxHeaderBlockSize: 30, maxHeaderCount: 2)
        #expect(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd", limits: small).error == nil)
        #expect(
            parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", limits: small).error?.status.code == 413)
        #expect(parse("GET /123456 HTTP/1.1\r\nHost: a\r\n\r\n", limits: small).error == nil)  // 20 bytes
        #expect(parse("GET /1234567 HTTP/1.1\r\nHost: a\r\n\r\n", limits: small).error?.status.code == 431)
        #expect(parse("GET / HTTP/1.1\r\nHost: a\r\nB: 1\r\nC: 2\r\n\r\n", limits: small).error?.status.code == 431)
    }
}
