import Foundation
import HandoffTestSupport
import Referrals
import Testing

@testable import QueryService

/// The dashboard in each language against a real PostgreSQL and the service on a loopback port:
/// no page writes English outside the catalogue, `<html lang>`, and how the language is chosen.
@Suite("Dashboard languages")
struct DashboardLanguageTests {
    /// A page for a browser signed in with `token` (a session is started for it), or for nobody.
    static func page(
        _ api: API, _ target: String, token: String?, headers: [(String, String)] = []
    ) async throws -> Reply {
        var cookies: [(String, String)] = []
        if let token {
            let session = try await DashboardTests.signIn(api, token: token) ?? token
            cookies = [DashboardTests.cookie(session)]
        }
        return try await api.request("GET", target, headers: cookies + headers)
    }

    /// A signed-in session id for `token`, for the tests that write the Cookie header themselves.
    static func session(_ api: API, _ token: String) async throws -> String {
        try #require(try await DashboardTests.signIn(api, token: token))
    }

    /// What a person reads on a page: text between tags and the values of the attributes a
    /// browser shows or speaks, with entities decoded.
    static func visibleText(_ html: String) -> String {
        var out = ""
        var rest = Substring(html)
        let spoken = ["aria-label", "title", "alt", "placeholder", "data-msg-"]
        while let open = rest.firstIndex(of: "<") {
            out += rest[..<open] + " "
            guard let close = rest[open...].firstIndex(of: ">") else { break }
            let tag = rest[open...close]
            // Quoted attribute values of the spoken attributes.
            var scan = tag
            while let equals = scan.range(of: "=\"") {
                let name = scan[..<equals.lowerBound].split(whereSeparator: { $0 == " " || $0 == "<" }).last ?? ""
                guard let end = scan[equals.upperBound...].firstIndex(of: "\"") else { break }
                if spoken.contains(where: { name.hasPrefix($0) }) { out += " " + scan[equals.upperBound..<end] + " " }
                scan = scan[scan.index(after: end)...]
            }
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        for (entity, character) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&amp;", "&")] {
            out = out.replacingOccurrences(of: entity, with: character)
        }
        return out
    }

