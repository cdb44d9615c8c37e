import Foundation
import Testing

@testable import Referrals

@Suite struct ValidationTests {
    /// (description, institution, type, data, code, field) against a case opened by kp-dthb with
    /// referral R-1 issued to opav.
    static let failures: [(String, String, String, JSONValue, String, String?)] = [
        ("unknown type", "kp-dthb", "CaseDeleted", [:], "invalid_event", "type"),
        ("data not an object", "kp-dthb", "CaseReviewed", [], "invalid_event", "data"),
        ("unknown field", "kp-dthb", "CaseReviewed", ["note": "x"], "invalid_event", "data.note"),
        (
            "PII-shaped key is not echoed", "kp-dthb", "CaseReviewed", ["Jane Doe lives at": "x"], "invalid_event",
            "data.<unknown>"
        ),
        // ReferralIssued
        (
            "referralId missing", "kp-dthb", "ReferralIssued", ["to": "isf", "purpose": "shelter"], "invalid_event",
            "data.referralId"
        ),
        (
            "referralId format", "kp-dthb", "ReferralIssued", ["referralId": "R 2", "to": "isf", "purpose": "shelter"],
            "invalid_event", "data.referralId"
        ),
        (
            "referralId too long", "kp-dthb", "ReferralIssued",
            ["referralId": .string(String(repeating: "a", count: 65)), "to": "isf", "purpose": "shelter"],
            "invalid_event", "data.referralId"
        ),
        (
            "referralId reused", "kp-dthb", "ReferralIssued", ["referralId": "R-1", "to": "isf", "purpose": "shelter"],
            "invalid_event", "data.referralId"
        ),
        (
            "referralId wrong type", "kp-dthb", "ReferralIssued", ["referralId": 1, "to": "isf", "purpose": "shelter"],
            "invalid_event", "data.referralId"
        ),
        (
            "to unregistered", "kp-dthb", "ReferralIssued", ["referralId": "R-2", "to": "acme", "purpose": "shelter"],
            "invalid_event", "data.to"
        ),
        (
            "to malformed", "kp-dthb", "ReferralIssued", ["referralId": "R-2", "to": "ISF!", "purpose": "shelter"],
            "invalid_event", "data.to"
        ),
        (
            "to self", "kp-dthb", "ReferralIssued", ["referralId": "R-2", "to": "kp-dthb", "purpose": "investigation"],
            "invalid_event", "data.to"
        ),
        (
            "purpose unknown", "kp-dthb", "ReferralIssued", ["referralId": "R-2", "to": "isf", "purpose": "housing"],
            "invalid_event", "data.purpose"
        ),
        // A purpose that carries powers goes only to the kinds that serve it (ReferralPurpose.recipientKinds):
        // a victim-advocacy referral to a shelter would make it the case's advocate (closing rights), an
        // investigation referral to an international body would pass consent by.
        (
            "victim advocacy to a non-advocate", "kp-dthb", "ReferralIssued",
            ["referralId": "R-2", "to": "iom-kosovo", "purpose": "victim-advocacy"], "invalid_event", "data.to"
        ),
        (
            "investigation to a non-police body", "kp-dthb", "ReferralIssued",
            ["referralId": "R-2", "to": "iom-kosovo", "purpose": "investigation"], "invalid_event", "data.to"
        ),
        (
            "prosecution to the police", "opav", "ReferralIssued",
            ["referralId": "R-2", "to": "kp-dthb", "purpose": "prosecution"], "invalid_event", "data.to"
        ),
        (
            "guardianship to a shelter", "kp-dthb", "ReferralIssued",
            ["referralId": "R-2", "to": "pvpt", "purpose": "guardianship"], "invalid_event", "data.to"
        ),
        (
            "urgency unknown", "kp-dthb", "ReferralIssued",
            ["referralId": "R-2", "to": "isf", "purpose": "shelter", "urgency": "asap"], "invalid_event", "data.urgency"
        ),
        // Referral steps
        (
            "ack unknown referral", "opav", "ReferralAcknowledged", ["referralId": "R-9"], "invalid_event",
            "data.referralId"
        ),
        ("accept missing id", "opav", "ReferralAccepted", [:], "invalid_event", "data.referralId"),
        ("decline reason missing", "opav", "ReferralDeclined", ["referralId": "R-1"], "invalid_event", "data.reason"),
        (
            "decline reason free text", "opav", "ReferralDeclined", ["referralId": "R-1", "reason": "she was scared"],
            "invalid_event", "data.reason"
        ),
        (
            "complete before accept", "opav", "ReferralCompleted",
            ["referralId": "R-1", "outcome": "services-provided"], "invalid_event", "data.referralId"
        ),
        (
            "complete outcome unknown", "opav", "ReferralCompleted", ["referralId": "R-1", "outcome": "done"],
            "invalid_event", "data.outcome"
        ),
        // Others
        ("risk level unknown", "kp-dthb", "RiskAssessed", ["level": "extreme"], "invalid_event", "data.level"),
        ("risk level missing", "kp-dthb", "RiskAssessed", [:], "invalid_event", "data.level"),
        (
            "status unknown", "kp-dthb", "IdentificationStatusChanged", ["status": "confirmed"], "invalid_event",
            "data.status"
        ),
        (
            "status unchanged", "kp-dthb", "IdentificationStatusChanged", ["status": "presumed"], "invalid_event",
            "data.status"
        ),
        (
            "consent purpose unknown", "kp-dthb", "ConsentRecorded",
            ["purpose": "anything", "recipients": ["opav"], "given": true], "invalid_event", "data.purpose"
        ),
        (
            "consent recipients empty", "kp-dthb", "ConsentRecorded",
            ["purpose": "shelter", "recipients": [], "given": true], "invalid_event", "data.recipients"
        ),
        (
            "consent recipient unregistered", "kp-dthb", "ConsentRecorded",
            ["purpose": "shelter", "recipients": ["isf", "acme"], "given": true], "invalid_event", "data.recipients[1]"
        ),
        (
            "consent recipient twice", "kp-dthb", "ConsentRecorded",
            ["purpose": "shelter", "recipients": ["isf", "isf"], "given": true], "invalid_event", "data.recipients[1]"
        ),
        (
            "consent recipient not a string", "kp-dthb", "ConsentRecorded",
            ["purpose": "shelter", "recipients": [1], "given": true], "invalid_event", "data.recipients[0]"
        ),
        (
            "consent given not bool", "kp-dthb", "ConsentRecorded",
            ["purpose": "shelter", "recipients": ["isf"], "given": "yes"], "invalid_event", "data.given"
        ),
        ("guardian with data", "kp-dthb", "GuardianAppointed", ["name": "x"], "invalid_event", "data.name"),
        ("reflection days zero", "kp-dthb", "ReflectionPeriodStarted", ["days": 0], "invalid_event", "data.days"),
        (
            "reflection days fraction", "kp-dthb", "ReflectionPeriodStarted", ["days": 30.5], "invalid_event",
            "data.days"
        ),
        ("reflection days too many", "kp-dthb", "ReflectionPeriodStarted", ["days": 366], "invalid_event", "data.days"),
        (
            "reflection ended without start", "kp-dthb", "ReflectionPeriodEnded", ["outcome": "other"], "invalid_event",
            "type"
        ),
        (
            "reflection outcome unknown", "kp-dthb", "ReflectionPeriodEnded", ["outcome": "fine"], "invalid_event",
            "data.outcome"
        ),
        ("closure reason unknown", "kp-dthb", "CaseClosed", ["reason": "done"], "invalid_event", "data.reason"),
        ("reopen while open", "kp-dthb", "CaseReopened", ["reason": "new-information"], "invalid_event", "type"),
        (
            "correction unknown event", "kp-dthb", "RecordCorrected",
            [
                "correctsEventId": "6f1c7a0e-0000-4000-8000-000000000000", "reason": "data-entry-error",
                "correction": ["level": "low"],
            ], "invalid_event", "data.correctsEventId"
        ),
        (
            "correction id malformed", "kp-dthb", "RecordCorrected",
            ["correctsEventId": "nope", "reason": "data-entry-error", "correction": ["level": "low"]], "invalid_event",
            "data.correctsEventId"
        ),
        (
            "correction empty", "kp-dthb", "RecordCorrected",
            [
                "correctsEventId": "6f1c7a0e-0000-4000-8000-000000000000", "reason": "data-entry-error",
                "correction": [:],
            ], "invalid_event", "data.correction"
        ),
        (
            "correction of referral id", "kp-dthb", "RecordCorrected",
            [
                "correctsEventId": "6f1c7a0e-0000-4000-8000-000000000000", "reason": "other",
                "correction": ["referralId": "R-2"],
            ], "invalid_event", "data.correction.referralId"
        ),
        (
            "correction of a consent override", "kp-dthb", "RecordCorrected",
            [
                "correctsEventId": "6f1c7a0e-0000-4000-8000-000000000000", "reason": "other",
                "correction": ["consentOverride": ["reason": "child-best-interest"]],
            ], "invalid_event", "data.correction.consentOverride"
        ),
        (
            "correction of a consent given", "kp-dthb", "RecordCorrected",
            [
                "correctsEventId": "6f1c7a0e-0000-4000-8000-000000000000", "reason": "other",
                "correction": ["given": true],
            ], "invalid_event", "data.correction.given"
        ),
        (
            "correction of a consent's recipients", "kp-dthb", "RecordCorrected",
            [
                "correctsEventId": "6f1c7a0e-0000-4000-8000-000000000000", "reason": "other",
                "correction": ["recipients": ["isf"]],
            ], "invalid_event", "data.correction.recipients"
        ),
        (
            "correction reason unknown", "kp-dthb", "RecordCorrected",
            [
                "correctsEventId": "6f1c7a0e-0000-4000-8000-000000000000", "reason": "typo",
                "correction": ["level": "low"],
            ], "invalid_event", "data.reason"
        ),
    ]

