import Foundation
import LoopbackHTTPClient
import Referrals
import Testing

@testable import QueryService

/// The service decides from the headers how much of a body it will buffer: a caller without a
/// live token gets a few KiB at most, refused before the body is read; all bodies together stay
/// within the server's budget.
@Suite("Request body limits")
struct BodyLimitTests {
    static func head(_ target: String, token: String?, length: Int, extra: String = "") -> String {
        var head = "POST \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        return head + extra + "Content-Length: \(length)\r\n\r\n"
    }

    /// Waits (up to 10 s) until the service's HTTP server holds `bytes` of request bodies.
    static func holds(_ h: Harness, _ bytes: Int) async -> Bool {
        for _ in 0..<1_000 {
            if h.service.server.withLock({ $0?.bufferedBodyBytes }) == bytes { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test func unauthenticatedBodiesAreRefusedBeforeTheyAreRead() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let port = h.api.port
        // Only the headers are sent: the answer comes without the body ever being sent.
        for token in [nil, "hnd_not-a-token", "", "x y z"] as [String?] {
            for target in ["/v1/cases/KS-B1/events", "/login", "/v1/subscriptions/s/ack", "/nowhere"] {
                let reply = try await blocking {
                    let client = try SocketClient(port: port, timeout: 5)
                    try client.send(Self.head(target, token: token, length: 900_000))
                    return try client.readResponse()
                }
                #expect(reply.status == 401, "\(target) \(token ?? "none")")
                #expect(reply.errorCode == "unauthorized")
                #expect(reply.header("Connection") == "close")
            }
        }
        // A chunked body without a token is cut off at the small limit.
        let chunked = try await blocking {
            let client = try SocketClient(port: port, timeout: 5)
            try client.send(
                "POST /v1/cases/KS-B1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = String(repeating: "a", count: 8_192)
            for _ in 0..<4 { try client.send(String(8_192, radix: 16) + "\r\n" + chunk + "\r\n") }
            return try client.readResponse()
        }
        #expect(chunked.status == 413)
        // A small body without a token reaches the route, which answers 401 as always.
        let small = try await h.api.post("/v1/cases/KS-B1/events", token: nil, Harness.openedJSON())
        #expect(small.status == 401)
        // With a live token a large body is read (and judged by the route).
        let big = "{\"type\":\"CaseOpened\",\"data\":{},\"pad\":\"" + String(repeating: "x", count: 500_000) + "\"}"
        let judged = try await h.api.post("/v1/cases/KS-B1/events", token: h.token("kp-dthb"), big)
        #expect(judged.status == 400)
        // The login form still works (its body is small).
        #expect(try await h.api.get("/health", token: nil).status == 200)
    }

    @Test func manyConcurrentLargeUploadsStayWithinTheBudget() async throws {
        let mib = 1_048_576
        // One peer may hold the whole budget here, as behind a reverse proxy.
        let h = try await Harness.start {
            $0.http.bodyBudget = 2 * mib
            $0.http.bodyBudgetPerAddress = 2 * mib
        }
        defer { Task { await h.stop() } }
        let port = h.api.port
        let token = h.token("kp-dthb")
        let head = Self.head("/v1/cases/KS-B2/events", token: token, length: mib)
        // Two uploads send all but their last byte and stall: their bytes fill the budget.
        let holders = try await blocking {
            try (0..<2).map { _ in
                let client = try SocketClient(port: port, timeout: 10)
                try client.send(head)
                try client.send([UInt8](repeating: 0x20, count: mib - 1))
                return client
            }
        }
        #expect(await Self.holds(h, 2 * mib - 2))
        // Ten more are answered 503 at once, before their bodies are read.
        let refused = try await blocking {
            try (0..<10).map { _ in
                let client = try SocketClient(port: port, timeout: 10)
                try client.send(head)
                return try client.readResponse()
            }
        }
        #expect(refused.allSatisfy { $0.status == 503 && $0.header("Retry-After") == "1" }, "\(refused.map(\.status))")
        #expect(refused.allSatisfy { $0.errorCode == "unavailable" })
        // The two held ones finish and are judged by the route.
        let finished = try await blocking {
            try holders.map {
                try $0.send([0x20]); return try $0.readResponse().status
            }
        }
        #expect(finished == [400, 400])  // a body of spaces is no JSON
        // The server goes on serving.
        #expect(try await h.api.get("/health", token: nil).status == 200)
        #expect(try await h.api.post("/v1/cases", token: h.token("isf"), Harness.openedData()).status == 201)
    }

    /// An attack pass held the shared budget with bodies it never sent — slow sign-in forms
    /// without a token, and appends with one, each announcing its size and sending a byte now and
    /// then — and every other POST got 503. A body now holds only the bytes it has sent, so an
    /// honest append and sign-in from another address go through.
    @Test func tricklingBodiesFromOnePeerDoNotBlockAnotherPeersPosts() async throws {
        let mib = 1_048_576
        let h = try await Harness.start { $0.http.bodyBudget = 2 * mib }
        defer { Task { await h.stop() } }
        let port = h.api.port
        let token = h.token("kp-dthb")
        let (logins, appends) = try await blocking {
            let logins = try (0..<200).map { _ in
                let client = try SocketClient(port: port, timeout: 20, from: "127.0.0.2")
                try client.send(
                    "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                        + "Content-Length: 16384\r\n\r\nu")
                return client
            }
            let appends = try (0..<4).map { _ in
                let client = try SocketClient(port: port, timeout: 20, from: "127.0.0.2")
                try client.send(Self.head("/v1/cases/KS-B3/events", token: token, length: mib) + "{")
                return client
            }
            return (logins, appends)
        }
        // 200 × 16 KiB + 4 MiB announced, far over the budget; 204 bytes sent and held.
        #expect(await Self.holds(h, 204))
        let appended = try await h.api.post("/v1/cases", token: h.token("isf"), Harness.openedData())
        #expect(appended.status == 201)
        let big = "{\"type\":\"CaseOpened\",\"data\":{},\"pad\":\"" + String(repeating: "x", count: 900_000) + "\"}"
        #expect(try await h.api.post("/v1/cases/KS-B4/events", token: token, big).status == 400)
        let signIn = try await h.api.request(
            "POST", "/login", json: "user=nobody&password=wrong", contentType: "application/x-www-form-urlencoded",
            headers: [("Origin", "http://127.0.0.1")])
        #expect(signIn.status != 503 && signIn.status < 500, "\(signIn.status)")
        withExtendedLifetime((logins, appends)) {}
    }
}
