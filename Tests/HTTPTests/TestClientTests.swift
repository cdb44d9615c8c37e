import Glibc
import LoopbackHTTPClient
import Synchronization
import Testing

/// The test client is shared by every HTTP test of the process, which run in parallel: closing a
/// descriptor it does not own closes another test's socket (whoever got that number next).
@Suite struct TestClientTests {
    /// A failed connect must close its socket once. Closed twice, the second `close` hits whatever
    /// socket took the number in between: here the watcher's, which finds it closed under it.
    @Test func aFailedConnectClosesOnlyItsOwnSocket() async throws {
        let refusing = try RefusingPort()
        let done = Atomic<Bool>(false)
        async let victims = blocking { () -> Int in
            var victims = 0
            while !done.load(ordering: .acquiring) {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                guard fd >= 0 else { continue }
                var alive = true
                for _ in 0..<50 where fcntl(fd, F_GETFD) == -1 { alive = false }
                if alive { close(fd) } else { victims += 1 }
            }
            return victims
        }
        let refused = try await blocking { () -> Int in
            defer { done.store(true, ordering: .releasing) }
            var refused = 0
            for _ in 0..<2_000 where (try? TestClient(port: refusing.port, timeout: 1)) == nil { refused += 1 }
            return refused
        }
        let closedUnderTheWatcher = try await victims
        #expect(refused == 2_000)
        #expect(closedUnderTheWatcher == 0)
    }
}

/// A loopback port bound but not listening: every connect to it is refused at once, and no other
/// socket can take the port while this one holds it.
private final class RefusingPort: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw ClientError(description: "bind failed")
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
