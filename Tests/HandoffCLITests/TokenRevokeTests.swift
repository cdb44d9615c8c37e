@testable import ServiceStore
import Foundation
import HandoffTestSupport
import Postgres
import QueryService
import Testing

/// `handoff token revoke ID|-`: by the id `token create` reports, or by the token read from
/// stdin (never from the command line, where `ps` shows it).
@Suite struct TokenRevokeTests {
    @Test func revokesByIdOrByTheTokenOnStdin() async throws {
        let db = try await TestDatabase.make()
        try await DemoRegistry.register(db.url)
        let cli = CapturedCLI(databaseURL: db.url)
        var r = await cli.run(["token", "create", "--role", "institution", "--institution", "opav", "--user", "u1"])
        #expect(r.status == 0, "\(r.err)")
        let first = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
        r = await cli.run(["token", "create", "--role", "coordinator", "--user", "c1"])
        let second = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
        // The id is reported on stderr, the token alone on stdout.
        let idText = r.err.split(separator: " ").dropFirst(2).first.map(String.init) ?? ""
        let secondId = try #require(Int64(idText), "\(r.err)")
        #expect(!r.err.contains(second))

        let pool = ConnectionPool(url: db.url, maximumConnections: 1)
        defer { Task { await pool.close() } }
        let tokens = TokenStore(pool: pool)
        #expect(try await tokens.authenticate(first) != nil)
        // By the token itself, on stdin.
        r = await cli.run(["token", "revoke", "-"], input: first + "\n")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("\"revoked\":true"))
        #expect(!r.out.contains(first) && !r.err.contains(first))
        #expect(try await tokens.authenticate(first) == nil)
        #expect(try await tokens.authenticate(second) != nil)
        // By id.
        r = await cli.run(["token", "revoke", String(secondId)])
        #expect(r.status == 0, "\(r.err)")
        #expect(try await tokens.authenticate(second) == nil)
        // Again: nothing live to revoke.
        r = await cli.run(["token", "revoke", String(secondId)])
        #expect(r.status == 1)
        r = await cli.run(["token", "revoke", "-"], input: "hnd_unknown\n")
        #expect(r.status == 1)
        // Bad usage: no id, a token given as an argument, nothing on stdin.
        for (args, input) in [
            (["token", "revoke"], nil), (["token", "revoke", first], nil), (["token", "revoke", "-"], ""),
        ]
            as [([String], String?)]
        {
            r = await cli.run(args, input: input)
            #expect(r.status == 2, "\(args)")
            #expect(!r.err.contains(first), "the token is never echoed")
        }
    }
}