    @Test(arguments: failures)
    func rejects(name: String, institution: String, type: String, data: JSONValue, code: String, field: String?) throws
    {
        let script = try CaseScript.withReferral()
        expectError(
            script.attempt(.institution(institution, user: "u"), type, data), ReferralsError.Code(rawValue: code), field
        )
    }

    /// Every field of the CaseOpened profile, on a new case.
    static let openingFailures: [(String, JSONValue, String)] = [
        ("status missing", ["profile": adultOpening["profile"]!], "data.identificationStatus"),
        (
            "status not-a-victim", adultOpening.merging(["identificationStatus": "not-a-victim"]),
            "data.identificationStatus"
        ),
        ("profile missing", ["identificationStatus": "presumed"], "data.profile"),
        ("profile not object", ["identificationStatus": "presumed", "profile": "f"], "data.profile"),
        ("sex unknown code", adultOpening.merging(["profile": ["sex": "f"]]), "data.profile.sex"),
        ("ageBand unknown", adultOpening.merging(["profile": ["ageBand": "23"]]), "data.profile.ageBand"),
        ("child not bool", adultOpening.merging(["profile": ["child": "no"]]), "data.profile.child"),
        ("child disagrees", adultOpening.merging(["profile": ["child": true]]), "data.profile.child"),
        (
            "nationality lower case", adultOpening.merging(["profile": ["nationality": "xk"]]),
            "data.profile.nationality"
        ),
        ("nationality alpha-3", adultOpening.merging(["profile": ["nationality": "KOS"]]), "data.profile.nationality"),
        (
            "nationality unassigned", adultOpening.merging(["profile": ["nationality": "ZZ"]]),
            "data.profile.nationality"
        ),
        (
            "exploitation unknown", adultOpening.merging(["profile": ["exploitation": ["theft"]]]),
            "data.profile.exploitation[0]"
        ),
        (
            "exploitation duplicate", adultOpening.merging(["profile": ["exploitation": ["sexual", "sexual"]]]),
            "data.profile.exploitation[1]"
        ),
        (
            "exploitation not array", adultOpening.merging(["profile": ["exploitation": "sexual"]]),
            "data.profile.exploitation"
        ),
        ("profile extra field", adultOpening.merging(["profile": ["name": "x"]]), "data.profile.name"),
        ("extra top field", adultOpening.merging(["story": "x"]), "data.story"),
    ]

