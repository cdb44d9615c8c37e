import Foundation
import Testing

@testable import Referrals

@Suite struct CaseFoldTests {
    @Test func foldsAFullHistory() throws {
        var s = try CaseScript.withReferral(child: true)
        try s.append("opav", "ReferralAcknowledged", ["referralId": "R-1"], at: at(hours: 2))
        try s.append("opav", "ReferralAccepted", ["referralId": "R-1"], at: at(hours: 3))
        try s.append(
            "opav", "ConsentRecorded", ["purpose": "shelter", "recipients": ["pvpt", "isf"], "given": true],
            at: at(hours: 4))
        try s.append(
            "opav", "ReferralIssued", ["referralId": "R-2", "to": "pvpt", "purpose": "shelter", "urgency": "urgent"],
            at: at(hours: 5))
        try s.append("pvpt", "ReferralDeclined", ["referralId": "R-2", "reason": "no-capacity"], at: at(hours: 6))
        try s.append(
            "opav", "ReferralIssued", ["referralId": "R-3", "to": "isf", "purpose": "shelter"], at: at(hours: 7))
        try s.append("isf", "ReferralAccepted", ["referralId": "R-3"], at: at(hours: 8))
        try s.append("kp-dthb", "RiskAssessed", ["level": "high"], at: at(hours: 9))
        try s.append(
            "kp-dthb", "ReferralIssued", ["referralId": "R-4", "to": "csw-prishtina", "purpose": "guardianship"],
            at: at(hours: 10))
        try s.append("csw-prishtina", "GuardianAppointed", at: at(hours: 11))
        try s.append("kp-dthb", "IdentificationStatusChanged", ["status": "identified"], at: at(days: 3))
        try s.append("kp-dthb", "ReflectionPeriodStarted", ["days": 60], at: at(days: 4))
        try s.append("kp-dthb", "ReflectionPeriodEnded", ["outcome": "cooperation-agreed"], at: at(days: 50))
        try s.append(
            "isf", "ReferralCompleted", ["referralId": "R-3", "outcome": "services-provided"], at: at(days: 60))
        try s.append("opav", "CaseReviewed", at: at(days: 29))
        try s.append("kp-dthb", "CaseClosed", ["reason": "reintegrated"], at: at(days: 90))
        try s.append("opav", "CaseReopened", ["reason": "victim-returned"], at: at(days: 120))
        let risk = s.events[9].id
        try s.append(
            "kp-dthb", "RecordCorrected",
            [
                "correctsEventId": .string(risk.uuidString), "reason": "data-entry-error",
                "correction": ["level": "medium"],
            ], at: at(days: 121))

        let state = try #require(s.state)
        #expect(state.version == 20)
        #expect(state.status == .open)
        #expect(state.openedBy == "kp-dthb")
        #expect(state.parties == ["kp-dthb", "opav", "pvpt", "isf", "csw-prishtina"])
        #expect(state.identificationStatus == .identified)
        #expect(state.riskLevel == .medium)
        #expect(state.correctionCount == 1)
        #expect(state.isChild && state.guardianAppointed)
        #expect(state.referralOrder == ["R-1", "R-2", "R-3", "R-4"])
        #expect(state.referrals["R-1"]?.status == .accepted)
        #expect(state.referrals["R-1"]?.acknowledgedAt == at(hours: 2))
        #expect(state.referrals["R-2"]?.status == .declined)
        #expect(state.referrals["R-2"]?.urgency == .urgent)
        #expect(state.referrals["R-2"]?.declineReason == .noCapacity)
        #expect(state.referrals["R-3"]?.status == .completed)
        #expect(state.referrals["R-3"]?.from == "opav")
        #expect(state.referrals["R-4"]?.status == .issued)
        #expect(state.openReferrals.map(\.id) == ["R-1", "R-4"])
        #expect(state.consents.count == 1 && state.consents[0].recipients == ["pvpt", "isf"])
        #expect(
            state.reflectionPeriod
                == ReflectionPeriod(
                    startedAt: at(days: 4), days: 60, startEventId: state.reflectionPeriod!.startEventId,
                    startedBy: "kp-dthb", endedAt: at(days: 50),
                    outcome: .cooperationAgreed))
        #expect(state.lastReviewedAt == at(days: 29))
        #expect(state.closedAt == at(days: 90) && state.closureReason == .reintegrated)
        #expect(state.reopenCount == 1 && state.reopenedAt == at(days: 120))

