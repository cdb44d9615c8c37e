@testable import ServiceStore
import Crypto
import Foundation
@testable import QueryService
import Referrals
import Testing

@Suite("Authentication and need-to-know")
struct AuthorizationTests {
    @Test func missingUnknownMalformedAndRevokedTokensAre401() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-A-1")
        let revoked = try await h.service.tokens.create(role: .institution, institution: "kp-dthb", user: "leaver")
        #expect(try await h.api.get("/v1/cases/KS-A-1/history", token: revoked).status == 200)
        #expect(try await h.service.tokens.revoke(token: revoked))
        let targets = [
            ("GET", "/v1/cases/KS-A-1"), ("GET", "/v1/cases/KS-A-1/history"), ("GET", "/v1/cases/KS-A-1/verify"),
            ("POST", "/v1/cases/KS-A-1/events"), ("GET", "/v1/deadlines"), ("GET", "/v1/inbox"), ("GET", "/v1/stats"),
            ("GET", "/v1/events"), ("GET", "/v1/events/stream"), ("PUT", "/v1/subscriptions/s1"),
            ("GET", "/v1/subscriptions/s1/events"), ("POST", "/v1/subscriptions/s1/ack"), ("GET", "/v1/audit/access"),
        ]
        for (method, path) in targets {
            for token in [nil, "hnd_unknown", "", revoked] as [String?] {
                let reply = try await h.api.request(method, path, token: token, json: method == "GET" ? nil : "{}")
                #expect(reply.status == 401, "\(method) \(path)")
                #expect(reply.errorCode == "unauthorized", "\(method) \(path)")
                #expect(reply.header("WWW-Authenticate") == "Bearer")
            }
            let basic = try await h.api.request(method, path, headers: [("Authorization", "Basic a2V5Og==")])
            #expect(basic.status == 401)
        }
        // Health needs no token; metrics needs a metrics token (OperationsTests).
        #expect(try await h.api.get("/health", token: nil).status == 200)
        #expect(try await h.api.get("/metrics", token: nil).status == 401)
    }

    @Test func onlyHashesOfTokensAreStored() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let token = try await h.service.tokens.create(role: .auditor, institution: "audit", user: "auditor-9")
        #expect(token.hasPrefix("hnd_"))
        #expect(token.count >= 4 + 43)  // 256 bits
        let other = try await h.service.tokens.create(role: .auditor, institution: "audit", user: "auditor-9")
        #expect(other != token)
        let connection = try await h.db.connect()
        defer { connection.close() }
        let rows = try await connection.query(
            "SELECT encode(token_hash, 'hex'), role, institution, \"user\" FROM handoff.api_tokens")
        let hashes = try rows.all.map { try $0.decode(0, as: String.self) }
        #expect(hashes.contains(SHA256Hex.of(token)))
        let dump = rows.rows.flatMap { $0.compactMap { $0 } }.joined(separator: " ")
        #expect(!dump.contains(token))
        #expect(!dump.contains(String(token.dropFirst(4))))
        let principal = try await h.service.tokens.authenticate(token)
        #expect(principal == Principal(role: .auditor, institution: "audit", user: "auditor-9"))
        await #expect(throws: TokenStore.TokenError.institutionRequired) {
            try await h.service.tokens.create(role: .institution, institution: nil, user: "x")
        }
        #expect(try await h.service.tokens.revoke(user: "auditor-9", institution: "audit") == 2)
        #expect(try await h.service.tokens.authenticate(other) == nil)
    }

    /// Role × endpoint × party/non-party.
    @Test func roleEndpointPartyMatrix() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        try await h.openCase("KS-X-1", by: "kp-dthb")
        try await h.refer("KS-X-1", "R-1", to: "opav")
        // kp-dthb opened it, opav is named by a referral, isf is not a party.
        let callers = ["kp-dthb", "opav", "isf", "natc", "audit"]
        struct Row {
            var method: String
            var path: String
            var body: String?
            var expected: [Int]  // per caller, in `callers` order
        }
        let rows: [Row] = [
            // A non-party gets 404, as for a case that does not exist.
            Row(method: "GET", path: "/v1/cases/KS-X-1", expected: [200, 200, 404, 200, 200]),
            Row(method: "GET", path: "/v1/cases/KS-X-1/history", expected: [200, 200, 404, 200, 200]),
            Row(method: "GET", path: "/v1/cases/KS-X-1/verify", expected: [403, 403, 403, 200, 200]),
            Row(
                method: "POST", path: "/v1/cases/KS-X-1/events", body: #"{"type":"CaseReviewed","data":{}}"#,
                expected: [201, 201, 404, 403, 403]),
            Row(method: "GET", path: "/v1/deadlines", expected: [200, 200, 200, 200, 200]),
            Row(method: "GET", path: "/v1/inbox", expected: [200, 200, 200, 403, 403]),
            Row(method: "GET", path: "/v1/stats", expected: [403, 403, 403, 200, 200]),
            Row(method: "GET", path: "/v1/events", expected: [200, 200, 200, 200, 200]),
            Row(method: "GET", path: "/v1/audit/access?caseId=KS-X-1", expected: [403, 403, 403, 403, 200]),
            Row(method: "GET", path: "/v1/cases/KS-NONE", expected: [404, 404, 404, 404, 404]),
        ]
        for row in rows {
            for (caller, expected) in zip(callers, row.expected) {
                let started = ContinuousClock.now
                let reply = try await h.api.request(row.method, row.path, token: h.token(caller), json: row.body)
                #expect(reply.status == expected, "\(caller) \(row.method) \(row.path): \(reply.text)")
                // A 404 takes no less than the floor, whether the case exists or not: its timing
                // tells a non-party nothing (an attack pass told them apart by 0.3 ms).
                if reply.status == 404 { #expect(ContinuousClock.now - started >= QueryService.notFoundFloor) }
            }
        }
        // Subscriptions: institutions own them; coordinators and auditors cannot.
        for caller in callers {
            let reply = try await h.api.request("PUT", "/v1/subscriptions/sub-\(caller)", token: h.token(caller))
            #expect(reply.status == (["natc", "audit"].contains(caller) ? 403 : 201), "\(caller)")
        }
        // Names are scoped per institution: another institution's subscription is not found (as a
        // missing one), and the same name makes a subscription of the caller's own.
        #expect(try await h.api.get("/v1/subscriptions/sub-opav/events", token: h.token("isf")).status == 404)
        #expect(try await h.api.get("/v1/subscriptions/sub-opav/events", token: h.token("natc")).status == 403)
        let own = try await h.api.request("PUT", "/v1/subscriptions/sub-opav", token: h.token("isf"))
        #expect(own.status == 201 && own.json["owner"]?.stringValue == "isf")
        #expect(
            try await h.api.post("/v1/subscriptions/sub-opav/ack", token: h.token("opav"), #"{"cursor":"0-0"}"#).status
                == 200)
        #expect(try await h.api.get("/v1/subscriptions/none/events", token: h.token("isf")).status == 404)
    }

    @Test func unknownRoutesAndMethods() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let missing = try await h.api.get("/v1/nothing", token: h.token("natc"))
        #expect(missing.status == 404)
        #expect(missing.errorCode == "not_found")
        let method = try await h.api.request("DELETE", "/v1/cases/KS-1", token: h.token("natc"))
        #expect(method.status == 405)
    }
}

/// Lowercase hex SHA-256, for checking what the token table holds.
enum SHA256Hex {
    static func of(_ s: String) -> String {
        EventStoreSHA.hex(s)
    }
}
