import EventStore
import Foundation
import HTTP
import HandoffTestSupport
import Logging
import Projections
import Referrals
import Testing

@testable import QueryService

/// The dashboard's forms attacked as the monitored institution would (issues 12 and 14): with
/// only its own session, it tries to bend the time of record, act on another institution's
/// case or referral, choose a case id, override consent without a listed reason, replay a form,
/// get past the CSRF defences, smuggle markup, probe case ids and act through a GET. Every
/// refusal leaves the log as it was and the server serving. Synthetic data only.
@Suite("Dashboard forms under attack")
struct DashboardFormAttackTests {
    typealias Browser = DashboardFormTests.Browser

    static let zone = TimeZone(identifier: "Europe/Belgrade")!

    /// The opening form's fields, valid.
    static let opening: [(String, String)] = [
        ("type", "CaseOpened"), ("identificationStatus", "presumed"), ("sex", "male"), ("ageBand", "25-34"),
        ("nationality", "AL"),
    ]

    /// A form body as a browser encodes it (without the CSRF token, unless among `fields`).
    static func encoded(_ fields: [(String, String)]) -> String {
        fields.map { HTML.queryValue($0.0) + "=" + HTML.queryValue($0.1) }.joined(separator: "&")
    }

    /// ``DashboardTests/projectedHarness()`` with the service's log captured.
    static func projectedHarness(logger: Logger) async throws -> Harness {
        let db = try await TestDatabase.make()
        let setup = db.store(poolSize: 2)
        let metadata = EventMetadata(actor: EventActor(institution: "natc", user: "setup"))
        try await setup.append(
            to: .institutions,
            events: Institution.demo.map(Harness.registration))
        try await setup.append(
            to: .sopRulesets,
            events: [
                NewEvent(
                    type: "SopRulesetPublished", data: Ruleset.kosovoDefault.document.serializedString(),
                    metadata: metadata)
            ])
        await setup.pool.close()
        return try await Harness.start(readSide: ProjectionReadSide(pool: db.pool(size: 4)), db: db, logger: logger)
    }

    // MARK: - Time of record through the typed time