        // Folding the same events in one go gives the same state.
        #expect(CaseState.fold(caseId: s.caseId, events: s.events) == state)
    }

    @Test func foldIsTotalOverNonsense() throws {
        let actor = Actor(institution: "kp-dthb", user: "u")
        var rng = SplitMix64(seed: 1)
        func event(_ body: CaseEventBody) -> CaseEvent {
            CaseEvent(id: rng.nextUUID(), occurredAt: t0, actor: actor, body: body)
        }
        #expect(CaseState.fold(caseId: "X", events: []) == nil)
        #expect(CaseState.fold(caseId: "X", events: [event(.caseReviewed)]) == nil)
        let opening = try CaseEventBody.decode(type: "CaseOpened", data: adultOpening)
        let state = try #require(
            CaseState.fold(
                caseId: "X",
                events: [
                    event(opening), event(opening), event(.referralAccepted(referralId: "nope")),
                    event(.referralCompleted(referralId: "nope", outcome: .other)),
                    event(.reflectionPeriodEnded(outcome: .other)),
                    event(.caseReopened(reason: .other)),
                    event(
                        .recordCorrected(correctsEventId: UUID(), reason: .other, correction: JSONObject([("x", 1)]))),
                ]))
        #expect(state.version == 7)
        #expect(
            state.referrals.isEmpty && state.reflectionPeriod == nil && state.status == .open
                && state.correctionCount == 0)
    }
}

@Suite struct CasePolicyTests {
    /// A case with a referral in every state: R-1 issued to opav, R-2 accepted by isf,
    /// a running reflection period.
    static func richCase() throws -> CaseScript {
        var s = try CaseScript.withReferral()
        try s.append(
            "kp-dthb", "ReferralIssued", ["referralId": "R-2", "to": "isf", "purpose": "shelter"], at: at(hours: 2))
        try s.append("isf", "ReferralAccepted", ["referralId": "R-2"], at: at(hours: 3))
        try s.append("kp-dthb", "ReflectionPeriodStarted", [:], at: at(hours: 4))
        return s
    }

    /// For every case event type: a valid (institution, data) on ``richCase()``.
    static let valid: [(String, String, JSONValue)] = [
        ("CaseOpened", "kp-dthb", adultOpening),
        ("ReferralIssued", "kp-dthb", ["referralId": "R-3", "to": "ksp", "purpose": "investigation"]),
        ("ReferralAcknowledged", "opav", ["referralId": "R-1"]),
        ("ReferralAccepted", "opav", ["referralId": "R-1"]),
        ("ReferralDeclined", "opav", ["referralId": "R-1", "reason": "outside-mandate"]),
        ("ReferralCompleted", "isf", ["referralId": "R-2", "outcome": "services-provided"]),
        ("ReferralWithdrawn", "kp-dthb", ["referralId": "R-1", "reason": "issued-in-error"]),
        ("RiskAssessed", "opav", ["level": "low"]),
        ("IdentificationStatusChanged", "kp-dthb", ["status": "identified"]),
        ("ConsentRecorded", "opav", ["purpose": "information-sharing", "recipients": ["ksp"], "given": false]),
        ("GuardianAppointed", "kp-dthb", [:]),
        ("ReflectionPeriodStarted", "kp-dthb", ["days": 90]),
        ("ReflectionPeriodEnded", "kp-dthb", ["outcome": "returned-home"]),
        ("CaseReviewed", "opav", [:]),
        ("CaseClosed", "kp-dthb", ["reason": "lost-contact"]),
        ("CaseReopened", "kp-dthb", ["reason": "new-information"]),
        (
            "RecordCorrected", "kp-dthb",
            ["reason": "data-entry-error", "correction": ["profile": ["nationality": "AL"]]]
        ),
    ]

