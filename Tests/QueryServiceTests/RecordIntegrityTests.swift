import EventStore
import Foundation
import Referrals
import Projections
import ServiceStore
import Testing

/// Issue 12's attacks, run as the monitored institution would run them: its own token and the
/// public API only. Each failed on the code before the fix.
@Suite("Records the monitored cannot bend")
struct RecordIntegrityTests {
    static let year = Timestamp.year(of: Date(), timeZone: "Europe/Belgrade")

    static func publishDefaultRuleset(_ h: Harness) async throws {
        let setup = h.db.store(poolSize: 1)
        defer { Task { await setup.pool.close() } }
        _ = try await setup.append(
            to: .sopRulesets,
            events: [
                NewEvent(
                    type: "SopRulesetPublished", data: Ruleset.kosovoDefault.document.serializedString(),
                    metadata: EventMetadata(actor: EventActor(institution: "natc", user: "setup")))
            ])
    }

    @Test func backdatingBeforeTheOpeningOrTheReferralIsRefused() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let opened = try await h.api.post("/v1/cases", token: h.token("kp-dthb"), Harness.openedData())
        #expect(opened.status == 201, "\(opened.text)")
        let caseId = try #require(opened.json["caseId"]?.stringValue)
        let path = "/v1/cases/\(caseId)/events"
        let openedAt = try await h.store.readAll(stream: .case(caseId)!)[0].occurredDate
        let before = Timestamp.format(openedAt.addingTimeInterval(-3600))
        for occurredAt in ["0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", before] {
            for body in [
                #"{"type":"RiskAssessed","data":{"level":"low"},"occurredAt":"\#(occurredAt)"}"#,
                #"{"type":"CaseClosed","data":{"reason":"other"},"occurredAt":"\#(occurredAt)"}"#,
                #"{"type":"ReferralIssued","data":{"referralId":"R-0","to":"opav","purpose":"victim-advocacy"},"occurredAt":"\#(occurredAt)"}"#,
            ] {
                let reply = try await h.api.post(path, token: h.token("kp-dthb"), body)
                #expect(reply.status == 400, "\(body) \(reply.text)")
                #expect(reply.errorCode == "invalid_event")
                #expect(reply.errorField == "occurredAt", "\(body)")
            }
        }
        try await h.refer(caseId, "R-1", to: "opav")
        let issuedAt = try await h.store.readAll(stream: .case(caseId)!)[1].occurredDate
        let beforeIssue = Timestamp.format(issuedAt.addingTimeInterval(-60))
        for type in ["ReferralAcknowledged", "ReferralAccepted", "ReferralDeclined"] {
            let extra = type == "ReferralDeclined" ? #","reason":"no-capacity""# : ""
            let reply = try await h.api.post(
                path, token: h.token("opav"),
                #"{"type":"\#(type)","data":{"referralId":"R-1"\#(extra)},"occurredAt":"\#(beforeIssue)"}"#)
            #expect(reply.status == 400, "\(type) \(reply.text)")
            #expect(reply.errorField == "occurredAt")
        }
        // In a batch, the field names the event.
        let batch = #"""
            {"events":[{"type":"CaseReviewed","data":{}},
                       {"type":"ReferralAccepted","data":{"referralId":"R-1"},"occurredAt":"\#(beforeIssue)"}]}
            """#
        let reply = try await h.api.post(path, token: h.token("opav"), batch)
        #expect(reply.status == 400)
        #expect(reply.errorField == "events[1].occurredAt")
        #expect(try await h.store.version(of: .case(caseId)!) == 2)
    }

    @Test func caseIdsAreIssuedByTheServerAndCannotBeSquatted() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let next = "KS-\(Self.year)-000001"
        // The shelter tries to take the next number of the server's sequence, an id under the
        // police's own prefix, and an id under no prefix at all: each refused the same way,
        // whether or not the id exists.
        try await h.openCase("KS-EXISTING-1")
        for caseId in [next, "KP-2026-77", "SHELTER-1", "KS-EXISTING-1"] {
            let single = try await h.api.post("/v1/cases/\(caseId)/events", token: h.token("isf"), Harness.openedJSON())
            #expect(single.status == 403, "\(caseId) \(single.text)")
            #expect(single.errorCode == "forbidden")
            let batch = try await h.api.post(
                "/v1/cases/\(caseId)/events", token: h.token("isf"),
                #"{"events":[\#(Harness.openedJSON()),{"type":"CaseReviewed","data":{}}]}"#)
            #expect(batch.status == 403, "\(caseId)")
            #expect(batch.text == single.text)
        }
        // Even the owner of a prefix cannot take the server's.
        let police = try await h.api.post("/v1/cases/\(next)/events", token: h.token("kp-dthb"), Harness.openedJSON())
        #expect(police.status == 403)
        #expect(try await h.store.version(of: .case(next)!) == 0)

        // The rightful opener gets the id from the server.
        let id = UUID()
        let first = try await h.api.post("/v1/cases", token: h.token("isf"), Harness.openedData(id: id))
        #expect(first.status == 201, "\(first.text)")
        #expect(first.json["caseId"]?.stringValue == next)
        #expect(first.json["streamVersion"]?.int == 1)
        // A retry (lost answer) gets the same case, not a second one.
        let retry = try await h.api.post("/v1/cases", token: h.token("isf"), Harness.openedData(id: id))
        #expect(retry.status == 200)
        #expect(retry.json == first.json)
        // The same event id with other content, or by another institution: a conflict.
        let other = try await h.api.post(
            "/v1/cases", token: h.token("opav"), Harness.openedData(id: id))
        #expect(other.status == 409)
        #expect(other.errorCode == "duplicate_event_id")
        // A refused body spends no number.
        let bad = try await h.api.post(
            "/v1/cases", token: h.token("isf"), #"{"identificationStatus":"not-a-victim","profile":{}}"#)
        #expect(bad.status == 400)
        #expect(bad.errorField == "data.identificationStatus")
        let unknown = try await h.api.post(
            "/v1/cases", token: h.token("isf"), #"{"identificationStatus":"presumed","colour":"red"}"#)
        #expect(unknown.status == 400)
        let second = try await h.api.post("/v1/cases", token: h.token("opav"), Harness.openedData())
        #expect(second.json["caseId"]?.stringValue == "KS-\(Self.year)-000002")
        // Opened by the caller, who is its party.
        let read = try await h.api.get("/v1/cases/KS-\(Self.year)-000002/history", token: h.token("opav"))
        #expect(read.status == 200)
        // Only institutions open cases; the body is JSON.
        for who in ["natc", "audit"] {
            #expect(try await h.api.post("/v1/cases", token: h.token(who), Harness.openedData()).status == 403)
        }
        #expect(try await h.api.post("/v1/cases", token: nil, Harness.openedData()).status == 401)
        let text = try await h.api.request(
            "POST", "/v1/cases", token: h.token("isf"), json: Harness.openedData(), contentType: "text/plain")
        #expect(text.status == 415)
        for body in ["{", "[]", "null"] {
            #expect(try await h.api.post("/v1/cases", token: h.token("isf"), body).status == 400, "\(body)")
        }
        // A future occurredAt is refused as on the append route.
        let future = Timestamp.format(Date().addingTimeInterval(3600))
        let ahead = try await h.api.post("/v1/cases", token: h.token("isf"), Harness.openedData(occurredAt: future))
        #expect(ahead.errorField == "occurredAt")
        // And the police may still open under its own prefix.
        let own = try await h.api.post("/v1/cases/KP-77/events", token: h.token("kp-dthb"), Harness.openedJSON())
        #expect(own.status == 201)
    }

    /// The prefix check reads the registry as it was at most 2 s ago (one read less on every
    /// opening under a chosen id), and afresh before it refuses: a prefix registered a moment ago
    /// works at once; a prefix taken away stops working within 2 s.
    @Test func aPrefixTakesEffectAtOnceAndItsRemovalWithinTwoSeconds() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        func register(_ prefix: String?) async throws {
            let shelter = Institution(id: "isf", name: "Shelter", kinds: [.shelter], caseIdPrefix: prefix)
            _ = try await h.store.append(
                to: .institutions,
                events: [
                    Harness.registration(shelter)
                ])
        }
        func open(_ caseId: String) async throws -> Int {
            try await h.api.post("/v1/cases/\(caseId)/events", token: h.token("isf"), Harness.openedJSON()).status
        }
        #expect(try await open("SH-1") == 403)
        try await register("SH")
        #expect(try await open("SH-2") == 201)
        try await register(nil)
        try await Task.sleep(for: .milliseconds(2100))
        #expect(try await open("SH-3") == 403)
        #expect(try await h.store.version(of: .case("SH-3")!) == 0)
    }

    /// A token an operator issued by mistake — institution role, for the coordinator's body or for
    /// an institution never registered — records nothing: 403, on every path that appends.
    @Test func onlyInstitutionsRegisteredToWorkOnCasesRecordEvents() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await h.openCase("KP-REG-1")
        let tokens = TokenStore(pool: h.db.pool(size: 1))
        var mistaken: [String] = []
        for institution in ["natc", "audit", "ngo-never-registered"] {
            mistaken.append(try await tokens.create(role: .institution, institution: institution, user: "mistake"))
        }
        for token in mistaken {
            let opened = try await h.api.post("/v1/cases", token: token, Harness.openedData())
            #expect(opened.status == 403, "\(opened.text)")
            let appended = try await h.api.post(
                "/v1/cases/KP-REG-1/events", token: token, #"{"type":"CaseReviewed","data":{}}"#)
            #expect(appended.status == 404 || appended.status == 403, "\(appended.text)")
        }
        // Registered now: its token works at once.
        _ = try await h.store.append(
            to: .institutions,
            events: [Harness.registration(Institution(id: "ngo-never-registered", name: "NGO", kinds: [.ngo]))])
        let opened = try await h.api.post("/v1/cases", token: mistaken[2], Harness.openedData())
        #expect(opened.status == 201, "\(opened.text)")
        #expect(try await h.store.version(of: .case("KP-REG-1")!) == 1)
    }

    @Test func aReferralThatNeedsConsentIsRefusedWithoutItOrAnOverride() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        try await Self.publishDefaultRuleset(h)
        let opened = try await h.api.post("/v1/cases", token: h.token("kp-dthb"), Harness.openedData())
        let caseId = try #require(opened.json["caseId"]?.stringValue)
        let path = "/v1/cases/\(caseId)/events"
        func refer(_ id: String, _ purpose: String, to: String = "isf", override: String? = nil) async throws -> Reply {
            let o = override.map { #","consentOverride":{"reason":"\#($0)"}"# } ?? ""
            return try await h.api.post(
                path, token: h.token("kp-dthb"),
                #"{"type":"ReferralIssued","data":{"referralId":"\#(id)","to":"\#(to)","purpose":"\#(purpose)"\#(o)}}"#)
        }
        for purpose in ["shelter", "medical", "psychosocial", "legal-aid", "reintegration"] {
            let refused = try await refer("R-\(purpose)", purpose)
            #expect(refused.status == 422, "\(purpose) \(refused.text)")
            #expect(refused.errorCode == "consent_required")
            #expect(refused.errorField == "data.consentOverride")
        }
        #expect(try await h.store.version(of: .case(caseId)!) == 1)
        // Required by law, not by consent.
        #expect(try await refer("R-inv", "investigation", to: "ksp").status == 201)
        // An override from the list is accepted (a finding); anything else is not.
        #expect(try await refer("R-o1", "shelter", override: "imminent-danger").status == 201)
        let badReason = try await refer("R-o2", "shelter", override: "convenient")
        #expect(badReason.status == 400)
        #expect(badReason.errorField == "data.consentOverride.reason")
        // Consent for the purpose and recipient, then the referral; consent and referral in one batch too.
        let consent = #"{"type":"ConsentRecorded","data":{"purpose":"medical","recipients":["isf"],"given":true}}"#
        #expect(try await h.api.post(path, token: h.token("kp-dthb"), consent).status == 201)
        #expect(try await refer("R-m1", "medical").status == 201)
        #expect(try await refer("R-m2", "medical", to: "pvpt").status == 422)
        let batch = #"""
            {"events":[{"type":"ConsentRecorded","data":{"purpose":"shelter","recipients":["pvpt"],"given":true}},
                       {"type":"ReferralIssued","data":{"referralId":"R-s1","to":"pvpt","purpose":"shelter"}}]}
            """#
        #expect(try await h.api.post(path, token: h.token("kp-dthb"), batch).status == 201)
        // Withdrawn: the next referral needs it again.
        let withdrawal = #"{"type":"ConsentRecorded","data":{"purpose":"medical","recipients":["isf"],"given":false}}"#
        #expect(try await h.api.post(path, token: h.token("kp-dthb"), withdrawal).status == 201)
        #expect(try await refer("R-m3", "medical").status == 422)
    }
}

/// What the coordinator and the auditor see of the same attacks, through the read models.
@Suite("Records the monitored cannot bend: the read side")
struct RecordIntegrityReadSideTests {
    /// A risk assessment dated before its due time, entered after the watcher wrote the missed
    /// notice, is met-late, not met: status and notice agree in `/v1/deadlines`.
    @Test func aNoticedDeadlineIsNeverShownMet() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        let now = Date()
        // Opened 73 h ago by the opener's own account: its 72 h risk assessment is an hour overdue.
        let opened = try await h.api.post(
            "/v1/cases", token: h.token("kp-dthb"),
            Harness.openedData(occurredAt: Timestamp.format(now.addingTimeInterval(-73 * 3600))))
        let caseId = try #require(opened.json["caseId"]?.stringValue)
        let path = "/v1/cases/\(caseId)/events"
        try await DashboardTests.project(h)
        let report = try await DeadlineWatcher(store: h.store).runOnce(now: Date())
        #expect(report.appended >= 1)
        // Claimed two hours ago, i.e. before the due time, and within the late-entry grace.
        let claimed = Timestamp.format(now.addingTimeInterval(-2 * 3600))
        let assessed = try await h.api.post(
            path, token: h.token("kp-dthb"),
            #"{"type":"RiskAssessed","occurredAt":"\#(claimed)","data":{"level":"low"}}"#)
        #expect(assessed.status == 201, "\(assessed.text)")
        try await DashboardTests.project(h)
        let page = try await h.api.get("/v1/deadlines?caseId=\(caseId)", token: h.token("natc"))
        let risk = try #require(page.json["deadlines"]?.array.first { $0["ruleId"]?.stringValue == "risk-assessed" })
        #expect(risk["status"]?.stringValue == "met-late", "\(page.text)")
        let met = try await h.api.get("/v1/deadlines?caseId=\(caseId)&status=met", token: h.token("natc"))
        #expect(!met.text.contains("risk-assessed"))
    }

    /// An issuer dates an urgent referral back within the late-entry grace, to leave its recipient
    /// no time at all. The recipient's deadline runs from the moment the referral was recorded
    /// (ruleset v5's `lateTriggerGrace` PT0S); on ruleset v4 it was overdue on arrival. A child's
    /// case opened "yesterday" with no centre for social work brought in leaves the guardian's
    /// deadline with the opener, from what it claimed: nobody else is made late by it.
    @Test func aBackdatedUrgentReferralIsNotOverdueOnArrival() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        let now = Date()
        var child = Harness.openedData(occurredAt: Timestamp.format(now.addingTimeInterval(-23.95 * 3600)))
        child = child.replacingOccurrences(of: #""child":false"#, with: #""child":true"#)
            .replacingOccurrences(of: #""ageBand":"18-24""#, with: #""ageBand":"15-17""#)
        let opened = try await h.api.post("/v1/cases", token: h.token("kp-dthb"), child)
        #expect(opened.status == 201, "\(opened.text)")
        let caseId = try #require(opened.json["caseId"]?.stringValue)
        for (id, hoursBack, urgency) in [("R-1", 23.0, "urgent"), ("R-2", 23.9, "routine")] {
            let issued = Timestamp.format(now.addingTimeInterval(-hoursBack * 3600))
            let reply = try await h.api.post(
                "/v1/cases/\(caseId)/events", token: h.token("kp-dthb"),
                #"{"type":"ReferralIssued","occurredAt":"\#(issued)","data":{"referralId":"\#(id)","to":"opav","purpose":"victim-advocacy","urgency":"\#(urgency)"}}"#
            )
            #expect(reply.status == 201, "\(reply.text)")
        }
        try await DashboardTests.project(h)
        let report = try await DeadlineWatcher(store: h.store).runOnce(now: Date())
        let page = try await h.api.get("/v1/deadlines?caseId=\(caseId)", token: h.token("natc"))
        let deadlines = page.json["deadlines"]?.array ?? []
        let forOthers = deadlines.filter {
            ["referral-acknowledged", "referral-decided"].contains($0["ruleId"]?.stringValue ?? "")
        }
        #expect(forOthers.count == 4, "\(page.text)")
        for deadline in forOthers {
            #expect(deadline["status"]?.stringValue != "overdue", "\(deadline)")
            let due = try #require(deadline["dueAt"]?.stringValue.flatMap(Timestamp.parse))
            // At least the 2 h from recording, less the test's own time.
            #expect(due > now.addingTimeInterval(3600), "\(deadline)")
        }
        #expect(report.appended == 0, "no notice: nothing is missed yet")
        // The opener's own deadlines run from what it claimed: the guardian (nobody else holds the
        // role yet), due 24 h after the claimed opening, is minutes from due, not a day.
        let own = try #require(deadlines.first { $0["ruleId"]?.stringValue == "guardian-for-child" })
        #expect(own["responsible"]?.stringValue == "kp-dthb")
        let ownDue = try #require(own["dueAt"]?.stringValue.flatMap(Timestamp.parse))
        #expect(ownDue < now.addingTimeInterval(3600))
    }

    @Test func consentFindingsAndLateEntriesAreShown() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        let now = Date()
        let opened = try await h.api.post(
            "/v1/cases", token: h.token("kp-dthb"),
            Harness.openedData(occurredAt: Timestamp.format(now.addingTimeInterval(-5 * 86_400))))
        let caseId = try #require(opened.json["caseId"]?.stringValue)
        let path = "/v1/cases/\(caseId)/events"
        let late = Timestamp.format(now.addingTimeInterval(-4 * 86_400 - 600))
        for body in [
            #"{"type":"RiskAssessed","occurredAt":"\#(late)","data":{"level":"high"}}"#,
            #"{"type":"ReferralIssued","data":{"referralId":"R-1","to":"isf","purpose":"shelter","consentOverride":{"reason":"imminent-danger"}}}"#,
            #"{"type":"ConsentRecorded","data":{"purpose":"medical","recipients":["pvpt"],"given":true}}"#,
            #"{"type":"ReferralIssued","data":{"referralId":"R-2","to":"pvpt","purpose":"medical"}}"#,
            #"{"type":"ConsentRecorded","data":{"purpose":"medical","recipients":["pvpt"],"given":false}}"#,
        ] {
            let reply = try await h.api.post(path, token: h.token("kp-dthb"), body)
            #expect(reply.status == 201, "\(body) \(reply.text)")
        }
        try await DashboardTests.project(h)
        let audited = try await h.api.get("/v1/stats", token: h.token("audit"))
        #expect(audited.json["counts"]?["consentOverride"]?["imminent-danger"]?.int == 1, "\(audited.text)")
        #expect(audited.json["counts"]?["consentWithdrawn"]?["openReferrals"]?.int == 1)
        let coordinated = try await h.api.get("/v1/stats", token: h.token("natc"))
        #expect(coordinated.json["counts"]?["consentOverride"]?["imminent-danger"]?.stringValue == "<5")

        let board = try await DashboardTests.page(h.api, "/", token: h.token("natc"))
        #expect(board.text.contains("Consent findings"))
        #expect(board.text.contains("Override: imminent danger"))
        let casePage = try await DashboardTests.page(h.api, "/cases/\(caseId)", token: h.token("audit"))
        #expect(casePage.status == 200)
        #expect(casePage.text.contains("recorded 4 d after it occurred"), "late entry marked")
        #expect(casePage.text.contains("issued without consent: override (imminent danger)"))
        #expect(casePage.text.contains("consent withdrawn"))
    }
}
