import Dispatch
import Glibc
import LoopbackHTTPClient
import Synchronization
import Testing

@testable import HTTP

/// Bodies are admitted before they are read: a hook may refuse or shorten them from the headers
/// alone, and all connections together buffer at most the configured budget.
@Suite("Request body admission and budget", .serialized)
struct BodyAdmissionTests {
    @Test func parserPausesBeforeABodyUntilAdmitted() throws {
        var parser = HTTPRequestParser(pausesBeforeBody: true)
        parser.append(Array("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello".utf8))
        #expect(try parser.next() == nil)
        let waiting = try #require(parser.requestAwaitingBody)
        #expect(waiting.request.path == "/a" && waiting.contentLength == 5 && waiting.request.body.isEmpty)
        parser.admitBody(maxBytes: 100)
        #expect(try parser.next()?.body == Array("hello".utf8))
        #expect(parser.requestAwaitingBody == nil)

        // Admitted with less than declared: 413 without reading on.
        var short = HTTPRequestParser(pausesBeforeBody: true)
        short.append(Array("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n".utf8))
        #expect(try short.next() == nil)
        short.admitBody(maxBytes: 10)
        #expect(throws: HTTPError.self) { try short.next() }

        // Chunked: no declared length; cut off at the admitted size.
        var chunked = HTTPRequestParser(pausesBeforeBody: true)
        chunked.append(Array("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n".utf8))
        #expect(try chunked.next() == nil)
        #expect(chunked.requestAwaitingBody?.contentLength == nil)
        chunked.admitBody(maxBytes: 12)
        chunked.append(Array("8\r\n12345678\r\n0\r\n\r\n".utf8))
        do {
            _ = try chunked.next()
            Issue.record("a chunked body over the admitted size must fail")
        } catch { #expect(error.status.code == 413) }

        // Requests without a body never pause.
        var plain = HTTPRequestParser(pausesBeforeBody: true)
        plain.append(Array("GET / HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
        #expect(try plain.next()?.path == "/")
    }

    /// The hook answers from the headers: the body is never waited for, and no `100 Continue`
    /// invites it.
    @Test func aRefusedBodyIsAnsweredBeforeItIsSent() async throws {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.shutdownGracePeriod = .seconds(2)
        let server = HTTPServer(
            configuration: configuration,
            admission: { request, length in
                request.headers["X-Key"] == "yes"
                    ? .accept(maxBytes: .max)
                    : (length ?? 0) > 16
                        ? .reject(.error(.unauthorized, code: "unauthorized", message: "who are you?"))
                        : .accept(maxBytes: 16)
            },
            handler: { request in .text(.ok, "\(request.body.count)") })
        let port = try await server.start()
        defer { Task { await server.shutdown() } }
        let (refused, continued, small, keyed) = try await blocking {
            let a = try TestClient(port: port, timeout: 5)
            try a.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
            let refused = try a.readResponse()
            let b = try TestClient(port: port, timeout: 5)
            try b.send("POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n")
            let continued = try b.readResponse()
            let c = try TestClient(port: port, timeout: 5)
            try c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
            let small = try c.readResponse()
            let d = try TestClient(port: port, timeout: 5)
            try d.send("POST / HTTP/1.1\r\nHost: t\r\nX-Key: yes\r\nContent-Length: 100000\r\n\r\n")
            try d.send([UInt8](repeating: 0x41, count: 100_000))
            return (refused, continued, small, try d.readResponse())
        }
        #expect(refused.status == 401)
        #expect(refused.header("Connection") == "close")
        #expect(continued.status == 401)  // the final answer, not 100 Continue
        #expect(small.text == "3")
        #expect(keyed.text == "100000")
        #expect(server.bufferedBodyBytes == 0)
    }

    /// Many large uploads at once: when the bytes received fill the budget, those beyond it get
    /// 503 at once, the server keeps answering others, and the budget comes back when the
    /// admitted ones are answered.
    @Test func concurrentLargeUploadsBeyondTheBudgetGet503() async throws {
        let mib = 1_048_576
        try await withServer(
            {
                $0.bodyBudget = 2 * mib; $0.bodyBudgetPerAddress = 2 * mib
            },
            handler: { request in .text(.ok, "\(request.body.count)") }
        ) { server, port in
            let head = "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: \(mib)\r\n\r\n"
            // Two uploads send all but their last byte and stall: they hold the whole budget.
            let holders = try await blocking {
                try (0..<2).map { _ in
                    let client = try TestClient(port: port, timeout: 10)
                    try client.send(head)
                    try client.send([UInt8](repeating: 0x42, count: mib - 1))
                    return client
                }
            }
            #expect(await eventually { server.bufferedBodyBytes == 2 * mib - 2 })
            let refused = try await blocking {
                try (0..<8).map { _ in
                    let client = try TestClient(port: port, timeout: 5)
                    try client.send(head)
                    return try client.readResponse()
                }
            }
            #expect(refused.allSatisfy { $0.status == 503 })
            #expect(refused.allSatisfy { $0.header("Retry-After") != nil })
            #expect(refused[0].text.contains(#""code":"unavailable""#))
            // Requests without a body are served meanwhile.
            let other = try await blocking {
                let client = try TestClient(port: port, timeout: 5)
                try client.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
                return try client.readResponse()
            }
            #expect(other.status == 200)
            // The held uploads finish and are answered; their budget comes back.
            let finished = try await blocking {
                try holders.map { client in
                    try client.send([0x42])
                    return try client.readResponse()
                }
            }
            #expect(finished.map(\.text) == ["\(mib)", "\(mib)"])
            #expect(await eventually { server.bufferedBodyBytes == 0 })
            let after = try await blocking {
                let client = try TestClient(port: port, timeout: 10)
                try client.send(head)
                try client.send([UInt8](repeating: 0x43, count: mib))
                return try client.readResponse()
            }
            #expect(after.text == "\(mib)")
        }
    }

    /// An attack pass held the whole budget with bodies it never sent: 66 connections that each
    /// announced 1 MiB and sent a byte every few seconds made every other POST get 503. A body
    /// now holds what it has sent, so another peer's upload is received and answered.
    @Test func tricklingBodiesFromOnePeerDoNotShutOutAnother() async throws {
        let mib = 1_048_576
        try await withServer(handler: { request in .text(.ok, "\(request.body.count)") }) { server, port in
            #expect(server.configuration.bodyBudget == 64 * mib)
            let tricklers = try await blocking {
                try (0..<66).map { _ in
                    let client = try TestClient(port: port, timeout: 10, from: "127.0.0.2")
                    try client.send("POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: \(mib)\r\n\r\nx")
                    return client
                }
            }
            #expect(await eventually { server.bufferedBodyBytes == 66 })
            for client in tricklers { try await blocking { try client.send("y") } }
            #expect(await eventually { server.bufferedBodyBytes == 132 })
            let honest = try await blocking {
                try (0..<3).map { _ in
                    let client = try TestClient(port: port, timeout: 10)
                    try client.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: \(mib)\r\n\r\n")
                    try client.send([UInt8](repeating: 0x41, count: mib))
                    return try client.readResponse()
                }
            }
            #expect(honest.map(\.status) == [200, 200, 200])
            #expect(honest.map(\.text) == ["\(mib)", "\(mib)", "\(mib)"])
            #expect(await eventually { server.bufferedBodyBytes == 132 })
            withExtendedLifetime(tricklers) {}
        }
    }

    /// One peer holds at most its share of the budget (bytes it really sent included): past it
    /// its next body is refused with 503 while it is read, and another peer is served.
    @Test func onePeerHoldsAtMostItsShareOfTheBudget() async throws {
        let kib = 1_024
        try await withServer(
            {
                $0.bodyBudget = 1_024 * kib; $0.bodyBudgetPerAddress = 256 * kib
            },
            handler: { request in .text(.ok, "\(request.body.count)") }
        ) { server, port in
            let head = "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: \(200 * kib)\r\n\r\n"
            let holder = try await blocking {
                let client = try TestClient(port: port, timeout: 10, from: "127.0.0.2")
                try client.send(head)
                try client.send([UInt8](repeating: 0x42, count: 200 * kib - 1))
                return client
            }
            #expect(await eventually { server.bufferedBodyBytes == 200 * kib - 1 })
            // The same peer's second body fits the budget but not its share.
            let second = try await blocking {
                let client = try TestClient(port: port, timeout: 10, from: "127.0.0.2")
                try client.send(head)
                try? client.send([UInt8](repeating: 0x43, count: 200 * kib))
                return try client.readResponse()
            }
            #expect(second.status == 503)
            #expect(second.header("Retry-After") == "1")
            // Another peer's body of the same size is received.
            let other = try await blocking {
                let client = try TestClient(port: port, timeout: 10)
                try client.send(head)
                try client.send([UInt8](repeating: 0x44, count: 200 * kib))
                return try client.readResponse()
            }
            #expect(other.text == "\(200 * kib)")
            #expect(await eventually { server.bufferedBodyBytes == 200 * kib - 1 })
            withExtendedLifetime(holder) {}
        }
    }

    @Test func theBudgetCountsEachPeerAgainstItsShare() {
        let budget = BodyBudget(capacity: 1_000, perAddress: 300)
        #expect(budget.hasRoom(300, for: "192.0.2.1") && !budget.hasRoom(301, for: "192.0.2.1"))
        #expect(budget.take(250, for: "192.0.2.1"))
        #expect(!budget.take(51, for: "192.0.2.1"))
        #expect(budget.used == 250)
        // Another address of the same IPv6 /64 is the same peer; another /64 is not.
        #expect(budget.take(300, for: "[2001:db8:0:1::1]"))
        #expect(!budget.hasRoom(1, for: "[2001:db8:0:1::ffff]"))
        #expect(!budget.take(1, for: "[2001:db8:0:1:a:b:c:d]"))
        #expect(budget.take(300, for: "[2001:db8:0:2::1]"))
        // The total binds too, and an unknown peer counts only in it.
        #expect(!budget.take(151, for: nil))
        #expect(budget.take(150, for: nil))
        #expect(!budget.hasRoom(1, for: "192.0.2.9"))
        budget.give(300, from: "[2001:db8:0:1::2]")
        #expect(budget.used == 700 && budget.take(300, for: "[2001:db8:0:1::3]"))
        #expect(BodyBudget(capacity: 800).perAddress == 100)
    }
}