    @Test(arguments: openingFailures)
    func rejectsOpening(name: String, data: JSONValue, field: String) {
        expectError(
            CaseScript().attempt(.institution("kp-dthb", user: "u"), "CaseOpened", data, at: t0), .invalidEvent, field)
    }

    @Test func acceptsEveryAssignedNationalityAndKosovo() {
        #expect(CountryCodes.nationalities.count == 250)
        for code in ["XK", "AL", "RS", "MK", "MD", "UA", "DE", "SS", "NG"] {
            #expect(CountryCodes.isValidNationality(code))
        }
        for code in ["UK", "EU", "XX", "ZZ", "AN"] { #expect(!CountryCodes.isValidNationality(code), "\(code)") }
    }

    @Test func rejectsFutureOccurredAtBeyondSkew() throws {
        var script = CaseScript(now: t0)
        expectError(
            script.attempt(
                .institution("kp-dthb", user: "u"), "CaseOpened", adultOpening, at: t0.addingTimeInterval(301)),
            .invalidEvent, "occurredAt")
        #expect(throws: Never.self) {
            try script.append("kp-dthb", "CaseOpened", adultOpening, at: t0.addingTimeInterval(299))
        }
    }

    @Test func rejectsMalformedCaseId() throws {
        var script = CaseScript()
        script.caseId = "KS 2026/1"
        expectError(
            script.attempt(.institution("kp-dthb", user: "u"), "CaseOpened", adultOpening, at: t0), .invalidEvent,
            "caseId")
    }

