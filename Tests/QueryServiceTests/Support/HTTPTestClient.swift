import Dispatch
import Foundation
import LoopbackHTTPClient
import Referrals

#if canImport(Glibc)
    import Glibc
#endif

/// The shared loopback client under the names these tests use.
typealias Reply = ClientResponse
typealias SocketClient = TestClient

extension ClientResponse {
    /// The body as JSON (`.null` when it is not JSON).
    var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
    /// `error.code` of an error body.
    var errorCode: String? { json["error"]?["code"]?.stringValue }
    var errorField: String? { json["error"]?["field"]?.stringValue }
}

/// Requests against one running service.
struct API: Sendable {
    let port: Int

    func request(
        _ method: String, _ target: String, token: String? = nil, json: String? = nil,
        contentType: String? = "application/json", headers: [(String, String)] = [], timeout: Double = 30
    ) async throws -> Reply {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let body = Array((json ?? "").utf8)
        if json != nil {
            if let contentType { head += "Content-Type: \(contentType)\r\n" }
            head += "Content-Length: \(body.count)\r\n"
        } else if method == "POST" || method == "PUT" {
            head += "Content-Length: 0\r\n"
        }
        let bytes = Array((head + "\r\n").utf8) + body
        let port = self.port
        return try await blocking {
            let client = try SocketClient(port: port, timeout: timeout)
            try client.send(bytes)
            return try client.readResponse()
        }
    }

    /// - Parameter timeout: how long the answer may take, in seconds (a read the test holds back
    ///   on purpose waits as long as a loaded machine makes the test's other steps take).
    func get(_ target: String, token: String?, timeout: Double = 30) async throws -> Reply {
        try await request("GET", target, token: token, timeout: timeout)
    }
    func post(_ target: String, token: String?, _ json: String) async throws -> Reply {
        try await request("POST", target, token: token, json: json)
    }
}

/// One Server-Sent Event as received.
struct ReceivedEvent: Sendable, Equatable {
    var id: String?
    var event: String?
    var data: String
}

/// An open event stream; `next` parses events (and counts comment lines) as chunks arrive.
final class EventStreamClient: @unchecked Sendable {
    let client: SocketClient
    let head: Reply
    private var pending = ""
    private(set) var comments: [String] = []

    init(port: Int, target: String, token: String, lastEventId: String? = nil, timeout: Double = 10) throws {
        client = try SocketClient(port: port, timeout: timeout)
        var request =
            "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nAccept: text/event-stream\r\n"
        if let lastEventId { request += "Last-Event-ID: \(lastEventId)\r\n" }
        try client.send(Array((request + "\r\n").utf8))
        head = try client.readHead()
    }

    /// Reads until `count` events have arrived (or throws on timeout).
    func next(_ count: Int) throws -> [ReceivedEvent] {
        var out: [ReceivedEvent] = []
        while out.count < count {
            if let range = pending.range(of: "\n\n") {
                let block = String(pending[..<range.lowerBound])
                pending.removeSubrange(..<range.upperBound)
                var event = ReceivedEvent(id: nil, event: nil, data: "")
                var isEvent = false
                for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                    if line.hasPrefix(":") {
                        comments.append(String(line))
                    } else if line.hasPrefix("id: ") {
                        event.id = String(line.dropFirst(4))
                    } else if line.hasPrefix("event: ") {
                        event.event = String(line.dropFirst(7))
                        isEvent = true
                    } else if line.hasPrefix("data: ") {
                        event.data += String(line.dropFirst(6))
                        isEvent = true
                    }
                }
                if isEvent { out.append(event) }
                continue
            }
            let chunk = try client.readChunk()
            if chunk.isEmpty { throw ClientError(description: "stream ended") }
            pending += String(decoding: chunk, as: UTF8.self)
        }
        return out
    }

    /// Reads until at least `count` comment lines have arrived in total.
    func waitForComments(_ count: Int) throws {
        while comments.count < count {
            if let range = pending.range(of: "\n\n") {
                let block = String(pending[..<range.lowerBound])
                pending.removeSubrange(..<range.upperBound)
                for line in block.split(separator: "\n") where line.hasPrefix(":") { comments.append(String(line)) }
                guard !block.contains("data: ") else { throw ClientError(description: "unexpected event") }
                continue
            }
            let chunk = try client.readChunk()
            if chunk.isEmpty { throw ClientError(description: "stream ended") }
            pending += String(decoding: chunk, as: UTF8.self)
        }
    }
}
