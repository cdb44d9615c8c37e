import Foundation
import HTTP
import HandoffTestSupport
import Logging
import LoopbackHTTPClient
import Postgres
import Referrals
import Testing

@testable import QueryService
@testable import ServiceStore

#if canImport(Glibc)
    import Glibc
#endif

/// What an operator relies on (issue 19): one log line per request with its id, route pattern,
/// status, duration and caller; the cause of every 5xx; no secret or case data in any line;
/// `X-Request-Id` on every response; `/livez` and `/readyz` that nothing starves; `/metrics`
/// only for a metrics token; `Cache-Control: no-store` on everything that may carry case data.
@Suite("Operations: logs, request ids, health, metrics, caching")
struct OperationsTests {
    static func capturing(_ level: LogLevel = .info) -> (LogCapture, Logger) {
        let capture = LogCapture()
        return (capture, Logger(label: "service", sink: capture, logLevel: level))
    }

    static func requestLines(_ capture: LogCapture) -> [LogRecord] {
        capture.records.filter { $0.label == "service" && $0.message == "request" }
    }

    /// Sends raw bytes and reads one response.
    static func raw(_ port: Int, _ bytes: [UInt8]) async throws -> Reply {
        try await blocking {
            let client = try SocketClient(port: port)
            try client.send(bytes)
            return try client.readResponse()
        }
    }

    // MARK: - Logs

    @Test func everyRequestLogsOneLineWithRouteTemplateStatusDurationAndCaller() async throws {
        let (capture, logger) = Self.capturing()
        let h = try await Harness.start(logger: logger)
        defer { Task { await h.stop() } }
        capture.clear()
        let opened = try await h.api.post("/v1/cases/KP-LOG-1/events", token: h.token("kp-dthb"), Harness.openedJSON())
        #expect(opened.status == 201)
        let history = try await h.api.request(
            "GET", "/v1/cases/KP-LOG-1/history?asOf=2030-01-01T00:00:00Z", token: h.token("natc"),
            headers: [("X-Request-Id", "trace-7f3a")])
        #expect(history.status == 200)
        let missing = try await h.api.get("/no/such/KP-LOG-1", token: nil)
        #expect(missing.status == 404)
        let anonymous = try await h.api.get("/v1/inbox", token: nil)
        #expect(anonymous.status == 401)

        let lines = Self.requestLines(capture)
        #expect(lines.count == 4, "\(capture.lines())")
        guard lines.count == 4 else { return }
        let append = lines[0]
        #expect(append["method"] == "POST")
        #expect(append["route"] == "/v1/cases/{caseId}/events")
        #expect(append["status"] == "201")
        #expect(append["role"] == "institution")
        #expect(append["institution"] == "kp-dthb")
        #expect(append["user"] == "kp-dthb-officer")
        #expect(append.metadata["duration_ms"] != nil)
        #expect(append["request_id"]?.count == 32)
        #expect(append.level == .info)

        let read = lines[1]
        #expect(read["request_id"] == "trace-7f3a")
        #expect(read["route"] == "/v1/cases/{caseId}/history")
        #expect(read["status"] == "200")
        #expect(read["role"] == "coordinator")
        #expect(read["institution"] == "natc")
        #expect(history.header("X-Request-Id") == "trace-7f3a")

        #expect(lines[2]["route"] == "unmatched")
        #expect(lines[2]["status"] == "404")
        #expect(lines[2]["role"] == nil)
        #expect(lines[3]["route"] == "/v1/inbox")
        #expect(lines[3]["status"] == "401")
        // The route is the template: no case id, no query string, no raw path in any line.
        for line in capture.lines(.json) + capture.lines(.text) {
            #expect(!line.contains("KP-LOG-1"), "\(line)")
            #expect(!line.contains("asOf"), "\(line)")
            #expect(!line.contains("/no/such"), "\(line)")
        }
    }

    /// A read side that fails as a broken query would, with values in the server's message.
    struct FailingReadSide: ReadSide {
        static let error = PostgresError(
            kind: .server, sqlState: "XX000", serverMessage: "boom near 'KS-SECRET-VALUE'",
            detail: "Key (institution)=(opav-secret) failed")
        func caseSummary(caseId: String) async throws -> JSONValue? { throw Self.error }
        func deadlines(_ filter: DeadlineFilter, visibleTo institution: String?) async throws -> [DeadlineRow] {
            throw Self.error
        }
        func inbox(institution: String) async throws -> [InboxItem] { throw Self.error }
        func stats(year: Int?) async throws -> StatsReport { throw Self.error }
    }