    @Test func coversEveryEventType() {
        #expect(Set(Self.valid.map(\.0)) == Set(CaseEventType.allCases.map(\.rawValue)))
    }

    @Test(arguments: valid)
    func allowsPartiesAndForbidsOthers(type: String, institution: String, data: JSONValue) throws {
        var s = try Self.richCase()
        var data = data
        if type == "RecordCorrected" {
            // kp-dthb's own opening; another party may not rewrite it.
            data = data.merging(["correctsEventId": .string(s.events[0].id.uuidString)])
            expectError(s.attempt(.institution("opav", user: "u"), type, data), .forbidden, "data.correctsEventId")
        }

        if type == "CaseOpened" {
            // Creates a case; on an existing one it is a version conflict.
            #expect(CaseScript().attempt(.institution(institution, user: "u"), type, data, at: t0) == nil)
            expectError(s.attempt(.institution(institution, user: "u"), type, data), .wrongExpectedVersion)
            return
        }
        if type == "ReflectionPeriodStarted" {
            expectError(s.attempt(.institution(institution, user: "u"), type, data), .invalidEvent, "type")
            try s.append("kp-dthb", "ReflectionPeriodEnded", ["outcome": "other"], at: at(hours: 5))
        }
        if type == "CaseReopened" {
            expectError(s.attempt(.institution(institution, user: "u"), type, data), .invalidEvent, "type")
            try s.append("kp-dthb", "CaseClosed", ["reason": "other"], at: at(hours: 5))
        }
        // Allowed for the party (recipient where it matters).
        #expect(s.attempt(.institution(institution, user: "u"), type, data) == nil)
        // Never for a coordinator or an auditor, even with an institution id.
        expectError(s.attempt(Principal(role: .coordinator, institution: "natc", user: "c"), type, data), .forbidden)
        expectError(s.attempt(Principal(role: .auditor, institution: "audit", user: "a"), type, data), .forbidden)
        // Never for a non-party.
        expectError(s.attempt(.institution("iom-kosovo", user: "u"), type, data), .forbidden)
        // On a case that does not exist: not found.
        expectError(CaseScript().attempt(.institution(institution, user: "u"), type, data), .notFound)
        // The issuer's step (withdrawal): the recipient and another party are forbidden.
        if type == "ReferralWithdrawn" {
            expectError(s.attempt(.institution("opav", user: "u"), type, data), .forbidden, "data.referralId")
            expectError(s.attempt(.institution("isf", user: "u"), type, data), .forbidden, "data.referralId")
        } else if CaseEventType(rawValue: type)!.refersToExistingReferral {
            // Recipient-only steps: another party is forbidden.
            let other = institution == "opav" ? "isf" : "opav"
            expectError(s.attempt(.institution(other, user: "u"), type, data), .forbidden, "data.referralId")
            expectError(s.attempt(.institution("kp-dthb", user: "u"), type, data), .forbidden, "data.referralId")
        }
        // After closure only CaseReopened.
        if type != "CaseClosed", type != "CaseReopened" {
            try s.append("kp-dthb", "CaseClosed", ["reason": "other"], at: at(hours: 5))
            expectError(s.attempt(.institution(institution, user: "u"), type, data), .invalidEvent, "type")
        }
    }

