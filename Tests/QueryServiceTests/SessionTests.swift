@testable import ServiceStore
import Crypto
import EventStore
import Foundation
import HandoffTestSupport
import LoopbackHTTPClient
import Postgres
import QueryService
import Referrals
import Synchronization
import Testing

/// Dashboard sessions: the cookie holds a random session id stored only hashed; a session ends
/// at logout, when idle or old, and when the token behind it is revoked anywhere.
@Suite("Dashboard sessions")
struct SessionTests {
    static let form = "application/x-www-form-urlencoded"

    /// The logout form's CSRF token on a page.
    static func csrfField(_ html: String) -> String? {
        guard let range = html.range(of: "name=\"csrf\" value=\"") else { return nil }
        let rest = html[range.upperBound...]
        return String(rest.prefix { $0 != "\"" })
    }

    static func home(_ h: Harness, _ session: String, cookieName: String = "handoff_session") async throws -> Reply {
        try await h.api.request("GET", "/", headers: [("Cookie", "\(cookieName)=\(session)")])
    }

    @Test func theCookieIsARandomIdStoredOnlyAsItsHash() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let token = h.token("natc")
        let first = try #require(try await DashboardTests.signIn(h.api, token: token))
        let second = try #require(try await DashboardTests.signIn(h.api, token: token))
        #expect(first != second)
        #expect(first.hasPrefix("hds_") && first.count == 47 && !first.contains(token))
        #expect(try await Self.home(h, first).status == 200)
        #expect(try await Self.home(h, second).status == 200)
        // The API token itself is no session.
        #expect(try await Self.home(h, token).status == 303)
        // The database holds the id's SHA-256 and the credential's id, never the id or the token.
        let connection = try await h.db.connect()
        defer { connection.close() }
        let rows = try await connection.query(
            "SELECT encode(session_hash, 'hex'), s::text FROM handoff.dashboard_sessions s ORDER BY id")
        #expect(rows.count == 2)
        let hashes = try rows.all.map { try $0.decode(0, as: String.self) }
        #expect(hashes == [first, second].map { SHA256.hash(Array($0.utf8)).hexString })
        for row in rows.all {
            let text: String = try row.decode(1)
            #expect(!text.contains(first) && !text.contains(second) && !text.contains(token))
        }
        // Each session has its own CSRF token, which is neither the id nor its stored hash.
        let csrf1 = try #require(Self.csrfField(try await Self.home(h, first).text))
        let csrf2 = try #require(Self.csrfField(try await Self.home(h, second).text))
        #expect(csrf1 != csrf2 && csrf1 != first && !hashes.contains(csrf1))
    }

    @Test func logoutEndsTheSessionOnTheServerAndNeedsTheCSRFToken() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let session = try #require(try await DashboardTests.signIn(h.api, token: h.token("opav")))
        let other = try #require(try await DashboardTests.signIn(h.api, token: h.token("opav")))
        let csrf = try #require(Self.csrfField(try await Self.home(h, session).text))
        let cookie = ("Cookie", "handoff_session=\(session)")
        // Without the token, with another session's, or a made-up one: refused, session kept.
        let otherCSRF = try #require(Self.csrfField(try await Self.home(h, other).text))
        let madeUp = String(csrf.dropLast()) + (csrf.hasSuffix("A") ? "B" : "A")  // differs in its last character
        for body in ["", "csrf=", "csrf=" + otherCSRF, "csrf=" + madeUp] {
            let refused = try await h.api.request(
                "POST", "/logout", json: body, contentType: Self.form, headers: [cookie, DashboardTests.sameOrigin])
            #expect(refused.status == 403, "\(body)")
            #expect(refused.header("Set-Cookie") == nil)
        }
        #expect(try await Self.home(h, session).status == 200)
        let out = try await h.api.request(
            "POST", "/logout", json: "csrf=" + csrf, contentType: Self.form,
            headers: [cookie, DashboardTests.sameOrigin])
        #expect(out.status == 303)
        // The cookie a browser (or a thief) kept no longer works; the other session still does.
        #expect(try await Self.home(h, session).status == 303)
        #expect(try await h.api.request("GET", "/dashboard/live", headers: [cookie]).status == 401)
        #expect(try await Self.home(h, other).status == 200)
    }

    @Test func sessionsEndWhenIdleOrOld() async throws {
        let h = try await Harness.start { $0.sessionIdleTimeout = .seconds(600) }
        defer { Task { await h.stop() } }
        let idle = try #require(try await DashboardTests.signIn(h.api, token: h.token("natc")))
        let old = try #require(try await DashboardTests.signIn(h.api, token: h.token("natc")))
        let fresh = try #require(try await DashboardTests.signIn(h.api, token: h.token("natc")))
        let connection = try await h.db.connect()
        defer { connection.close() }
        func age(_ session: String, _ column: StaticString, minutes: Int) async throws {
            try await connection.query(
                """
                UPDATE handoff.dashboard_sessions SET \(unescaped: column) = clock_timestamp() - make_interval(mins => \(minutes))
                 WHERE session_hash = \(ByteA(SHA256.hash(Array(session.utf8))))
                """)
        }
        // Idle for longer than the configured 10 minutes (less than the default 30).
        try await age(idle, "last_seen_at", minutes: 11)
        // Signed in 12 h 1 min ago, used a minute ago.
        try await age(old, "created_at", minutes: 12 * 60 + 1)
        try await age(old, "last_seen_at", minutes: 1)
        try await age(fresh, "last_seen_at", minutes: 9)
        #expect(try await Self.home(h, idle).status == 303)
        #expect(try await Self.home(h, old).status == 303)
        // A request renews the idle time.
        #expect(try await Self.home(h, fresh).status == 200)
        let seen = try await connection.query(
            """
            SELECT last_seen_at > clock_timestamp() - interval '1 minute' FROM handoff.dashboard_sessions
             WHERE session_hash = \(ByteA(SHA256.hash(Array(fresh.utf8))))
            """)
        #expect(try seen.first?.decode(0, as: Bool.self) == true)
    }

    /// A session's use is written down at most once per ``SessionStore/touchInterval``, and never
    /// waited for: a request that finds the session's row locked only reads it. (An attack pass ran
    /// one session's page on 2,400 connections; each request updated the one row, so they queued
    /// on its lock holding pooled connections, and other institutions' reads failed.)
    @Test func aSessionsUseIsWrittenDownWithoutWaitingForItsRow() async throws {
        let h = try await Harness.start { $0.sessionIdleTimeout = .seconds(600) }
        defer { Task { await h.stop() } }
        #expect(SessionStore(pool: h.db.pool(), idleTimeout: .seconds(600)).touchInterval == .seconds(10))
        #expect(SessionStore(pool: h.db.pool(), idleTimeout: .seconds(30)).touchInterval == .seconds(3))
        let session = try #require(try await DashboardTests.signIn(h.api, token: h.token("natc")))
        let hash = ByteA(SHA256.hash(Array(session.utf8)))
        let connection = try await h.db.connect()
        defer { connection.close() }
        func lastSeen() async throws -> String {
            try #require(
                try await connection.query(
                    "SELECT last_seen_at::text FROM handoff.dashboard_sessions WHERE session_hash = \(hash)"
                ).first?.decode(0, as: String.self))
        }
        try await connection.query(
            """
            UPDATE handoff.dashboard_sessions SET last_seen_at = clock_timestamp() - interval '1 minute'
             WHERE session_hash = \(hash)
            """)
        let minuteAgo = try await lastSeen()
        // Another transaction holds the row (released long after; a request that waits for it
        // instead fails the test).
        let holder = try await h.db.connect()
        defer { holder.close() }
        try await holder.execute("BEGIN")
        try await holder.query("SELECT 1 FROM handoff.dashboard_sessions WHERE session_hash = \(hash) FOR UPDATE")
        final class Flag: Sendable { let value = Mutex(false) }
        let released = Flag()
        let release = Task { [holder] in
            try await Task.sleep(for: .seconds(60))
            released.value.withLock { $0 = true }
            try await holder.execute("COMMIT")
        }
        #expect(try await Self.home(h, session).status == 200)
        #expect(!released.value.withLock { $0 })
        release.cancel()
        try await holder.execute("COMMIT")
        #expect(try await lastSeen() == minuteAgo)
        // The next request writes it down; one within the interval does not write it again.
        #expect(try await Self.home(h, session).status == 200)
        let written = try await lastSeen()
        #expect(written != minuteAgo)
        #expect(try await Self.home(h, session).status == 200)
        #expect(try await lastSeen() == written)
    }

    /// Tokens and sessions are looked up on connections of their own: a flood of made-up
    /// credentials (each is looked up: only those that authenticate are cached) waits for those,
    /// and a caller whose token is known is still served from the shared pool. (An attack pass
    /// sent 76,000 made-up bearer tokens in 12 s; the other institutions' reads slowed from 3 ms
    /// to 0.5–0.8 s while the lookups took the shared pool's connections.)
    @Test func credentialsAreLookedUpOnConnectionsOfTheirOwn() async throws {
        let h = try await Harness.start(tokenCacheTTL: .seconds(3600))
        defer { Task { await h.stop() } }
        try await h.openCase("KS-CRED-1", by: "opav")
        let lookups = h.service.tokens.pool
        #expect(lookups !== h.store.pool)
        #expect(h.service.sessions.pool === lookups)
        #expect(lookups.maximumConnections == max(2, h.store.pool.maximumConnections / 4))
        // The first read caches opav's token.
        #expect(try await h.api.get("/v1/cases/KS-CRED-1/history", token: h.token("opav")).status == 200)
        let holder = try await h.db.connect()
        defer { holder.close() }
        let release = try await occupyEveryConnection(of: lookups, holder: holder, key: 8218)
        #expect(try await h.api.get("/v1/cases/KS-CRED-1/history", token: h.token("opav")).status == 200)
        // A made-up token waits for a lookup connection (and the metrics show the line).
        let madeUp = Task {
            try await h.api.get("/v1/cases/KS-CRED-1/history", token: "hnd_" + String(repeating: "A", count: 43)).status
        }
        try await eventuallyTrue { lookups.waitingCallers == 1 }
        try await release()
        #expect(try await madeUp.value == 401)
        let metrics = try await h.api.get("/metrics", token: h.token("metrics")).text
        #expect(metrics.contains("handoff_db_credential_pool_waiting 0\n"))
        #expect(metrics.contains("handoff_db_access_log_pool_waiting 0\n"))
    }

    /// One token keeps its newest sessions only: signing in flat out ends the oldest, so the table
    /// every sign-in and lookup works through stays small (an operator's pass signed in 900 times a
    /// second with one token, and each sign-in scanned every row).
    @Test func aTokenKeepsItsNewestSessionsOnly() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        var sessions: [String] = []
        for _ in 0..<(SessionStore.sessionsPerCredential + 3) {
            sessions.append(try #require(try await DashboardTests.signIn(h.api, token: h.token("isf"))))
        }
        for (n, session) in sessions.enumerated() {
            #expect(try await Self.home(h, session).status == (n < 3 ? 303 : 200))
        }
        // Another token's sessions are its own.
        let other = try #require(try await DashboardTests.signIn(h.api, token: h.token("natc")))
        #expect(try await Self.home(h, other).status == 200)
        #expect(try await Self.home(h, sessions.last!).status == 200)
        let connection = try await h.db.connect()
        defer { connection.close() }
        let rows: Int = try await connection.query("SELECT count(*) FROM handoff.dashboard_sessions").first!.decode(0)
        #expect(rows == SessionStore.sessionsPerCredential + 1)
    }

    /// A token sign-in ends the session the browser held before, as a password sign-in does.
    @Test func aTokenSignInEndsTheBrowsersEarlierSession() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let earlier = try #require(try await DashboardTests.signIn(h.api, token: h.token("opav")))
        let reply = try await h.api.request(
            "POST", "/login", json: "token=" + h.token("natc"), contentType: Self.form,
            headers: [DashboardTests.sameOrigin, ("Cookie", "handoff_session=\(earlier)")])
        #expect(reply.status == 303)
        #expect(try await Self.home(h, earlier).status == 303)
    }

    /// Two `Authorization` headers are no credential, whichever comes first.
    @Test func twoAuthorizationHeadersAreNoCredential() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        for pair in [(h.token("natc"), h.token("opav")), (h.token("opav"), h.token("natc"))] {
            let reply = try await h.api.request(
                "GET", "/v1/events?limit=1",
                headers: [("Authorization", "Bearer \(pair.0)"), ("Authorization", "Bearer \(pair.1)")])
            #expect(reply.status == 401)
        }
        #expect(try await h.api.get("/v1/events?limit=1", token: h.token("natc")).status == 200)
    }

    /// Only the person's own requests renew the idle time: the login page (which only asks why
    /// it is shown) and the dashboard's refresh of its live regions leave an unattended session
    /// to go idle, while the page they serve still needs the session to be live.
    @Test func onlyThePersonsOwnRequestsRenewTheIdleTime() async throws {
        let h = try await Harness.start { $0.sessionIdleTimeout = .seconds(600) }
        defer { Task { await h.stop() } }
        let session = try #require(try await DashboardTests.signIn(h.api, token: h.token("natc")))
        let cookie = ("Cookie", "handoff_session=\(session)")
        let connection = try await h.db.connect()
        defer { connection.close() }
        let key = ByteA(SHA256.hash(Array(session.utf8)))
        func idleMinutes() async throws -> Double {
            let rows = try await connection.query(
                """
                SELECT extract(epoch FROM clock_timestamp() - last_seen_at) / 60 FROM handoff.dashboard_sessions
                 WHERE session_hash = \(key)
                """)
            return try #require(try rows.first?.decode(0, as: Double.self))
        }
        try await connection.query(
            """
            UPDATE handoff.dashboard_sessions SET last_seen_at = clock_timestamp() - interval '9 minutes'
             WHERE session_hash = \(key)
            """)
        for path in ["/login", "/login?with=token"] {
            #expect(try await h.api.request("GET", path, headers: [cookie]).status == 200, "\(path)")
        }
        let refreshed = try await h.api.request("GET", "/", headers: [cookie, ("Handoff-Live-Refresh", "1")])
        #expect(refreshed.status == 200)
        // The page's live stream, opened (and reopened after every reconnect) by the page itself.
        let port = h.api.port
        let live = try await blocking { () throws -> Reply in
            let client = try SocketClient(port: port, timeout: 10)
            try client.send(
                "GET /dashboard/live HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: handoff_session=\(session)\r\n\r\n")
            return try client.readHead()
        }
        #expect(live.status == 200)
        #expect(try await idleMinutes() >= 9)
        // The refresh still needs a live session: once idle too long, it is sent to sign in.
        try await connection.query(
            """
            UPDATE handoff.dashboard_sessions SET last_seen_at = clock_timestamp() - interval '11 minutes'
             WHERE session_hash = \(key)
            """)
        #expect(try await h.api.request("GET", "/", headers: [cookie, ("Handoff-Live-Refresh", "1")]).status == 303)
        try await connection.query(
            """
            UPDATE handoff.dashboard_sessions SET last_seen_at = clock_timestamp() - interval '9 minutes'
             WHERE session_hash = \(key)
            """)
        // The person's own request renews it.
        #expect(try await Self.home(h, session).status == 200)
        #expect(try await idleMinutes() < 1)
    }

    /// `handoff token revoke` runs in another process: the session made from the token ends at
    /// its next request, and its open live stream within the recheck interval.
    @Test func revokingTheTokenElsewhereEndsItsSessionsAndTheirLiveStream() async throws {
        let h = try await Harness.start { $0.streamRecheckInterval = .milliseconds(300) }
        defer { Task { await h.stop() } }
        let pool = ConnectionPool(url: h.db.url, maximumConnections: 1)
        defer { Task { await pool.close() } }
        let elsewhere = TokenStore(pool: pool)
        let issued = try await elsewhere.issue(role: .coordinator, institution: "natc", user: "coordinator-7")
        let session = try #require(try await DashboardTests.signIn(h.api, token: issued.token))
        #expect(try await Self.home(h, session).status == 200)
        let port = h.api.port
        let live = try await blocking { () throws -> (SocketClient, Reply) in
            let client = try SocketClient(port: port, timeout: 20)
            try client.send(
                "GET /dashboard/live HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: handoff_session=\(session)\r\n\r\n")
            return (client, try client.readHead())
        }
        #expect(live.1.status == 200)
        #expect(try await elsewhere.revoke(id: issued.id))
        #expect(try await Self.home(h, session).status == 303)
        let rest = try await blocking { try StreamLimitTests.readUntilEnd(live.0, within: .seconds(15)) }
        #expect(rest.ended)
        #expect(rest.text.contains("event: revoked"))
    }

    /// Behind a TLS-terminating proxy (`--public-url https://…`): `__Host-` cookie, `Secure`,
    /// and form POSTs only from that origin.
    @Test func overHTTPSTheCookieIsHostPrefixedAndSecure() async throws {
        let h = try await Harness.start { $0.publicURL = "https://handoff.example.org" }
        defer { Task { await h.stop() } }
        let token = h.token("natc")
        let plainOrigin = try await DashboardTests.login(h.api, token: token)  // Origin http://127.0.0.1
        #expect(plainOrigin.status == 403)
        let reply = try await DashboardTests.login(
            h.api, token: token, origin: ("Origin", "https://handoff.example.org"))
        #expect(reply.status == 303)
        let cookie = try #require(reply.header("Set-Cookie"))
        #expect(cookie.hasPrefix("__Host-handoff_session=hds_"))
        #expect(cookie.contains("; Secure") && cookie.contains("; Path=/") && cookie.contains("; HttpOnly"))
        #expect(cookie.contains("; SameSite=Strict") && !cookie.lowercased().contains("domain="))
        let session = String(cookie.dropFirst("__Host-handoff_session=".count).prefix { $0 != ";" })
        #expect(try await Self.home(h, session, cookieName: "__Host-handoff_session").status == 200)
        // The plain-HTTP name is not accepted here (a subdomain or http page could have set it).
        #expect(try await Self.home(h, session).status == 303)
        // A spoofed X-Forwarded-Proto on a plain-HTTP service changes nothing.
        let plain = try await Harness.start()
        defer { Task { await plain.stop() } }
        let spoofed = try await plain.api.request(
            "POST", "/login", json: "token=" + plain.token("natc"), contentType: Self.form,
            headers: [DashboardTests.sameOrigin, ("X-Forwarded-Proto", "https")])
        #expect(spoofed.header("Set-Cookie")?.hasPrefix("handoff_session=hds_") == true)
        #expect(spoofed.header("Set-Cookie")?.contains("Secure") == false)
    }
}
