import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Referrals
import Testing

@testable import Projections

/// Two hand-written cases ten days old: an adult case with an accepted, a declined and an
/// unanswered referral and a corrected risk level; a child case closed after 40 hours.
struct HandWritten {
    static let t0 = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 10 * 86_400).rounded(.down))
    static func at(hours: Double) -> Date { t0.addingTimeInterval(hours * 3600) }

    var a: [CaseEvent] = []
    var b: [CaseEvent] = []

    init() {
        var n: UInt8 = 0
        func event(_ institution: String, _ hours: Double, _ body: CaseEventBody) -> CaseEvent {
            n += 1
            return CaseEvent(
                id: UUID(uuid: (0xA0, n, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, n)),
                occurredAt: Self.at(hours: hours), actor: Referrals.Actor(institution: institution, user: "user-1"),
                body: body)
        }
        let adult = Profile(sex: .female, ageBand: .age18to24, child: false, nationality: "XK", exploitation: [.sexual])
        a.append(event("kp-dthb", 0, .caseOpened(identificationStatus: .presumed, profile: adult)))
        a.append(
            event(
                "kp-dthb", 1,
                .referralIssued(referralId: "R-1", to: "opav", purpose: .victimAdvocacy, urgency: .routine)))
        a.append(event("opav", 3, .referralAccepted(referralId: "R-1")))
        a.append(event("kp-dthb", 100, .riskAssessed(level: .high)))
        a.append(
            event(
                "kp-dthb", 101,
                .recordCorrected(
                    correctsEventId: a[3].id, reason: .dataEntryError, correction: JSONObject([("level", "medium")]))))
        a.append(
            event("kp-dthb", 102, .referralIssued(referralId: "R-2", to: "pvpt", purpose: .shelter, urgency: .urgent)))
        a.append(event("pvpt", 103, .referralDeclined(referralId: "R-2", reason: .noCapacity)))
        a.append(
            event("kp-dthb", 104, .referralIssued(referralId: "R-3", to: "isf", purpose: .shelter, urgency: .routine)))

        let child = Profile(
            sex: .male, ageBand: .age12to14, child: true, nationality: "AL", exploitation: [.forcedBegging])
        b.append(event("kp-dthb", 0, .caseOpened(identificationStatus: .potential, profile: child)))
        b.append(
            event(
                "kp-dthb", 1,
                .referralIssued(referralId: "R-1", to: "csw-prishtina", purpose: .guardianship, urgency: .urgent)))
        b.append(event("csw-prishtina", 1.5, .referralAcknowledged(referralId: "R-1")))
        b.append(event("csw-prishtina", 30, .guardianAppointed))
        b.append(event("kp-dthb", 40, .caseClosed(reason: .reintegrated)))
    }

    static let caseA = "KS-2026-900001"
    static let caseB = "KS-2026-900002"

    func seed(_ store: EventStore) async throws {
        try await Seed.institutions(store)
        try await Seed.ruleset(store)
        try await store.append(to: .case(Self.caseA)!, expected: .noStream, events: a.map(Seed.newEvent))
        try await store.append(to: .case(Self.caseB)!, expected: .noStream, events: b.map(Seed.newEvent))
    }
}

@Suite("Read models")
struct ReadModelTests {
    @Test("the read models answer the API's questions about hand-written cases")
    func handWrittenCases() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        let cases = HandWritten()
        try await cases.seed(store)
        let runner = ProjectionRunner(store: store, batchSize: 4)
        try await settle(runner)
        let models = ReadModels(pool: db.pool())
        let a = HandWritten.caseA
        let b = HandWritten.caseB

        // Case summary (GET /v1/cases/{caseId}).
        let summaryA = try #require(try await models.caseSummary(a))
        #expect(summaryA.status == "open")
        #expect(summaryA.identificationStatus == "presumed")
        #expect(summaryA.riskLevel == "medium", "the correction replaces the risk level")
        #expect(summaryA.parties == ["kp-dthb", "opav", "pvpt", "isf"])
        #expect(summaryA.openReferrals.map(\.referralId) == ["R-1", "R-3"])
        #expect(summaryA.openReferrals.map(\.status) == ["accepted", "issued"])
        #expect(summaryA.version == 8)
        #expect(summaryA.child == false)
        #expect(summaryA.closedAt == nil)
        #expect(summaryA.openedAt == Timestamp.format(HandWritten.t0))
        let summaryB = try #require(try await models.caseSummary(b))
        #expect(summaryB.status == "closed")
        #expect(summaryB.child)
        #expect(summaryB.closedAt == Timestamp.format(HandWritten.at(hours: 40)))
        #expect(summaryB.closureReason == "reintegrated")
        #expect(summaryB.parties == ["kp-dthb", "csw-prishtina"])
        #expect(summaryB.version == 5)
        #expect(try await models.caseSummary("KS-2026-999999") == nil)

