import EventStore
import Foundation
import HTTP
import HandoffTestSupport
import Referrals
import Testing

@testable import QueryService

/// Acting from the dashboard (issue 14): an institution's person records case events and opens
/// cases with plain HTML forms, through the API's own admission, against a real PostgreSQL and
/// the service on a loopback port. Synthetic data only.
@Suite("Dashboard forms")
struct DashboardFormTests {
    /// A browser signed in with one token: its session cookie and its CSRF token.
    struct Browser {
        let api: API
        let session: String
        let csrf: String

        static func signIn(_ h: Harness, _ who: String) async throws -> Browser {
            let session = try #require(try await DashboardTests.signIn(h.api, token: h.token(who)))
            let home = try await h.api.request("GET", "/", headers: [DashboardTests.cookie(session)])
            let csrf = try #require(SessionTests.csrfField(home.text))
            return Browser(api: h.api, session: session, csrf: csrf)
        }

        func get(_ target: String, headers: [(String, String)] = []) async throws -> Reply {
            try await api.request("GET", target, headers: [DashboardTests.cookie(session)] + headers)
        }

        /// Posts a form as the browser would (its CSRF token first, unless `csrf` says otherwise).
        func post(
            _ path: String, _ fields: [(String, String)], csrf: String? = nil,
            headers: [(String, String)] = [DashboardTests.sameOrigin]
        ) async throws -> Reply {
            let all = [("csrf", csrf ?? self.csrf)].filter { !$0.1.isEmpty } + fields
            let body = all.map { HTML.queryValue($0.0) + "=" + HTML.queryValue($0.1) }.joined(separator: "&")
            return try await api.request(
                "POST", path, json: body, contentType: "application/x-www-form-urlencoded",
                headers: [DashboardTests.cookie(session)] + headers)
        }
    }

    static func version(_ h: Harness, _ caseId: String) async throws -> Int64 {
        try await h.store.version(of: .case(caseId)!)
    }

    static func last(_ h: Harness, _ caseId: String) async throws -> RecordedEvent {
        try #require(try await h.store.readAll(stream: .case(caseId)!).last)
    }

    /// The value of the hidden `expectedVersion` of the form `key` on a page.
    static func formVersion(_ html: String, _ key: String) -> String? {
        guard let form = html.range(of: "id=\"form-\(key)\"") else { return nil }
        guard let field = html.range(of: "name=\"expectedVersion\" value=\"", range: form.upperBound..<html.endIndex)
        else { return nil }
        return String(html[field.upperBound...].prefix { $0 != "\"" })
    }

    /// Posts a case event's form as `browser` (with the case's current version, as the page has it).
    static func act(
        _ h: Harness, _ browser: Browser, _ caseId: String, _ type: String, _ fields: [(String, String)],
        id: UUID = UUID(), version: Int64? = nil, headers: [(String, String)] = [DashboardTests.sameOrigin]
    ) async throws -> Reply {
        var expected = version ?? 0
        if version == nil { expected = try await Self.version(h, caseId) }
        return try await browser.post(
            "/cases/\(caseId)/events",
            [("type", type), ("id", id.uuidString.lowercased()), ("expectedVersion", String(expected))] + fields,
            headers: headers)
    }

    // MARK: - The same event as the API

    /// Each event type with a form, recorded on one case through its form and on a twin case
    /// through the API: the stored events have the same type, data, actor and (where a time was
    /// typed) occurredAt.
    @Test func eachActionThroughItsFormAppendsExactlyTheEventTheAPIWould() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        let opav = try await Browser.signIn(h, "opav")
        let isf = try await Browser.signIn(h, "isf")
        let police = try await Browser.signIn(h, "kp-dthb")
        let zone = TimeZone(identifier: "Europe/Belgrade")!

