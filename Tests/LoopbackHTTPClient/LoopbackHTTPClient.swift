// A tiny blocking HTTP/1.1 client over a loopback socket, shared by the HTTP and query-service
// tests: the server under test is exercised through a real socket, byte by byte.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs blocking socket work on a thread of its own: never on the cooperative pool the server
/// under test needs, and never on Dispatch's global queue, whose threads other work needs too.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

public struct ClientError: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// A parsed response as the test client read it.
public struct ClientResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A tiny blocking HTTP/1.1 client over a loopback socket; every read gives up after `timeout`
/// (generous: on a loaded 2-core machine a correct answer can take seconds).
///
/// `@unchecked Sendable`: a test hands a client from one `blocking` closure to the next, never
/// using it from two threads at once.
public final class TestClient: @unchecked Sendable {
    public let fd: Int32
    private var buffer: [UInt8] = []

    /// - Parameter source: the loopback address to connect from (`127.0.0.2`: another peer to the
    ///   server); nil: the kernel's choice, `127.0.0.1`.
    public init(port: Int, timeout: Double = 30, from source: String? = nil) throws {
        // A local until connected: once `self.fd` is set, `self` is fully initialised and a throw
        // runs `deinit`, which would close the descriptor a second time — by then perhaps another
        // test's socket. Close-on-exec: a child process a test spawns must not hold it open.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket failed") }
        var time = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else {
                let code = errno
                close(fd)
                throw ClientError(description: "bind to \(source) failed: errno \(code)")
            }
        }
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
            let code = errno
            close(fd)
            throw ClientError(description: "connect failed: errno \(code)")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw ClientError(description: "send failed: errno \(errno)") }
            offset += sent
        }
    }

    /// Reads more bytes into the buffer; `false` at end of stream, a reset or the timeout.
    @discardableResult
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        buffer += chunk[0..<count]
        return true
    }

    private func readLine() throws -> String {
        for _ in 0..<100_000 {
            if let index = buffer.firstIndex(of: 10), index > 0, buffer[index - 1] == 13 {
                let line = String(decoding: buffer[..<(index - 1)], as: UTF8.self)
                buffer.removeFirst(index + 1)
                return line
            }
            guard fill() else { throw ClientError(description: "connection ended inside a line") }
        }
        throw ClientError(description: "line too long")
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard fill() else { throw ClientError(description: "connection ended inside a body") }
        }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    /// Reads a status line and headers only.
    public func readHead() throws -> ClientResponse {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0] == "HTTP/1.1", let status = Int(parts[1]) else {
            throw ClientError(description: "bad status line: \(statusLine)")
        }
        var headers: [(String, String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw ClientError(description: "bad header: \(line)") }
            headers.append(
                (String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " })))
        }
        return ClientResponse(status: status, headers: headers, body: [])
    }

    /// Reads one whole response; `head` says it answered a HEAD request (no body follows).
    public func readResponse(head: Bool = false) throws -> ClientResponse {
        var response = try readHead()
        if head || response.status == 204 || response.status == 304 || response.status < 200 { return response }
        if let length = response.header("Content-Length").flatMap(Int.init) {
            response.body = try readExactly(length)
        } else if response.header("Transfer-Encoding") == "chunked" {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine, radix: 16) else { throw ClientError(description: "bad chunk size") }
                if size == 0 {
                    _ = try readLine()
                    break
                }
                response.body += try readExactly(size)
                _ = try readLine()
            }
        } else {
            while fill() {}
            response.body = buffer
            buffer = []
        }
        return response
    }

    /// Reads the next chunk of a chunked body.
    public func readChunk() throws -> [UInt8] {
        let sizeLine = try readLine()
        guard let size = Int(sizeLine, radix: 16) else { throw ClientError(description: "bad chunk size") }
        let data = try readExactly(size)
        _ = try readLine()
        return data
    }

    /// Reads until the server closes (`true`) or the read timeout passes (`false`), dropping the bytes.
    public func waitForClose() -> (closed: Bool, received: [UInt8]) {
        var received = buffer
        buffer = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        for _ in 0..<10_000 {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += chunk[0..<count]
                continue
            }
            if count == 0 || errno == ECONNRESET { return (true, received) }
            return (false, received)
        }
        return (false, received)
    }
}