        // Who sees what.
        #expect(try await models.casesVisible(to: "pvpt") == [a], "a declined recipient stays a party")
        #expect(try await models.casesVisible(to: "kp-dthb") == [a, b])
        #expect(try await models.casesVisible(to: "csw-prishtina") == [b])
        #expect(try await models.casesVisible(to: "ksp") == [])
        #expect(try await models.isParty("isf", caseId: a))
        #expect(try await !models.isParty("isf", caseId: b))

        // Inbox: open referrals addressed to the institution, on open cases.
        #expect(try await models.inbox(institution: "isf").map { "\($0.caseId)/\($0.referralId)" } == ["\(a)/R-3"])
        #expect(try await models.inbox(institution: "opav").map(\.referralId) == ["R-1"])
        #expect(try await models.inbox(institution: "pvpt").isEmpty, "declined")
        #expect(try await models.inbox(institution: "csw-prishtina").isEmpty, "the case is closed")
        let declined = try await models.referrals(caseId: a).first { $0.referralId == "R-2" }
        #expect(declined?.status == "declined")
        #expect(declined?.declineReason == "no-capacity")
        #expect(declined?.from == "kp-dthb")
        #expect(declined?.urgency == "urgent")

        // Deadlines.
        func status(_ caseId: String, _ rule: String, trigger: Int? = nil) async throws -> DeadlineView? {
            let events = caseId == a ? cases.a : cases.b
            return try await models.deadlines(caseId: caseId).first {
                $0.ruleId == rule
                    && (trigger == nil || $0.triggerEventId == events[trigger!].id.uuidString.lowercased())
            }
        }
        #expect(try await status(a, "risk-assessed")?.status == "met-late")
        #expect(try await status(a, "risk-assessed")?.satisfiedAt == Timestamp.format(HandWritten.at(hours: 100)))
        #expect(try await status(a, "victim-advocate-assigned")?.status == "met")
        #expect(try await status(a, "referral-acknowledged", trigger: 5)?.status == "met", "declined within 2h")
        let unanswered = try #require(try await status(a, "referral-acknowledged", trigger: 7))
        #expect(unanswered.status == "overdue")
        #expect(unanswered.responsible == "isf")
        #expect(unanswered.dueAt == Timestamp.format(HandWritten.at(hours: 128)))
        #expect(try await status(a, "case-review")?.status == "pending")
        #expect(try await status(a, "case-review", trigger: 0)?.status == "pending")
        #expect(try await status(b, "guardian-for-child")?.status == "met-late")
        #expect(try await status(b, "guardian-for-child")?.responsible == "csw-prishtina")
        #expect(try await status(b, "risk-assessed")?.status == "cancelled", "closed before it fell due")
        #expect(try await status(b, "victim-advocate-assigned")?.status == "overdue", "missed before closure")

        // Status depends on the query's now: before t0+104h+24h the unanswered referral was pending.
        let earlier = try await models.deadlines(caseId: a, now: HandWritten.at(hours: 110)).first {
            $0.triggerEventId == unanswered.triggerEventId && $0.ruleId == "referral-acknowledged"
        }
        #expect(earlier?.status == "pending")
        let dueSoon = try await models.deadlines(status: "due-soon", caseId: a, now: HandWritten.at(hours: 60 * 24 - 1))
        #expect(dueSoon.isEmpty || dueSoon.allSatisfy { $0.caseId == a })

        // Filters of GET /v1/deadlines.
        let overdueForIsf = try await models.deadlines(status: "overdue", visibleTo: "isf")
        #expect(!overdueForIsf.isEmpty && overdueForIsf.allSatisfy { $0.caseId == a })
        #expect(try await models.deadlines(responsible: "isf").allSatisfy { $0.responsible == "isf" })
        #expect(try await models.deadlines(visibleTo: "ksp").isEmpty)
        let all = try await models.deadlines()
        #expect(all.map(\.dueAt) == all.map(\.dueAt).sorted { Timestamp.parse($0)! < Timestamp.parse($1)! })

        // JSON has API.md's names, with null for an unmet deadline's satisfiedAt.
        let json = String(decoding: try JSONEncoder().encode(unanswered), as: UTF8.self)
        for key in ["caseId", "ruleId", "title", "dueAt", "status", "responsible", "triggerEventId"] {
            #expect(json.contains("\"\(key)\":"))
        }
        #expect(json.contains("\"satisfiedAt\":null"))

