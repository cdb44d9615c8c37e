import EventStore
import Foundation
import HTTP
import HandoffTestSupport
import Referrals
import Testing

@testable import QueryService

/// The annual report in each language: no English outside the catalogue, `<html lang>`, numbers
/// and dates in the language's conventions, the language chosen as the dashboard chooses it, an
/// unknown `lang` refused with a page that says which languages there are; and rule titles from
/// the published ruleset.
@Suite("Annual report languages", .serialized)
struct AnnualReportLanguageTests {
    static var year: Int { Timestamp.year(of: Date().addingTimeInterval(-21 * 86_400), timeZone: "Europe/Belgrade") }

    static func lang(_ reply: Reply) -> String? {
        guard let start = reply.text.range(of: "<html lang=\""),
            let end = reply.text[start.upperBound...].firstIndex(of: "\"")
        else { return nil }
        return String(reply.text[start.upperBound..<end])
    }

    @Test func theReportWritesNoEnglishOutsideTheCatalogueInAnyLanguage() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await DashboardTests.seedCases(h)
        for language in [Language.albanian, .serbianLatin, .serbianCyrillic] {
            for who in ["natc", "audit"] {
                let reply = try await DashboardTests.page(
                    h.api, "/reports/annual?year=\(Self.year)&lang=\(language.tag)", token: h.token(who))
                #expect(reply.status == 200)
                #expect(Self.lang(reply) == language.tag)
                let text = DashboardLanguageTests.visibleText(reply.text)
                let leaks = DashboardLanguageTests.englishLeaks(in: text, language: language)
                #expect(leaks.isEmpty, "\(language) as \(who): \(leaks)")
                // Every heading and caption came from the catalogue of the language.
                let m = ReportMessages(language: language)
                #expect(text.contains(m["report.title"]) && text.contains(m["section.methods"]))
                #expect(text.contains(m["table.victims-by-sex"]) && text.contains(m["chart.exploitation"]))
                // The rule titles are the ruleset's own (version 4 of the default carries them).
                let risk = try #require(Ruleset.kosovoDefault.rule("risk-assessed"))
                let expected =
                    language == .serbianCyrillic
                    ? SerbianScript.cyrillic(risk.titles["sr-Latn"]!) : risk.titles[language.tag]!
                #expect(text.contains(expected), "\(language): \(expected)")
            }
        }
        // The check itself sees English where there is some: the English report, read as Albanian.
        let english = try await DashboardTests.page(
            h.api, "/reports/annual?year=\(Self.year)&lang=en", token: h.token("natc"))
        #expect(Self.lang(english) == "en")
        #expect(
            !DashboardLanguageTests.englishLeaks(
                in: DashboardLanguageTests.visibleText(english.text), language: .albanian
            ).isEmpty)
    }

    @Test func withoutLangTheReportFollowsTheDashboardsChoiceAndAnUnknownLangIsRefused() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await DashboardTests.seedCases(h)
        let session = try #require(try await DashboardTests.signIn(h.api, token: h.token("natc")))
        let target = "/reports/annual?year=\(Self.year)"
        // The browser's preference, then the remembered switch, then ?lang= itself.
        var reply = try await h.api.request(
            "GET", target, headers: [DashboardTests.cookie(session), ("Accept-Language", "sr-Latn-RS, en;q=0.5")])
        #expect(reply.status == 200 && Self.lang(reply) == "sr-Latn")
        reply = try await h.api.request(
            "GET", target,
            headers: [("Cookie", "handoff_lang=sq; handoff_session=\(session)"), ("Accept-Language", "en")])
        #expect(reply.status == 200 && Self.lang(reply) == "sq")
        reply = try await h.api.request(
            "GET", target + "&lang=sr-Cyrl", headers: [DashboardTests.cookie(session), ("Accept-Language", "sq")])
        #expect(reply.status == 200 && Self.lang(reply) == "sr-Cyrl")
        #expect(reply.text.contains(SerbianScript.cyrillic(ReportMessages(language: .serbianLatin)["report.title"])))
        // Each language links to the others (screen only).
        for language in Language.allCases {
            #expect(reply.text.contains("href=\"?year=\(Self.year)&amp;lang=\(language.tag)\""))
        }
        // An unknown language: 400, a page in the person's language naming the languages there are.
        for bad in ["de", "xx-YY", "%3Cscript%3E", "sr", "", String(repeating: "q", count: 300)] {
            let refused = try await h.api.request(
                "GET", target + "&lang=" + bad, headers: [DashboardTests.cookie(session), ("Accept-Language", "sq")])
            #expect(refused.status == 400, "\(bad.prefix(12))")
            #expect(Self.lang(refused) == "sq", "\(bad.prefix(12))")
            #expect(refused.text.contains("id=\"report-error\""), "\(bad.prefix(12))")
            #expect(
                refused.text.contains("en, sq, sr-Latn, sr-Cyrl") || refused.text.contains("sq, sr-Latn, sr-Cyrl, en"))
            #expect(refused.text.contains("Raporti nuk është në dispozicion"), "\(bad.prefix(12))")
            #expect(!refused.text.contains("<script>"))
            #expect(!refused.text.contains("id=\"table-cases-by-identification\""))
        }
        // A bad year says what a year looks like, in the person's language.
        let year = try await h.api.request(
            "GET", "/reports/annual?year=20x6&lang=sr-Latn", headers: [DashboardTests.cookie(session)])
        #expect(year.status == 400 && Self.lang(year) == "sr-Latn")
        #expect(year.text.contains("Navedite godinu izveštaja"))
    }

    /// A ruleset published with new titles: the dashboard and the report show them (the
    /// registry refreshes within its interval; polled with a deadline, never a fixed sleep).
    @Test func aPublishedRulesetsTitlesReachTheDashboardAndTheReport() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await DashboardTests.seedCases(h)
        var document = try JSONValue.parse(Ruleset.kosovoDefaultJSON)
        var rules = document["rules"]!.arrayValue!
        var risk = rules[3].objectValue!
        #expect(risk["id"] == "risk-assessed")
        risk["titles"] = ["sq": "Rreziku vlerësohet (titull i ri)", "sr-Latn": "Rizik se procenjuje (novi naslov)"]
        rules[3] = .object(risk)
        document = document.merging(["version": .int(Ruleset.kosovoDefault.version + 1), "rules": .array(rules)])
        _ = try await h.store.append(
            to: .sopRulesets,
            events: [
                NewEvent(
                    type: "SopRulesetPublished", data: document.serializedString(),
                    metadata: EventMetadata(actor: EventActor(institution: "natc", user: "setup")))
            ])
        let session = try #require(try await DashboardTests.signIn(h.api, token: h.token("natc")))
        let deadline = Date().addingTimeInterval(20)
        var board = ""
        while Date() < deadline {
            board = try await h.api.request("GET", "/?status=all&lang=sq", headers: [DashboardTests.cookie(session)])
                .text
            if board.contains("Rreziku vlerësohet (titull i ri)") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(board.contains("Rreziku vlerësohet (titull i ri)"))
        let cyrillic = try await h.api.request(
            "GET", "/?status=all&lang=sr-Cyrl", headers: [DashboardTests.cookie(session)])
        #expect(cyrillic.text.contains(SerbianScript.cyrillic("Rizik se procenjuje (novi naslov)")))
        let report = try await h.api.request(
            "GET", "/reports/annual?year=\(Self.year)&lang=sq", headers: [DashboardTests.cookie(session)])
        #expect(report.text.contains("Rreziku vlerësohet (titull i ri)"))
    }

    /// Counts, decimals and dates as each language writes them (CLDR).
    @Test func numbersAndDatesFollowTheLanguage() {
        let en = ReportMessages(language: .english)
        let sq = ReportMessages(language: .albanian)
        let sr = ReportMessages(language: .serbianLatin)
        #expect(en.integer(4) == "4" && en.integer(1234) == "1,234" && en.integer(50_000) == "50,000")
        #expect(sq.integer(1234) == "1234" && sq.integer(50_000) == "50\u{00A0}000")
        #expect(sq.integer(1_234_567) == "1\u{00A0}234\u{00A0}567")
        #expect(sr.integer(1234) == "1.234" && sr.integer(50_000) == "50.000")
        #expect(en.change(1234) == "+1,234" && sr.change(-1234) == "−1.234" && sq.change(0) == "0")
        #expect(en.decimal(12.25) == "12.2" || en.decimal(12.25) == "12.3")
        #expect(en.decimal(1234.5) == "1,234.5" && sq.decimal(12.5) == "12,5" && sr.decimal(1234.5) == "1.234,5")
        #expect(en.percent(0.8125) == "81%" && sq.percent(1) == "100%")
        #expect(en.date(iso: "2014-01-01") == "1 Jan 2014")
        #expect(sq.date(iso: "2014-01-01") == "1.1.2014")
        #expect(sr.date(iso: "2014-01-01") == "1. 1. 2014.")
        let midnight = Timestamp.parse("2025-12-31T23:00:00Z")!
        #expect(sq.dateTime(midnight) == "1.1.2026 00:00 CET")
        #expect(en.dateTime(midnight) == "1 Jan 2026, 00:00 CET")
    }

    /// Which title a rule gets: the published ruleset's in the language, else the catalogue's,
    /// else the ruleset's English one (docs/rulesets.md).
    @Test func aRulesTitleComesFromItsRulesetThenTheCatalogueThenEnglish() throws {
        var document = try JSONValue.parse(Ruleset.kosovoDefaultJSON)
        var rules = document["rules"]!.arrayValue!
        var risk = rules[3].objectValue!
        risk["titles"] = ["sq": "Vlerësohet rreziku (titulli i rregullave)"]
        rules[3] = .object(risk)
        var pilot = risk
        pilot["id"] = "pilot-check"
        pilot["title"] = "Pilot check"
        pilot["titles"] = ["sr-Latn": "Pilot provera"]
        rules.append(.object(pilot))
        document = document.merging(["version": .int(Ruleset.kosovoDefault.version + 1), "rules": .array(rules)])
        let titles = RulesetTitles([Ruleset.kosovoDefault, try Ruleset.load(document)])
        let sq = ReportMessages(language: .albanian, titles: titles)
        let sr = ReportMessages(language: .serbianCyrillic, titles: titles)
        let en = ReportMessages(language: .english, titles: titles)
        // The ruleset's own title wins over the catalogue's.
        #expect(sq.ruleTitle("risk-assessed") == "Vlerësohet rreziku (titulli i rregullave)")
        // A ruleset without a title in the language: the catalogue's, then the English title.
        #expect(sr.ruleTitle("risk-assessed") == SerbianScript.cyrillic("Procenjuje se rizik"))
        #expect(sq.ruleTitle("pilot-check") == "Pilot check")
        #expect(sr.ruleTitle("pilot-check") == "Пилот провера")
        #expect(en.ruleTitle("risk-assessed") == "Risk assessed")
        #expect(en.ruleTitle("no-such-rule") == "no-such-rule")
        // The dashboard decides the same way (one function).
        var t = Localizer(.albanian, timeZone: "Europe/Belgrade")
        t.ruleTitles = titles
        #expect(DashboardLayout.ruleTitle("risk-assessed", fallback: "x", t) == sq.ruleTitle("risk-assessed"))
    }
}