    @Test func bodiesRoundTripThroughJSON() throws {
        let bodies: [CaseEventBody] = [
            try CaseEventBody.decode(type: "CaseOpened", data: childOpening),
            .referralIssued(referralId: "R-1", to: "opav", purpose: .victimAdvocacy, urgency: .urgent),
            .referralAcknowledged(referralId: "R-1"), .referralAccepted(referralId: "R-1"),
            .referralDeclined(referralId: "R-1", reason: .noCapacity),
            .referralCompleted(referralId: "R-1", outcome: .servicesProvided),
            .referralWithdrawn(referralId: "R-1", reason: .issuedInError), .riskAssessed(level: .high),
            .identificationStatusChanged(status: .notAVictim),
            .consentRecorded(purpose: .informationSharing, recipients: ["opav", "isf"], given: false),
            .guardianAppointed,
            .reflectionPeriodStarted(days: 90), .reflectionPeriodStarted(days: nil),
            .reflectionPeriodEnded(outcome: .cooperationAgreed), .caseReviewed, .caseClosed(reason: .reintegrated),
            .caseReopened(reason: .reTrafficked),
            .recordCorrected(
                correctsEventId: UUID(), reason: .dataEntryError, correction: JSONObject([("level", "low")])),
        ]
        #expect(Set(bodies.map(\.type)) == Set(CaseEventType.allCases))
        for body in bodies {
            let text = body.data.serializedString()
            #expect(try CaseEventBody.decode(type: body.type.rawValue, data: try JSONValue.parse(text)) == body)
        }
    }

    @Test func urgencyDefaultsToRoutine() throws {
        let body = try CaseEventBody.decode(
            type: "ReferralIssued", data: ["referralId": "R-1", "to": "isf", "purpose": "shelter"])
        #expect(body == .referralIssued(referralId: "R-1", to: "isf", purpose: .shelter, urgency: .routine))
    }

    @Test func correctionsMustStayValid() throws {
        var script = try CaseScript.withReferral()
        let opening = script.events[0].id
        expectError(
            script.attempt(
                .institution("kp-dthb", user: "u"), "RecordCorrected",
                [
                    "correctsEventId": .string(opening.uuidString), "reason": "data-entry-error",
                    "correction": ["profile": ["ageBand": "12-14"]],
                ]),
            .invalidEvent, "data.correction.profile.child")
        try script.append(
            "kp-dthb", "RecordCorrected",
            [
                "correctsEventId": .string(opening.uuidString), "reason": "data-entry-error",
                "correction": ["profile": ["ageBand": "15-17", "child": true]],
            ],
            at: at(hours: 2))
        #expect(script.state?.profile.ageBand == .age15to17)
        #expect(script.state?.isChild == true)
    }