    /// Closing a case ends every party's running deadlines, so only its leads close it: the
    /// institution that opened it, or its victim advocate once it accepted the victim-advocacy
    /// referral (and while that is not withdrawn). Any party reopens.
    @Test func onlyTheOpenerOrTheVictimAdvocateClosesACase() throws {
        var s = try Self.richCase()
        let close: JSONValue = ["reason": "other"]
        // A shelter that accepted its referral, and an advocate that has not accepted yet.
        for party in ["isf", "opav"] {
            expectError(s.attempt(.institution(party, user: "u"), "CaseClosed", close), .forbidden)
        }
        try s.append("opav", "ReferralAccepted", ["referralId": "R-1"], at: at(hours: 5))
        #expect(s.attempt(.institution("opav", user: "u"), "CaseClosed", close) == nil)
        #expect(s.attempt(.institution("kp-dthb", user: "u"), "CaseClosed", close) == nil)
        expectError(s.attempt(.institution("isf", user: "u"), "CaseClosed", close), .forbidden)
        // A withdrawn advocacy referral no longer makes its recipient a lead.
        var withdrawn = s
        try withdrawn.append(
            "kp-dthb", "ReferralWithdrawn", ["referralId": "R-1", "reason": "issued-in-error"], at: at(hours: 6))
        expectError(withdrawn.attempt(.institution("opav", user: "u"), "CaseClosed", close), .forbidden)
        // Completed advocacy still leads; and any party may reopen.
        try s.append(
            "opav", "ReferralCompleted", ["referralId": "R-1", "outcome": "services-provided"], at: at(hours: 6))
        try s.append("opav", "CaseClosed", close, at: at(hours: 7))
        #expect(s.attempt(.institution("isf", user: "u"), "CaseReopened", ["reason": "new-information"]) == nil)
        #expect(CasePolicy.mayClose("opav", s.state!) && !CasePolicy.mayClose("isf", s.state!))
    }

    /// What became of the victim's time to decide is said by whoever started the period, or by the
    /// case's leads: attack pass 20 had a shelter end the police's 90-day period a second after it
    /// began, saying the victim withdrew.
    @Test func onlyTheStarterOrTheLeadsEndAReflectionPeriod() throws {
        var s = try Self.richCase()
        let end: JSONValue = ["outcome": "victim-withdrew"]  // the police's period runs (hour 4)
        for party in ["isf", "opav"] {  // a shelter; an advocate that has not accepted its referral
            expectError(s.attempt(.institution(party, user: "u"), "ReflectionPeriodEnded", end), .forbidden)
        }
        #expect(s.attempt(.institution("kp-dthb", user: "u"), "ReflectionPeriodEnded", end) == nil)
        try s.append("opav", "ReferralAccepted", ["referralId": "R-1"], at: at(hours: 6))
        #expect(s.attempt(.institution("opav", user: "u"), "ReflectionPeriodEnded", end) == nil)
        // A period the shelter started is the shelter's to end too.
        try s.append("kp-dthb", "ReflectionPeriodEnded", ["outcome": "cooperation-agreed"], at: at(hours: 7))
        try s.append("isf", "ReflectionPeriodStarted", ["days": 30], at: at(hours: 8))
        #expect(s.attempt(.institution("isf", user: "u"), "ReflectionPeriodEnded", end) == nil)
        #expect(s.attempt(.institution("kp-dthb", user: "u"), "ReflectionPeriodEnded", end) == nil)
    }

    /// A reopening counts when its closer says, another party's when it was recorded; and a
    /// correction of a reopening's reason decides again whether the closure was one made in error
    /// (attack pass 21: the corrected reason changed the record, not the figures).
    @Test func aReopeningCountsByWhoReopenedAndItsCorrectedReason() throws {
        var s = CaseScript(now: at(days: 30))
        try s.append("kp-dthb", "CaseOpened", adultOpening, at: t0)
        try s.append(
            "kp-dthb", "ReferralIssued", ["referralId": "R-1", "to": "opav", "purpose": "victim-advocacy"],
            at: at(days: 1))
        try s.append("kp-dthb", "CaseClosed", ["reason": "reintegrated"], at: at(days: 10))
        // Another party's reopening, dated a second after the closure, counts when it was recorded.
        try s.append("opav", "CaseReopened", ["reason": "new-information"], at: at(days: 10).addingTimeInterval(1))
        s.events[3].recordedAt = at(days: 30)
        s.state = CaseState.fold(caseId: s.caseId, events: s.events)
        #expect(s.state!.reopenedAt == at(days: 30))
        #expect(s.state!.closures.map(\.reopenedAt) == [at(days: 30)])
        // The next closure may not be dated before it.
        expectError(
            s.attempt(.institution("kp-dthb", user: "u"), "CaseClosed", ["reason": "other"], at: at(days: 20)),
            .invalidEvent, "occurredAt")
        try s.append("kp-dthb", "CaseClosed", ["reason": "lost-contact"], at: at(days: 30))
        // The closer's own reopening counts when it says; "in error", the closure counts nowhere.
        let reopening = try s.append("kp-dthb", "CaseReopened", ["reason": "new-information"], at: at(days: 30))
        #expect(s.state!.closures.map(\.inError) == [false, false])
        func correct(_ reason: String) throws {
            try s.append(
                "kp-dthb", "RecordCorrected",
                [
                    "correctsEventId": .string(reopening.id.uuidString), "reason": "data-entry-error",
                    "correction": ["reason": .string(reason)],
                ], at: at(days: 30))
        }
        try correct("closed-in-error")
        #expect(s.state!.closures.map(\.inError) == [false, true])
        try correct("victim-returned")
        #expect(s.state!.closures.map(\.inError) == [false, false])
        #expect(CaseState.fold(caseId: s.caseId, events: s.events) == s.state)
    }

