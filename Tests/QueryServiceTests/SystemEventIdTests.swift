import Crypto
import EventStore
import Foundation
import Projections
import QueryService
import Referrals
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
        let opened = Timestamp.format(Date().addingTimeInterval(-5 * 86_400))
        let reply = try await h.api.post(
            "/v1/cases/\(caseId)/events", token: h.token(institution), Harness.openedJSON(occurredAt: opened))
        #expect(reply.status == 201, "\(reply.text)")
        return try #require(reply.json["events"]?.array.first?["id"]?.stringValue)
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
}
