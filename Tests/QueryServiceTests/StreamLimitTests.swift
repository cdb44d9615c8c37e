@testable import ServiceStore
import EventStore
import Foundation
import HandoffTestSupport
import LoopbackHTTPClient
import Postgres
import QueryService
import Referrals
import Testing

/// Event streams per token are capped, and a stream ends soon after its token is revoked —
/// also when the revocation was made outside this process.
@Suite("Event stream limits")
struct StreamLimitTests {
    /// Reads a chunked stream until it ends or `limit` has passed: what arrived, and whether it ended.
    static func readUntilEnd(_ client: SocketClient, within limit: Duration) throws -> (text: String, ended: Bool) {
        let deadline = ContinuousClock.now + limit
        var text = ""
        while ContinuousClock.now < deadline {
            let chunk = try client.readChunk()
            if chunk.isEmpty { return (text, true) }
            text += String(decoding: chunk, as: UTF8.self)
        }
        return (text, false)
    }

    @Test func streamsPerTokenAreCappedWith429AndRetryAfter() async throws {
        let h = try await Harness.start { $0.maxStreamsPerToken = 2 }
        defer { Task { await h.stop() } }
        let port = h.api.port
        let opav = h.token("opav")
        let first = try await blocking { try EventStreamClient(port: port, target: "/v1/events/stream", token: opav) }
        let second = try await blocking {
            try EventStreamClient(port: port, target: "/v1/events/stream?types=CaseOpened", token: opav)
        }
        #expect(first.head.status == 200 && second.head.status == 200)
        // The third of the same token is refused, with a clear error and when to retry.
        let third = try await h.api.get("/v1/events/stream", token: opav)
        #expect(third.status == 429)
        #expect(third.errorCode == "too_many_streams")
        #expect(third.header("Retry-After") != nil)
        #expect(third.json["error"]?["limit"]?.int == 2)
        // Another token of the same institution, and other institutions, are not affected.
        let other = try await h.service.tokens.create(role: .institution, institution: "opav", user: "advocate-2")
        let fourth = try await blocking { try EventStreamClient(port: port, target: "/v1/events/stream", token: other) }
        #expect(fourth.head.status == 200)
        // Plain requests of the capped token still work.
        #expect(try await h.api.get("/v1/events", token: opav).status == 200)
        // A stream that ends gives its place back.
        first.client.shutdownBoth()
        try await eventually("a place to come free", timeout: .seconds(20)) {
            let port = h.api.port
            let again = try await blocking {
                try EventStreamClient(port: port, target: "/v1/events/stream", token: opav)
            }
            defer { again.client.shutdownBoth() }
            return again.head.status == 200
        }
        second.client.shutdownBoth()
        fourth.client.shutdownBoth()
    }

    /// A stream whose credential cannot be checked reads nothing: with every connection for
    /// looking up credentials taken (made-up tokens, each looked up, can keep them busy), a token
    /// revoked meanwhile must not go on receiving events until a check gets through.
    @Test func aStreamWhoseCredentialCannotBeCheckedReadsNothing() async throws {
        // Known tokens stay cached (the referrals below go through the API while the lookups'
        // connections are taken).
        let h = try await Harness.start(tokenCacheTTL: .seconds(3600)) { $0.streamRecheckInterval = .milliseconds(300) }
        defer { Task { await h.stop() } }
        try await h.openCase("KS-RV2")
        try await h.refer("KS-RV2", "R-1", to: "opav")
        try await h.settle()
        let pool = ConnectionPool(url: h.db.url, maximumConnections: 1)
        defer { Task { await pool.close() } }
        let elsewhere = TokenStore(pool: pool)
        let issued = try await elsewhere.issue(role: .institution, institution: "opav", user: "advocate-8")
        let port = h.api.port
        let stream = try await blocking {
            try EventStreamClient(port: port, target: "/v1/events/stream", token: issued.token, timeout: 40)
        }
        #expect(stream.head.status == 200)
        #expect(try await blocking { try stream.next(2) }.count == 2)
        let holder = try await h.db.connect()
        defer { holder.close() }
        let release = try await occupyEveryConnection(of: h.service.tokens.pool, holder: holder, key: 8219)
        // Longer than two checks: the last confirmation is older than the stream reads on.
        try await Task.sleep(for: .seconds(1))
        #expect(try await elsewhere.revoke(id: issued.id))
        try await h.refer("KS-RV2", "R-2", to: "opav")
        try await h.settle()
        // Past a check that went unanswered (the pool's 10 s wait): still nothing of R-2.
        let meanwhile = try await blocking { try Self.readUntilEnd(stream.client, within: .seconds(13)) }
        #expect(!meanwhile.ended)
        #expect(!meanwhile.text.contains("R-2"))
        try await release()
        let rest = try await blocking { try Self.readUntilEnd(stream.client, within: .seconds(15)) }
        #expect(rest.ended)
        #expect(rest.text.contains("event: revoked"))
        #expect(!rest.text.contains("R-2"))
    }

    /// A token revoked in the database by another process (here: a store of its own, as
    /// `handoff token revoke` is) ends its open streams and its requests within 5 s.
    @Test func aRevokedTokenLosesItsOpenStream() async throws {
        let h = try await Harness.start { $0.streamRecheckInterval = .milliseconds(300) }
        defer { Task { await h.stop() } }
        try await h.openCase("KS-RV")
        try await h.refer("KS-RV", "R-1", to: "opav")
        try await h.settle()
        let pool = ConnectionPool(url: h.db.url, maximumConnections: 1)
        defer { Task { await pool.close() } }
        let elsewhere = TokenStore(pool: pool)
        let issued = try await elsewhere.issue(role: .institution, institution: "opav", user: "advocate-9")
        let port = h.api.port
        let stream = try await blocking {
            try EventStreamClient(port: port, target: "/v1/events/stream", token: issued.token, timeout: 20)
        }
        #expect(stream.head.status == 200)
        let delivered = try await blocking { try stream.next(2) }
        #expect(delivered.count == 2)
        #expect(try await h.api.get("/v1/events", token: issued.token).status == 200)  // now cached
        #expect(try await elsewhere.revoke(id: issued.id))
        // The stream says so and ends (bounded: on a server that never checks, it would run on).
        let rest = try await blocking { try Self.readUntilEnd(stream.client, within: .seconds(15)) }
        #expect(rest.ended)
        #expect(rest.text.contains("event: revoked"))
        #expect(!rest.text.contains("event: CaseOpened") && !rest.text.contains("event: ReferralIssued"))
        // Requests with it are refused once the cache entry has expired (the TTL is 5 s).
        try await eventually("the revoked token to be refused", timeout: .seconds(10)) {
            try await h.api.get("/v1/events", token: issued.token).status == 401
        }
        // The revoked token cannot open a new stream.
        #expect(try await h.api.get("/v1/events/stream", token: issued.token).status == 401)
    }
}