    /// A case "opened" before any SOP ruleset took effect would be judged by none: no deadline
    /// would ever run on it, nor on the referrals issued on it (they may be dated back to the
    /// opening). The form's typed time and the API's `occurredAt` are refused alike.
    @Test func aCaseOpenedBeforeTheProceduresTookEffectIsRefused() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        let police = try await Browser.signIn(h, "kp-dthb")
        let before = try await h.store.count()
        // The default ruleset takes effect on 2014-01-01 in Europe/Belgrade.
        for typed in [
            "2013-12-31T23:59", "2013-06-01 10:00", "1970-01-01T01:00", "0001-01-01T00:00", "1447-06-15T10:00",
        ] {
            let reply = try await police.post(
                "/cases", Self.opening + [("occurredAt", typed), ("occurredAtShown", "x")])
            #expect(reply.status == 400, "\(typed): \(reply.status)")
            #expect(reply.text.contains("id=\"e-CaseOpened-occurredAt\""), "\(typed)")
        }
        for occurredAt in ["2013-12-31T22:59:59Z", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z"] {
            let body =
                #"{"identificationStatus":"presumed","profile":{"sex":"male","ageBand":"25-34","child":false,"#
                + #""nationality":"AL","exploitation":[]},"occurredAt":"\#(occurredAt)"}"#
            let reply = try await h.api.post("/v1/cases", token: h.token("kp-dthb"), body)
            #expect(reply.status == 400, "\(occurredAt): \(reply.text)")
            #expect(reply.errorCode == "invalid_event" && reply.errorField == "occurredAt", "\(occurredAt)")
        }
        #expect(try await h.store.count() == before, "nothing appended")
        // The first moment the procedures are in force is accepted (a late entry, honestly dated).
        let first = try await police.post(
            "/cases", Self.opening + [("occurredAt", "2014-01-01T00:00"), ("occurredAtShown", "x")])
        #expect(first.status == 303, "\(first.text)")
    }

    /// Wall-clock times the zone skips or repeats, far futures, other formats: a skipped time is
    /// no time; a repeated one is read as its later instant, so the ambiguity never backdates.
    @Test func ambiguousAndImpossibleTypedTimesNeverBackdate() {
        let zone = Self.zone
        // 25 October 2026: 02:00–03:00 happens twice (CEST, then CET). The later one is taken.
        #expect(FormTime.parse("2026-10-25T02:30", in: zone) == Timestamp.parse("2026-10-25T01:30:00Z"))
        #expect(FormTime.parse("2026-10-25T01:59", in: zone) == Timestamp.parse("2026-10-24T23:59:00Z"))
        #expect(FormTime.parse("2026-10-25T03:00", in: zone) == Timestamp.parse("2026-10-25T02:00:00Z"))
        // 29 March 2026: 02:00–03:00 does not exist.
        for skipped in ["2026-03-29T02:00", "2026-03-29T02:30", "2026-03-29T02:59:59"] {
            #expect(FormTime.parse(skipped, in: zone) == nil, "\(skipped)")
        }
        #expect(FormTime.parse("2026-03-29T03:00", in: zone) == Timestamp.parse("2026-03-29T01:00:00Z"))
        for bad in [
            "2026-12-06T14:05:05.5", "2026-12-06T14:05:05,500", "2026-12-06T14:05+01:00", "2026-12-06T14:05:05Z",
            "2026-12-06T14:05 CET", "+2026-12-06T14:05", "0000-12-06T14:05", "12/06/2026 14:05", "2026-W49-7T14:05",
            "2026-340T14:05", "\u{661}\u{662}\u{663}\u{664}-12-06T14:05", "2026‐12‐06T14:05", "2026-12-06\tT14:05",
        ] {
            #expect(FormTime.parse(bad, in: zone) == nil, "\(bad)")
        }
    }

    /// A typed time in the future (one minute past the clock skew, or in the year 9999) is refused
    /// through the form; the time shown on the page is the deployment zone's.
    @Test func aTypedFutureIsRefusedWhateverTheZoneTrick() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AT-1", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let soon = FormTime.format(Date().addingTimeInterval(3_600), in: Self.zone)
        for typed in [soon, "9999-12-31T23:59:59", "2099-01-01T00:00"] {
            let reply = try await DashboardFormTests.act(
                h, opav, "KS-AT-1", "CaseReviewed", [("occurredAt", typed), ("occurredAtShown", "x")])
            #expect(reply.status == 400, "\(typed)")
            #expect(reply.text.contains("id=\"e-CaseReviewed-occurredAt\""), "\(typed)")
        }
        #expect(try await DashboardFormTests.version(h, "KS-AT-1") == 1)
    }

    // MARK: - Forged fields

    /// A field sent twice is a form no page makes: the first value does not silently win (the
    /// recipient, the referral, the time, the type, the version, the event id, the token).
    @Test func aFieldSentTwiceIsRefusedAndNothingIsAppended() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AD-1", by: "opav")
        try await h.refer("KS-AD-1", "R-1", to: "isf", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let isf = try await Browser.signIn(h, "isf")
        let v = try await DashboardFormTests.version(h, "KS-AD-1")
        let id = UUID().uuidString.lowercased()
        let before = try await h.store.count()
        let twice: [(Browser, [(String, String)])] = [
            (isf, [("type", "ReferralAccepted"), ("referralId", "R-1"), ("referralId", "R-2")]),
            (isf, [("type", "ReferralAccepted"), ("type", "ReferralDeclined"), ("referralId", "R-1")]),
            (opav, [("type", "RiskAssessed"), ("level", "low"), ("level", "high")]),
            (
                opav,
                [("type", "RiskAssessed"), ("level", "low"), ("occurredAt", "2026-01-01T10:00"), ("occurredAt", "")]
            ),
            (opav, [("type", "RiskAssessed"), ("level", "low"), ("expectedVersion", "0")]),
            (opav, [("type", "RiskAssessed"), ("level", "low"), ("id", id), ("id", UUID().uuidString)]),
            (
                opav,
                [
                    ("type", "ConsentRecorded"), ("purpose", "shelter"), ("recipients", "isf"), ("given", "yes"),
                    ("given", "no"),
                ]
            ),
            (
                opav,
                [
                    ("type", "ReferralIssued"), ("referralId", "R-2"), ("to", "pvpt"), ("to", "isf"),
                    ("purpose", "medical"),
                    ("urgency", "routine"), ("consentOverride", "yes"), ("consentOverrideReason", "imminent-danger"),
                ]
            ),
        ]
        for (browser, fields) in twice {
            let reply = try await browser.post("/cases/KS-AD-1/events", [("expectedVersion", String(v))] + fields)
            #expect(reply.status == 400, "\(fields): \(reply.status)")
        }
        // The same name percent-encoded is the same name.
        let encodedTwice = try await isf.api.request(
            "POST", "/cases/KS-AD-1/events",
            json: Self.encoded([("csrf", isf.csrf), ("type", "ReferralAcknowledged"), ("referralId", "R-1")])
                + "&expectedVersion=\(v)&%74ype=ReferralDeclined&reason=no-capacity",
            contentType: SessionTests.form, headers: [DashboardTests.cookie(isf.session), DashboardTests.sameOrigin])
        #expect(encodedTwice.status == 400)
        // The CSRF token twice (the right one second): refused as a forged form.
        let csrfTwice = try await opav.post(
            "/cases/KS-AD-1/events",
            [("csrf", opav.csrf), ("type", "CaseReviewed"), ("expectedVersion", String(v))], csrf: "wrong")
        #expect(csrfTwice.status == 403)
        // The opening form too.
        let opening = try await opav.post("/cases", Self.opening + [("sex", "female")])
        #expect(opening.status == 400)
        #expect(try await h.store.count() == before, "nothing appended")
    }

    /// Members a page never sends (actor, user, institution, stream, case id, recordedAt) change
    /// nothing: the event is the session's, on the path's case, recorded now.
    @Test func forgedMembersCannotChangeWhoActsOnWhichCaseOrWhen() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AF-1", by: "opav")
        try await h.openCase("KS-AF-2", by: "isf")
        let opav = try await Browser.signIn(h, "opav")
        let forged: [(String, String)] = [
            ("institution", "isf"), ("user", "isf-director"), ("actor", "isf"), ("actor.institution", "isf"),
            ("caseId", "KS-AF-2"), ("stream", "case-KS-AF-2"), ("recordedAt", "2020-01-01T00:00:00Z"),
            ("data", #"{"level":"high"}"#), ("metadata", "{}"), ("operator", "root"),
        ]
        let reply = try await DashboardFormTests.act(h, opav, "KS-AF-1", "RiskAssessed", [("level", "low")] + forged)
        #expect(reply.status == 303, "\(reply.text)")
        let event = try await DashboardFormTests.last(h, "KS-AF-1")
        let metadata = try JSONValue.parse(event.metadata)
        #expect(metadata["actor"]?["institution"]?.stringValue == "opav")
        #expect(metadata["actor"]?["user"]?.stringValue == "opav-officer" || metadata["actor"]?["user"] != nil)
        #expect(metadata["operator"] == nil)
        #expect(try JSONValue.parse(event.data) == JSONValue.object(JSONObject([("level", "low")])))
        #expect(abs(event.recordedDate.timeIntervalSinceNow) < 3_600)
        #expect(try await DashboardFormTests.version(h, "KS-AF-2") == 1, "the other case is untouched")
        // Choosing a case id through the opening form: the server issues one anyway.
        let opened = try await opav.post(
            "/cases", Self.opening + [("caseId", "OPAV-MINE-1"), ("stream", "case-OPAV-MINE-1"), ("prefix", "OPAV")])
        #expect(opened.status == 303)
        #expect(opened.header("Location")?.hasPrefix("/cases/KS-") == true, "\(opened.header("Location") ?? "")")
        #expect(try await h.store.version(of: .case("OPAV-MINE-1")!) == 0)
        // A CaseOpened through the case's own form route is a form no page makes, for any id.
        for caseId in ["KS-AF-9", "KS-AF-1", "KS-2026-999999"] {
            let reply = try await opav.post(
                "/cases/\(caseId)/events", [("expectedVersion", "0")] + Self.opening)
            #expect(reply.status == 400, "\(caseId)")
        }
        #expect(try await h.store.version(of: .case("KS-AF-9")!) == 0)
    }

    /// Case ids with look-alikes, encodings and odd characters in the form's path never reach
    /// another case: each is refused (400) or, decoded to a valid id, is that case and nothing else.
    @Test func oddCaseIdsInTheFormsPathAreRefused() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AO-1", by: "isf")  // the victim: another institution's case
        let opav = try await Browser.signIn(h, "opav")
        let before = try await h.store.count()
        let targets = [
            "KS%E2%80%90AO%E2%80%901", "KS-AO-1%00", "KS-AO-1%20", "KS-AO-1+", "KS+AO+1", "%4BS-AO-1", "KS-AO-1%2F..",
            "KS-AO-1%0D%0AX-Injected:%201", "..%2FKS-AO-1",
            "\u{41A}S-AO-1".addingPercentEncoding(
                withAllowedCharacters: .alphanumerics)!, String(repeating: "K", count: 65), "KS-AO-1;x=1",
        ]
        for target in targets {
            let reply = try await opav.post(
                "/cases/\(target)/events", [("type", "RiskAssessed"), ("level", "low"), ("expectedVersion", "1")])
            #expect([400, 404].contains(reply.status), "\(target): \(reply.status)")
            #expect(reply.header("X-Injected") == nil)
        }
        #expect(try await h.store.count() == before, "nothing appended")
    }

    /// An event id that is no UUID is a form no page makes: refused as the API refuses it, not
    /// replaced by a fresh id (which would record a resent form twice).
    @Test func anEventIdThatIsNoUUIDIsRefused() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AI-1", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        for id in ["x", "0", "{00000000-0000-0000-0000-000000000000}", "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"]
        {
            for _ in 0..<2 {
                let reply = try await opav.post(
                    "/cases/KS-AI-1/events", [("type", "CaseReviewed"), ("expectedVersion", "1"), ("id", id)])
                #expect(reply.status == 400, "\(id): \(reply.status)")
            }
            let opening = try await opav.post("/cases", Self.opening + [("id", id)])
            #expect(opening.status == 400, "\(id): \(opening.status)")
        }
        #expect(try await DashboardFormTests.version(h, "KS-AI-1") == 1)
    }

    // MARK: - Consent

    /// An override needs one of the listed reasons: none, an invented one, a look-alike or a
    /// differently cased one is refused and nothing goes out.
    @Test func aConsentOverrideNeedsAListedReason() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AC-1", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        var n = 0
        func referral() -> [(String, String)] {
            n += 1
            return [("referralId", "R-\(n)"), ("to", "isf"), ("purpose", "shelter"), ("urgency", "routine")]
        }
        for reason in ["", " ", "invented", "Imminent-Danger", "imminent\u{2010}danger", "other,other", "other\u{0}"] {
            let reply = try await DashboardFormTests.act(
                h, opav, "KS-AC-1", "ReferralIssued",
                referral() + [("consentOverride", "yes"), ("consentOverrideReason", reason)])
            #expect([400, 422].contains(reply.status), "\(reason.unicodeScalars.map(\.value)): \(reply.status)")
        }
        // Without the checkbox, a reason alone is no override; nor is a ticked box of another value.
        let reasonOnly = try await DashboardFormTests.act(
            h, opav, "KS-AC-1", "ReferralIssued", referral() + [("consentOverrideReason", "imminent-danger")])
        #expect(reasonOnly.status == 422)
        for value in ["true", "on", "1", "YES"] {
            let reply = try await DashboardFormTests.act(
                h, opav, "KS-AC-1", "ReferralIssued",
                referral() + [("consentOverride", value), ("consentOverrideReason", "imminent-danger")])
            #expect(reply.status == 422, "\(value)")
        }
        #expect(try await DashboardFormTests.version(h, "KS-AC-1") == 1)
        // Spaces around a listed reason are the form's own trimming: the code is stored exactly.
        let padded = try await DashboardFormTests.act(
            h, opav, "KS-AC-1", "ReferralIssued",
            referral() + [("consentOverride", "yes"), ("consentOverrideReason", " legal-obligation ")])
        #expect(padded.status == 303)
        let event = try await DashboardFormTests.last(h, "KS-AC-1")
        #expect(try JSONValue.parse(event.data)["consentOverride"]?["reason"]?.stringValue == "legal-obligation")
    }

    // MARK: - Replay

    /// The same event id with other content is refused (never recorded, never answered as done);
    /// sent to another case it is refused too; with the same content it records once.
    @Test func aReplayedFormWithOtherContentIsRefused() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AR-1", by: "opav")
        try await h.openCase("KS-AR-2", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let id = UUID()
        let first = try await DashboardFormTests.act(h, opav, "KS-AR-1", "RiskAssessed", [("level", "high")], id: id)
        #expect(first.status == 303)
        let changed = [
            ("KS-AR-1", "RiskAssessed", [("level", "low")], Int64(1)),
            ("KS-AR-1", "RiskAssessed", [("level", "low")], Int64(2)),
            ("KS-AR-1", "CaseReviewed", [], Int64(2)),
            ("KS-AR-2", "RiskAssessed", [("level", "high")], Int64(1)),
        ]
        for (caseId, type, fields, version) in changed {
            let reply = try await DashboardFormTests.act(h, opav, caseId, type, fields, id: id, version: version)
            #expect(reply.status == 409, "\(caseId) \(type) v\(version): \(reply.status)")
            #expect(reply.header("Location") == nil)
        }
        #expect(try await DashboardFormTests.version(h, "KS-AR-1") == 2)
        #expect(try await DashboardFormTests.version(h, "KS-AR-2") == 1)
        #expect(try await DashboardFormTests.last(h, "KS-AR-1").data.contains("high"))
    }

    // MARK: - CSRF

    @Test func crossSiteFormsAndOtherSessionsTokensAreRefused() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AX-1", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let isf = try await Browser.signIn(h, "isf")
        let before = try await h.store.count()
        let event: [(String, String)] = [("type", "CaseReviewed"), ("expectedVersion", "1")]
        let foreign: [[(String, String)]] = [
            [("Referer", "http://evil.127.0.0.1/")], [("Referer", "http://127.0.0.1.evil.example/cases/x")],
            [("Referer", "http://127.0.0.1@evil.example/")], [("Referer", "null")], [("Referer", "")],
            [("Sec-Fetch-Site", "same-site")], [("Sec-Fetch-Site", "cross-site"), ("Referer", "http://127.0.0.1/")],
            [("Origin", "http://127.0.0.1:8080")], [("Origin", "HTTP://127.0.0.1.")], [("Origin", "")],
        ]
        for headers in foreign {
            let reply = try await opav.post("/cases/KS-AX-1/events", event, headers: headers)
            #expect(reply.status == 403, "\(headers): \(reply.status)")
        }
        // Another institution's token, in this session.
        #expect(try await opav.post("/cases/KS-AX-1/events", event, csrf: isf.csrf).status == 403)
        // A token of a session that has ended: the session is gone, so to the login page.
        let ended = try await Browser.signIn(h, "opav")
        let out = try await h.api.request(
            "POST", "/logout", json: "csrf=" + ended.csrf, contentType: SessionTests.form,
            headers: [DashboardTests.cookie(ended.session), DashboardTests.sameOrigin])
        #expect(out.status == 303)
        let replayed = try await ended.post("/cases/KS-AX-1/events", event)
        #expect(replayed.status == 303 && replayed.header("Location") == "/login")
        // The ended session's token inside a live session.
        #expect(try await opav.post("/cases/KS-AX-1/events", event, csrf: ended.csrf).status == 403)
        #expect(try await h.store.count() == before, "nothing appended")
    }

    // MARK: - Bodies

    /// Bodies that are not the dashboard's form: nothing appended, a 4xx, and the server serves on.
    @Test func bodiesThatAreNotAFormAreRefused() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AB-1", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let before = try await h.store.count()
        let form = Self.encoded([("csrf", opav.csrf), ("type", "CaseReviewed"), ("expectedVersion", "1")])
        let boundary = "xYz"
        let multipart =
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n\(opav.csrf)\r\n"
            + "--\(boundary)\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nCaseReviewed\r\n"
            + "--\(boundary)\r\nContent-Disposition: form-data; name=\"expectedVersion\"\r\n\r\n1\r\n--\(boundary)--\r\n"
        let json = #"{"csrf":"\#(opav.csrf)","type":"CaseReviewed","expectedVersion":1}"#
        let cases: [(String, String?)] = [
            (form, nil), (form, "text/plain"), (form, "application/json"), (json, "application/json"),
            (json, "application/x-www-form-urlencoded"), (multipart, "multipart/form-data; boundary=\(boundary)"),
            (form, "application/x-www-form-urlencoded-evil"), (form + "&%ZZ=1", "application/x-www-form-urlencoded"),
            (form + "&x=%C3%28", "application/x-www-form-urlencoded"),
        ]
        for (body, type) in cases {
            for path in ["/cases/KS-AB-1/events", "/cases"] {
                let reply = try await h.api.request(
                    "POST", path, json: body, contentType: type,
                    headers: [DashboardTests.cookie(opav.session), DashboardTests.sameOrigin])
                #expect((400..<500).contains(reply.status), "\(path) \(type ?? "none"): \(reply.status)")
            }
        }
        // Thousands of fields, and a body over the limit for a session (no bearer token).
        let many = form + String(repeating: "&x=1", count: 3_000)
        let reply = try await h.api.request(
            "POST", "/cases/KS-AB-1/events", json: many, contentType: SessionTests.form,
            headers: [DashboardTests.cookie(opav.session), DashboardTests.sameOrigin])
        #expect((300..<500).contains(reply.status), "\(reply.status)")
        let huge = form + "&pad=" + String(repeating: "a", count: 2 << 20)
        let tooBig = try await h.api.request(
            "POST", "/cases/KS-AB-1/events", json: huge, contentType: SessionTests.form,
            headers: [DashboardTests.cookie(opav.session), DashboardTests.sameOrigin])
        #expect([401, 413].contains(tooBig.status), "\(tooBig.status)")
        #expect(try await h.store.count() <= before + 1, "at most the one honest form")
        #expect(try await h.api.get("/livez", token: nil).status == 200)
    }

    // MARK: - Markup

    /// Markup in any control of any form comes back as text on the error page, never as markup.
    @Test func markupInAnyControlIsEchoedAsText() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AM-1", by: "opav")
        try await h.refer("KS-AM-1", "R-1", to: "isf", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let hostile = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>"
        let before = try await h.store.count()
        for type in CaseForm.types {
            var fields: [(String, String)] = [("type", type.rawValue), ("expectedVersion", "2")]
            var names = Set<String>()
            for field in CaseForm.fields(type) where names.insert(field.name).inserted {
                fields.append((field.name, hostile))
            }
            fields += [("occurredAt", hostile), ("occurredAtShown", "x"), ("id", hostile)]
            let path = type == .caseOpened ? "/cases" : "/cases/KS-AM-1/events"
            let reply = try await opav.post(path, fields)
            #expect((400..<500).contains(reply.status), "\(type): \(reply.status)")
            #expect(!reply.text.contains("<script>alert") && !reply.text.contains("<img src=x"), "\(type)")
        }
        #expect(try await h.store.count() == before, "nothing appended")
    }

    // MARK: - Probing

    /// A non-party gets, for every kind of refusal a form can meet, the same status and the same
    /// page for an existing case as for a missing one (but for the id itself).
    @Test func everyFormRefusalLooksTheSameForAnExistingAndAMissingCase() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AP-1", by: "opav")
        try await h.refer("KS-AP-1", "R-1", to: "isf", by: "opav")
        let ngo = try await Browser.signIn(h, "pvpt")
        let attempts: [(String, [(String, String)], Int64)] = [
            ("RiskAssessed", [("level", "low")], 2),
            ("RiskAssessed", [("level", "low")], 0),
            ("RiskAssessed", [("level", "extreme")], 2),
            ("RiskAssessed", [("level", "")], 2),
            ("ReferralAccepted", [("referralId", "R-1")], 2),
            ("ReferralAccepted", [("referralId", "R-9")], 2),
            (
                "ReferralIssued",
                [("referralId", "R-2"), ("to", "isf"), ("purpose", "shelter"), ("urgency", "routine")], 2
            ),
            ("CaseReviewed", [("occurredAt", "not a time"), ("occurredAtShown", "x")], 2),
            ("CaseReviewed", [("occurredAt", "2013-01-01T10:00"), ("occurredAtShown", "x")], 2),
            ("CaseReopened", [("reason", "new-information")], 2),
        ]
        for (type, fields, version) in attempts {
            let id = UUID()
            let existing = try await DashboardFormTests.act(h, ngo, "KS-AP-1", type, fields, id: id, version: version)
            let missing = try await DashboardFormTests.act(h, ngo, "KS-AP-9", type, fields, id: id, version: version)
            #expect(existing.status == missing.status, "\(type) \(fields): \(existing.status) vs \(missing.status)")
            #expect(
                existing.text == missing.text.replacingOccurrences(of: "KS-AP-9", with: "KS-AP-1"),
                "\(type) \(fields)")
            #expect(existing.status == 404, "\(type) \(fields)")
        }
        // Refusals decided before the case is looked up, and an event id the prober took in a
        // case of its own (a stale version, then the current one): the same answer for both.
        try await h.openCase("KS-AP-5", by: "pvpt")
        let own = try await DashboardFormTests.act(h, ngo, "KS-AP-5", "RiskAssessed", [("level", "low")], version: 1)
        #expect(own.status == 303)
        let taken = try await DashboardFormTests.last(h, "KS-AP-5").id
        let early: [([(String, String)], UUID, Int64, Int)] = [
            ([("level", "low"), ("level", "high")], UUID(), 2, 400),
            ([("level", "low")], taken, 2, 404),
            ([("level", "low")], taken, 0, 404),
            ([("level", "low")], taken, 7, 404),
        ]
        for (fields, id, version, status) in early {
            let existing = try await DashboardFormTests.act(
                h, ngo, "KS-AP-1", "RiskAssessed", fields, id: id, version: version)
            let missing = try await DashboardFormTests.act(
                h, ngo, "KS-AP-9", "RiskAssessed", fields, id: id, version: version)
            #expect(existing.status == status && missing.status == status, "\(fields) v\(version)")
            #expect(existing.text == missing.text.replacingOccurrences(of: "KS-AP-9", with: "KS-AP-1"))
        }
        for type in ["Nope", "CaseOpened", "RecordCorrected"] {
            let existing = try await DashboardFormTests.act(h, ngo, "KS-AP-1", type, [], version: 2)
            let missing = try await DashboardFormTests.act(h, ngo, "KS-AP-9", type, [], version: 2)
            #expect(existing.status == 400 && missing.status == 400, "\(type)")
            #expect(existing.text == missing.text.replacingOccurrences(of: "KS-AP-9", with: "KS-AP-1"))
        }
        #expect(try await DashboardFormTests.version(h, "KS-AP-1") == 2)
    }

    /// Every answer of a form — recorded, refused in the form, refused as forged, conflict, no such
    /// case — forbids framing (no clickjacking of a form with the person's session) and caching
    /// (the typed values are echoed back).
    @Test func everyFormAnswerIsNeitherFramedNorCached() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AH-1", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let replies = [
            try await DashboardFormTests.act(h, opav, "KS-AH-1", "RiskAssessed", [("level", "low")]),
            try await DashboardFormTests.act(h, opav, "KS-AH-1", "RiskAssessed", [("level", "bad")]),
            try await DashboardFormTests.act(h, opav, "KS-AH-1", "RiskAssessed", [("level", "low")], version: 0),
            try await DashboardFormTests.act(h, opav, "KS-AH-9", "RiskAssessed", [("level", "low")]),
            try await opav.post("/cases/KS-AH-1/events", [("type", "CaseReviewed")], csrf: "wrong"),
            try await opav.post("/cases/KS-AH-1/events", [("type", "Nope"), ("expectedVersion", "2")]),
            try await opav.post("/cases", Self.opening + [("nationality", "ZZ")]),
        ]
        #expect(replies.map(\.status) == [303, 400, 409, 404, 403, 400, 400])
        for reply in replies {
            #expect(reply.header("Cache-Control")?.contains("no-store") == true, "\(reply.status)")
            guard reply.status != 303 else { continue }  // a redirect has nothing to frame
            #expect(
                reply.header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true, "\(reply.status)")
            #expect(reply.header("X-Frame-Options") == "DENY", "\(reply.status)")
        }
    }

    // MARK: - Methods

    /// A GET (or HEAD) to a form's path, with the form in the query string, performs nothing.
    @Test func aGetWithTheFormInItsQueryPerformsNothing() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AG-1", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let before = try await h.store.count()
        let event = Self.encoded([("csrf", opav.csrf), ("type", "CaseReviewed"), ("expectedVersion", "1")])
        let opening = Self.encoded([("csrf", opav.csrf)] + Self.opening)
        for method in ["GET", "PUT", "DELETE", "PATCH"] {
            for target in ["/cases/KS-AG-1/events?" + event, "/cases?" + opening, "/cases/KS-AG-1?" + event] {
                let reply = try await opav.api.request(
                    method, target, headers: [DashboardTests.cookie(opav.session), DashboardTests.sameOrigin])
                #expect(reply.status != 303 && reply.status != 201, "\(method) \(target.prefix(30))")
            }
        }
        // A POST with the form in the query and an empty body: not read from the query.
        let queryPost = try await opav.api.request(
            "POST", "/cases/KS-AG-1/events?" + event, json: "", contentType: SessionTests.form,
            headers: [DashboardTests.cookie(opav.session), DashboardTests.sameOrigin])
        #expect(queryPost.status == 403)
        #expect(try await h.store.count() == before, "nothing appended")
    }

    // MARK: - What an operator and an auditor see

    /// A form's event names the person's user as the API's does; the request log names the
    /// route and the caller but never the form's values, the CSRF token or the session.
    @Test func formsLeaveATrailButNoSecretsInTheLog() async throws {
        let capture = LogCapture()
        let logger = Logger(label: "service", sink: capture, logLevel: .debug)
        let h = try await Self.projectedHarness(logger: logger)
        defer { Task { await h.stop() } }
        try await h.openCase("KS-AL-1", by: "opav")
        let opav = try await Browser.signIn(h, "opav")
        let marker = "zq\u{17E}-marker-7731"
        let recorded = try await DashboardFormTests.act(h, opav, "KS-AL-1", "RiskAssessed", [("level", "medium")])
        #expect(recorded.status == 303)
        let event = try await DashboardFormTests.last(h, "KS-AL-1")
        let actor = try JSONValue.parse(event.metadata)["actor"]
        #expect(actor?["institution"]?.stringValue == "opav")
        #expect((actor?["user"]?.stringValue ?? "").isEmpty == false)
        _ = try await DashboardFormTests.act(h, opav, "KS-AL-1", "RiskAssessed", [("level", marker)])
        _ = try await DashboardFormTests.act(
            h, opav, "KS-AL-1", "CaseReviewed", [("occurredAt", marker), ("occurredAtShown", "x")])
        _ = try await opav.post("/cases", Self.opening + [("nationality", marker)])
        _ = try await opav.post("/cases/KS-AL-1/events", [("type", "CaseReviewed"), ("x", marker)], csrf: "wrong")
        let lines = capture.lines()
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(!line.contains(marker), "\(line)")
            #expect(!line.contains(opav.csrf), "\(line)")
            #expect(!line.contains(opav.session), "\(line)")
            #expect(!line.contains("medium"), "\(line)")
        }
        let requests = lines.filter { $0.contains("\"msg\":\"request\"") && $0.contains("/cases/{caseId}/events") }
        #expect(requests.count >= 3, "\(lines)")
        #expect(requests.allSatisfy { $0.contains("\"institution\":\"opav\"") }, "\(requests)")
    }
}
