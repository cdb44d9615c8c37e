import Glibc
import Logging
import LoopbackHTTPClient
import Testing

@testable import HTTP

/// `X-Request-Id` at the HTTP layer (issue 19): every response has one, whatever the handler
/// did; the server's own refusals get a fresh one and a log line; the server logs its states.
@Suite("Request ids and the server's log")
struct RequestIDTests {
    @Test func saneIdsAreKeptAndEverythingElseIsReplaced() {
        #expect(RequestID.isSane("a"))
        #expect(RequestID.isSane(String(repeating: "z", count: 128)))
        #expect(!RequestID.isSane(String(repeating: "z", count: 129)))
        #expect(!RequestID.isSane(""))
        for bad in ["a b", "a\tb", "a\u{0}b", "a\nb", "\"q\"", "a;b", "a,b", "caf\u{E9}", "<x>", "a\\b"] {
            #expect(!RequestID.isSane(bad), "\(bad)")
            let replaced = RequestID.accepting(bad)
            #expect(replaced.count == 32 && replaced.allSatisfy(\.isHexDigit))
        }
        #expect(RequestID.accepting("req-1:a/b_c.d@e+f=") == "req-1:a/b_c.d@e+f=")
        #expect(RequestID.generate() != RequestID.generate())
    }

    @Test func aHandlerThatSetsNoIdStillAnswersWithOneAndRefusalsAreLogged() async throws {
        let capture = LogCapture()
        try await withServer({ $0.logger = Logger(label: "http", sink: capture) }, handler: { _ in .text(.ok, "hi") }) {
            server, port in
            let replies = try await blocking {
                var out: [ClientResponse] = []
                for head in [
                    "GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: edge-42\r\n\r\n",
                    "GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: bad id\r\n\r\n",
                    "BROKEN\r\n\r\n",
                ] {
                    let client = try TestClient(port: port)
                    try client.send(head)
                    out.append(try client.readResponse())
                }
                return out
            }
            #expect(replies[0].header("X-Request-Id") == "edge-42")
            #expect(replies[1].header("X-Request-Id")?.count == 32)
            #expect(replies[2].status == 400)
            let refusedId = try #require(replies[2].header("X-Request-Id"))
            let refused = capture.records.filter { $0.message == "request refused" }
            #expect(refused.count == 1)
            #expect(refused.first?["request_id"] == refusedId)
            #expect(refused.first?["status"] == "400")
        }
        let states = capture.records.map(\.message).filter { ["listening", "shutting down", "stopped"].contains($0) }
        #expect(states == ["listening", "shutting down", "stopped"])
    }
}