    @Test func systemEvents() throws {
        let pvpt = try SystemEventBody.decode(
            type: "InstitutionRegistered", data: ["id": "pvpt", "name": "PVPT Center", "kind": ["ngo", "shelter"]])
        #expect(pvpt == .institutionRegistered(.pvpt))
        #expect(try SystemEventBody.decode(type: "InstitutionRegistered", data: pvpt.data) == pvpt)
        let police = try SystemEventBody.decode(
            type: "InstitutionRegistered", data: ["id": "kp-dthb", "name": "KP", "kind": "police"])
        #expect(police == .institutionRegistered(Institution(id: "kp-dthb", name: "KP", kinds: [.police])))
        for (data, field) in [
            (["id": "Bad Id", "name": "x", "kind": "police"] as JSONValue, "data.id"),
            (["id": "x", "name": "", "kind": "police"], "data.name"),
            (["id": "x", "name": "x", "kind": "bakery"], "data.kind"),
            (["id": "x", "name": "x", "kind": []], "data.kind"),
            (["id": "x", "name": "x"], "data.kind"),
            (["id": "x", "name": "x", "kind": "police", "phone": "1"], "data.phone"),
        ] {
            do {
                _ = try SystemEventBody.decode(type: "InstitutionRegistered", data: data)
                Issue.record("accepted \(data)")
            } catch { #expect(error.field == field) }
        }
        let missed = SystemEventBody.sopDeadlineMissed(
            ruleId: "risk-assessed", dueAt: t0, triggerEventId: UUID(), responsible: "role:social-work")
        #expect(try SystemEventBody.decode(type: "SopDeadlineMissed", data: missed.data) == missed)
        // A notice names its ruleset series; one written before that names none.
        let trigger = UUID()
        let inSeries = SystemEventBody.sopDeadlineMissed(
            ruleId: "risk-assessed", dueAt: t0, triggerEventId: trigger, responsible: "ksp", rulesetId: "kosovo-pilot")
        #expect(try SystemEventBody.decode(type: "SopDeadlineMissed", data: inSeries.data) == inSeries)
        #expect(inSeries.data["rulesetId"]?.stringValue == "kosovo-pilot")
        #expect(missed.data["rulesetId"] == nil)
        let badSeries: JSONValue = [
            "ruleId": "risk-assessed", "rulesetId": "Not A Series", "dueAt": .string(Timestamp.format(t0)),
            "triggerEventId": .string(trigger.uuidString.lowercased()), "responsible": "ksp",
        ]
        do {
            _ = try SystemEventBody.decode(type: "SopDeadlineMissed", data: badSeries)
            Issue.record("accepted a bad rulesetId")
        } catch { #expect(error.field == "data.rulesetId") }
        let published = try SystemEventBody.decode(
            type: "SopRulesetPublished", data: try JSONValue.parse(Ruleset.kosovoDefaultJSON))
        guard case .sopRulesetPublished(let ruleset) = published else {
            throw ReferralsError(.invalidEvent, "not a ruleset")
        }
        #expect(ruleset.id == "kosovo-default")
        do {
            _ = try SystemEventBody.decode(type: "SopRulesetPublished", data: ["id": "x"])
            Issue.record("accepted a bad ruleset")
        } catch { #expect(error.code == .invalidEvent && error.field == "data.version") }
    }

    /// An institution has at most 50 referrals open in a case: each holds two running deadlines of
    /// its recipient, weighed in every pass of the case's evaluation (an attack pass opened 888
    /// in one case and corrected it a hundred times: every later append to the case held the
    /// projector seven seconds). Completing or withdrawing one makes room; others have their own.
    @Test func anInstitutionsOpenReferralsInACaseAreBounded() throws {
        var s = CaseScript()
        try s.append("kp-dthb", "CaseOpened", adultOpening, at: t0)
        for n in 0..<CaseAdmission.maxOpenReferralsPerInstitution {
            try s.append(
                "kp-dthb", "ReferralIssued",
                ["referralId": .string("I-\(n)"), "to": "ksp", "purpose": "investigation"],
                at: t0)
        }
        let more: JSONValue = ["referralId": "I-more", "to": "ksp", "purpose": "investigation"]
        expectError(s.attempt(.institution("kp-dthb", user: "u"), "ReferralIssued", more), .invalidEvent, "type")
        // Withdrawn, declined or completed referrals are not open.
        try s.append("kp-dthb", "ReferralWithdrawn", ["referralId": "I-0", "reason": "duplicate"], at: t0)
        try s.append("ksp", "ReferralDeclined", ["referralId": "I-1", "reason": "outside-mandate"], at: t0)
        try s.append("kp-dthb", "ReferralIssued", more, at: t0)
        try s.append(
            "kp-dthb", "ReferralIssued", ["referralId": "I-more-2", "to": "ksp", "purpose": "investigation"], at: t0)
        expectError(
            s.attempt(
                .institution("kp-dthb", user: "u"), "ReferralIssued",
                ["referralId": "I-more-3", "to": "ksp", "purpose": "investigation"]), .invalidEvent, "type")
        // Another institution's referrals are its own.
        try s.append(
            "ksp", "ReferralIssued", ["referralId": "P-1", "to": "opav", "purpose": "victim-advocacy"], at: t0)
    }

    /// The child's best interest overrides consent on a child's case only (attack pass 22 sent a
    /// shelter referral on an adult's case so, then corrected the profile to a child's).
    @Test func theChildsBestInterestIsAReasonOnlyOnAChildsCase() throws {
        let override: JSONValue = [
            "referralId": "S-1", "to": "isf", "purpose": "shelter",
            "consentOverride": ["reason": "child-best-interest"],
        ]
        var adult = CaseScript()
        try adult.append("kp-dthb", "CaseOpened", adultOpening, at: t0)
        expectError(
            adult.attempt(.institution("kp-dthb", user: "u"), "ReferralIssued", override), .invalidEvent,
            "data.consentOverride.reason")
        // Another reason is the issuer's claim to make; the child's case takes this one.
        let other: JSONValue = [
            "referralId": "S-1", "to": "isf", "purpose": "shelter", "consentOverride": ["reason": "imminent-danger"],
        ]
        try adult.append("kp-dthb", "ReferralIssued", other, at: t0)
        var child = CaseScript()
        try child.append("kp-dthb", "CaseOpened", childOpening, at: t0)
        try child.append("kp-dthb", "ReferralIssued", override, at: t0)
    }

    /// An institution does not record the victim's consent to its own receipt of the case: a
    /// shelter the victim withdrew consent from recorded it given again, and was referred to on it
    /// (attack pass 22). Its own withdrawal, and consent for others, it records.
    @Test func noInstitutionRecordsConsentToItself() throws {
        var s = CaseScript()
        try s.append("kp-dthb", "CaseOpened", adultOpening, at: t0)
        try s.append(
            "kp-dthb", "ConsentRecorded", ["purpose": "shelter", "recipients": ["isf"], "given": true], at: t0)
        try s.append(
            "kp-dthb", "ReferralIssued", ["referralId": "S-1", "to": "isf", "purpose": "shelter"], at: t0)
        try s.append("isf", "ReferralAccepted", ["referralId": "S-1"], at: t0)
        try s.append(
            "isf", "ConsentRecorded", ["purpose": "shelter", "recipients": ["isf"], "given": false], at: t0)
        expectError(
            s.attempt(
                .institution("isf", user: "u"), "ConsentRecorded",
                ["purpose": "shelter", "recipients": ["pvpt", "isf"], "given": true]), .invalidEvent,
            "data.recipients[1]")
        try s.append(
            "isf", "ConsentRecorded", ["purpose": "shelter", "recipients": ["pvpt"], "given": true], at: t0)
        #expect(s.state?.hasConsent(purpose: .shelter, recipient: "isf") == false)
        #expect(s.state?.hasConsent(purpose: .shelter, recipient: "pvpt") == true)
    }

    /// A party in name only — not the opener, every referral to it declined or withdrawn — refers
    /// the case nowhere and records no consent given (attack pass 22: the IOM declined, then
    /// recorded the victim's consent to the centre for social work and referred the case there in
    /// one request). Nor does a recipient that passed the case on decline afterwards (attack pass
    /// 23: consent, referral and decline in one batch). A withdrawal of consent any party records.
    @Test func aPartyInNameOnlyPassesTheCaseOnNoMore() throws {
        var s = CaseScript()
        try s.append("kp-dthb", "CaseOpened", adultOpening, at: t0)
        try s.append(
            "kp-dthb", "ConsentRecorded", ["purpose": "medical", "recipients": ["iom-kosovo", "pvpt"], "given": true],
            at: t0)
        try s.append(
            "kp-dthb", "ReferralIssued", ["referralId": "M-1", "to": "iom-kosovo", "purpose": "medical"], at: t0)
        try s.append("kp-dthb", "ReferralIssued", ["referralId": "M-2", "to": "pvpt", "purpose": "medical"], at: t0)
        let consent: JSONValue = ["purpose": "social-welfare", "recipients": ["csw-prishtina"], "given": true]
        let withdrawal: JSONValue = ["purpose": "social-welfare", "recipients": ["csw-prishtina"], "given": false]
        let referral: JSONValue = ["referralId": "W-1", "to": "csw-prishtina", "purpose": "social-welfare"]
        // Referred, it takes part: it may pass the case on, and then not decline.
        var batch = s
        try batch.append("iom-kosovo", "ConsentRecorded", consent, at: t0)
        try batch.append("iom-kosovo", "ReferralIssued", referral, at: t0)
        expectError(
            batch.attempt(
                .institution("iom-kosovo", user: "u"), "ReferralDeclined",
                ["referralId": "M-1", "reason": "outside-mandate"]), .invalidEvent, "type")
        // (The dashboard asks the same: it offers no decline step.)
        #expect(batch.state.map { CasePolicy.mayDecline($0.referrals["M-1"]!, $0) } == false)
        // Taking part through another referral, it declines this one as before.
        var other = batch
        try other.append(
            "kp-dthb", "ReferralIssued", ["referralId": "M-4", "to": "iom-kosovo", "purpose": "medical"], at: t0)
        #expect(other.state.map { CasePolicy.mayDecline($0.referrals["M-1"]!, $0) } == true)
        // A referral on to a party already in the case brings nobody in: it declines as before.
        var inside = s
        try inside.append(
            "iom-kosovo", "ReferralIssued", ["referralId": "L-1", "to": "kp-dthb", "purpose": "investigation"], at: t0)
        try inside.append("iom-kosovo", "ReferralDeclined", ["referralId": "M-1", "reason": "outside-mandate"], at: t0)
        try other.append("iom-kosovo", "ReferralDeclined", ["referralId": "M-1", "reason": "outside-mandate"], at: t0)
        // Declined or withdrawn first: a party in name only.
        try s.append("iom-kosovo", "ReferralDeclined", ["referralId": "M-1", "reason": "outside-mandate"], at: t0)
        try s.append("kp-dthb", "ReferralWithdrawn", ["referralId": "M-2", "reason": "issued-in-error"], at: t0)
        for party in ["iom-kosovo", "pvpt"] {
            #expect(s.state.map { CasePolicy.isActiveParty(party, $0) } == false)
            expectError(s.attempt(.institution(party, user: "u"), "ConsentRecorded", consent), .forbidden)
            expectError(s.attempt(.institution(party, user: "u"), "ReferralIssued", referral), .forbidden)
            #expect(s.attempt(.institution(party, user: "u"), "ConsentRecorded", withdrawal) == nil)
            #expect(s.attempt(.institution(party, user: "u"), "RiskAssessed", ["level": "high"]) == nil)
        }
        // A new referral to it makes it take part again.
        try s.append("kp-dthb", "ReferralIssued", ["referralId": "M-3", "to": "pvpt", "purpose": "medical"], at: t0)
        try s.append("pvpt", "ConsentRecorded", consent, at: t0)
        try s.append("pvpt", "ReferralIssued", referral, at: t0)
        // A completed referral's recipient takes part still.
        try s.append("csw-prishtina", "ReferralAccepted", ["referralId": "W-1"], at: t0)
        try s.append(
            "csw-prishtina", "ReferralCompleted", ["referralId": "W-1", "outcome": "services-provided"], at: t0)
        #expect(
            s.attempt(
                .institution("csw-prishtina", user: "u"), "ReferralIssued",
                ["referralId": "W-2", "to": "opav", "purpose": "victim-advocacy"]) == nil)
    }

    /// A reflection period's length is corrected only while it runs, and a new period does not
    /// begin inside the last (an attack pass moved a 10-day period to "61–90 days" in the year's
    /// table after it ended, and dated a second period back over it).
    @Test func reflectionPeriodsAreCorrectedWhileTheyRunAndFollowOneAnother() throws {
        var s = CaseScript()
        try s.append("kp-dthb", "CaseOpened", adultOpening, at: at(days: 1))
        let first = try s.append("kp-dthb", "ReflectionPeriodStarted", ["days": 10], at: at(days: 2))
        func lengthen(_ event: CaseEvent) -> JSONValue {
            [
                "correctsEventId": .string(event.id.uuidString), "reason": "data-entry-error",
                "correction": ["days": 30],
            ]
        }
        try s.append("kp-dthb", "RecordCorrected", lengthen(first), at: at(days: 3))  // while it runs
        try s.append("kp-dthb", "ReflectionPeriodEnded", ["outcome": "cooperation-agreed"], at: at(days: 12))
        expectError(
            s.attempt(.institution("kp-dthb", user: "u"), "RecordCorrected", lengthen(first), at: at(days: 13)),
            .invalidEvent, "data.correctsEventId")
        expectError(
            s.attempt(.institution("kp-dthb", user: "u"), "ReflectionPeriodStarted", ["days": 10], at: at(days: 5)),
            .invalidEvent, "occurredAt")
        let second = try s.append("kp-dthb", "ReflectionPeriodStarted", ["days": 10], at: at(days: 14))
        // The first one's start stays as it was, even now that another period runs.
        expectError(
            s.attempt(.institution("kp-dthb", user: "u"), "RecordCorrected", lengthen(first), at: at(days: 15)),
            .invalidEvent, "data.correctsEventId")
        try s.append("kp-dthb", "RecordCorrected", lengthen(second), at: at(days: 15))
    }

    /// What each institution records in a case is bounded (an attack pass filled a case with 30,000
    /// reviews, and corrected one event 3,000 times to hold the projector back); and the bounds are
    /// each institution's own, so that no party uses up a case for the others (a later pass filled
    /// a shared limit from a shelter, and nobody could record a decision or close the case).
    @Test func whatEachInstitutionRecordsInACaseIsBounded() throws {
        var s = CaseScript()
        try s.append("kp-dthb", "CaseOpened", adultOpening, at: t0)
        try s.append(
            "kp-dthb", "ReferralIssued", ["referralId": "R-1", "to": "opav", "purpose": "victim-advocacy"], at: t0)
        let assessed = try s.append("kp-dthb", "RiskAssessed", ["level": "low"], at: t0)
        let correction: JSONValue = [
            "correctsEventId": .string(assessed.id.uuidString), "reason": "data-entry-error",
            "correction": ["level": "high"],
        ]
        for _ in 0..<CaseAdmission.maxCorrectionsPerEvent {
            try s.append("kp-dthb", "RecordCorrected", correction, at: t0)
        }
        expectError(
            s.attempt(.institution("kp-dthb", user: "u"), "RecordCorrected", correction), .invalidEvent,
            "data.correctsEventId")
        // Corrections of more events of its own, up to the institution's hundred.
        func corrections(of event: CaseEvent) -> JSONValue {
            [
                "correctsEventId": .string(event.id.uuidString), "reason": "data-entry-error",
                "correction": ["level": "high"],
            ]
        }
        for _ in 0..<(CaseAdmission.maxCorrectionsPerInstitution / CaseAdmission.maxCorrectionsPerEvent - 1) {
            let another = try s.append("kp-dthb", "RiskAssessed", ["level": "low"], at: t0)
            for _ in 0..<CaseAdmission.maxCorrectionsPerEvent {
                try s.append("kp-dthb", "RecordCorrected", corrections(of: another), at: t0)
            }
        }
        let last = try s.append("kp-dthb", "RiskAssessed", ["level": "low"], at: t0)
        expectError(
            s.attempt(.institution("kp-dthb", user: "u"), "RecordCorrected", corrections(of: last)), .invalidEvent,
            "data.correctsEventId")
        while s.state!.eventsBy["kp-dthb"]! < CaseAdmission.maxEventsPerInstitution {
            try s.append("kp-dthb", "CaseReviewed", at: t0)
        }
        expectError(s.attempt(.institution("kp-dthb", user: "u"), "CaseReviewed"), .invalidEvent, "type")
        // Another party still records its steps.
        try s.append("opav", "ReferralAccepted", ["referralId": "R-1"], at: t0)
        try s.append("opav", "IdentificationStatusChanged", ["status": "identified"], at: t0)
    }

    /// A recipient at its limit still answers the referrals addressed to it: an issuer drove the
    /// prosecution to 1,000 events in a case (it acknowledged, accepted and completed 334
    /// referrals) and then issued 100 urgent referrals it could not answer, each a miss (attack
    /// pass 18). Nothing else of the recipient's is admitted past the limit.
    @Test func aRecipientAtItsLimitStillAnswersItsReferrals() throws {
        var s = CaseScript()
        try s.append("kp-dthb", "CaseOpened", adultOpening, at: t0)
        try s.append("kp-dthb", "ReferralIssued", ["referralId": "R-1", "to": "ksp", "purpose": "prosecution"], at: t0)
        while s.state!.eventsBy["ksp", default: 0] < CaseAdmission.maxEventsPerInstitution {
            try s.append("ksp", "CaseReviewed", at: t0)
        }
        expectError(s.attempt(.institution("ksp", user: "u"), "CaseReviewed"), .invalidEvent, "type")
        try s.append("kp-dthb", "ReferralIssued", ["referralId": "R-2", "to": "ksp", "purpose": "prosecution"], at: t0)
        try s.append("ksp", "ReferralAcknowledged", ["referralId": "R-1"], at: t0)
        try s.append("ksp", "ReferralAccepted", ["referralId": "R-1"], at: t0)
        try s.append("ksp", "ReferralCompleted", ["referralId": "R-1", "outcome": "services-provided"], at: t0)
        try s.append("ksp", "ReferralDeclined", ["referralId": "R-2", "reason": "not-eligible"], at: t0)
        // Its own referrals, reviews and the like stay refused.
        expectError(
            s.attempt(
                .institution("ksp", user: "u"), "ReferralIssued",
                ["referralId": "R-3", "to": "opav", "purpose": "victim-advocacy"]), .invalidEvent, "type")
    }

    /// Each institution starts at most three reflection periods in a case: an attack pass started
    /// and ended 470 one-day periods in one request, each a met deadline of its own. Another
    /// party still starts its own.
    @Test func reflectionPeriodsAreBoundedPerInstitution() throws {
        var s = CaseScript()
        try s.append("kp-dthb", "CaseOpened", adultOpening, at: t0)
        try s.append("kp-dthb", "ReferralIssued", ["referralId": "R-1", "to": "isf", "purpose": "shelter"], at: t0)
        for _ in 0..<CaseAdmission.maxReflectionPeriodsPerInstitution {
            try s.append("isf", "ReflectionPeriodStarted", ["days": 1], at: t0)
            try s.append("isf", "ReflectionPeriodEnded", ["outcome": "other"], at: t0)
        }
        expectError(
            s.attempt(.institution("isf", user: "u"), "ReflectionPeriodStarted", ["days": 1]), .invalidEvent, "type")
        try s.append("kp-dthb", "ReflectionPeriodStarted", ["days": 30], at: t0)
        #expect(s.state!.reflectionPeriods.count == CaseAdmission.maxReflectionPeriodsPerInstitution + 1)
    }
}
