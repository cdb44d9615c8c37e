import LoopbackHTTPClient
import Dispatch
import Glibc
import Synchronization
import Testing

@testable import HTTP

/// Starts a server on 127.0.0.1 with an ephemeral port, runs `body`, then shuts it down.
func withServer(
    _ configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse,
    _ body: (HTTPServer, Int) async throws -> Void
) async throws {
    var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
    configuration.shutdownGracePeriod = .seconds(2)
    configure(&configuration)
    let server = HTTPServer(configuration: configuration, handler: handler)
    let port = try await server.start()
    do {
        try await body(server, port)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}

/// Polls `condition` every 10 ms for up to 5 s.
func eventually(_ condition: () async -> Bool) async -> Bool {
    for _ in 0..<500 {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return false
}

/// A handler that echoes method, path and body, and answers `/slow` after 300 ms.
let echo: @Sendable (HTTPRequest) async -> HTTPResponse = { request in
    if request.path == "/slow" {
        try? await Task.sleep(for: .milliseconds(300))
        return .text(.ok, "slow done")
    }
    return .text(.ok, "\(request.method) \(request.path) \(request.bodyText)")
}

@Suite("HTTPServer over loopback sockets", .serialized)
struct ServerTests {
    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        try await withServer(handler: echo) { server, port in
            let responses = try await blocking {
                let client = try TestClient(port: port)
                var responses: [ClientResponse] = []
                for index in 0..<3 {
                    try client.send("GET /n\(index) HTTP/1.1\r\nHost: t\r\n\r\n")
                    responses.append(try client.readResponse())
                }
                return responses
            }
            #expect(responses.map(\.text) == ["GET /n0 ", "GET /n1 ", "GET /n2 "])
            #expect(responses.allSatisfy { $0.header("Connection") == nil && $0.header("Date") != nil })
            #expect(responses[0].header("Content-Length") == "8")
            #expect(server.stats.acceptedConnections == 1)
            #expect(server.stats.requestsParsed == 3)
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withServer(handler: echo) { _, port in
            let texts = try await blocking {
                let client = try TestClient(port: port)
                try client.send(
                    "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
                        + "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nxyz"
                        + "GET /c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                return try (0..<3).map { _ in try client.readResponse().text } + [String(client.waitForClose().closed)]
            }
            #expect(texts == ["slow done", "POST /b xyz", "GET /c ", "true"])
        }
    }

    @Test func chunkedRequestBodyIsDecoded() async throws {
        try await withServer(handler: echo) { _, port in
            let response = try await blocking {
                let client = try TestClient(port: port)
                try client.send("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
                try client.send("4\r\nWiki\r\n")
                try client.send("5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n")
                return try client.readResponse()
            }
            #expect(response.text == "POST /up Wikipedia")
        }
    }

    @Test func expectContinueIsAnswered() async throws {
        try await withServer(handler: echo) { _, port in
            let (interim, final) = try await blocking {
                let client = try TestClient(port: port)
                try client.send("POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
                let interim = try client.readHead()
                try client.send("hi")
                return (interim, try client.readResponse())
            }
            #expect(interim.status == 100)
            #expect(final.text == "POST /e hi")
        }
    }

    @Test(arguments: [
        ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n", 413, "payload_too_large"),
        ("GET /" + String(repeating: "a", count: 16_400) + " HTTP/1.1\r\nHost: t\r\n\r\n", 431, "bad_request"),
        ("GET / HTTP/1.1\r\nHost: t\r\nX: " + String(repeating: "a", count: 16_400) + "\r\n\r\n", 431, "bad_request"),
        ("GET / HTTP/1.1\nHost: t\n\n", 400, "bad_request"),
        ("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "bad_request"),
        ("\u{16}\u{3}\u{1}\u{0}garbage\r\n\r\n", 400, "bad_request"),
        ("GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, "bad_request"),
    ])
    func malformedRequestGetsErrorAndCloseThenServerGoesOn(request: String, status: Int, code: String) async throws {
        try await withServer(handler: echo) { server, port in
            let (response, closed, next) = try await blocking {
                let client = try TestClient(port: port)
                try client.send(request)
                let response = try client.readResponse()
                let closed = client.waitForClose().closed
                let other = try TestClient(port: port)
                try other.send("GET /after HTTP/1.1\r\nHost: t\r\n\r\n")
                return (response, closed, try other.readResponse())
            }
            #expect(response.status == status)
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.header("Connection") == "close")
            #expect(response.text.hasPrefix(#"{"error":{"code":"\#(code)","message":""#))
            #expect(closed)
            #expect(next.text == "GET /after ")
            #expect(server.stats.parseErrors[status] == 1)
        }
    }

    @Test func bodyAtTheLimitIsAccepted() async throws {
        try await withServer(handler: { request in .text(.ok, "\(request.body.count)") }) { _, port in
            let response = try await blocking {
                let client = try TestClient(port: port)
                try client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n")
                try client.send([UInt8](repeating: 0x41, count: 1_048_576))
                return try client.readResponse()
            }
            #expect(response.text == "1048576")
        }
    }

    @Test func idleClientsAreClosed() async throws {
        try await withServer({ $0.idleTimeout = .milliseconds(300) }, handler: echo) { server, port in
            let (silent, halfRequest, afterResponse) = try await blocking {
                let silent = try TestClient(port: port)
                let half = try TestClient(port: port)
                try half.send("GET /stalled HTTP/1.1\r\nHost: t\r\n")
                let kept = try TestClient(port: port)
                try kept.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                _ = try kept.readResponse()
                return (silent.waitForClose(), half.waitForClose(), kept.waitForClose())
            }
            #expect(silent.closed && silent.received.isEmpty)
            #expect(halfRequest.closed && halfRequest.received.isEmpty)
            #expect(afterResponse.closed && afterResponse.received.isEmpty)
            #expect(await eventually { server.stats.timedOutConnections == 3 && server.stats.openConnections == 0 })
        }
    }

    @Test func slowLorisIsClosedAtTheRequestTimeout() async throws {
        try await withServer(
            {
                $0.idleTimeout = .seconds(2)
                $0.requestTimeout = .milliseconds(400)
            }, handler: echo
        ) { _, port in
            let closed = try await blocking {
                let client = try TestClient(port: port, timeout: 0.1)
                try client.send("GET / HTTP/1.1\r\n")
                for _ in 0..<50 {
                    guard (try? client.send("X: y\r\n")) != nil else { return true }
                    if client.waitForClose().closed { return true }
                }
                return false
            }
            #expect(closed)
        }
    }

    @Test func streamingResponseEndsWhenTheClientDisconnects() async throws {
        let outcome = Mutex<String?>(nil)
        let handler: @Sendable (HTTPRequest) async -> HTTPResponse = { _ in
            .stream(headers: ["Content-Type": "text/event-stream"]) { writer in
                do {
                    for index in 0..<1_000 {
                        try await writer.write("data: \(index)\n\n")
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    outcome.withLock { $0 = "finished" }
                } catch let error as HTTPError {
                    outcome.withLock { $0 = error.code.rawValue }
                    throw error
                }
            }
        }
        try await withServer(handler: handler) { server, port in
            let (head, first) = try await blocking {
                let client = try TestClient(port: port)
                try client.send("GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
                let head = try client.readHead()
                return (head, String(decoding: try client.readChunk(), as: UTF8.self))
            }
            #expect(head.header("Transfer-Encoding") == "chunked")
            #expect(head.header("Content-Type") == "text/event-stream")
            #expect(first == "data: 0\n\n")
            #expect(await eventually { outcome.withLock { $0 } != nil })
            #expect(outcome.withLock { $0 } == "client_disconnected")
            #expect(await eventually { server.stats.openConnections == 0 })
        }
    }

    @Test func finishedStreamKeepsTheConnectionAndHTTP10StreamCloses() async throws {
        let handler: @Sendable (HTTPRequest) async -> HTTPResponse = { request in
            if request.path == "/plain" { return .text(.ok, "plain") }
            return .stream { writer in
                try await writer.write("one,")
                try await writer.write([])
                try await writer.write("two")
            }
        }
        try await withServer(handler: handler) { _, port in
            let (chunked, plain, raw) = try await blocking {
                let client = try TestClient(port: port)
                try client.send("GET /s HTTP/1.1\r\nHost: t\r\n\r\nGET /plain HTTP/1.1\r\nHost: t\r\n\r\n")
                let chunked = try client.readResponse()
                let plain = try client.readResponse()
                let old = try TestClient(port: port)
                try old.send("GET /s HTTP/1.0\r\n\r\n")
                return (chunked, plain, try old.readResponse())
            }
            #expect(chunked.text == "one,two")
            #expect(plain.text == "plain")
            #expect(raw.text == "one,two")
            #expect(raw.header("Connection") == "close")
            #expect(raw.header("Transfer-Encoding") == nil)
        }
    }

    @Test func headGetsHeadersWithoutBody() async throws {
        var router = Router()
        router.on(.GET, "/doc") { _, _ in .text(.ok, "twelve bytes") }
        router.on(.GET, "/stream") { _, _ in
            .stream { _ in Issue.record("a HEAD request must not start the stream") }
        }
        try await withServer(handler: router.handle) { _, port in
            let (head, streamHead, after) = try await blocking {
                let client = try TestClient(port: port)
                try client.send("HEAD /doc HTTP/1.1\r\nHost: t\r\n\r\n")
                let head = try client.readResponse(head: true)
                try client.send("HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n")
                let streamHead = try client.readResponse(head: true)
                try client.send("GET /doc HTTP/1.1\r\nHost: t\r\n\r\n")
                return (head, streamHead, try client.readResponse())
            }
            #expect(head.status == 200 && head.header("Content-Length") == "12")
            #expect(streamHead.status == 200)
            #expect(after.text == "twelve bytes")
        }
    }

    @Test func routerErrorsOverTheWire() async throws {
        var router = Router()
        router.on(.GET, "/v1/cases/{caseId}/events") { request, params in
            .text(.ok, "\(params["caseId"]!) after=\(request.query["after"] ?? "")")
        }
        try await withServer(handler: router.handle) { _, port in
            let (found, missing, wrongMethod) = try await blocking {
                let client = try TestClient(port: port)
                try client.send("GET /v1/cases/KS%2D1/events?after=x%3Dy HTTP/1.1\r\nHost: t\r\n\r\n")
                let found = try client.readResponse()
                try client.send("GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
                let missing = try client.readResponse()
                try client.send("DELETE /v1/cases/A/events HTTP/1.1\r\nHost: t\r\n\r\n")
                return (found, missing, try client.readResponse())
            }
            #expect(found.text == "KS-1 after=x=y")
            #expect(missing.status == 404 && missing.text.contains(#""code":"not_found""#))
            #expect(wrongMethod.status == 405 && wrongMethod.header("Allow") == "GET, HEAD")
        }
    }

    @Test func gracefulShutdownFinishesAnInFlightRequest() async throws {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.shutdownGracePeriod = .seconds(5)
        let server = HTTPServer(configuration: configuration, handler: echo)
        let port = try await server.start()
        let idleClient = try await blocking { try TestClient(port: port) }
        let inFlight = Task {
            try await blocking {
                let client = try TestClient(port: port)
                try client.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
                return try client.readResponse()
            }
        }
        #expect(await eventually { server.stats.requestsParsed == 1 })
        await server.shutdown()
        let response = try await inFlight.value
        #expect(response.text == "slow done")
        #expect(response.header("Connection") == "close")
        let idleClosed = try await blocking { idleClient.waitForClose().closed }
        #expect(idleClosed)
        #expect(server.stats.openConnections == 0)
        await #expect(throws: ClientError.self) { try await blocking { try TestClient(port: port) } }
    }

    @Test func shutdownCancelsStreamsAfterTheGracePeriod() async throws {
        let handler: @Sendable (HTTPRequest) async -> HTTPResponse = { _ in
            .stream { writer in
                try await writer.write(": open\n\n")
                try await Task.sleep(for: .seconds(60))
            }
        }
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.shutdownGracePeriod = .milliseconds(200)
        let server = HTTPServer(configuration: configuration, handler: handler)
        let port = try await server.start()
        let client = try await blocking {
            let client = try TestClient(port: port)
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            _ = try client.readHead()
            _ = try client.readChunk()
            return client
        }
        await server.shutdown()
        #expect(try await blocking { client.waitForClose().closed })
    }

    @Test func manyIdleConnectionsDoNotBlockANewRequest() async throws {
        try await withServer(handler: echo) { server, port in
            let idle = try await blocking { try (0..<200).map { _ in try TestClient(port: port) } }
            #expect(await eventually { server.stats.openConnections == 200 })
            let response = try await blocking {
                let client = try TestClient(port: port)
                try client.send("GET /fresh HTTP/1.1\r\nHost: t\r\n\r\n")
                return try client.readResponse()
            }
            #expect(response.text == "GET /fresh ")
            withExtendedLifetime(idle) {}
        }
    }

    @Test func connectionsOverTheCapAreClosedAtOnce() async throws {
        try await withServer({ $0.maxConnections = 2 }, handler: echo) { server, port in
            let first = try await blocking { try TestClient(port: port) }
            let second = try await blocking { try TestClient(port: port) }
            #expect(await eventually { server.stats.openConnections == 2 })
            let third = try await blocking { try TestClient(port: port).waitForClose().closed }
            #expect(third)
            #expect(server.stats.rejectedConnections == 1)
            let served = try await blocking {
                try first.send("GET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
                return try first.readResponse().text
            }
            #expect(served == "GET /ok ")
            withExtendedLifetime(second) {}
        }
    }

    /// When every place is taken, a newcomer takes the place of the connection that has waited for
    /// or been receiving a request the longest (an attack pass held every place with four addresses
    /// trickling requests; a later one, from hundreds of addresses, pushed out a busy office's
    /// connections when the peer holding the most went first). Connections younger than the
    /// minimum age are not pushed out, and a request being handled is never cut.
    @Test func aFullServerMakesRoomByClosingTheLongestWaitingConnection() async throws {
        func fourPlaces(minimumAge: Duration) -> (inout HTTPServerConfiguration) -> Void {
            { configuration in
                configuration.maxConnections = 4
                configuration.maxConnectionsPerAddress = 4
                configuration.evictionMinimumAge = minimumAge
            }
        }
        try await withServer(fourPlaces(minimumAge: .milliseconds(200)), handler: echo) { server, port in
            var trickling: [TestClient] = []
            for source in ["127.0.0.2", "127.0.0.3", "127.0.0.3", "127.0.0.4"] {
                let client = try await blocking { try TestClient(port: port, from: source) }
                try client.send("GET /slow HTTP/1.1\r\n")  // and never the rest
                trickling.append(client)
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(await eventually { server.stats.openConnections == 4 })
            try await Task.sleep(for: .milliseconds(300))
            let served = try await blocking {
                let newcomer = try TestClient(port: port, from: "127.0.0.5")
                try newcomer.send("GET /fresh HTTP/1.1\r\nHost: t\r\n\r\n")
                return try newcomer.readResponse().text
            }
            #expect(served == "GET /fresh ")
            #expect(server.stats.evictedConnections == 1)
            // The first to start trickling went.
            let first = trickling[0]
            #expect(try await blocking { try first.waitForClose().closed })
            withExtendedLifetime(trickling) {}
        }
        // Connections younger than the minimum age keep their places: the newcomer is refused.
        try await withServer(fourPlaces(minimumAge: .seconds(60)), handler: echo) { server, port in
            var held: [TestClient] = []
            for _ in 0..<4 { held.append(try await blocking { try TestClient(port: port, from: "127.0.0.2") }) }
            #expect(await eventually { server.stats.openConnections == 4 })
            let refused = try await blocking { try TestClient(port: port, from: "127.0.0.3").waitForClose().closed }
            #expect(refused)
            #expect(server.stats.evictedConnections == 0)
            withExtendedLifetime(held) {}
        }
    }

    /// One peer address may hold only its share of the connections (a client trickling requests
    /// filled every place in an attack pass); a place it gives back can be taken again.
    @Test func onePeerAddressHoldsAtMostItsShare() async throws {
        try await withServer({ $0.maxConnectionsPerAddress = 2 }, handler: echo) { server, port in
            var first: TestClient? = try await blocking { try TestClient(port: port) }
            let second = try await blocking { try TestClient(port: port) }
            #expect(await eventually { server.stats.openConnections == 2 })
            let third = try await blocking { try TestClient(port: port).waitForClose().closed }
            #expect(third)
            #expect(server.stats.rejectedConnections == 1)
            first = nil
            #expect(await eventually { server.stats.openConnections == 1 })
            let again = try await blocking {
                let client = try TestClient(port: port)
                try client.send("GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
                return try client.readResponse().text
            }
            #expect(again == "GET /again ")
            withExtendedLifetime((first, second)) {}
        }
        #expect(HTTPRequest.host(ofRemoteAddress: "203.0.113.7:51234") == "203.0.113.7")
        #expect(HTTPRequest.host(ofRemoteAddress: "[2001:db8::1]:443") == "[2001:db8::1]")
    }

    @Test func remoteAddressIsReported() async throws {
        try await withServer(handler: { request in .text(.ok, request.remoteAddress ?? "none") }) { _, port in
            let text = try await blocking {
                let client = try TestClient(port: port)
                try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                return try client.readResponse().text
            }
            #expect(text.hasPrefix("127.0.0.1:"))
        }
    }
}

@Suite("HTTPServer lifecycle")
struct ServerLifecycleTests {
    @Test func bindingATakenPortThrows() async throws {
        let first = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), handler: echo)
        let port = try await first.start()
        let second = HTTPServer(configuration: .init(host: "127.0.0.1", port: port), handler: echo)
        await #expect(throws: HTTPError.self) { try await second.start() }
        await first.shutdown()
        await #expect(throws: HTTPError.self) { try await first.start() }
    }

    @Test func runReturnsAfterShutdown() async throws {
        let server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), handler: echo)
        let running = Task { try await server.run() }
        #expect(await eventually { await server.port != nil })
        await server.shutdown()
        try await running.value
        #expect(await server.port == nil)
    }

    @Test func dateHeaderFormat() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }
}