    @Test func referralStepsFollowTheirOrder() throws {
        var s = try CaseScript.withReferral()
        try s.append("opav", "ReferralAcknowledged", ["referralId": "R-1"], at: at(hours: 2))
        expectError(
            s.attempt(.institution("opav", user: "u"), "ReferralAcknowledged", ["referralId": "R-1"]), .invalidEvent,
            "data.referralId")
        try s.append("opav", "ReferralDeclined", ["referralId": "R-1", "reason": "no-capacity"], at: at(hours: 3))
        expectError(
            s.attempt(.institution("opav", user: "u"), "ReferralAccepted", ["referralId": "R-1"]), .invalidEvent,
            "data.referralId")
        expectError(
            s.attempt(.institution("opav", user: "u"), "ReferralCompleted", ["referralId": "R-1", "outcome": "other"]),
            .invalidEvent,
            "data.referralId")
        // The recipient stays a party and may keep working on the case.
        #expect(s.attempt(.institution("opav", user: "u"), "CaseReviewed") == nil)
    }

    @Test func readPolicy() throws {
        let state = try #require(try CaseScript.withReferral().state)
        #expect(CasePolicy.mayRead(.institution("kp-dthb", user: "u"), state))
        #expect(CasePolicy.mayRead(.institution("opav", user: "u"), state))
        #expect(!CasePolicy.mayRead(.institution("isf", user: "u"), state))
        #expect(!CasePolicy.mayRead(Principal(role: .institution, institution: nil, user: "u"), state))
        #expect(CasePolicy.mayRead(Principal(role: .coordinator, institution: "natc", user: "c"), state))
        #expect(CasePolicy.mayRead(Principal(role: .auditor, institution: nil, user: "a"), state))
        #expect(throws: ReferralsError(.forbidden, "only parties of a case, coordinators and auditors may read it")) {
            try CasePolicy.authorizeRead(.institution("isf", user: "u"), state)
        }
    }

    @Test func systemAppendPolicy() {
        let coordinator = Principal(role: .coordinator, institution: "natc", user: "c")
        #expect(throws: Never.self) { try CasePolicy.authorizeSystemAppend(coordinator, type: .institutionRegistered) }
        #expect(throws: Never.self) { try CasePolicy.authorizeSystemAppend(coordinator, type: .sopRulesetPublished) }
        #expect(throws: ReferralsError.self) {
            try CasePolicy.authorizeSystemAppend(coordinator, type: .sopDeadlineMissed)
        }
        #expect(throws: ReferralsError.self) {
            try CasePolicy.authorizeSystemAppend(.institution("kp-dthb", user: "u"), type: .institutionRegistered)
        }
    }

    @Test func demoInstitutions() {
        #expect(
            Institution.demo.map(\.id) == [
                "kp-dthb", "ksp", "opav", "csw-prishtina", "isf", "pvpt", "iom-kosovo", "natc", "audit",
            ])
        #expect(Institution.pvpt.kinds == [.ngo, .shelter] && Institution.pvpt.isKind(.shelter))
    }
}
