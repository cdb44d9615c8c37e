import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A small blocking HTTP/1.1 client for the benchmarks: one keep-alive connection to a loopback
/// port, Content-Length and chunked responses, and a chunked stream reader for SSE. Runs on
/// threads of its own (never Swift's cooperative pool).
final class BenchHTTPClient {
    struct Failure: Error, CustomStringConvertible { var description: String }

    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0

    init(port: Int, timeoutSeconds: Int = 30) throws {
        // A local until connected: once `self.fd` is set a throw runs `deinit`, which would close
        // the descriptor a second time (by then perhaps another connection's).
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            close(fd)
            throw Failure(description: "connect failed")
        }
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var time = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        var bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeMutableBytes {
                Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
            }
            guard n > 0 else { throw Failure(description: "send failed") }
            sent += n
        }
    }

    /// Sends a request and reads the whole response. Returns status and body.
    func request(_ method: String, _ target: String, token: String?, body: String? = nil) throws -> (Int, [UInt8]) {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        try send(head + "\r\n" + (body ?? ""))
        let (status, headers) = try readHead()
        if headers["transfer-encoding"] == "chunked" {
            var out: [UInt8] = []
            while let chunk = try readChunk() { out += chunk }
            return (status, out)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        return (status, try readExactly(length))
    }

    /// Reads the status line and headers.
    func readHead() throws -> (Int, [String: String]) {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(description: "bad status line") }
        var headers: [String: String] = [:]
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            if let colon = line.firstIndex(of: ":") {
                // Trimmed by hand: Foundation's trimming was a tenth of the load generator's CPU.
                let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
                headers[line[..<colon].lowercased()] = String(
                    value.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
            }
        }
        return (status, headers)
    }

    /// One chunk of a chunked body, or nil at its end.
    func readChunk() throws -> [UInt8]? {
        let sizeLine = try readLine()
        guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
            throw Failure(description: "bad chunk size")
        }
        if size == 0 {
            _ = try readLine()
            return nil
        }
        let data = try readExactly(size)
        _ = try readLine()
        return data
    }

    /// Receives into one buffer kept for the connection's life (not a fresh zeroed 64 KiB per
    /// read: the client shares the machine with the server it measures).
    private var chunk = [UInt8](repeating: 0, count: 65_536)

    private func fill() throws {
        if start > 65_536 {
            buffer.removeFirst(start)
            start = 0
        }
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw Failure(description: "connection closed or timed out") }
        buffer.append(contentsOf: chunk[0..<n])
    }

    private func readLine() throws -> String {
        while true {
            if let i = buffer[start...].firstIndex(of: 10) {
                var end = i
                if end > start, buffer[end - 1] == 13 { end -= 1 }
                let line = String(decoding: buffer[start..<end], as: UTF8.self)
                start = i + 1
                return line
            }
            try fill()
        }
    }

    private func readExactly(_ n: Int) throws -> [UInt8] {
        while buffer.count - start < n { try fill() }
        let out = Array(buffer[start..<(start + n)])
        start += n
        return out
    }
}

/// Runs `body` on a new thread and awaits its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}
