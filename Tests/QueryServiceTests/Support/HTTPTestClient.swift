import Dispatch
import Foundation
import Referrals

#if canImport(Glibc)
    import Glibc
#endif

/// Runs blocking socket work on a thread of its own: never on the cooperative pool the server
/// under test needs, and never on Dispatch's global queue, whose few threads the PostgreSQL
/// connections' queues also need (a dozen clients waiting there would starve the server).
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

struct ClientError: Error, CustomStringConvertible {
    let description: String
}

/// A response as the test client read it.
struct Reply: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var text: String { String(decoding: body, as: UTF8.self) }
    /// The body as JSON (`.null` when it is not JSON).
    var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
    /// `error.code` of an error body.
    var errorCode: String? { json["error"]?["code"]?.stringValue }
    var errorField: String? { json["error"]?["field"]?.stringValue }
}

/// A tiny blocking HTTP/1.1 client over a loopback socket; every read gives up after `timeout`.
///
/// `@unchecked Sendable`: a test hands a client from one `blocking` closure to the next, never
/// using it from two threads at once.
final class SocketClient: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, timeout: Double = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket failed") }
        var time = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw ClientError(description: "connect failed: errno \(errno)")
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw ClientError(description: "send failed: errno \(errno)") }
            offset += sent
        }
    }

    @discardableResult
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer += chunk[0..<count]
        return true
    }

    private func readLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: 10), index > 0, buffer[index - 1] == 13 {
                let line = String(decoding: buffer[..<(index - 1)], as: UTF8.self)
                buffer.removeFirst(index + 1)
                return line
            }
            guard fill() else { throw ClientError(description: "connection ended inside a line") }
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard fill() else { throw ClientError(description: "connection ended inside a body") }
        }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    func readHead() throws -> Reply {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw ClientError(description: "bad status line") }
        var headers: [(String, String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw ClientError(description: "bad header") }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " })))
        }
        return Reply(status: status, headers: headers, body: [])
    }

    func readResponse() throws -> Reply {
        var reply = try readHead()
        if let length = reply.header("Content-Length").flatMap(Int.init) {
            reply.body = try readExactly(length)
        } else if reply.header("Transfer-Encoding") == "chunked" {
            while true {
                let chunk = try readChunk()
                if chunk.isEmpty { break }
                reply.body += chunk
            }
        }
        return reply
    }

    /// The next chunk of a chunked body (empty at its end).
    func readChunk() throws -> [UInt8] {
        let sizeLine = try readLine()
        guard let size = Int(sizeLine, radix: 16) else { throw ClientError(description: "bad chunk size") }
        let data = try readExactly(size)
        _ = try readLine()
        return data
    }
}

/// Requests against one running service.
struct API: Sendable {
    let port: Int

    func request(
        _ method: String, _ target: String, token: String? = nil, json: String? = nil,
        contentType: String? = "application/json", headers: [(String, String)] = []
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
            let client = try SocketClient(port: port)
            try client.send(bytes)
            return try client.readResponse()
        }
    }

    func get(_ target: String, token: String?) async throws -> Reply { try await request("GET", target, token: token) }
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
