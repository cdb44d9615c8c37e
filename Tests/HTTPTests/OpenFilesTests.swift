import Glibc
import Testing

@testable import HTTP

/// The server's connection limits fit the open files it may have (an operator's pass: under the
/// usual soft limit of 1,024, a few hundred trickling connections from one address kept everyone
/// out, and the per-address cap and eviction never came into play).
@Suite("Open files")
struct OpenFilesTests {
    @Test func theSoftLimitIsRaisedToTheHardLimit() {
        let limit = OpenFiles.raiseToHardLimit()
        var now = rlimit()
        #expect(getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &now) == 0)
        #expect(limit == OpenFiles.limit && limit == Int(clamping: now.rlim_cur))
        #expect(now.rlim_cur == now.rlim_max || now.rlim_max == rlim_t.max)
    }

    @Test func connectionLimitsFitTheOpenFiles() {
        let defaults = HTTPServerConfiguration()
        // 1,024 open files: 768 connections, a quarter of them for one address, as by default.
        let small = OpenFiles.fitted(defaults, limit: 1_024)
        #expect(small.maxConnections == 768)
        #expect(small.maxConnectionsPerAddress == 192)
        // Behind a proxy (every connection from one address) the share stays all of them.
        let proxied = OpenFiles.fitted(
            HTTPServerConfiguration(maxConnections: 10_000, maxConnectionsPerAddress: 10_000), limit: 1_024)
        #expect(proxied.maxConnections == 768 && proxied.maxConnectionsPerAddress == 768)
        // Limits that fit are left as they are; a tiny limit still leaves some connections.
        #expect(OpenFiles.fitted(defaults, limit: 1_048_576).maxConnections == 10_000)
        #expect(OpenFiles.fitted(HTTPServerConfiguration(maxConnections: 8), limit: 1_024).maxConnections == 8)
        #expect(OpenFiles.fitted(defaults, limit: 20).maxConnections == 16)
        // A server takes its limits fitted (after the raise a server process makes at start).
        OpenFiles.raiseToHardLimit()
        let server = HTTPServer(configuration: defaults) { _ in HTTPResponse(status: .ok) }
        #expect(server.configuration.maxConnections == min(10_000, max(16, OpenFiles.limit - 256)))
    }
}
