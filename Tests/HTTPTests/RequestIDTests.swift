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
        #expect(RequestID.isSane(String(repeating: "z", count: 64)))
        #expect(!RequestID.isSane(String(repeating: "z", count: 65)))
        #expect(!RequestID.isSane(""))
        for bad in [
            "a b", "a\tb", "a\u{0}b", "a\nb", "\"q\"", "a;b", "a,b", "caf\u{E9}", "<x>", "a\\b", "a/b", "a@b", "a+b",
            "a=b", "%41", "a\u{FF1A}b",
        ] {
            #expect(!RequestID.isSane(bad), "\(bad)")
            let replaced = RequestID.accepting(bad)
            #expect(replaced.count == 32 && replaced.allSatisfy(\.isHexDigit))
        }
        #expect(RequestID.accepting("req-1:a.b_c.D") == "req-1:a.b_c.D")
        #expect(RequestID.generate() != RequestID.generate())
    }

    /// A client that puts its credential where the id goes must get neither it echoed nor
    /// logged: an attack pass had `token:hnd_…` and `hds_…` echoed and logged (only a leading
    /// `hnd_` was refused).
    @Test func idsHoldingACredentialPrefixAnywhereAreReplaced() {
        let secret = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"
        for bad in [
            "hnd_" + secret, "hds_" + secret, "token:hnd_" + secret, "x-HND_y", "HdS_", "trace.hds_1", "a:Hnd_",
            "hnd_", "aahds_bb",
        ] {
            #expect(!RequestID.isSane(bad), "\(bad)")
            #expect(RequestID.accepting(bad) != bad)
        }
        for fine in ["hnd", "hds-1", "h_nd_", "hnd-_", "hdsx_", "token:abc"] {
            #expect(RequestID.isSane(fine), "\(fine)")
        }
    }

    /// The request id as the server answers it, over a real socket.
    @Test func theServerReplacesAnIdHoldingACredential() async throws {
        let sent = ["token:hnd_abc", "HDS_abc", String(repeating: "q", count: 65), "a/b", "edge-42.x:y_z"]
        try await withServer(handler: { _ in .text(.ok, "hi") }) { _, port in
            let answered = try await blocking {
                try sent.map { id in
                    let client = try TestClient(port: port)
                    try client.send("GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: \(id)\r\n\r\n")
                    return try client.readResponse().header("X-Request-Id")
                }
            }
            for (id, answer) in zip(sent.dropLast(), answered.dropLast()) {
                #expect(answer != id && answer?.count == 32, "\(id)")
            }
            #expect(answered.last == "edge-42.x:y_z")
        }
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
