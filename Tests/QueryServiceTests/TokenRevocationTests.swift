import Foundation
import LoopbackHTTPClient
import QueryService
import Referrals
import Testing

/// Revoking a token by its id through the service's own store takes effect at once, cache or not.
@Suite("Token revocation by id")
struct TokenRevocationTests {
    @Test func revokingByIdThroughTheServiceEvictsTheCachedToken() async throws {
        let h = try await Harness.start(tokenCacheTTL: .seconds(3600))
        defer { Task { await h.stop() } }
        let issued = try await h.service.tokens.issue(role: .institution, institution: "opav", user: "advocate-4")
        #expect(try await h.api.get("/v1/events", token: issued.token).status == 200)  // now cached for an hour
        #expect(try await h.service.tokens.id(of: issued.token) == issued.id)
        #expect(try await h.service.tokens.revoke(id: issued.id))
        #expect(try await h.api.get("/v1/events", token: issued.token).status == 401)
        #expect(try await !h.service.tokens.isLive(id: issued.id))
        #expect(try await !h.service.tokens.revoke(id: issued.id))  // nothing live left to revoke
        // Other tokens are untouched.
        #expect(try await h.api.get("/v1/events", token: h.token("opav")).status == 200)
    }
}
