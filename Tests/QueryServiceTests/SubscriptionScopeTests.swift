import EventStore
import Foundation
import HandoffTestSupport
import LoopbackHTTPClient
import Postgres
import Referrals
import ServiceStore
import Testing

/// Subscription names are scoped per institution: each may have its own `inbox`, and none can
/// learn of (403 against 404) or take another's.
@Suite("Subscription names per institution")
struct SubscriptionScopeTests {
    @Test func twoInstitutionsEachOwnASubscriptionOfTheSameName() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await FeedTests.seed(h)  // opav may see KS-FA, isf KS-FC
        let opav = h.token("opav")
        let isf = h.token("isf")
        let first = try await h.api.request("PUT", "/v1/subscriptions/inbox", token: opav)
        #expect(first.status == 201)
        let second = try await h.api.request(
            "PUT", "/v1/subscriptions/inbox", token: isf, json: #"{"types":["CaseOpened"]}"#)
        #expect(second.status == 201)
        #expect(second.json["owner"]?.stringValue == "isf")
        // Each reads its own subscription: its own cases, its own filter.
        let opavPage = try await h.api.get("/v1/subscriptions/inbox/events", token: opav)
        #expect(Set(FeedTests.streams(opavPage)) == ["case-KS-FA"])
        let isfPage = try await h.api.get("/v1/subscriptions/inbox/events", token: isf)
        #expect(FeedTests.streams(isfPage) == ["case-KS-FC"])
        // An ack moves only the acker's cursor.
        let next = opavPage.json["next"]!.stringValue!
        #expect(
            try await h.api.post("/v1/subscriptions/inbox/ack", token: opav, "{\"cursor\":\"\(next)\"}").status == 200)
        #expect(FeedTests.streams(try await h.api.get("/v1/subscriptions/inbox/events", token: isf)) == ["case-KS-FC"])
        // Re-PUT by either keeps its own (types of the other untouched).
        let kept = try await h.api.request("PUT", "/v1/subscriptions/inbox", token: opav)
        #expect(kept.status == 200)
        #expect(kept.json["owner"]?.stringValue == "opav")
        #expect(kept.json["types"] == .null)
    }

    /// An institution keeps at most 100 subscriptions and deletes its own (an operator's pass
    /// created a thousand a second with one token, and only SQL could remove them).
    @Test func anInstitutionKeepsAtMostAHundredAndDeletesItsOwn() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let opav = h.token("opav")
        // Created 22 at a time (within the caller's 32 requests in flight): the count holds however
        // they arrive.
        var statuses: [Int: Int] = [:]
        for chunk in stride(from: 0, to: SubscriptionStore.perOwner + 10, by: 22) {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for n in chunk..<min(chunk + 22, SubscriptionStore.perOwner + 10) {
                    group.addTask { try await h.api.request("PUT", "/v1/subscriptions/s-\(n)", token: opav).status }
                }
                for try await status in group { statuses[status, default: 0] += 1 }
            }
        }
        #expect(statuses == [201: SubscriptionStore.perOwner, 409: 10])
        let refused = try await h.api.request("PUT", "/v1/subscriptions/one-more", token: opav)
        #expect(refused.status == 409)
        #expect(refused.json["error"]?["code"]?.stringValue == "too_many_subscriptions")
        // One the institution has is kept as before; another institution's count is its own.
        let taken = try #require(
            try await SubscriptionStore(pool: h.db.pool()).load("s-0", owner: "opav") != nil ? "s-0" : nil)
        #expect(try await h.api.request("PUT", "/v1/subscriptions/\(taken)", token: opav).status == 200)
        #expect(try await h.api.request("PUT", "/v1/subscriptions/s-0", token: h.token("isf")).status == 201)
        // Deleting: another's name is as missing as a missing one; one's own goes, and makes room.
        let other = try await h.api.request("DELETE", "/v1/subscriptions/\(taken)", token: h.token("ksp"))
        let missing = try await h.api.request("DELETE", "/v1/subscriptions/nothing", token: h.token("ksp"))
        #expect(other.status == 404 && other.body == missing.body)
        #expect(try await h.api.request("DELETE", "/v1/subscriptions/\(taken)", token: opav).status == 204)
        #expect(try await h.api.get("/v1/subscriptions/\(taken)/events", token: opav).status == 404)
        #expect(try await h.api.request("DELETE", "/v1/subscriptions/\(taken)", token: opav).status == 404)
        #expect(try await h.api.request("PUT", "/v1/subscriptions/one-more", token: opav).status == 201)
        #expect(try await h.api.request("DELETE", "/v1/subscriptions/s-1", token: h.token("natc")).status == 403)
    }

    @Test func anotherInstitutionsNameLooksExactlyLikeAMissingOne() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        #expect(try await h.api.request("PUT", "/v1/subscriptions/secret", token: h.token("opav")).status == 201)
        let ksp = h.token("ksp")
        for (method, suffix, body) in [("GET", "/events", nil), ("POST", "/ack", #"{"cursor":"0-0"}"#)]
            as [(String, String, String?)]
        {
            let taken = try await h.api.request(method, "/v1/subscriptions/secret" + suffix, token: ksp, json: body)
            let missing = try await h.api.request(method, "/v1/subscriptions/nothing" + suffix, token: ksp, json: body)
            #expect(taken.status == 404, "\(method) \(suffix)")
            #expect(taken.status == missing.status && taken.body == missing.body, "\(method) \(suffix)")
        }
        // Coordinators and auditors own none, whatever the name.
        for who in ["natc", "audit"] {
            let taken = try await h.api.get("/v1/subscriptions/secret/events", token: h.token(who))
            let missing = try await h.api.get("/v1/subscriptions/nothing/events", token: h.token(who))
            #expect(taken.status == 403)
            #expect(taken.status == missing.status && taken.body == missing.body)
        }
        // ksp cannot squat opav's name: its PUT makes its own.
        let own = try await h.api.request("PUT", "/v1/subscriptions/secret", token: ksp)
        #expect(own.status == 201)
        #expect(own.json["owner"]?.stringValue == "ksp")
    }

    /// Migrations/0016 changes the key to (owner, name) and keeps every subscription as it was.
    @Test func theMigrationKeepsExistingSubscriptions() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let all = try Migrator(directory: try #require(Migrator.locateDirectory()))
        try await Migrator(migrations: all.migrations.filter { $0.version < 16 }).migrate(url: db.url)
        let connection = try await db.connect()
        defer { connection.close() }
        try await connection.execute(
            """
            INSERT INTO handoff.subscriptions (name, owner, types, cursor_xid, cursor_pos)
            VALUES ('inbox', 'opav', '{ReferralIssued}', '812', 14), ('feed', 'isf', NULL, '0', 0)
            """)
        let rows =
            "SELECT name, owner, coalesce(types::text, ''), cursor_xid::text, cursor_pos FROM handoff.subscriptions ORDER BY name"
        func snapshot() async throws -> [String] {
            try await connection.query(SQL(text: rows, parameters: [])).all.map { row in
                try (0..<4).map { try row.decode($0, as: String.self) }.joined(separator: "|") + "|"
                    + String(try row.decode(4, as: Int64.self))
            }
        }
        let before = try await snapshot()
        #expect(try await all.migrate(url: db.url).contains(16))
        #expect(try await snapshot() == before)
        // Now another institution may use the same name; the same owner still may not twice.
        try await connection.execute("INSERT INTO handoff.subscriptions (name, owner) VALUES ('inbox', 'isf')")
        await #expect(throws: PostgresError.self) {
            try await connection.execute("INSERT INTO handoff.subscriptions (name, owner) VALUES ('inbox', 'opav')")
        }
    }
}
