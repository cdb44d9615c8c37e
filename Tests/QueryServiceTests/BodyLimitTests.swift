import Foundation
import LoopbackHTTPClient
import Referrals
import Testing

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
        let h = try await Harness.start { $0.http.bodyBudget = 2 * mib }
        defer { Task { await h.stop() } }
        let port = h.api.port
        let token = h.token("kp-dthb")
        let head = Self.head("/v1/cases/KS-B2/events", token: token, length: mib)
        // Twelve uploads start at once; each sends its headers and half its body, then stalls.
        let clients = try await blocking {
            try (0..<12).map { _ in
                let client = try SocketClient(port: port, timeout: 10)
                try client.send(head)
                return client
            }
        }
        let partial = [UInt8](repeating: 0x20, count: mib / 2)
        // Those the budget cannot hold are answered 503 at once; the rest wait for their bodies.
        let outcomes = try await withThrowingTaskGroup(of: Int.self) { group in
            for client in clients {
                group.addTask {
                    try await blocking { () throws -> Int in
                        do { try client.send(partial) } catch { return -1 }
                        let reply = try client.readResponse()
                        return reply.status
                    }
                }
            }
            // The two admitted ones need the rest of their bodies; send it once the others answered.
            var statuses: [Int] = []
            for _ in 0..<10 { statuses.append(try await group.next()!) }
            for client in clients { try? client.send([UInt8](repeating: 0x20, count: mib / 2)) }
            for _ in 0..<2 { statuses.append(try await group.next()!) }
            return statuses
        }
        #expect(outcomes.prefix(10).allSatisfy { $0 == 503 }, "\(outcomes)")
        #expect(outcomes.suffix(2).allSatisfy { $0 == 400 }, "\(outcomes)")  // a body of spaces is no JSON
        // The server goes on serving.
        #expect(try await h.api.get("/health", token: nil).status == 200)
        #expect(try await h.api.post("/v1/cases", token: h.token("isf"), Harness.openedData()).status == 201)
    }
}