    /// The English messages (their text between placeholders) that appear in `text` as whole
    /// words: a letter, digit or hyphen on either side means another word (`Status` in `Statusi`,
    /// `case` in the rule id `case-review`). Messages that read the same in both languages
    /// (names, ids, `{n} min`) are not English leaks and are skipped.
    static func englishLeaks(in text: String, language: Language) -> [String] {
        let english = MessageCatalogue.builtIn[.english]!.messages
        let translated = MessageCatalogue.builtIn[language]!.messages
        var leaks: Set<String> = []
        for (key, value) in english where translated[key] != value {
            var fragments = [value]
            for name in MessageCatalogue.placeholders(value) {
                fragments = fragments.flatMap { $0.components(separatedBy: "{\(name)}") }
            }
            for fragment in fragments {
                let phrase = fragment.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters))
                guard phrase.filter(\.isLetter).count >= 3 else { continue }
                if containsWord(text, phrase) { leaks.insert("\(key): \(phrase)") }
            }
        }
        // English that never went through the catalogue: its function words, which are words in
        // neither Albanian nor Serbian.
        for word in englishFunctionWords where containsWord(text, word) || containsWord(text, word.capitalized) {
            leaks.insert("English word \(word)")
        }
        for month in ["Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        where containsWord(text, month) {
            leaks.insert("English month \(month)")
        }
        return leaks.sorted()
    }

    static let englishFunctionWords = [
        "the", "and", "of", "with", "for", "is", "are", "this", "that", "from", "your", "been", "has", "was", "will",
        "be", "an", "by", "it", "its", "not", "yet", "who", "which", "there", "here", "than", "then", "when", "were",
    ]

    static func containsWord(_ text: String, _ phrase: String) -> Bool {
        var search = text.startIndex..<text.endIndex
        while let found = text.range(of: phrase, range: search) {
            let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
            let after = found.upperBound == text.endIndex ? nil : text[found.upperBound]
            func joins(_ c: Character?) -> Bool { c.map { $0.isLetter || $0.isNumber || $0 == "-" } ?? false }
            if !joins(before) && !joins(after) { return true }
            search = found.upperBound..<text.endIndex
        }
        return false
    }

    @Test func theCheckFindsEnglishWhereThereIsSome() {
        #expect(
            Self.englishLeaks(in: "Afatet: Overdue and due soon", language: .albanian).contains {
                $0.hasPrefix("choice.attention")
            })
        #expect(Self.englishLeaks(in: "Statusi case-review KS-DA-1", language: .albanian).isEmpty)
        #expect(
            Self.englishLeaks(in: "Rasti: Consent was overridden", language: .albanian).contains("English word was"))
        #expect(Self.visibleText(#"<a aria-label="Skip to content" href="/x">Dil</a>"#).contains("Skip to content"))
    }

    /// Every dashboard page, in every language but English, as each role sees it.
    @Test func noPageWritesEnglishOutsideTheCatalogue() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await DashboardTests.seedCases(h)
        let pages: [(String, String?)] = [
            ("/?status=all", "natc"), ("/", "natc"), ("/?status=all&sort=rule&dir=desc", "audit"),
            ("/?status=all&institution=kp-dthb", "natc"), ("/?status=all", "isf"), ("/?status=met", "opav"),
            ("/cases/KS-DB-1", "natc"), ("/cases/KS-DB-1", "audit"), ("/cases/KS-DB-1", "isf"),
            ("/cases/KS-NOPE-9", "natc"), ("/cases/bad_id", "natc"), ("/login", nil),
            ("/cases/KS-DB-1", "opav"), ("/", "opav"),  // with the forms of an issuer and its open-case form
            ("/reports/annual?year=\(AnnualReportLanguageTests.year)", "natc"),
            ("/reports/annual?year=\(AnnualReportLanguageTests.year)", "audit"), ("/reports/annual?year=x", "natc"),
        ]
        for language in [Language.albanian, .serbianLatin, .serbianCyrillic] {
            for (target, who) in pages {
                let separator = target.contains("?") ? "&" : "?"
                let reply = try await Self.page(
                    h.api, target + separator + "lang=" + language.tag, token: who.map { h.token($0) })
                #expect([200, 400, 404].contains(reply.status), "\(target)")
                #expect(reply.text.contains("<html lang=\"\(language.tag)\">"), "\(language) \(target)")
                let leaks = Self.englishLeaks(in: Self.visibleText(reply.text), language: language)
                #expect(leaks.isEmpty, "\(language) \(target) as \(who ?? "-"): \(leaks)")
                #expect(reply.text.contains("id=\"unreviewed\""), "\(language) \(target)")
            }
        }
        // The forms' answers: a field error, the consent refusal, a conflict, a refused form, an
        // open-case form with an error.
        let opav = try await DashboardFormTests.Browser.signIn(h, "opav")
        for language in [Language.albanian, .serbianLatin, .serbianCyrillic] {
            let query = "?lang=" + language.tag
            let events = "/cases/KS-DB-1/events" + query
            let answers = [
                try await opav.post(events, [("type", "RiskAssessed"), ("expectedVersion", "2"), ("level", "")]),
                try await opav.post(
                    events,
                    [
                        ("type", "ReferralIssued"), ("expectedVersion", "2"), ("referralId", "R-2"), ("to", "pvpt"),
                        ("purpose", "shelter"), ("urgency", "routine"),
                    ]),
                // A referral form from before R-1 was issued: what it is about changed.
                try await opav.post(
                    events,
                    [
                        ("type", "ReferralIssued"), ("expectedVersion", "1"), ("referralId", "R-3"), ("to", "isf"),
                        ("purpose", "victim-advocacy"), ("urgency", "routine"),
                    ]),
                try await opav.post(events, [("type", "CaseReviewed"), ("expectedVersion", "2")], csrf: "wrong"),
                try await opav.post(
                    "/cases" + query,
                    [
                        ("type", "CaseOpened"), ("identificationStatus", "presumed"), ("sex", "male"),
                        ("ageBand", "25-34"), ("nationality", "ZZ"), ("occurredAt", "soon"), ("occurredAtShown", "x"),
                    ]),
            ]
            #expect(answers.map(\.status) == [400, 422, 409, 403, 400], "\(language)")
            for reply in answers {
                #expect(reply.text.contains("<html lang=\"\(language.tag)\">"), "\(language) \(reply.status)")
                let leaks = Self.englishLeaks(in: Self.visibleText(reply.text), language: language)
                #expect(leaks.isEmpty, "\(language) form answer \(reply.status): \(leaks)")
            }
        }
        // The login page's refusals too.
        let bad = try await h.api.request(
            "POST", "/login?lang=sq", json: "token=hnd_nope", contentType: "application/x-www-form-urlencoded",
            headers: [DashboardTests.sameOrigin])
        #expect(bad.status == 401)
        #expect(bad.text.contains("Ky token nuk është i vlefshëm"))
        #expect(Self.englishLeaks(in: Self.visibleText(bad.text), language: .albanian).isEmpty)
        // English pages carry no "unreviewed" note: English is the source.
        let english = try await Self.page(h.api, "/?lang=en", token: h.token("natc"))
        #expect(!english.text.contains("id=\"unreviewed\""))
        #expect(english.text.contains("Deadlines across institutions"))
    }

    @Test func theLanguageComesFromTheSwitchThenTheCookieThenTheBrowserThenTheDefault() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await DashboardTests.seedCases(h)
        let token = h.token("natc")
        func lang(_ reply: Reply) -> String? {
            guard let start = reply.text.range(of: "<html lang=\""),
                let end = reply.text[start.upperBound...].firstIndex(of: "\"")
            else { return nil }
            return String(reply.text[start.upperBound..<end])
        }
        // The deployment's default (English for a service built without one).
        #expect(lang(try await Self.page(h.api, "/", token: token)) == "en")
        // The browser's preference, by quality.
        let browser = try await Self.page(
            h.api, "/", token: token, headers: [("Accept-Language", "de-DE, sr-Latn-RS;q=0.7, sq;q=0.9")])
        #expect(lang(browser) == "sq")
        #expect(browser.header("Set-Cookie") == nil)  // nothing chosen, nothing remembered
        // The switch: the page in that language, remembered in a cookie.
        let switched = try await Self.page(
            h.api, "/?status=all&lang=sr-Cyrl", token: token, headers: [("Accept-Language", "sq")])
        #expect(lang(switched) == "sr-Cyrl")
        #expect(switched.text.contains("Рокови свих институција"))
        let cookie = try #require(switched.header("Set-Cookie"))
        #expect(cookie.hasPrefix("handoff_lang=sr-Cyrl; Path=/;"))
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"))
        // The switch's links keep the page's filters.
        #expect(switched.text.contains("href=\"?status=all&amp;lang=sq\""))
        // The cookie beats the browser; the switch beats the cookie.
        let remembered = try await Self.page(
            h.api, "/", token: nil,
            headers: [
                ("Cookie", "handoff_lang=sr-Latn; handoff_session=\(try await Self.session(h.api, token))"),
                ("Accept-Language", "sq"),
            ])
        #expect(lang(remembered) == "sr-Latn")
        let again = try await Self.page(
            h.api, "/?lang=en", token: token, headers: [("Cookie", "handoff_lang=sr-Latn"), ("Accept-Language", "sq")])
        #expect(lang(again) == "en")
        // The login page and an unsigned redirect follow the same choice.
        let login = try await Self.page(h.api, "/login?lang=sq", token: nil)
        #expect(lang(login) == "sq" && login.text.contains("Identifikohuni në Handoff"))
        let redirect = try await Self.page(h.api, "/?lang=sq", token: nil)
        #expect(redirect.status == 303)
        #expect(redirect.header("Set-Cookie")?.hasPrefix("handoff_lang=sq;") == true)
        // Error pages are in the person's language too.
        let missing = try await Self.page(h.api, "/cases/KS-NOPE-9?lang=sq", token: token)
        #expect(missing.status == 404 && lang(missing) == "sq" && missing.text.contains("Nuk u gjet"))
    }

    @Test func anUnknownLanguageCodeFallsBackWithANoteNeverAnErrorPage() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        let token = h.token("natc")
        for code in [
            "xx", "klingon", "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "sq-XK-extra", "sr",
            String(repeating: "a", count: 2000),
        ] {
            let reply = try await Self.page(h.api, "/?lang=" + code, token: token, headers: [("Accept-Language", "sq")])
            #expect(reply.status == 200, "\(code.prefix(20))")
            #expect(reply.text.contains("<html lang=\"sq\">"), "\(code.prefix(20))")
            #expect(reply.text.contains("id=\"unknown-language\""), "\(code.prefix(20))")
            #expect(reply.text.contains("Gjuha që kërkuat nuk është në dispozicion"), "\(code.prefix(20))")
            #expect(!reply.text.contains("<script>alert"))
            #expect(reply.header("Set-Cookie") == nil, "\(code.prefix(20))")  // nothing remembered
        }
        // A cookie holding nonsense is passed over the same way, silently (the person did not just ask).
        let stale = try await Self.page(
            h.api, "/", token: nil,
            headers: [("Cookie", "handoff_lang=<b>; handoff_session=\(try await Self.session(h.api, token))")])
        #expect(stale.status == 200 && stale.text.contains("<html lang=\"en\">"))
        #expect(!stale.text.contains("id=\"unknown-language\""))
        // A malformed Accept-Language is the same as none.
        let malformed = try await Self.page(h.api, "/", token: token, headers: [("Accept-Language", ";;q=x,,=")])
        #expect(malformed.status == 200 && malformed.text.contains("<html lang=\"en\">"))
    }
}