        // Opening: the form's case and the API's, under server-issued ids.
        let profile: [(String, String)] = [
            ("identificationStatus", "presumed"), ("sex", "female"), ("ageBand", "15-17"), ("child", "yes"),
            ("nationality", "xk"), ("exploitation", "sexual"), ("exploitation", "forced-labour"),
        ]
        let home = try await opav.get("/")
        #expect(home.text.contains("id=\"form-CaseOpened\""))
        let opened = try await opav.post(
            "/cases", [("type", "CaseOpened"), ("id", UUID().uuidString.lowercased())] + profile)
        #expect(opened.status == 303, "\(opened.text)")
        let location = try #require(opened.header("Location"))
        #expect(location.hasPrefix("/cases/KS-"))
        let formCase = String(location.dropFirst("/cases/".count))
        let api = try await h.api.post(
            "/v1/cases", token: h.token("opav"),
            #"{"identificationStatus":"presumed","profile":{"sex":"female","ageBand":"15-17","child":true,"#
                + #""nationality":"XK","exploitation":["sexual","forced-labour"]}}"#)
        #expect(api.status == 201)
        let apiCase = try #require(api.json["caseId"]?.stringValue)

        var compared: Set<String> = []
        func same(_ type: String, at: Date? = nil) async throws {
            let a = try await Self.last(h, formCase)
            let b = try await Self.last(h, apiCase)
            #expect(a.type == type && b.type == type, "\(type)")
            #expect(try JSONValue.parse(a.data) == JSONValue.parse(b.data), "\(type): \(a.data) vs \(b.data)")
            let actorA = try JSONValue.parse(a.metadata)["actor"]
            let actorB = try JSONValue.parse(b.metadata)["actor"]
            #expect(actorA == actorB, "\(type)")
            #expect(a.version == b.version, "\(type)")
            if let at { #expect(abs(a.occurredDate.timeIntervalSince(at)) < 0.001, "\(type)") }
            compared.insert(type)
        }
        try await same("CaseOpened")

        // One step: the page offers the form, the form is posted, the API twin is sent.
        func step(
            _ browser: Browser, _ who: String, _ type: String, referral: String? = nil, _ fields: [(String, String)],
            data: String, occurredAt: Date? = nil
        ) async throws {
            let page = try await browser.get("/cases/\(formCase)")
            let key = type + (type == "ReferralIssued" ? "" : referral.map { "-" + $0 } ?? "")
            #expect(page.text.contains("id=\"form-\(key)\""), "\(who) is offered \(key)")
            #expect(Self.formVersion(page.text, key) == String(try await Self.version(h, formCase)), "\(key)")
            var typed = fields
            if let occurredAt {
                typed += [("occurredAt", FormTime.format(occurredAt, in: zone)), ("occurredAtShown", "x")]
            }
            let reply = try await Self.act(h, browser, formCase, type, typed)
            #expect(reply.status == 303, "\(type): \(reply.status)")
            #expect(reply.header("Location") == "/cases/\(formCase)", "\(type)")
            var body = #"{"type":"\#(type)","data":\#(data)"#
            if let occurredAt { body += #","occurredAt":"\#(Timestamp.format(occurredAt))""# }
            let twin = try await h.api.post("/v1/cases/\(apiCase)/events", token: h.token(who), body + "}")
            #expect(twin.status == 201, "\(type): \(twin.text)")
            try await same(type, at: occurredAt)
        }
        // A typed time (whole seconds, as the control sends them) after the opening, not in the future.
        // After both openings: the API twin's case may have been opened seconds later on a loaded machine.
        let openedAt = max(
            try #require(try await h.store.readAll(stream: .case(formCase)!).first).occurredDate,
            try #require(try await h.store.readAll(stream: .case(apiCase)!).first).occurredDate)
        let typedTime = Date(timeIntervalSince1970: (openedAt.timeIntervalSince1970 + 1).rounded(.up))
        try await step(
            opav, "opav", "ConsentRecorded",
            [("purpose", "shelter"), ("recipients", "isf"), ("recipients", "kp-dthb"), ("given", "yes")],
            data: #"{"purpose":"shelter","recipients":["isf","kp-dthb"],"given":true}"#)
        try await step(
            opav, "opav", "ReferralIssued",
            [("referralId", "R-1"), ("to", "isf"), ("purpose", "shelter"), ("urgency", "urgent")],
            data: #"{"referralId":"R-1","to":"isf","purpose":"shelter","urgency":"urgent"}"#)
        try await step(
            isf, "isf", "ReferralAcknowledged", referral: "R-1", [("referralId", "R-1")],
            data: #"{"referralId":"R-1"}"#)
        try await step(
            isf, "isf", "ReferralAccepted", referral: "R-1", [("referralId", "R-1")], data: #"{"referralId":"R-1"}"#)
        try await step(
            isf, "isf", "ReferralCompleted", referral: "R-1",
            [("referralId", "R-1"), ("outcome", "services-provided")],
            data: #"{"referralId":"R-1","outcome":"services-provided"}"#)
        try await step(
            opav, "opav", "ReferralIssued",
            [
                ("referralId", "R-2"), ("to", "pvpt"), ("purpose", "medical"), ("urgency", "routine"),
                ("consentOverride", "yes"), ("consentOverrideReason", "child-best-interest"),
            ],
            data:
                #"{"referralId":"R-2","to":"pvpt","purpose":"medical","urgency":"routine","consentOverride":{"reason":"child-best-interest"}}"#
        )
        try await step(
            opav, "opav", "ReferralIssued",
            [("referralId", "R-3"), ("to", "kp-dthb"), ("purpose", "investigation"), ("urgency", "routine")],
            data: #"{"referralId":"R-3","to":"kp-dthb","purpose":"investigation","urgency":"routine"}"#)
        try await step(
            police, "kp-dthb", "ReferralDeclined", referral: "R-3", [("referralId", "R-3"), ("reason", "duplicate")],
            data: #"{"referralId":"R-3","reason":"duplicate"}"#)
        try await step(
            opav, "opav", "ReferralWithdrawn", referral: "R-2",
            [("referralId", "R-2"), ("reason", "no-longer-needed")],
            data: #"{"referralId":"R-2","reason":"no-longer-needed"}"#)
        try await step(
            opav, "opav", "RiskAssessed", [("level", "high")], data: #"{"level":"high"}"#, occurredAt: typedTime)
        try await step(isf, "isf", "GuardianAppointed", [], data: "{}")
        try await step(
            opav, "opav", "ReflectionPeriodStarted", [("days", "30")], data: #"{"days":30}"#)
        try await step(
            opav, "opav", "ReflectionPeriodEnded", [("outcome", "cooperation-agreed")],
            data: #"{"outcome":"cooperation-agreed"}"#)
        try await step(opav, "opav", "ReflectionPeriodStarted", [("days", "")], data: "{}")
        try await step(isf, "isf", "CaseReviewed", [], data: "{}")
        try await step(
            opav, "opav", "IdentificationStatusChanged", [("status", "identified")], data: #"{"status":"identified"}"#)
        try await step(opav, "opav", "CaseClosed", [("reason", "reintegrated")], data: #"{"reason":"reintegrated"}"#)
        try await step(
            isf, "isf", "CaseReopened", [("reason", "victim-returned")], data: #"{"reason":"victim-returned"}"#)
        #expect(
            compared
                == Set(CaseForm.types.map(\.rawValue)),
            "every form compared with the API")
    }

    /// Sending the same form twice (a double click, a reload of the POST) records it once.
    @Test func theSameFormSentTwiceRecordsOnce() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-FT-1", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let id = UUID()
        let first = try await Self.act(h, opav, "KS-FT-1", "RiskAssessed", [("level", "low")], id: id, version: 1)
        let again = try await Self.act(h, opav, "KS-FT-1", "RiskAssessed", [("level", "low")], id: id, version: 1)
        #expect(first.status == 303 && again.status == 303, "\(again.text)")
        #expect(try await Self.version(h, "KS-FT-1") == 2)
    }

    // MARK: - Concurrency, CSRF

    /// What others record meanwhile does not refuse a form unless it changed what the form is
    /// about (one party appending every few seconds made every other party's forms fail, an
    /// attack pass); when it did, the form is refused as a conflict and nothing is appended.
    @Test func aStaleVersionIsAConflictOnlyWhenWhatTheFormIsAboutChanged() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-FV-1", by: "opav")
        try await h.refer("KS-FV-1", "R-1", to: "isf", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let isf = try await Browser.signIn(h, "isf")
        let page = try await opav.get("/cases/KS-FV-1")
        let shown = try #require(Self.formVersion(page.text, "RiskAssessed"))
        #expect(shown == "2")
        // Another party records something else meanwhile, through the API: the forms go through.
        let review = #"{"type":"CaseReviewed","data":{}}"#
        #expect(try await h.api.post("/v1/cases/KS-FV-1/events", token: h.token("isf"), review).status == 201)
        let risk = try await Self.act(h, opav, "KS-FV-1", "RiskAssessed", [("level", "high")], version: 2)
        #expect(risk.status == 303, "\(risk.text)")
        #expect(try await Self.version(h, "KS-FV-1") == 4)
        #expect(try await h.api.post("/v1/cases/KS-FV-1/events", token: h.token("opav"), review).status == 201)
        let accept = try await Self.act(h, isf, "KS-FV-1", "ReferralAccepted", [("referralId", "R-1")], version: 4)
        #expect(accept.status == 303, "\(accept.text)")
        #expect(try await Self.version(h, "KS-FV-1") == 6)

        // A consent that repeats the one in force changes nothing a referral form depends on.
        let consent = #"{"type":"ConsentRecorded","data":{"purpose":"medical","recipients":["pvpt"],"given":true}}"#
        #expect(try await h.api.post("/v1/cases/KS-FV-1/events", token: h.token("isf"), consent).status == 201)
        let shown6 = try await Self.version(h, "KS-FV-1")
        #expect(try await h.api.post("/v1/cases/KS-FV-1/events", token: h.token("isf"), consent).status == 201)
        let refer = try await Self.act(
            h, opav, "KS-FV-1", "ReferralIssued",
            [("referralId", "R-9"), ("to", "pvpt"), ("purpose", "medical"), ("urgency", "routine")], version: shown6)
        #expect(refer.status == 303, "\(refer.text)")
        // Another risk assessment meanwhile: the person's own, made on the old level, is refused.
        let assessed = try await Self.version(h, "KS-FV-1")
        let medium = #"{"type":"RiskAssessed","data":{"level":"medium"}}"#
        #expect(try await h.api.post("/v1/cases/KS-FV-1/events", token: h.token("isf"), medium).status == 201)
        let stale = try await Self.act(h, opav, "KS-FV-1", "RiskAssessed", [("level", "low")], version: assessed)
        #expect(stale.status == 409, "\(stale.text)")
        let base = try await Self.version(h, "KS-FV-1") - 6

        // What the form is about changed meanwhile: the referral was withdrawn, the case closed.
        try await h.refer("KS-FV-1", "R-2", to: "isf", by: "opav")
        let withdraw = #"{"type":"ReferralWithdrawn","data":{"referralId":"R-2","reason":"duplicate"}}"#
        #expect(try await h.api.post("/v1/cases/KS-FV-1/events", token: h.token("opav"), withdraw).status == 201)
        let late = try await Self.act(
            h, isf, "KS-FV-1", "ReferralAcknowledged", [("referralId", "R-2")], version: base + 7)
        #expect(late.status == 409, "\(late.text)")
        let close = #"{"type":"CaseClosed","data":{"reason":"duplicate"}}"#
        #expect(try await h.api.post("/v1/cases/KS-FV-1/events", token: h.token("opav"), close).status == 201)
        for (type, fields) in [("RiskAssessed", [("level", "low")]), ("CaseClosed", [("reason", "duplicate")])] {
            let reply = try await Self.act(h, opav, "KS-FV-1", type, fields, version: base + 8)
            #expect(reply.status == 409, "\(type)")
            #expect(reply.text.contains("The case changed since you opened this page"), "\(type)")
            #expect(reply.text.contains("href=\"/cases/KS-FV-1\" id=\"reload\""), "\(type)")
            #expect(try await Self.version(h, "KS-FV-1") == base + 9, "\(type): nothing appended")
        }
        // In the person's language.
        let sq = try await Self.act(
            h, opav, "KS-FV-1", "RiskAssessed", [("level", "high")], version: base + 8,
            headers: [DashboardTests.sameOrigin, ("Accept-Language", "sq")])
        #expect(sq.status == 409 && sq.text.contains("Rasti ndryshoi që kur e hapët këtë faqe"))
        #expect(try await Self.version(h, "KS-FV-1") == base + 9)
    }

    @Test func aFormWithoutItsTokenOrFromAnotherSiteIsRefusedWith403() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-FC-1", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let other = try await Browser.signIn(h, "opav")  // the same institution, another session
        let before = try await h.store.count()
        let foreignHeaders: [[(String, String)]] = [
            [("Origin", "http://evil.example")], [("Origin", "null")], [("Origin", "http://127.0.0.1.evil.example")],
            [("Referer", "http://evil.example/page")], [("Sec-Fetch-Site", "cross-site")],
            [("Origin", "https://127.0.0.1:1")],
        ]
        let event: [(String, String)] = [("type", "CaseReviewed"), ("expectedVersion", "1")]
        let opening: [(String, String)] = [
            ("type", "CaseOpened"), ("identificationStatus", "presumed"), ("sex", "male"), ("ageBand", "25-34"),
            ("nationality", "AL"),
        ]
        for (path, fields) in [("/cases/KS-FC-1/events", event), ("/cases", opening)] {
            let oneOff = String(opav.csrf.dropLast()) + (opav.csrf.hasSuffix("A") ? "B" : "A")
            for csrf in ["", "wrong", other.csrf, oneOff] {
                let reply = try await opav.post(path, fields, csrf: csrf)
                #expect(reply.status == 403, "\(path) csrf=\(csrf.prefix(6))")
                #expect(reply.text.contains("id=\"csrf-refused\""), "\(path)")
            }
            for headers in foreignHeaders {
                let reply = try await opav.post(path, fields, headers: headers)
                #expect(reply.status == 403, "\(path) \(headers)")
                #expect(reply.text.contains("This form was not sent from this site"), "\(path) \(headers)")
            }
            // Without a session: to the login page.
            let anonymous = try await h.api.request(
                "POST", path, json: "csrf=\(opav.csrf)&type=CaseReviewed&expectedVersion=1",
                contentType: "application/x-www-form-urlencoded", headers: [DashboardTests.sameOrigin])
            #expect(anonymous.status == 303 && anonymous.header("Location") == "/login")
        }
        // The 403 page speaks the person's language.
        let sq = try await opav.post(
            "/cases/KS-FC-1/events", event, csrf: "wrong",
            headers: [DashboardTests.sameOrigin, ("Accept-Language", "sq")])
        #expect(sq.status == 403 && sq.text.contains("Formulari u refuzua"))
        #expect(try await h.store.count() == before, "nothing appended")
        // The same form with its token from this site (and from an old browser that sends only a
        // Referer of this site) is recorded.
        let ok = try await opav.post("/cases/KS-FC-1/events", event, headers: [("Referer", "http://127.0.0.1/cases/x")])
        #expect(ok.status == 303)
    }

    // MARK: - Consent, field errors

    @Test func theConsentRefusalIsShownInTheFormWithItsOverrideThenTheOverrideSucceeds() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-FK-1", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let referral: [(String, String)] = [
            ("referralId", "R-1"), ("to", "isf"), ("purpose", "shelter"), ("urgency", "urgent"),
        ]
        let refused = try await Self.act(h, opav, "KS-FK-1", "ReferralIssued", referral)
        #expect(refused.status == 422)
        let text = refused.text
        #expect(text.contains("<details class=\"act\" id=\"form-ReferralIssued\" open>"))
        #expect(text.contains("needs the victim&#39;s recorded consent"))
        #expect(text.contains("id=\"e-ReferralIssued-consentOverride\""))
        #expect(text.contains("aria-describedby=\"h-ReferralIssued-override e-ReferralIssued-consentOverride\""))
        #expect(text.contains("name=\"consentOverride\""))
        #expect(text.contains("<option value=\"isf\" selected>"))  // what was chosen is kept
        #expect(text.contains("<option value=\"urgent\" selected>"))
        // Never the API's English message.
        #expect(!text.contains("consent_required") && !text.contains("record ConsentRecorded"))
        #expect(try await Self.version(h, "KS-FK-1") == 1)
        // The override ticked without a reason: the reason is asked for.
        let noReason = try await Self.act(h, opav, "KS-FK-1", "ReferralIssued", referral + [("consentOverride", "yes")])
        #expect(noReason.status == 400)
        #expect(noReason.text.contains("id=\"e-ReferralIssued-consentOverrideReason\""))
        #expect(noReason.text.contains("Choose the reason for going ahead without consent."))
        // With the reason: recorded, as an override.
        let overridden = try await Self.act(
            h, opav, "KS-FK-1", "ReferralIssued",
            referral + [("consentOverride", "yes"), ("consentOverrideReason", "imminent-danger")])
        #expect(overridden.status == 303)
        let event = try await Self.last(h, "KS-FK-1")
        #expect(try JSONValue.parse(event.data)["consentOverride"]?["reason"]?.stringValue == "imminent-danger")
    }

    @Test func fieldErrorsAreShownBesideTheFieldInThePersonsLanguage() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-FE-1", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let before = try await h.store.count()
        let sq: [(String, String)] = [DashboardTests.sameOrigin, ("Accept-Language", "sq")]
        // A required choice left empty.
        let missing = try await Self.act(h, opav, "KS-FE-1", "RiskAssessed", [("level", "")], headers: sq)
        #expect(missing.status == 400)
        #expect(missing.text.contains("<html lang=\"sq\">"))
        #expect(missing.text.contains("id=\"e-RiskAssessed-level\">Plotësojeni ose zgjidhni këtë.</p>"))
        #expect(missing.text.contains("aria-invalid=\"true\" aria-describedby=\"e-RiskAssessed-level\""))
        #expect(missing.text.contains("role=\"alert\" id=\"e-RiskAssessed\""))
        // A group left empty: the message under the group, every box marked.
        let consent = try await Self.act(
            h, opav, "KS-FE-1", "ConsentRecorded", [("purpose", "shelter"), ("given", "yes")])
        #expect(consent.status == 400)
        #expect(consent.text.contains("id=\"e-ConsentRecorded-recipients\">Choose at least one institution.</p>"))
        #expect(
            consent.text.contains("<fieldset class=\"field group\" aria-describedby=\"e-ConsentRecorded-recipients\">"))
        #expect(consent.text.contains("value=\"isf\" aria-invalid=\"true\">"))
        #expect(consent.text.contains("id=\"f-ConsentRecorded-given-yes\" name=\"given\" value=\"yes\" checked>"))
        // A value the vocabulary refuses, a time that is no time, a time in the future.
        let days = try await Self.act(h, opav, "KS-FE-1", "ReflectionPeriodStarted", [("days", "400")], headers: sq)
        #expect(days.status == 400 && days.text.contains("Shkruani një numër të plotë ditësh nga 1 deri në 365"))
        let malformed = try await Self.act(
            h, opav, "KS-FE-1", "CaseReviewed", [("occurredAt", "31.12.2026 25:00"), ("occurredAtShown", "x")],
            headers: sq)
        #expect(malformed.status == 400)
        #expect(malformed.text.contains("id=\"e-CaseReviewed-occurredAt\">Shkruani datën dhe orën"))
        #expect(malformed.text.contains("value=\"31.12.2026 25:00\""))  // kept to correct
        let future = try await Self.act(
            h, opav, "KS-FE-1", "CaseReviewed",
            [
                (
                    "occurredAt",
                    FormTime.format(Date().addingTimeInterval(86_400), in: TimeZone(identifier: "Europe/Belgrade")!)
                ),
                ("occurredAtShown", "x"),
            ], headers: sq)
        #expect(future.status == 400 && future.text.contains("Koha nuk duhet të jetë në të ardhmen"))
        // The open-case form, on the home page.
        let opening = try await opav.post(
            "/cases",
            [
                ("type", "CaseOpened"), ("identificationStatus", "presumed"), ("sex", "male"), ("ageBand", "25-34"),
                ("child", "yes"), ("nationality", "AL"),
            ], headers: sq)
        #expect(opening.status == 400)
        #expect(opening.text.contains("id=\"e-CaseOpened-child\">Kjo nuk përputhet me grupmoshën"))
        let nationality = try await opav.post(
            "/cases",
            [
                ("type", "CaseOpened"), ("identificationStatus", "presumed"), ("sex", "male"), ("ageBand", "25-34"),
                ("nationality", "ZZ"),
            ], headers: sq)
        #expect(nationality.status == 400 && nationality.text.contains("id=\"e-CaseOpened-nationality\""))
        // What was typed is shown again to correct, as text: never as markup.
        let hostile = try await opav.post(
            "/cases",
            [
                ("type", "CaseOpened"), ("identificationStatus", "presumed\"><script>alert(1)</script>"),
                ("sex", "male"), ("ageBand", "25-34"), ("nationality", "\"><img src=x onerror=alert(1)>"),
                ("occurredAt", "\"><script>alert(2)</script>"), ("occurredAtShown", "x"),
            ])
        #expect(hostile.status == 400)
        #expect(!hostile.text.contains("<script>alert") && !hostile.text.contains("<img src=x"))
        #expect(hostile.text.contains("value=\"&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;\""))
        for reply in [missing, days, malformed, future, opening, nationality] {
            let leaks = DashboardLanguageTests.englishLeaks(
                in: DashboardLanguageTests.visibleText(reply.text), language: .albanian)
            #expect(leaks.isEmpty, "\(leaks)")
            #expect(!reply.text.contains("must be"))  // the API's English messages stay out
        }
        #expect(try await Self.version(h, "KS-FE-1") == 1)
        #expect(try await h.store.count() == before, "nothing appended")
    }

    // MARK: - Who may do what

    @Test func onlyWhatThePrincipalMayDoIsOfferedAndAForgedPostIsRefused() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-FF-1", by: "opav")
        try await h.refer("KS-FF-1", "R-1", to: "isf", by: "opav")
        try await h.refer("KS-FF-1", "R-2", to: "kp-dthb", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let isf = try await Browser.signIn(h, "isf")
        let police = try await Browser.signIn(h, "kp-dthb")
        let ngo = try await Browser.signIn(h, "pvpt")
        let natc = try await Browser.signIn(h, "natc")
        let audit = try await Browser.signIn(h, "audit")

        let shelterPage = try await isf.get("/cases/KS-FF-1").text
        #expect(shelterPage.contains("id=\"form-ReferralAcknowledged-R-1\""))
        #expect(shelterPage.contains("id=\"form-ReferralDeclined-R-1\""))
        #expect(!shelterPage.contains("form-ReferralWithdrawn-R-1"))
        #expect(!shelterPage.contains("-R-2\""))  // another institution's referral
        #expect(!shelterPage.contains("form-ReferralCompleted-R-1"))  // not accepted yet
        let issuerPage = try await opav.get("/cases/KS-FF-1").text
        #expect(issuerPage.contains("id=\"form-ReferralWithdrawn-R-1\""))
        #expect(!issuerPage.contains("form-ReferralAccepted-R-1"))
        for page in [try await natc.get("/cases/KS-FF-1").text, try await audit.get("/cases/KS-FF-1").text] {
            #expect(!page.contains("action=\"/cases/KS-FF-1/events\""))
            #expect(!page.contains("id=\"act-h\""))
        }
        #expect(!(try await natc.get("/").text.contains("action=\"/cases\"")))

        let before = try await Self.version(h, "KS-FF-1")
        // Forged: the police accepts the shelter's referral; the issuer accepts its own; the
        // shelter withdraws the issuer's; a coordinator and an auditor record anything.
        for (browser, type) in [
            (police, "ReferralAccepted"), (opav, "ReferralAccepted"), (isf, "ReferralWithdrawn"),
            (natc, "ReferralAcknowledged"), (audit, "RiskAssessed"),
        ] {
            let reply = try await Self.act(
                h, browser, "KS-FF-1", type, [("referralId", "R-1"), ("reason", "other"), ("level", "low")])
            #expect(reply.status == 403, "\(type): \(reply.status)")
            #expect(reply.text.contains("You may not do this with your role."))
        }
        // Not a party: as if the case did not exist (and logged as a denied attempt).
        let outsider = try await Self.act(h, ngo, "KS-FF-1", "RiskAssessed", [("level", "low")])
        #expect(outsider.status == 404)
        let missing = try await Self.act(h, ngo, "KS-NOPE-1", "RiskAssessed", [("level", "low")])
        #expect(missing.status == 404)
        #expect(outsider.text == missing.text.replacingOccurrences(of: "KS-NOPE-1", with: "KS-FF-1"))
        // The case page likewise, in time as in content: its 404 is a page the route returns, and
        // had no floor (an eleventh attack pass timed a non-party's case pages apart from missing
        // ones, 1.84–2.20 ms against 1.68–1.73).
        for path in ["/cases/KS-FF-1", "/cases/KS-NOPE-1"] {
            let started = ContinuousClock.now
            let page = try await ngo.get(path)
            #expect(page.status == 404 && ContinuousClock.now - started >= QueryService.notFoundFloor, "\(path)")
        }
        // Coordinators and auditors open no cases either.
        let opening: [(String, String)] = [
            ("type", "CaseOpened"), ("identificationStatus", "presumed"), ("sex", "male"), ("ageBand", "25-34"),
            ("nationality", "AL"),
        ]
        #expect(try await natc.post("/cases", opening).status == 403)
        #expect(try await audit.post("/cases", opening).status == 403)
        // A form the dashboard never makes.
        let correction = try await Self.act(h, opav, "KS-FF-1", "RecordCorrected", [])
        #expect(correction.status == 400)
        #expect(try await Self.version(h, "KS-FF-1") == before)
        try await h.settle()
        let log = try await h.api.get("/v1/audit/access?caseId=KS-FF-1", token: h.token("audit"))
        #expect(
            log.json["entries"]!.array.contains {
                $0["institution"]?.stringValue == "pvpt" && $0["outcome"]?.stringValue == "denied"
            })
    }

    @Test func theInboxAcknowledgesAndAcceptsAReferral() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await DashboardTests.seedCases(h)  // KS-DB-1: opav → isf, R-1
        let isf = try await Browser.signIn(h, "isf")
        let home = try await isf.get("/")
        #expect(home.text.contains("<input type=\"hidden\" name=\"type\" value=\"ReferralAcknowledged\">"))
        #expect(home.text.contains("<input type=\"hidden\" name=\"expectedVersion\" value=\"2\">"))
        let ack = try await Self.act(h, isf, "KS-DB-1", "ReferralAcknowledged", [("referralId", "R-1")], version: 2)
        #expect(ack.status == 303 && ack.header("Location") == "/cases/KS-DB-1")
        try await DashboardTests.project(h)
        let after = try await isf.get("/")
        #expect(!after.text.contains("value=\"ReferralAcknowledged\""))
        #expect(after.text.contains("value=\"ReferralAccepted\""))
        let accept = try await Self.act(h, isf, "KS-DB-1", "ReferralAccepted", [("referralId", "R-1")], version: 3)
        #expect(accept.status == 303)
        #expect(try await Self.last(h, "KS-DB-1").type == "ReferralAccepted")
    }

    // MARK: - Without I/O

    @Test func typedTimesAreReadInTheDeploymentsZone() {
        let zone = TimeZone(identifier: "Europe/Belgrade")!
        #expect(FormTime.parse("2026-07-01T10:00", in: zone) == Timestamp.parse("2026-07-01T08:00:00Z"))  // CEST
        #expect(FormTime.parse("2026-12-06 14:05:30", in: zone) == Timestamp.parse("2026-12-06T13:05:30Z"))  // CET
        #expect(FormTime.format(Timestamp.parse("2026-12-06T13:05:30Z")!, in: zone) == "2026-12-06T14:05:30")
        for bad in [
            "", "2026-02-30T10:00", "2026-13-01T10:00", "2026-12-06T24:00", "2026-12-06", "6.12.2026 14:05",
            "2026-12-06T14:05:60", "2026-12-06T14:05Z", "2026-03-29T02:30", "２０２６-12-06T14:05", "-026-12-06T14:05",
        ] {
            #expect(FormTime.parse(bad, in: zone) == nil, "\(bad)")
        }
    }

    /// Every control of every form has a label (or is one of a group under a legend), in every
    /// language, and every form carries the CSRF token and the case's version.
    @Test func everyControlOfEveryFormIsLabelled() throws {
        let now = Date()
        func event(_ by: String, _ body: CaseEventBody) -> CaseEvent {
            CaseEvent(id: UUID(), occurredAt: now, actor: Actor(institution: by, user: "\(by)-1"), body: body)
        }
        let profile = Profile(sex: .female, ageBand: .age15to17, child: true, nationality: "XK", exploitation: [])
        let state = try #require(
            CaseState.fold(
                caseId: "KS-L-1",
                events: [
                    event("opav", .caseOpened(identificationStatus: .presumed, profile: profile)),
                    event("opav", .referralIssued(referralId: "R-1", to: "isf", purpose: .shelter, urgency: .urgent)),
                    event("isf", .referralIssued(referralId: "R-2", to: "opav", purpose: .legalAid, urgency: .routine)),
                    event("opav", .referralAccepted(referralId: "R-2")),
                    event("opav", .reflectionPeriodStarted(days: nil)),
                ]))
        for language in Language.allCases {
            let t = Localizer(language, timeZone: "Europe/Belgrade")
            var keys: Set<String> = []
            var pages: [String] = []
            for who in ["opav", "isf"] {
                let view = CaseFormView(
                    action: "/cases/KS-L-1/events", csrf: "token-\(who)", expectedVersion: 5, now: now,
                    kinds: AdmissionContext(registered: Institution.demo, now: now).institutions, own: who,
                    feedback: nil, t: t)
                let html = CaseFormView.caseSection(.institution(who, user: "\(who)-1"), state: state, view: view).text
                pages.append(html)
                let forms = html.components(separatedBy: "<form ").dropFirst()
                #expect(!forms.isEmpty)
                for form in forms {
                    #expect(form.contains("name=\"csrf\" value=\"token-\(who)\""))
                    #expect(form.contains("name=\"expectedVersion\" value=\"5\""))
                }
                for part in html.components(separatedBy: "id=\"form-").dropFirst() {
                    keys.insert(String(part.prefix { $0 != "\"" }))
                }
            }
            let opening = CaseFormView(
                action: "/cases", csrf: "token", expectedVersion: nil, now: now,
                kinds: AdmissionContext(registered: Institution.demo, now: now).institutions, own: "opav",
                feedback: nil, t: t)
            pages.append(CaseFormView.openingSection(opening).text)
            for html in pages {
                for tag in html.components(separatedBy: "<").filter({
                    $0.hasPrefix("input ") || $0.hasPrefix("select ")
                })
                where !tag.contains("type=\"hidden\"") {
                    let id = tag.components(separatedBy: "id=\"").dropFirst().first.map {
                        String($0.prefix { $0 != "\"" })
                    }
                    #expect(id != nil && html.contains("<label for=\"\(id!)\">"), "\(language): \(tag.prefix(80))")
                }
                #expect(!html.contains("<h1") && !html.contains("<h4"))  // under the page's h1, h2 then h3
            }
            #expect(
                keys
                    == [
                        "ReferralWithdrawn-R-1", "ReferralCompleted-R-2", "ReferralAcknowledged-R-1",
                        "ReferralAccepted-R-1", "ReferralDeclined-R-1", "ConsentRecorded", "ReferralIssued",
                        "RiskAssessed",
                        "GuardianAppointed", "ReflectionPeriodEnded", "CaseReviewed", "IdentificationStatusChanged",
                        "CaseClosed", "ReferralWithdrawn-R-2",
                    ], "\(language)")
        }
    }

    @Test func aRefusalNamesTheControlItConcerns() {
        let utc = TimeZone(identifier: "UTC")!
        #expect(CaseForm.controlName("data.profile.nationality") == "nationality")
        #expect(CaseForm.controlName("data.recipients[1]") == "recipients")
        #expect(CaseForm.controlName("data.consentOverride.reason") == "consentOverrideReason")
        #expect(CaseForm.controlName("occurredAt") == "occurredAt")
        let form = QueryItems([("type", "RiskAssessed"), ("expectedVersion", "3"), ("level", "")])
        let s = try? CaseForm.submission(form, zone: utc, opening: false)
        #expect(s?.expectedVersion == 3 && s?.data.isEmpty == true)
        let refusal = ServiceError(.badRequest, "invalid_event", "x", details: [("field", "data.level")])
        #expect(s.flatMap { CaseForm.feedback(for: refusal, $0) }?.code == "required")
        #expect(s.flatMap { CaseForm.feedback(for: refusal, $0) }?.field == "level")
        // A hidden member's refusal is the whole form's.
        let hidden = ServiceError(.badRequest, "invalid_event", "x", details: [("field", "data.referralId")])
        let ack = try? CaseForm.submission(
            QueryItems([("type", "ReferralAccepted"), ("expectedVersion", "3"), ("referralId", "R-1")]), zone: utc,
            opening: false)
        #expect(ack.flatMap { CaseForm.feedback(for: hidden, $0) }?.field == nil)
        #expect(ack?.key == "ReferralAccepted-R-1")
        for bad in [
            [("type", "RecordCorrected"), ("expectedVersion", "1")], [("type", "RiskAssessed")],
            [("type", "RiskAssessed"), ("expectedVersion", "-1")], [("type", "CaseOpened"), ("expectedVersion", "0")],
            [("type", "Nonsense"), ("expectedVersion", "1")],
        ] {
            #expect(throws: ServiceError.self) { try CaseForm.submission(QueryItems(bad), zone: utc, opening: false) }
        }
    }
}
