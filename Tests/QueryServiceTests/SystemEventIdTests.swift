import Crypto
import EventStore
import Foundation
import Projections
import QueryService
import Postgres
import Referrals
import Synchronization
import Testing

/// System events a monitored institution cannot pre-empt (issue 12, "Unforgeable system events"):
/// each test runs as the attacker would, with its own institution token and the public HTTP API.
@Suite("Unforgeable system events")
struct SystemEventIdTests {
    /// A service over the projected read models, the default ruleset published by the operator.
    static func start() async throws -> Harness {
        let seedHarness = try await Harness.start()
        let db = seedHarness.db
        await seedHarness.stop()
        let h = try await Harness.start(readSide: ProjectionReadSide(pool: db.pool(size: 4)), db: db)
        _ = try await h.store.append(
            to: .sopRulesets,
            events: [
                NewEvent(
                    type: "SopRulesetPublished", data: Ruleset.kosovoDefaultJSON,
                    metadata: EventMetadata(actor: EventActor(institution: "natc", user: "setup")))
            ])
        return h
    }

    /// The id the watcher used to give a notice: SHA-256 of `<caseId>/<ruleId>/<triggerEventId>`,
    /// 16 bytes, UUID version 8 — computable by anyone who can read the case.
    static func predictableNoticeId(_ key: String) -> String {
        var b = Array(SHA256.hash(utf8: key).prefix(16))
        b[6] = (b[6] & 0x0F) | 0x80
        b[8] = (b[8] & 0x3F) | 0x80
        return b.withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }.uuidString.lowercased()
    }

    /// Opens a case five days ago, so that its 24 h and 72 h deadlines are overdue now.
    static func openOverdueCase(_ h: Harness, _ caseId: String, by institution: String = "kp-dthb") async throws
        -> String
    {
        let result = try await h.openCase(caseId, by: institution, occurredAt: Date().addingTimeInterval(-5 * 86_400))
        return try #require(result.events.first?.id.uuidString.lowercased())
    }

    static func project(_ h: Harness) async throws {
        try await h.settle()
        _ = try await ProjectionRunner(store: h.store).catchUp()
    }

    @Test("a party that pre-appends the notice ids of its own case cannot suppress the notices")
    func squattedNoticeIds() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        let caseId = "KS-ATK-1"
        let attacker = h.token("kp-dthb")
        let trigger = try await Self.openOverdueCase(h, caseId)

        // The attacker squats the id the watcher would give every rule's notice, in its own case
        // stream, with harmless events (GuardianAppointed satisfies nothing on an adult's case).
        let squatted = Ruleset.kosovoDefault.rules.map { Self.predictableNoticeId("\(caseId)/\($0.id)/\(trigger)") }
        let batch = squatted.map { #"{"id":"\#($0)","type":"GuardianAppointed","data":{}}"# }
        let squat = try await h.api.post(
            "/v1/cases/\(caseId)/events", token: attacker, #"{"events":[\#(batch.joined(separator: ","))]}"#)
        #expect(squat.status == 201, "\(squat.text)")
        try await Self.project(h)

        let overdue = try await h.api.get("/v1/deadlines?caseId=\(caseId)&status=overdue", token: attacker)
        let overdueRules = Set(overdue.json["deadlines"]!.array.compactMap { $0["ruleId"]?.stringValue })
        #expect(overdueRules == ["victim-advocate-assigned", "risk-assessed"])

        let report = try await DeadlineWatcher(store: h.store).runOnce(now: Date())
        #expect(report.missed == overdueRules.count)
        #expect(report.appended == overdueRules.count)
        try await Self.project(h)

        // The notices are in the case's history, one per missed deadline, none of them an id the
        // attacker could have known.
        let history = try await h.api.get("/v1/cases/\(caseId)/history", token: h.token("natc"))
        let notices = history.json["events"]!.array.filter { $0["type"]?.stringValue == "SopDeadlineMissed" }
        #expect(Set(notices.compactMap { $0["data"]?["ruleId"]?.stringValue }) == overdueRules)
        #expect(notices.allSatisfy { $0["stream"]?.stringValue == "sop-\(caseId)" })
        let noticeIds = Set(notices.compactMap { $0["id"]?.stringValue })
        #expect(noticeIds.isDisjoint(with: squatted))
        // The case page marks each missed deadline with its notice; the deadlines stay overdue.
        let summary = try await h.api.get("/v1/cases/\(caseId)", token: h.token("natc"))
        let marked = summary.json["deadlines"]!.array.filter { $0["missedNoticeEventId"]?.stringValue != nil }
        #expect(Set(marked.compactMap { $0["ruleId"]?.stringValue }) == overdueRules)
        #expect(marked.allSatisfy { $0["status"]?.stringValue == "overdue" })
    }

    /// The SopDeadlineMissed events of a case's `sop-` stream.
    static func notices(_ h: Harness, _ caseId: String) async throws -> [RecordedEvent] {
        try await h.store.readAll(stream: .sop(caseId)!).filter { $0.type == "SopDeadlineMissed" }
    }

    @Test("two ruleset series with the same rule ids get a notice each, and each deadline shows its own")
    func twoSeriesSameRuleIds() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        // A second series with the very same rules (a pilot procedure running beside the default).
        let pilot = Ruleset.kosovoDefaultJSON.replacingOccurrences(
            of: #""id": "kosovo-default""#, with: #""id": "kosovo-pilot""#)
        #expect(pilot != Ruleset.kosovoDefaultJSON)
        _ = try await h.store.append(
            to: .sopRulesets,
            events: [
                NewEvent(
                    type: "SopRulesetPublished", data: pilot,
                    metadata: EventMetadata(actor: EventActor(institution: "natc", user: "setup")))
            ])
        let caseId = "KS-SERIES-1"
        _ = try await Self.openOverdueCase(h, caseId)
        try await Self.project(h)

        let report = try await DeadlineWatcher(store: h.store).runOnce(now: Date())
        #expect(report.missed == 4)
        #expect(report.appended == 4)
        try await Self.project(h)

        let notices = try await Self.notices(h, caseId)
        let pairs = try notices.map { event -> String in
            let data = try JSONValue.parse(event.data)
            return "\(data["rulesetId"]?.stringValue ?? "-")/\(data["ruleId"]?.stringValue ?? "-")"
        }
        #expect(
            Set(pairs) == [
                "kosovo-default/risk-assessed", "kosovo-default/victim-advocate-assigned",
                "kosovo-pilot/risk-assessed", "kosovo-pilot/victim-advocate-assigned",
            ])
        #expect(Set(notices.map(\.id)).count == 4)
        // Each series' deadline is marked with its own notice.
        let summary = try await h.api.get("/v1/cases/\(caseId)", token: h.token("natc"))
        var marks: [String: String] = [:]
        for d in summary.json["deadlines"]!.array where d["status"]?.stringValue == "overdue" {
            let key = "\(d["rulesetId"]?.stringValue ?? "-")/\(d["ruleId"]?.stringValue ?? "-")"
            marks[key] = d["missedNoticeEventId"]?.stringValue
        }
        #expect(Set(marks.keys) == Set(pairs))
        for (event, pair) in zip(notices, pairs) {
            #expect(marks[pair] == event.id.uuidString.lowercased(), "\(pair)")
        }
        // A second pass finds all four.
        let again = try await DeadlineWatcher(store: h.store).runOnce(now: Date())
        #expect(again.appended == 0)
    }

    @Test("a rotated key does not duplicate a notice, not even with two watchers under different keys at once")
    func rotationDoesNotDuplicate() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        let first = "KS-ROT-1"
        _ = try await Self.openOverdueCase(h, first)
        try await Self.project(h)
        let old = try await SystemEventKey.current(of: h.store)
        let before = try await DeadlineWatcher(store: h.store).runOnce(now: Date())
        #expect(before.appended == 2)

        let connection = try await h.db.connect()
        let rotated = try await SystemEventKey.rotate(on: connection)
        connection.close()
        #expect(rotated == old.id + 1)
        let new = try await SystemEventKey.current(of: h.store)
        #expect(new.id == rotated)

        // The read model has not seen the notices yet, so the case is a candidate again: the
        // watcher under the new key finds them in the stream and writes nothing.
        let after = try await DeadlineWatcher(store: h.store).runOnce(now: Date())
        #expect(after.missed == 2)
        #expect(after.appended == 0)
        #expect(after.alreadyNotified == 2)
        #expect(try await Self.notices(h, first).count == 2)

        // Two watchers at once, one still under the old key, one under the new.
        let second = "KS-ROT-2"
        _ = try await Self.openOverdueCase(h, second)
        try await Self.project(h)
        let a = DeadlineWatcher(store: EventStore(pool: h.db.pool(size: 2)), key: old)
        let b = DeadlineWatcher(store: EventStore(pool: h.db.pool(size: 2)), key: new)
        async let ra = a.runOnce(now: Date())
        async let rb = b.runOnce(now: Date())
        let (x, y) = try await (ra, rb)
        #expect(x.appended + y.appended == 2)
        #expect(x.idConflicts.isEmpty && y.idConflicts.isEmpty)
        let written = try await Self.notices(h, second)
        #expect(written.count == 2)
        #expect(Set(written.compactMap { try? JSONValue.parse($0.data)["ruleId"]?.stringValue }).count == 2)
    }

    @Test("an id taken anyway (a leaked key) is an alarm: counted in /metrics, reported, the notice still written")
    func takenIdIsAnAlarm() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        let caseId = "KS-LEAK-1"
        let attacker = h.token("kp-dthb")
        let trigger = try await Self.openOverdueCase(h, caseId)
        // Suppose the key leaked: the attacker squats the ids the key gives every rule's notice.
        let key = try await SystemEventKey.current(of: h.store)
        let squatted = Ruleset.kosovoDefault.rules.map {
            key.eventId(type: "SopDeadlineMissed", identity: [caseId, "kosovo-default", $0.id, trigger])
                .uuidString.lowercased()
        }
        let batch = squatted.map { #"{"id":"\#($0)","type":"GuardianAppointed","data":{}}"# }
        let squat = try await h.api.post(
            "/v1/cases/\(caseId)/events", token: attacker, #"{"events":[\#(batch.joined(separator: ","))]}"#)
        #expect(squat.status == 201, "\(squat.text)")
        try await Self.project(h)

        let reported = Mutex<[String]>([])
        let watcher = DeadlineWatcher(store: h.store)
        let report = try await watcher.runOnce(now: Date())
        #expect(report.appended == 2)
        #expect(report.idConflicts.count == 2)
        #expect(report.idConflicts.allSatisfy { $0.stream == "sop-\(caseId)" && $0.type == "SopDeadlineMissed" })
        #expect(Set(report.idConflicts.map { $0.eventId.uuidString.lowercased() }).isSubset(of: squatted))
        let notices = try await Self.notices(h, caseId)
        #expect(notices.count == 2)
        #expect(Set(notices.map { $0.id.uuidString.lowercased() }).isDisjoint(with: squatted))

        let metrics = try await h.api.get("/metrics", token: h.token("metrics")).text
        #expect(metrics.contains(#"handoff_system_event_id_conflicts_total{type="SopDeadlineMissed"} 2"#))
        #expect(metrics.contains(#"handoff_system_event_id_conflicts_total{type="InstitutionRegistered"} 0"#))

        // The watcher loop hands each alarm to onError. A second case, squatted the same way.
        let other = "KS-LEAK-2"
        let trigger2 = try await Self.openOverdueCase(h, other)
        let ids2 = ["victim-advocate-assigned", "risk-assessed"].map {
            key.eventId(type: "SopDeadlineMissed", identity: [other, "kosovo-default", $0, trigger2])
                .uuidString.lowercased()
        }
        let batch2 = ids2.map { #"{"id":"\#($0)","type":"GuardianAppointed","data":{}}"# }
        let squat2 = try await h.api.post(
            "/v1/cases/\(other)/events", token: attacker, #"{"events":[\#(batch2.joined(separator: ","))]}"#)
        #expect(squat2.status == 201)
        try await Self.project(h)
        let passes = Mutex(0)
        let loop = Task {
            await watcher.run(
                interval: .milliseconds(200), minimumGap: .milliseconds(50),
                onError: { error in reported.withLock { $0.append("\(error)") } },
                onPass: { _ in passes.withLock { $0 += 1 } })
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while passes.withLock({ $0 }) < 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        loop.cancel()
        await loop.value
        let alarms = reported.withLock { $0 }
        #expect(alarms.count == 2, "\(alarms)")
        #expect(alarms.allSatisfy { $0.contains("alarm") && $0.contains("sop-\(other)") })
        #expect(try await Self.notices(h, other).count == 2)
        let after = try await h.api.get("/metrics", token: h.token("metrics")).text
        #expect(after.contains(#"handoff_system_event_id_conflicts_total{type="SopDeadlineMissed"} 4"#))
    }

    @Test("the system event key appears in no HTTP response, and no role but the service's may read it")
    func keyNeverLeaves() async throws {
        let h = try await Self.start()
        defer { Task { await h.stop() } }
        let caseId = "KS-KEY-1"
        _ = try await Self.openOverdueCase(h, caseId)
        try await Self.project(h)
        _ = try await DeadlineWatcher(store: h.store).runOnce(now: Date())
        try await Self.project(h)

        let connection = try await h.db.connect()
        defer { connection.close() }
        let row = try await connection.query(
            """
            SELECT encode(secret, 'hex'), encode(secret, 'base64'),
                   translate(rtrim(encode(secret, 'base64'), '='), '+/', '-_')
              FROM handoff.system_event_keys
            """
        ).first!
        let forms: [String] = [try row.decode(0), try row.decode(1), try row.decode(2)]
        let needles = forms + [forms[0].uppercased()]
        let targets = [
            "/health", "/metrics", "/v1/deadlines", "/v1/cases/\(caseId)", "/v1/cases/\(caseId)/history",
            "/v1/cases/\(caseId)/verify", "/v1/events?limit=1000", "/v1/inbox", "/v1/stats", "/v1/stats?year=2026",
            "/v1/audit/access", "/v1/audit/access?caseId=\(caseId)", "/", "/v1/events/none",
        ]
        for who in ["kp-dthb", "natc", "audit", "opav"] {
            for target in targets {
                let reply = try await h.api.get(target, token: h.token(who))
                let text = reply.text
                for needle in needles { #expect(!text.contains(needle), "\(who) \(target)") }
            }
        }

        // Privileges: the service role reads the keys; the auditor role and PUBLIC do not.
        func may(_ role: String) async throws -> Bool {
            try await connection.query(
                "SELECT has_table_privilege(\(role), 'handoff.system_event_keys', 'SELECT')"
            ).first!.decode(0)
        }
        #expect(try await may("handoff_app"))
        #expect(try await !may("handoff_auditor"))
        let publicGrants = try await connection.query(
            """
            SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a
             WHERE c.oid = 'handoff.system_event_keys'::regclass AND a.grantee = 0
            """
        ).first!.decode(0, as: Int.self)
        #expect(publicGrants == 0)
        do {
            try await connection.execute("SET ROLE handoff_auditor")
            _ = try await connection.query("SELECT secret FROM handoff.system_event_keys")
            Issue.record("the auditor role read the keys")
        } catch let error as PostgresError {
            #expect(error.sqlState == "42501")
        }
    }
}
