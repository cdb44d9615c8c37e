import Foundation
import Referrals
import Testing

@testable import QueryService

@Suite("Routes backed by the read side")
struct ReadModelRouteTests {
    static let trigger = UUID()
    static func row(_ caseId: String, _ status: DeadlineFilter.Status) -> DeadlineRow {
        DeadlineRow(
            caseId: caseId, ruleId: "risk-assessed", title: "Risk assessed",
            dueAt: Date(timeIntervalSince1970: 1_790_000_000),
            status: status, responsible: "kp-dthb", triggerEventId: trigger,
            satisfiedAt: status == .met ? Date(timeIntervalSince1970: 1_789_990_000) : nil)
    }

    @Test func deadlinesValidateFiltersPassTheInstitutionAndRender() async throws {
        let stub = StubReadSide(deadlineRows: [Self.row("KS-D-1", .overdue), Self.row("KS-D-2", .met)])
        let h = try await Harness.start(readSide: stub)
        defer { Task { await h.stop() } }
        let all = try await h.api.get("/v1/deadlines", token: h.token("natc"))
        #expect(all.status == 200)
        let first = all.json["deadlines"]!.array[0]
        #expect(first["caseId"]?.stringValue == "KS-D-1")
        #expect(first["dueAt"]?.stringValue == "2026-09-21T14:13:20Z")
        #expect(first["status"]?.stringValue == "overdue")
        #expect(first["triggerEventId"]?.stringValue == Self.trigger.uuidString.lowercased())
        #expect(first["satisfiedAt"] == .null)
        #expect(all.json["deadlines"]!.array[1]["satisfiedAt"]?.stringValue == "2026-09-21T11:26:40Z")
        let filtered = try await h.api.get(
            "/v1/deadlines?status=met&caseId=KS-D-2&responsible=role:police", token: h.token("opav"))
        #expect(filtered.json["deadlines"]!.array.count == 1)
        let calls = stub.calls.withLock { $0.deadlines }
        #expect(calls[0].1 == nil)
        #expect(calls[1].0 == DeadlineFilter(status: .met, caseId: "KS-D-2", responsible: "role:police"))
        #expect(calls[1].1 == "opav")  // institutions: own cases only
        for query in ["status=late", "caseId=no_way", "responsible=Not%20An%20Id"] {
            let reply = try await h.api.get("/v1/deadlines?\(query)", token: h.token("natc"))
            #expect(reply.status == 400, "\(query)")
            #expect(reply.errorCode == "bad_request")
        }
        // The cases whose deadlines were shown are in the access log.
        let log = try await h.api.get("/v1/audit/access", token: h.token("audit"))
        #expect(Set(log.json["entries"]!.array.compactMap { $0["caseId"]?.stringValue }) == ["KS-D-1", "KS-D-2"])
    }