    @Test func aForced500LogsItsCauseWithSQLSTATEAndNoValues() async throws {
        let (capture, logger) = Self.capturing()
        let h = try await Harness.start(readSide: FailingReadSide(), logger: logger)
        defer { Task { await h.stop() } }
        capture.clear()
        let reply = try await h.api.get("/v1/inbox", token: h.token("opav"))
        #expect(reply.status == 500)
        #expect(reply.errorCode == "internal_error")
        #expect(!reply.text.contains("XX000"))  // the client learns nothing
        let lines = Self.requestLines(capture)
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.level == .error)
        #expect(line["status"] == "500")
        #expect(line["route"] == "/v1/inbox")
        #expect(line["sqlstate"] == "XX000")
        #expect(line["error_kind"] == "server")
        #expect(line["error_type"]?.hasSuffix("PostgresError") == true)
        #expect(line["request_id"] == reply.header("X-Request-Id"))
        for text in capture.lines(.json) + capture.lines(.text) {
            #expect(!text.contains("SECRET"), "\(text)")
            #expect(!text.contains("opav-secret"), "\(text)")
            #expect(!text.contains("boom"), "\(text)")
        }
    }

    @Test func noTokenCookieAuthorizationBodyOrEventDataInAnyLine() async throws {
        let (capture, logger) = Self.capturing(.trace)
        let h = try await Harness.start(readSide: FailingReadSide(), logger: logger)
        defer { Task { await h.stop() } }
        let institution = h.token("kp-dthb")
        let marker = "MARKER-4f1d9c"
        try await h.openCase("KS-SEC-1")
        // Event data carrying the marker, appended (201) and refused (400).
        let issued = try await h.api.post(
            "/v1/cases/KS-SEC-1/events", token: institution,
            #"{"type":"ReferralIssued","data":{"referralId":"R-\#(marker)","to":"opav","purpose":"victim-advocacy","urgency":"routine"}}"#
        )
        #expect(issued.status == 201)
        let refused = try await h.api.post(
            "/v1/cases/KS-SEC-1/events", token: institution, #"{"type":"CaseReviewed","data":{"x":"\#(marker)"#)
        #expect(refused.status == 400)
        // A token nobody issued, a session cookie, a login form, a 500 and a parser-level refusal.
        let bogus = "hnd_BOGUS\(marker)"
        #expect(try await h.api.get("/v1/inbox", token: bogus).status == 401)
        _ = try await h.api.request("GET", "/", headers: [("Cookie", "handoff_session=\(institution)")])
        _ = try await h.api.request(
            "POST", "/login", json: "token=" + h.token("natc"), contentType: "application/x-www-form-urlencoded",
            headers: [("Origin", "http://127.0.0.1")])
        #expect(try await h.api.get("/v1/inbox", token: h.token("opav")).status == 500)
        #expect(try await h.api.get("/metrics", token: h.token("metrics")).status == 200)
        // A method of the client's own spelling is not logged as sent.
        _ = try await h.api.request("X\(marker)", "/v1/inbox", token: institution)
        // A client that puts its token where the request id goes gets neither it echoed nor logged.
        let echoed = try await h.api.request("GET", "/livez", headers: [("X-Request-Id", institution)])
        #expect(echoed.header("X-Request-Id") != institution)
        let oversized = try await Self.raw(
            h.api.port,
            Array(
                "GET /v1/inbox HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(institution)\r\nX-Pad: \(String(repeating: "a", count: 20_000))\r\n\r\n"
                    .utf8))
        #expect(oversized.status == 431)

        let lines = capture.lines(.json) + capture.lines(.text)
        #expect(Self.requestLines(capture).count >= 8)
        for line in lines {
            for (_, token) in h.tokens { #expect(!line.contains(token), "a token in \(line)") }
            #expect(!line.contains(marker), "event data or a body in \(line)")
            #expect(!line.contains("hnd_"), "\(line)")
            #expect(!line.lowercased().contains("authorization"), "\(line)")
            #expect(!line.lowercased().contains("cookie"), "\(line)")
            #expect(!line.contains("victim-advocacy"), "\(line)")
        }
    }

    // MARK: - Request ids

    @Test func aSaneRequestIdIsEchoedAndAnInsaneOneReplaced() async throws {
        let (capture, logger) = Self.capturing()
        let h = try await Harness.start(logger: logger)
        defer { Task { await h.stop() } }
        let sane = try await h.api.request("GET", "/livez", headers: [("X-Request-Id", "lb-01:9f2c.abc_DEF.1")])
        #expect(sane.header("X-Request-Id") == "lb-01:9f2c.abc_DEF.1")
        // A token or session id anywhere in the id, in any case, is neither echoed nor logged.
        let session = SessionStore.generate()
        #expect(RequestID.credentialPrefixes.contains(TokenStore.prefix))
        #expect(RequestID.credentialPrefixes.contains(String(session.prefix(4))))
        let insane = [
            String(repeating: "a", count: 65), "with space", "tab\there", "quote\"d", "caf\u{E9}", "semi;colon",
            "<script>", "lb-01:9f2c/abc", "a@b+c=", h.token("kp-dthb"), "HND_shaped-like-a-token",
            "token:" + h.token("kp-dthb"), "x-" + h.token("natc").uppercased(), session, "cookie:" + session,
        ]
        for candidate in insane {
            capture.clear()
            let reply = try await h.api.request("GET", "/livez", headers: [("X-Request-Id", candidate)])
            #expect(reply.status == 200)
            let id = try #require(reply.header("X-Request-Id"))
            #expect(id != candidate)
            #expect(id.count == 32 && id.allSatisfy { $0.isHexDigit }, "\(id)")
            #expect(Self.requestLines(capture).first?["request_id"] == id)
            #expect(!capture.lines().joined().contains(candidate))
        }
        // Control characters: the HTTP parser refuses them itself, and that answer has an id too.
        let control = try await Self.raw(
            h.api.port, Array("GET /livez HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\u{1}b\r\n\r\n".utf8))
        #expect(control.status == 400)
        #expect(control.header("X-Request-Id")?.count == 32)
    }

    @Test func everyResponseCarriesARequestIdErrorsAndParserRefusalsIncluded() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let routed: [Reply] = [
            try await h.api.get("/no-such-path", token: nil),
            try await h.api.request("DELETE", "/v1/inbox"),
            try await h.api.get("/v1/inbox", token: nil),
            try await h.api.get("/v1/cases/bad%20id", token: h.token("natc")),
            try await h.api.post("/v1/cases/KS-RID-1/events", token: h.token("kp-dthb"), "{not json"),
            try await h.api.get("/metrics", token: nil),
            try await h.api.get("/readyz", token: nil),
            try await h.api.get("/login", token: nil),
            try await h.api.get("/assets/dashboard.css", token: nil),
        ]
        for reply in routed {
            #expect(reply.header("X-Request-Id")?.isEmpty == false, "\(reply.status) \(reply.text)")
        }
        let port = h.api.port
        let malformed = try await Self.raw(port, Array("NOT A REQUEST\r\n\r\n".utf8))
        let tooLarge = try await Self.raw(
            port, Array("POST /v1/cases/KS-1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n".utf8))
        let manyHeaders = try await Self.raw(
            port,
            Array(
                ("GET /livez HTTP/1.1\r\nHost: x\r\n" + (0..<150).map { "X-H\($0): v\r\n" }.joined() + "\r\n").utf8))
        #expect(malformed.status == 400)
        #expect(tooLarge.status == 413)
        #expect(manyHeaders.status == 431)
        for reply in [malformed, tooLarge, manyHeaders] {
            #expect(reply.header("X-Request-Id")?.count == 32, "\(reply.status)")
        }
    }

    // MARK: - Health

    @Test func livezAndReadyzAnswerWhileStreamsAndLongReadsHoldEveryPooledConnection() async throws {
        let h = try await Harness.start(configure: { $0.maxStreamsPerToken = 100 })
        defer { Task { await h.stop() } }
        let port = h.api.port
        let token = h.token("natc")
        // Many SSE clients, each a live stream polling the log.
        var streams: [EventStreamClient] = []
        for _ in 0..<60 {
            streams.append(
                try await blocking { try EventStreamClient(port: port, target: "/v1/events/stream", token: token) })
        }
        #expect(streams.allSatisfy { $0.head.status == 200 })
        // The probe's own connection opened first: on a loaded machine its first connect and
        // check may outlast the 2 s a caller waits.
        try await eventually("the service to be ready") { try await h.api.get("/readyz", token: nil).status == 200 }
        // Long reads: every connection of the request pool held until released.
        let release = AsyncStream<Void>.makeStream()
        let holders = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<h.store.pool.maximumConnections {
                    group.addTask {
                        _ = try? await h.store.pool.withConnection { _ in
                            for await _ in release.stream { break }
                        }
                    }
                }
            }
        }
        // Poll until the holders own the whole pool (bounded; no sleep decides the outcome).
        let deadline = ContinuousClock.now + .seconds(20)
        while await h.store.pool.openConnections < h.store.pool.maximumConnections, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await h.store.pool.openConnections == h.store.pool.maximumConnections)
        let live = try await h.api.get("/livez", token: nil)
        // Asked again while the pool stays held (a check that needed the pool never answers 200):
        // one answer may still miss the 2 s a caller waits on a loaded machine.
        var ready = try await h.api.get("/readyz", token: nil)
        for _ in 0..<5 where ready.status != 200 { ready = try await h.api.get("/readyz", token: nil) }
        let health = try await h.api.get("/health", token: nil)
        release.continuation.finish()
        await holders.value
        #expect(live.status == 200)
        #expect(live.json == ["status": "ok"])
        #expect(ready.status == 200, "\(ready.text)")
        #expect(ready.json == ["status": "ok"])
        #expect(health.status == 200)
        streams.removeAll()  // closes every stream's socket
    }

    /// A TCP listener that accepts the handshake and never says a word: a frozen database.
    final class SilentServer: @unchecked Sendable {
        // @unchecked: `fd` is written once in init.
        let fd: Int32
        let port: Int

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
            }
            guard bound == 0, listen(fd, 64) == 0 else {
                close(fd)
                throw ClientError(description: "cannot listen")
            }
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            self.fd = fd
            self.port = Int(UInt16(bigEndian: address.sin_port))
        }

        var url: String { "postgresql://handoff@127.0.0.1:\(port)/handoff?connect_timeout=30" }

        deinit { close(fd) }
    }

    @Test func concurrentReadinessProbesOfAFrozenDatabaseShareOneCheckAndAnswerInTime() async throws {
        let silent = try SilentServer()
        let probe = ReadinessProbe(
            url: silent.url, limit: .milliseconds(300), logger: Logger(label: "t", sink: LogCapture()))
        let answers = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<25 { group.addTask { await probe.isReady() } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(answers == Array(repeating: false, count: 25))
        #expect(probe.checksStarted == 1)  // the stuck check is shared, not piled up
        #expect(await probe.isReady() == false)
        #expect(probe.checksStarted == 1)
    }

    @Test func aWedgedCheckIsAbandonedOnceAndNeverMoreThanOneAtATime() async throws {
        let silent = try SilentServer()
        let probe = ReadinessProbe(
            url: silent.url, limit: .milliseconds(50), staleAfter: .milliseconds(200),
            logger: Logger(label: "t", sink: LogCapture()))
        func waitPastStale() async throws {
            let until = ContinuousClock.now + .milliseconds(250)
            while ContinuousClock.now < until { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(await probe.isReady() == false)
        #expect(probe.checksStarted == 1)
        try await waitPastStale()
        #expect(await probe.isReady() == false)
        #expect(probe.checksStarted == 2)  // the wedged check was given up on
        #expect(await probe.isReady() == false)
        #expect(probe.checksStarted == 2)  // the new one is not stale yet: shared
        try await waitPastStale()
        #expect(await probe.isReady() == false)
        #expect(probe.checksStarted == 2)  // one abandoned check still runs: no third connection
    }

    /// A database that answers but takes no writes serves nothing (every read writes its
    /// access-log row): `/readyz` says so (an operator's pass found it "ok" while every data route
    /// answered 503).
    @Test func aReadOnlyDatabaseIsNotReady() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let connection = try await h.db.connect()
        defer { connection.close() }
        try await connection.execute(
            """
            DO $$ BEGIN
                EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = on', current_database());
            END $$
            """)
        let ready = try await h.api.get("/readyz", token: nil)  // the probe's first connection
        #expect(ready.status == 503)
        #expect(ready.json == ["status": "unavailable"])
        #expect(try await h.api.get("/livez", token: nil).status == 200)
    }

    @Test func aFrozenDatabaseMakesReadyz503AndLeavesLivez200() async throws {
        let silent = try SilentServer()
        let h = try await Harness.start(url: silent.url)
        defer { Task { await h.stop() } }
        let live = try await h.api.get("/livez", token: nil)
        let ready = try await h.api.get("/readyz", token: nil)
        let health = try await h.api.get("/health", token: nil)
        #expect(live.status == 200)
        #expect(ready.status == 503)
        #expect(ready.json == ["status": "unavailable"])
        #expect(health.status == 503)
        #expect(ready.header("Retry-After") == "1")
    }

    // MARK: - Metrics

    @Test func metricsNeedAMetricsTokenAndAMetricsTokenOpensNothingElse() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let opened = try await h.api.post("/v1/cases/KP-MET-1/events", token: h.token("kp-dthb"), Harness.openedJSON())
        #expect(opened.status == 201)
        let anonymous = try await h.api.get("/metrics", token: nil)
        #expect(anonymous.status == 401)
        #expect(anonymous.errorCode == "unauthorized")
        #expect(!anonymous.text.contains("handoff_"))
        #expect(try await h.api.get("/metrics", token: "hnd_unknown").status == 401)
        for principal in ["kp-dthb", "natc", "audit"] {
            let reply = try await h.api.get("/metrics", token: h.token(principal))
            #expect(reply.status == 403, "\(principal)")
            #expect(!reply.text.contains("handoff_appended_events_total"))
        }
        let scraped = try await h.api.get("/metrics", token: h.token("metrics"))
        #expect(scraped.status == 200)
        #expect(scraped.text.contains("handoff_appended_events_total 1"))
        // The metrics token is nobody: every route of case data refuses it as unknown.
        let metrics = h.token("metrics")
        for target in [
            "/v1/cases/KP-MET-1", "/v1/cases/KP-MET-1/history", "/v1/events", "/v1/inbox", "/v1/deadlines",
            "/v1/stats", "/v1/audit/access",
        ] {
            #expect(try await h.api.get(target, token: metrics).status == 401, "\(target)")
        }
        let append = try await h.api.post(
            "/v1/cases/KP-MET-1/events", token: metrics, Harness.referralJSON("R-1", to: "opav"))
        #expect(append.status == 401)
        let login = try await h.api.request(
            "POST", "/login", json: "token=" + metrics, contentType: "application/x-www-form-urlencoded",
            headers: [("Origin", "http://127.0.0.1")])
        #expect(login.status == 401)
        #expect(login.header("Set-Cookie") == nil)
    }

    // MARK: - Caching

    @Test func everyResponseThatMayCarryCaseDataSaysNoStore() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-CC-1")
        let natc = h.token("natc")
        let cookie = ("Cookie", "handoff_session=\(natc)")
        let replies: [(String, Reply)] = [
            ("summary", try await h.api.get("/v1/cases/KS-CC-1", token: natc)),
            ("history", try await h.api.get("/v1/cases/KS-CC-1/history", token: natc)),
            ("verify", try await h.api.get("/v1/cases/KS-CC-1/verify", token: natc)),
            ("events", try await h.api.get("/v1/events", token: natc)),
            ("deadlines", try await h.api.get("/v1/deadlines", token: natc)),
            ("inbox", try await h.api.get("/v1/inbox", token: h.token("opav"))),
            ("stats", try await h.api.get("/v1/stats", token: natc)),
            ("audit", try await h.api.get("/v1/audit/access", token: h.token("audit"))),
            (
                "append",
                try await h.api.post(
                    "/v1/cases/KS-CC-1/events", token: h.token("kp-dthb"), Harness.referralJSON("R-9", to: "opav"))
            ),
            (
                "subscription",
                try await h.api.request("PUT", "/v1/subscriptions/cc-sub", token: h.token("opav"), json: "{}")
            ),
            ("subscription events", try await h.api.get("/v1/subscriptions/cc-sub/events", token: h.token("opav"))),
            ("401", try await h.api.get("/v1/cases/KS-CC-1", token: nil)),
            ("404", try await h.api.get("/v1/cases/KS-NONE", token: natc)),
            ("no route", try await h.api.get("/v1/nothing", token: natc)),
            ("home", try await h.api.request("GET", "/", headers: [cookie])),
            ("case page", try await h.api.request("GET", "/cases/KS-CC-1", headers: [cookie])),
            ("login", try await h.api.get("/login", token: nil)),
            ("metrics", try await h.api.get("/metrics", token: h.token("metrics"))),
            ("readyz", try await h.api.get("/readyz", token: nil)),
        ]
        for (name, reply) in replies {
            #expect(reply.header("Cache-Control") == "no-store", "\(name): \(reply.status)")
        }
        let stream = try await blocking { [port = h.api.port] in
            try EventStreamClient(port: port, target: "/v1/events/stream", token: natc)
        }
        #expect(stream.head.header("Cache-Control") == "no-store")
        // Static assets carry no case data and may be revalidated from a cache.
        let css = try await h.api.get("/assets/dashboard.css", token: nil)
        #expect(css.header("Cache-Control") == "no-cache")
    }
}
