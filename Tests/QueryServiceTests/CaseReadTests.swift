import EventStore
import Foundation
import Referrals
import Testing

@Suite("Case history, verification and the access log")
struct CaseReadTests {
    @Test func historyHasCaseEventsAndNoticesInGlobalOrderWithTheDocumentedShape() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-H-1")
        let triggerId = UUID()
        let notice = NewEvent(
            type: "SopDeadlineMissed",
            data:
                #"{"ruleId":"risk-assessed","dueAt":"2026-01-04T00:00:00Z","triggerEventId":"\#(triggerId.uuidString.lowercased())","responsible":"kp-dthb"}"#,
            metadata: EventMetadata(actor: EventActor(institution: "natc", user: "deadline-watcher")))
        _ = try await h.store.append(to: .sop("KS-H-1")!, events: [notice])
        try await h.refer("KS-H-1", "R-1", to: "opav")
        let reply = try await h.api.get("/v1/cases/KS-H-1/history", token: h.token("kp-dthb"))
        #expect(reply.status == 200)
        #expect(reply.json["caseId"]?.stringValue == "KS-H-1")
        let events = reply.json["events"]!.array
        #expect(events.map { $0["type"]?.stringValue } == ["CaseOpened", "SopDeadlineMissed", "ReferralIssued"])
        #expect(events.map { $0["stream"]?.stringValue } == ["case-KS-H-1", "sop-KS-H-1", "case-KS-H-1"])
        let first = events[0]
        for key in [
            "id", "stream", "type", "version", "cursor", "occurredAt", "recordedAt", "actor", "data", "metadata",
            "prevHash", "hash",
        ] {
            #expect(first[key] != nil, "\(key)")
        }
        #expect(first["actor"]?["institution"]?.stringValue == "kp-dthb")
        #expect(first["actor"]?["user"]?.stringValue == "kp-dthb-officer")
        #expect(first["metadata"]?["correlationId"]?.stringValue != nil)
        #expect(first["metadata"]?["causationId"] == .null)
        #expect(first["prevHash"]?.stringValue == String(repeating: "0", count: 64))
        #expect(first["data"]?["profile"]?["nationality"]?.stringValue == "XK")
        #expect(events[2]["prevHash"] == first["hash"])
        // Cursors increase.
        let cursors = events.compactMap { $0["cursor"]?.stringValue.flatMap(Cursor.init) }
        #expect(cursors == cursors.sorted())
        // The case id in history is validated.
        #expect(try await h.api.get("/v1/cases/KS_H/history", token: h.token("natc")).status == 400)
        #expect(try await h.api.get("/v1/cases/KS-H-404/history", token: h.token("natc")).status == 404)
    }

    @Test func historyAsOfShowsOnlyWhatWasRecordedByThen() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-T-1")
        try await Task.sleep(for: .milliseconds(50))
        let between = Date()
        try await Task.sleep(for: .milliseconds(50))
        try await h.refer("KS-T-1", "R-1", to: "opav")
        let asOf = Timestamp.format(between).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let then = try await h.api.get("/v1/cases/KS-T-1/history?asOf=\(asOf)", token: h.token("natc"))
        #expect(then.status == 200)
        #expect(then.json["events"]!.array.map { $0["type"]?.stringValue } == ["CaseOpened"])
        let now = try await h.api.get("/v1/cases/KS-T-1/history", token: h.token("natc"))
        #expect(now.json["events"]!.array.count == 2)
        let bad = try await h.api.get("/v1/cases/KS-T-1/history?asOf=last-week", token: h.token("natc"))
        #expect(bad.status == 400)
        #expect(bad.errorCode == "bad_request")
        #expect(bad.errorField == "asOf")
    }

    @Test func verifyReportsValidChainsAndNamesTheFirstBadEvent() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-VF-1")
        let last = try await h.refer("KS-VF-1", "R-1", to: "opav")
        let ok = try await h.api.get("/v1/cases/KS-VF-1/verify", token: h.token("audit"))
        #expect(ok.status == 200)
        #expect(ok.json["valid"] == .bool(true))
        #expect(ok.json["events"]?.int == 2)
        #expect(ok.json["headHash"]?.stringValue == last.json["events"]?.array.first?["hash"]?.stringValue)
        // Tamper with the stored data, as a superuser who switched off the append-only trigger.
        let connection = try await h.db.connect()
        defer { connection.close() }
        try await connection.execute(
            """
            ALTER TABLE handoff.events DISABLE TRIGGER events_append_only;
            UPDATE handoff.events SET data = jsonb_set(data, '{purpose}', '"shelter"') WHERE stream = 'case-KS-VF-1' AND version = 2;
            ALTER TABLE handoff.events ENABLE TRIGGER events_append_only;
            """)
        let bad = try await h.api.get("/v1/cases/KS-VF-1/verify", token: h.token("natc"))
        #expect(bad.status == 200)
        #expect(bad.json["valid"] == .bool(false))
        #expect(bad.json["firstInvalidVersion"]?.int == 2)
        #expect(bad.json["stream"]?.stringValue == "case-KS-VF-1")
        #expect(try await h.api.get("/v1/cases/KS-VF-404/verify", token: h.token("audit")).status == 404)
    }

    /// The case's record is its stream and its notices: an edited notice breaks the case's verify,
    /// and its history keeps the case's own events in their versions' order, which the chain
    /// protects, whatever the log's order (its `xid`, no chain's) was changed to.
    @Test func verifyCoversTheNoticesAndHistoryKeepsTheCasesOrder() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-VN-1")
        try await h.refer("KS-VN-1", "R-1", to: "opav")
        let notice =
            #"{"ruleId": "r", "dueAt": "2026-01-01T00:00:00Z", "triggerEventId": "\#(UUID())", "responsible": "opav"}"#
        try await h.store.append(
            to: StreamName.sop("KS-VN-1")!,
            events: [
                NewEvent(
                    type: "SopDeadlineMissed", data: notice,
                    metadata: EventMetadata(actor: EventActor(institution: "system", user: "watcher")))
            ])
        let ok = try await h.api.get("/v1/cases/KS-VN-1/verify", token: h.token("audit"))
        #expect(ok.json["valid"] == .bool(true))
        #expect(ok.json["events"]?.int == 2)
        #expect(ok.json["notices"]?.int == 1)

        let connection = try await h.db.connect()
        defer { connection.close() }
        // The opening moved after the referral in the log's order: the history still starts with it.
        try await connection.execute(
            """
            ALTER TABLE handoff.events DISABLE TRIGGER events_append_only;
            UPDATE handoff.events SET xid = (SELECT max(xid::text::bigint) + 1000 FROM handoff.events)::text::xid8
             WHERE stream = 'case-KS-VN-1' AND version = 1;
            ALTER TABLE handoff.events ENABLE TRIGGER events_append_only;
            """)
        let history = try await h.api.get("/v1/cases/KS-VN-1/history", token: h.token("audit"))
        let types = history.json["events"]!.array.compactMap { $0["type"]?.stringValue }
        #expect(types.filter { $0 != "SopDeadlineMissed" } == ["CaseOpened", "ReferralIssued"], "\(types)")
        #expect(types.count == 3)

        // A notice edited (the responsible institution changed) breaks the case's verify.
        try await connection.execute(
            """
            ALTER TABLE handoff.events DISABLE TRIGGER events_append_only;
            UPDATE handoff.events SET data = jsonb_set(data, '{responsible}', '"ksp"') WHERE stream = 'sop-KS-VN-1';
            ALTER TABLE handoff.events ENABLE TRIGGER events_append_only;
            """)
        let bad = try await h.api.get("/v1/cases/KS-VN-1/verify", token: h.token("audit"))
        #expect(bad.json["valid"] == .bool(false))
        #expect(bad.json["stream"]?.stringValue == "sop-KS-VN-1")
        #expect(bad.json["firstInvalidVersion"]?.int == 1)
    }

    @Test func everyReadOfCaseDataIsLoggedAndOnlyAuditorsReadTheLog() async throws {
        let h = try await Harness.start(readSide: StubReadSide())
        defer { Task { await h.stop() } }
        try await h.openCase("KS-L-1")
        try await h.refer("KS-L-1", "R-1", to: "opav")
        try await h.openCase("KS-L-2", by: "isf")
        _ = try await h.api.get("/v1/cases/KS-L-1/history", token: h.token("opav"))
        _ = try await h.api.get("/v1/cases/KS-L-1", token: h.token("natc"))
        _ = try await h.api.get("/v1/cases/KS-L-1/verify", token: h.token("audit"))
        try await h.settle()
        _ = try await h.api.get("/v1/events", token: h.token("kp-dthb"))
        // A refused read is recorded as a denied attempt.
        #expect(try await h.api.get("/v1/cases/KS-L-1/history", token: h.token("isf")).status == 404)
        let reply = try await h.api.get("/v1/audit/access?caseId=KS-L-1", token: h.token("audit"))
        #expect(reply.status == 200)
        let entries = reply.json["entries"]!.array
        let summary = entries.map {
            [
                $0["institution"]?.stringValue ?? "-", $0["user"]?.stringValue ?? "", $0["role"]?.stringValue ?? "",
                $0["caseId"]?.stringValue ?? "", $0["endpoint"]?.stringValue ?? "", $0["outcome"]?.stringValue ?? "",
            ].joined(separator: " ")
        }
        #expect(
            summary == [
                "isf isf-officer institution KS-L-1 GET /v1/cases/{caseId}/history denied",
                "kp-dthb kp-dthb-officer institution KS-L-1 GET /v1/events allowed",
                "audit auditor-1 auditor KS-L-1 GET /v1/cases/{caseId}/verify allowed",
                "natc coordinator-1 coordinator KS-L-1 GET /v1/cases/{caseId} allowed",
                "opav opav-officer institution KS-L-1 GET /v1/cases/{caseId}/history allowed",
            ])
        #expect(entries.allSatisfy { Timestamp.parse($0["at"]?.stringValue ?? "") != nil })
        // kp-dthb's feed held no event of KS-L-2 (isf's case), so no entry names it for kp-dthb.
        let other = try await h.api.get("/v1/audit/access?caseId=KS-L-2", token: h.token("audit"))
        #expect(other.json["entries"]!.array.allSatisfy { $0["institution"]?.stringValue != "kp-dthb" })
        #expect(try await h.api.get("/v1/audit/access?caseId=bad_id", token: h.token("audit")).status == 400)
        // A filter given twice is refused, not half-applied.
        let twice = try await h.api.get("/v1/audit/access?caseId=KS-L-1&caseId=KS-L-2", token: h.token("audit"))
        #expect(twice.status == 400)
        #expect(twice.errorField == "caseId")
        // The log is append-only, even for the table's owner.
        let connection = try await h.db.connect()
        defer { connection.close() }
        for statement in [
            "UPDATE handoff.access_log SET \"user\" = 'x'", "DELETE FROM handoff.access_log",
            "TRUNCATE handoff.access_log",
        ] {
            await #expect(throws: (any Error).self, "\(statement)") { try await connection.execute(statement) }
        }
        let count = try await connection.query("SELECT count(*) FROM handoff.access_log WHERE case_id = 'KS-L-1'")
        #expect(try count.first?.decode(0, as: Int.self) == 5)
    }
}