    @Test func inboxIsTheCallersOwn() async throws {
        let item = InboxItem(
            caseId: "KS-IN-1", referralId: "R-1", from: "kp-dthb", purpose: "shelter", urgency: "urgent",
            status: "issued", issuedAt: Date(timeIntervalSince1970: 1_790_000_000))
        let stub = StubReadSide(inboxItems: [item])
        let h = try await Harness.start(readSide: stub)
        defer { Task { await h.stop() } }
        let reply = try await h.api.get("/v1/inbox", token: h.token("isf"))
        #expect(reply.status == 200)
        #expect(
            reply.json
                == [
                    "referrals": [
                        [
                            "caseId": "KS-IN-1", "referralId": "R-1", "from": "kp-dthb", "purpose": "shelter",
                            "urgency": "urgent", "status": "issued", "issuedAt": "2026-09-21T14:13:20Z",
                        ]
                    ]
                ])
        #expect(stub.calls.withLock { $0.inbox } == ["isf"])
    }

    @Test func statsSuppressCellsUnderFiveExceptForAuditors() async throws {
        let report = StatsReport(
            cases: 23, counts: ["sex": ["female": 19, "male": 4], "nationality": ["XK": 20, "AL": 3, "MD": 0]],
            compliance: [
                ComplianceCell(
                    ruleId: "risk-assessed", institution: "kp-dthb", met: 12, metLate: 2, overdue: 5, pending: 1,
                    cancelled: 0)
            ])
        let stub = StubReadSide(report: report)
        let h = try await Harness.start(readSide: stub)
        defer { Task { await h.stop() } }
        let coordinator = try await h.api.get("/v1/stats?year=2026", token: h.token("natc"))
        #expect(coordinator.status == 200)
        #expect(coordinator.json["year"]?.int == 2026)
        #expect(coordinator.json["cases"]?.int == 23)
        // Sex splits the 23 cases: with male withheld and female shown, 23 − 19 gave it away;
        // female is withheld too (secondary suppression, as the annual report does). Nationality
        // has two small values withheld, which the total does not separate.
        #expect(coordinator.json["counts"]?["sex"] == ["female": "x", "male": "<5"])
        #expect(coordinator.json["counts"]?["nationality"] == ["AL": "<5", "MD": "<5", "XK": 20])
        // Ties between equal counts fall the same way in every answer (two answers withholding
        // different cells of the same data gave both away).
        let tied = StatsReport(
            cases: 117, counts: ["sex": ["female": 100, "male": 3, "other": 7, "unknown": 7]], compliance: [])
        var withheld: Set<String> = []
        for _ in 0..<20 {
            let json = QueryService.renderStats(tied, year: nil, suppressSmallCells: true)
            for (value, cell) in json["counts"]?["sex"]?.objectValue ?? JSONObject() where cell == "x" {
                withheld.insert(value)
            }
        }
        #expect(withheld == ["other"])
        let cell = coordinator.json["compliance"]!.array[0]
        #expect(cell["met"]?.int == 12)
        #expect(cell["metLate"] == "<5")
        #expect(cell["overdue"]?.int == 5)
        #expect(cell["pending"] == "<5")
        let auditor = try await h.api.get("/v1/stats", token: h.token("audit"))
        #expect(auditor.json["counts"]?["sex"] == ["female": 19, "male": 4])
        #expect(auditor.json["compliance"]!.array[0]["metLate"]?.int == 2)
        #expect(auditor.json["year"] == .null)
        #expect(stub.calls.withLock { $0.stats } == [2026, nil])
        #expect(try await h.api.get("/v1/stats?year=26", token: h.token("natc")).status == 400)
    }

    @Test func caseSummaryComesFromTheReadSideAfterTheStreamSaysWhoMayRead() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        try await h.openCase("KS-SUM-1")
        let reply = try await h.api.get("/v1/cases/KS-SUM-1", token: h.token("kp-dthb"))
        #expect(reply.status == 200)
        #expect(reply.json["caseId"]?.stringValue == "KS-SUM-1")
        // Without read models the service still answers: 503 (retry) for a case not projected yet.
        let bare = try await Harness.start(db: h.db)
        defer { Task { await bare.stop() } }
        let none = try await bare.api.get("/v1/cases/KS-SUM-1", token: bare.token("kp-dthb"))
        #expect(none.status == 503)
        #expect(none.errorCode == "unavailable")
    }

    @Test func healthAndMetrics() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let health = try await h.api.get("/health", token: nil)
        #expect(health.status == 200)
        #expect(health.json == ["status": "ok"])
        let opened = try await h.api.post("/v1/cases/KP-MET-1/events", token: h.token("kp-dthb"), Harness.openedJSON())
        #expect(opened.status == 201)
        _ = try await h.api.get("/v1/cases/KP-MET-1/history", token: h.token("isf"))
        let metrics = try await h.api.get("/metrics", token: h.token("metrics"))
        #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
        let text = metrics.text
        for line in [
            #"handoff_http_requests_total{method="POST",route="/v1/cases/{caseId}/events",status="201"} 1"#,
            #"handoff_http_requests_total{method="GET",route="/v1/cases/{caseId}/history",status="404"} 1"#,
            #"handoff_http_requests_total{method="GET",route="/health",status="200"} 1"#,
            "handoff_appended_events_total 1", #"handoff_append_requests_total{outcome="created"} 1"#,
            "handoff_sse_clients 0", "handoff_projector_lag_events 0",
            "# TYPE handoff_http_request_duration_seconds histogram",
        ] {
            #expect(text.contains(line), "\(line)")
        }
        #expect(text.contains(#"handoff_http_request_duration_seconds_count{method="GET",route="/health"} 1"#))
        #expect(text.contains("handoff_http_accepted_connections_total"))
        // Tokens and event data never appear in metrics.
        #expect(!text.contains(h.token("isf")))
        #expect(!text.contains("KS-MET-1"))
    }
}
