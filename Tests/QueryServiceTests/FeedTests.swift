import LoopbackHTTPClient
import EventStore
import Foundation
import Referrals
import Foundation
import Glibc
import Testing

@Suite("Events pages, Server-Sent Events and durable subscriptions")
struct FeedTests {
    /// kp-dthb opens A (refers to opav) and B; isf opens C. opav may see A only.
    static func seed(_ h: Harness) async throws {
        try await h.openCase("KS-FA")
        try await h.openCase("KS-FB")
        try await h.openCase("KS-FC", by: "isf")
        try await h.refer("KS-FA", "R-1", to: "opav")
        try await h.refer("KS-FB", "R-2", to: "ksp")
        try await h.settle()
    }

    static func streams(_ reply: Reply) -> [String] {
        reply.json["events"]!.array.compactMap { $0["stream"]?.stringValue }
    }

    @Test func pagesAreGapFreeWithNextAndFilteredByParty() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await Self.seed(h)
        // A coordinator sees everything, the registry included, page by page.
        var all: [String] = []
        var after = ""
        while true {
            let page = try await h.api.get("/v1/events?limit=4&after=\(after)", token: h.token("natc"))
            #expect(page.status == 200)
            let events = page.json["events"]!.array
            all += events.compactMap { $0["id"]?.stringValue }
            #expect(events.count <= 4)
            let next = page.json["next"]!.stringValue!
            if events.isEmpty {
                #expect(next == after || after.isEmpty)
                break
            }
            #expect(next == events.last?["cursor"]?.stringValue)
            after = next
        }
        #expect(all.count == Institution.demo.count + 5)  // the registry, then the case events
        #expect(Set(all).count == all.count)
        // opav: only KS-FA (it is named by R-1), never the registry or others' cases.
        let opav = try await h.api.get("/v1/events", token: h.token("opav"))
        #expect(Set(Self.streams(opav)) == ["case-KS-FA"])
        #expect(Self.streams(opav).count == 2)
        // kp-dthb: its two cases; isf: its own.
        #expect(
            Set(Self.streams(try await h.api.get("/v1/events", token: h.token("kp-dthb")))) == [
                "case-KS-FA", "case-KS-FB",
            ])
        #expect(Set(Self.streams(try await h.api.get("/v1/events", token: h.token("isf")))) == ["case-KS-FC"])
        #expect(Self.streams(try await h.api.get("/v1/events", token: h.token("pvpt"))).isEmpty)
        // An institution's small pages skip what it may not see without losing what it may.
        var seen: [String] = []
        after = ""
        for _ in 0..<20 {
            let page = try await h.api.get("/v1/events?limit=1&after=\(after)", token: h.token("ksp"))
            let events = page.json["events"]!.array
            if events.isEmpty { break }
            seen += events.compactMap { $0["type"]?.stringValue }
            after = page.json["next"]!.stringValue!
        }
        #expect(seen == ["CaseOpened", "ReferralIssued"])
        // types filter.
        let referrals = try await h.api.get("/v1/events?types=ReferralIssued", token: h.token("audit"))
        #expect(
            referrals.json["events"]!.array.map { $0["type"]?.stringValue } == ["ReferralIssued", "ReferralIssued"])
        let two = try await h.api.get("/v1/events?types=CaseOpened,ReferralIssued&limit=1000", token: h.token("natc"))
        #expect(two.json["events"]!.array.count == 5)
        // Bad parameters.
        for query in ["after=abc", "after=1-2-3", "limit=0", "limit=x", "limit=-5", "types=Bad-Type", "types=,"] {
            let reply = try await h.api.get("/v1/events?\(query)", token: h.token("natc"))
            #expect(reply.status == 400, "\(query)")
            #expect(reply.errorCode == "bad_request", "\(query)")
        }
        // limit above 1000 is capped, not refused.
        #expect(try await h.api.get("/v1/events?limit=5000", token: h.token("natc")).status == 200)
    }

    /// Transaction ids that cross a power of ten (999 → 1000) must not change the order: the
    /// global order is numeric on xid, never on its text.
    @Test func orderHoldsAcrossTransactionIdsOfMoreDigits() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-XID-1")
        let connection = try await h.db.connect()
        defer { connection.close() }
        let current: String = try await connection.query("SELECT pg_current_xact_id()::text").first!.decode(0)
        let boundary = Int(pow(10, Double(current.count)))
        // Burn transaction ids: each subtransaction that writes takes one.
        try await connection.execute(
            """
            CREATE TEMP TABLE burn (n int);
            DO $$ BEGIN
              FOR i IN 1..\(boundary - Int(current)! + 10) LOOP
                BEGIN INSERT INTO burn VALUES (i); EXCEPTION WHEN others THEN NULL; END;
              END LOOP;
            END $$;
            """)
        try await h.refer("KS-XID-1", "R-1", to: "opav")
        try await h.settle()
        var types: [String] = []
        var after = ""
        for _ in 0..<4 {
            let page = try await h.api.get(
                "/v1/events?types=CaseOpened,ReferralIssued&limit=1&after=\(after)", token: h.token("natc"))
            guard let event = page.json["events"]!.array.first else { break }
            types.append(event["type"]!.stringValue!)
            after = page.json["next"]!.stringValue!
        }
        #expect(types == ["CaseOpened", "ReferralIssued"])
        let head = try await h.store.headCursor()
        #expect(String(head.xid).count > current.count)
    }

    @Test func eventStreamDeliversResumesWithoutLossOrRepeatAndSendsHeartbeats() async throws {
        let h = try await Harness.start(heartbeat: .milliseconds(300))
        defer { Task { await h.stop() } }
        try await h.openCase("KS-S1")
        let port = h.api.port
        let token = h.token("kp-dthb")
        let stream = try await blocking { try EventStreamClient(port: port, target: "/v1/events/stream", token: token) }
        #expect(stream.head.status == 200)
        #expect(stream.head.header("Content-Type") == "text/event-stream")
        let first = try await blocking { try stream.next(1) }
        #expect(first[0].event == "CaseOpened")
        #expect(first[0].id != nil)
        #expect(JSONValue.parseOrNull(first[0].data)["cursor"]?.stringValue == first[0].id)
        // Live: appended after the stream opened.
        try await h.refer("KS-S1", "R-1", to: "opav")
        try await h.openCase("KS-S-OTHER", by: "isf")  // not kp-dthb's: never delivered
        try await h.refer("KS-S1", "R-2", to: "isf")
        let live = try await blocking { try stream.next(2) }
        #expect(live.map(\.event) == ["ReferralIssued", "ReferralIssued"])
        // Silence: heartbeat comments keep coming.
        try await blocking { try stream.waitForComments(stream.comments.count + 2) }
        let lastId = live[1].id!
        stream.client.shutdownBoth()
        // While disconnected, more happens.
        try await h.refer("KS-S1", "R-3", to: "ksp")
        try await h.refer("KS-S1", "R-4", to: "pvpt")
        // Resume after Last-Event-ID: exactly the two missed, nothing repeated.
        let resumed = try await blocking {
            try EventStreamClient(port: port, target: "/v1/events/stream", token: token, lastEventId: lastId)
        }
        let missed = try await blocking { try resumed.next(2) }
        #expect(missed.map { JSONValue.parseOrNull($0.data)["data"]?["referralId"]?.stringValue } == ["R-3", "R-4"])
        resumed.client.shutdownBoth()
        // ?after= works the same; Last-Event-ID wins over it.
        let fromQuery = try await blocking {
            try EventStreamClient(port: port, target: "/v1/events/stream?after=\(lastId)", token: token)
        }
        #expect(try await blocking { try fromQuery.next(2) }.map(\.id) == missed.map(\.id))
        fromQuery.client.shutdownBoth()
        let both = try await blocking {
            try EventStreamClient(
                port: port, target: "/v1/events/stream?after=\(first[0].id!)", token: token, lastEventId: missed[0].id)
        }
        #expect(try await blocking { try both.next(1) }.map(\.id) == [missed[1].id])
        both.client.shutdownBoth()
        // A bad Last-Event-ID is a 400 before the stream starts.
        let bad = try await h.api.request(
            "GET", "/v1/events/stream", token: token, headers: [("Last-Event-ID", "nope")])
        #expect(bad.status == 400)
    }

    @Test func eventStreamFiltersTypesAndCountsClients() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-S2")
        let port = h.api.port
        let token = h.token("natc")
        let stream = try await blocking {
            try EventStreamClient(port: port, target: "/v1/events/stream?types=ReferralIssued", token: token)
        }
        try await h.refer("KS-S2", "R-1", to: "opav")
        let got = try await blocking { try stream.next(1) }
        #expect(got[0].event == "ReferralIssued")
        let metrics = try await h.api.get("/metrics", token: h.token("metrics"))
        #expect(metrics.text.contains("handoff_sse_clients 1"))
        stream.client.shutdownBoth()
        // The server notices the client left.
        var gauge = ""
        for _ in 0..<50 {
            gauge = try await h.api.get("/metrics", token: h.token("metrics")).text
            if gauge.contains("handoff_sse_clients 0") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(gauge.contains("handoff_sse_clients 0"))
    }

    @Test func durableSubscriptionsResumeAfterTheAckedCursor() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await Self.seed(h)
        let opav = h.token("opav")
        let created = try await h.api.request(
            "PUT", "/v1/subscriptions/opav-referrals", token: opav,
            json: #"{"types":["ReferralIssued","ReferralAccepted"]}"#)
        #expect(created.status == 201)
        #expect(created.json["owner"]?.stringValue == "opav")
        #expect(created.json["types"]?.array.count == 2)
        let kept = try await h.api.request("PUT", "/v1/subscriptions/opav-referrals", token: opav)
        #expect(kept.status == 200)
        #expect(kept.json["types"]?.array.count == 2)
        // Only opav's cases (R-1 on KS-FA), only the chosen types.
        let page1 = try await h.api.get("/v1/subscriptions/opav-referrals/events", token: opav)
        #expect(page1.status == 200)
        #expect(page1.json["events"]!.array.map { $0["data"]?["referralId"]?.stringValue } == ["R-1"])
        // Not acked: the same events again.
        let again = try await h.api.get("/v1/subscriptions/opav-referrals/events", token: opav)
        #expect(again.json == page1.json)
        // Ack, then only what came after.
        let next = page1.json["next"]!.stringValue!
        let ack = try await h.api.post("/v1/subscriptions/opav-referrals/ack", token: opav, "{\"cursor\":\"\(next)\"}")
        #expect(ack.status == 200)
        #expect(ack.json["cursor"]?.stringValue == next)
        #expect(
            try await h.api.get("/v1/subscriptions/opav-referrals/events", token: opav).json["events"]!.array.isEmpty)
        let accepted = try await h.api.post(
            "/v1/cases/KS-FA/events", token: opav, #"{"type":"ReferralAccepted","data":{"referralId":"R-1"}}"#)
        #expect(accepted.status == 201)
        try await h.refer("KS-FB", "R-9", to: "isf")  // not opav's case
        try await h.refer("KS-FA", "R-10", to: "opav", by: "kp-dthb")
        try await h.settle()
        let page2 = try await h.api.get("/v1/subscriptions/opav-referrals/events?limit=1", token: opav)
        #expect(page2.json["events"]!.array.map { $0["type"]?.stringValue } == ["ReferralAccepted"])
        let ack2 = try await h.api.post(
            "/v1/subscriptions/opav-referrals/ack", token: opav, "{\"cursor\":\"\(page2.json["next"]!.stringValue!)\"}")
        #expect(ack2.status == 200)
        let page3 = try await h.api.get("/v1/subscriptions/opav-referrals/events", token: opav)
        #expect(page3.json["events"]!.array.map { $0["data"]?["referralId"]?.stringValue } == ["R-10"])
        // The stored cursor survives a restart of the service.
        await h.service.shutdown()
        let h2 = try await Harness.start(db: h.db)
        defer { Task { await h2.stop() } }
        let tokenAfter = try await h2.service.tokens.create(role: .institution, institution: "opav", user: "advocate-2")
        let page4 = try await h2.api.get("/v1/subscriptions/opav-referrals/events", token: tokenAfter)
        #expect(page4.json["events"]!.array.map { $0["data"]?["referralId"]?.stringValue } == ["R-10"])
        // Bad requests.
        let path = "/v1/subscriptions/opav-referrals/ack"
        // A cursor must name an event: a real position under a made-up transaction id skipped every
        // event of a lower one, for good (an attack pass), and so did a cursor beyond the end.
        let real = try #require(page4.json["next"]?.stringValue.flatMap(Cursor.init))
        let madeUp = [
            Cursor(xid: real.xid + 1_000_000, position: real.position),
            Cursor(xid: real.xid, position: real.position + 1),
            Cursor(xid: 0, position: real.position),
        ].map { #"{"cursor":"\#($0)"}"# }
        for body in [#"{"cursor":"x"}"#, #"{}"#, #"{"cursor":"999999999-999999"}"#, #"{"cursor":"0-0","x":1}"#] + madeUp
        {
            let reply = try await h2.api.post(path, token: tokenAfter, body)
            #expect(reply.status == 400, "\(body)")
            #expect(reply.errorCode == "bad_request", "\(body)")
        }
        #expect(try await h2.api.post(path, token: tokenAfter, #"{"cursor":"\#(real)"}"#).status == 200)
        // An event stream resumes only from an event too.
        for header in madeUp.compactMap({ JSONValue.parseOrNull($0)["cursor"]?.stringValue }) {
            let stream = try await h2.api.request(
                "GET", "/v1/events/stream", token: tokenAfter, headers: [("Last-Event-ID", header)])
            #expect(stream.status == 400 && stream.errorField == "Last-Event-ID", "\(header)")
            let after = try await h2.api.get("/v1/events/stream?after=\(header)", token: tokenAfter)
            #expect(after.status == 400 && after.errorField == "after", "\(header)")
        }
        #expect(try await h2.api.post(path, token: tokenAfter, "{").errorCode == "invalid_json")
        let plain = try await h2.api.request(
            "POST", path, token: tokenAfter, json: #"{"cursor":"0-0"}"#, contentType: "text/plain")
        #expect(plain.status == 415)
        let badName = try await h2.api.request("PUT", "/v1/subscriptions/bad%20name", token: tokenAfter)
        #expect(badName.status == 400)
        for dots in [".", "..", "%2E", "%2E%2E"] {  // path segments clients remove: unreachable once made
            let reply = try await h2.api.request("PUT", "/v1/subscriptions/\(dots)", token: tokenAfter)
            #expect(reply.status == 400, "\(dots)")
        }
        let badTypes = try await h2.api.request(
            "PUT", "/v1/subscriptions/s2", token: tokenAfter, json: #"{"types":"ReferralIssued"}"#)
        #expect(badTypes.status == 400)
        #expect(badTypes.errorField == "types")
    }
}

extension JSONValue {
    static func parseOrNull(_ text: String) -> JSONValue { (try? JSONValue.parse(text)) ?? .null }
}

extension SocketClient {
    /// Closes both directions, as a client that goes away does.
    func shutdownBoth() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
}