        // Registry.
        #expect(try await models.institutions().map(\.id) == Institution.demo.map(\.id).sorted())
        #expect(try await models.institutions().first { $0.id == "pvpt" }?.kinds == ["ngo", "shelter"])
        let rulesets = try await models.rulesets()
        #expect(rulesets.map(\.id) == ["kosovo-default"])
        #expect(rulesets.first?.effectiveFrom == "2014-01-01")
        #expect(rulesets.first?.rules == 8)

        // The watcher's notices show on the deadlines; a deadline met later turns met-late.
        let now = Date()
        let report = try await DeadlineWatcher(store: store).runOnce(now: now)
        let overdue = try await models.deadlines(status: "overdue", now: now)
        #expect(report.appended == overdue.count)
        try await settle(runner)
        let key = try await SystemEventKey.current(of: store)
        for d in try await models.deadlines(status: "overdue", now: now) {
            let id = key.eventId(
                type: "SopDeadlineMissed", identity: [d.caseId, d.rulesetId, d.ruleId, d.triggerEventId])
            #expect(d.missedNoticeEventId == id.uuidString.lowercased())
        }
        let notices = try await store.readAll(stream: .sop(a)!)
        #expect(notices.allSatisfy { $0.type == "SopDeadlineMissed" })
        #expect(notices.contains { $0.occurredDate == HandWritten.at(hours: 128) && $0.data.contains("\"isf\"") })
        try await store.append(
            to: .case(a)!,
            events: [
                NewEvent(
                    type: "ReferralAcknowledged", data: #"{"referralId": "R-3"}"#,
                    metadata: EventMetadata(actor: EventActor(institution: "isf", user: "shelter-staff-1")),
                    occurredAt: now.addingTimeInterval(-60))
            ])
        try await settle(runner)
        let late = try #require(try await status(a, "referral-acknowledged", trigger: 7))
        #expect(late.status == "met-late")
        #expect(late.missedNoticeEventId != nil)
        #expect(try await DeadlineWatcher(store: store).runOnce().appended == 0)
    }

    @Test("statistics suppress cells under 5 except for auditors")
    func statsSuppression() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        try await HandWritten().seed(store)
        // Six more adult cases, opened and nothing else.
        for i in 0..<6 {
            let profile = Profile(
                sex: .female, ageBand: .age25to34, child: false, nationality: "XK",
                exploitation: [.sexual, .forcedLabour])
            let body = CaseEventBody.caseOpened(identificationStatus: .identified, profile: profile)
            try await store.append(
                to: .case("KS-2026-90010\(i)")!, expected: .noStream,
                events: [
                    NewEvent(
                        type: "CaseOpened", data: body.data.serializedString(),
                        metadata: EventMetadata(actor: EventActor(institution: "kp-dthb", user: "officer-1")),
                        occurredAt: HandWritten.t0)
                ])
        }
        try await settle(ProjectionRunner(store: store))
        let models = ReadModels(pool: db.pool())
        let year = Timestamp.civil(HandWritten.t0).year

        let shown = try await models.stats(year: year, suppressSmallCells: true)
        #expect(shown.cases == .count(8))
        #expect(shown.bySex == ["female": .count(7), "male": .suppressed])
        #expect(shown.byNationality == ["XK": .count(7), "AL": .suppressed])
        #expect(shown.byAgeBand["25-34"] == .count(6))
        #expect(shown.byAgeBand["18-24"] == .suppressed)
        #expect(shown.byExploitation["sexual"] == .count(7))
        #expect(shown.byExploitation["forced-labour"] == .count(6))
        #expect(
            shown.byIdentificationStatus == [
                "identified": .count(6), "presumed": .suppressed, "potential": .suppressed,
            ])
        let risk = try #require(shown.deadlineCompliance.byRule["risk-assessed"])
        #expect(risk.overdue == .count(6))
        #expect(risk.metLate == .suppressed)
        #expect(risk.cancelled == .suppressed)
        // 0 is under 5 too: one rule (DisclosureControl) with GET /v1/stats, which has always shown it as "<5".
        #expect(risk.met == .suppressed)
        #expect(shown.deadlineCompliance.byResponsible["kp-dthb"] != nil)
        let json = String(decoding: try JSONEncoder().encode(shown), as: UTF8.self)
        #expect(json.contains(#""male":"<5""#))

        let auditor = try await models.stats(year: year, suppressSmallCells: false)
        #expect(auditor.bySex == ["female": .count(7), "male": .count(1)])
        #expect(auditor.deadlineCompliance.byRule["risk-assessed"]?.metLate == .count(1))
        #expect(!String(decoding: try JSONEncoder().encode(auditor), as: UTF8.self).contains("<5"))

        #expect(try await models.stats(year: year + 1, suppressSmallCells: true).cases == .suppressed)
        #expect(try await models.stats(year: year + 1, suppressSmallCells: false).cases == .count(0))
        #expect(try await models.stats(suppressSmallCells: false).cases == .count(8))
    }
}
