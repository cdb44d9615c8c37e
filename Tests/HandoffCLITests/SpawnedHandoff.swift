import Foundation
import HandoffTestSupport
import LoopbackHTTPClient
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The built `handoff` binary run as a child process, for what only a real process shows: how it
/// stops on a signal, and how many threads it has.
final class SpawnedHandoff: Sendable {
    let pid: pid_t
    let outputPath: String
    private let reaped = Mutex<Int32?>(nil)

    /// Starts `handoff ARGS…` with `environment` (PATH added); stdout and stderr go to a file.
    init(_ arguments: [String], environment: [String: String]) throws {
        let binary = try Self.binary()
        outputPath =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "handoff-spawned-\(UUID().uuidString.prefix(8)).log"
            ).path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var env = environment
        env["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, binary, &actions, nil, argv, envp)
        guard rc == 0 else { throw ClientError(description: "posix_spawn \(binary): \(rc)") }
        pid = child
    }

    /// `handoff`, built beside this test bundle by `swift build --build-tests`.
    static func binary() throws -> String {
        let me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var dir = URL(fileURLWithPath: me).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("handoff").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw ClientError(description: "the handoff binary is not built next to \(me): run swift build --build-tests")
    }

    var output: String {
        (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }

    /// Waits until the process accepts connections on `port` (whatever it logs meanwhile).
    /// - Throws: when the process ended or the bound passed.
    func waitUntilListening(on port: Int, timeout: Duration = .seconds(120)) async throws {
        try await eventually("handoff to listen on \(port)", timeout: timeout) {
            if exitStatus() != nil { throw ClientError(description: "handoff ended early:\n\(output)") }
            return (try? TestClient(port: port, timeout: 1)) != nil
        }
    }

    /// The exit status once the process has ended, else nil (never blocks).
    func exitStatus() -> Int32? {
        reaped.withLock { reaped in
            if let reaped { return reaped }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            reaped = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            return reaped
        }
    }

    /// Polls for the end of the process for up to `limit` (a bound on behaviour: the process must
    /// stop by then). - Returns: its exit status, or nil if it still runs.
    func exit(within limit: Duration) async -> Int32? {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline {
            if let status = exitStatus() { return status }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return exitStatus()
    }

    func signal(_ number: Int32) { Glibc.kill(pid, number) }

    /// Ends the process if it still runs (test clean-up).
    func kill() {
        if exitStatus() == nil {
            Glibc.kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        try? FileManager.default.removeItem(atPath: outputPath)
    }

    /// The process's threads right now.
    var threadCount: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? 0
    }
}

/// A loopback port free at this moment.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw ClientError(description: "no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// One request over a fresh loopback connection (`Connection: close`).
func request(
    _ port: Int, _ method: String, _ target: String, token: String? = nil, body: String? = nil,
    headers: [(String, String)] = [], timeout: Double = 30
) async throws -> ClientResponse {
    var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    if let token { head += "Authorization: Bearer \(token)\r\n" }
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    let bytes = Array((body ?? "").utf8)
    if body != nil || method == "POST" || method == "PUT" {
        if !headers.contains(where: { $0.0 == "Content-Type" }) { head += "Content-Type: application/json\r\n" }
        head += "Content-Length: \(bytes.count)\r\n"
    }
    let all = Array((head + "\r\n").utf8) + bytes
    return try await blocking {
        let client = try TestClient(port: port, timeout: timeout)
        try client.send(all)
        return try client.readResponse()
    }
}

/// An event stream held open (its response head read) until the server ends it.
final class OpenStream: Sendable {
    let client: TestClient
    let status: Int

    init(port: Int, target: String, token: String) async throws {
        let client = try await blocking { try TestClient(port: port, timeout: 60) }
        self.client = client
        status = try await blocking {
            try client.send(
                "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAuthorization: Bearer \(token)\r\n"
                    + "Accept: text/event-stream\r\n\r\n")
            return try client.readHead().status
        }
    }
}
