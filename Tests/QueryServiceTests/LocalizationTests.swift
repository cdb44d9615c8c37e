import Foundation
import HTTP
import Referrals
import Testing

@testable import QueryService

/// The message catalogues, the language choice and the local dates, without I/O.
@Suite("Localization")
struct LocalizationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// Every catalogue file, parts included (`report.sq` for `Catalogues/report.sq.json`).
    static let files: [String] = {
        let names =
            (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Catalogues").path))
        return (names ?? []).filter { $0.hasSuffix(".json") }.map { String($0.dropLast(".json".count)) }.sorted()
    }()

    static func file(_ name: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent("Catalogues/\(name).json"), encoding: .utf8)
    }

    static func catalogue(_ language: Language) -> MessageCatalogue { MessageCatalogue.builtIn[language]! }

    // MARK: - The catalogues

    @Test func embeddedCataloguesAreTheFilesByteForByte() throws {
        for name in Self.files {
            #expect(
                try Self.file(name) == EmbeddedCatalogues.files[name],
                "Catalogues/\(name).json changed: run scripts/embed-catalogues")
        }
        #expect(Set(EmbeddedCatalogues.files.keys) == Set(Self.files))
    }

    @Test func aLanguagesPartsMergeAndAKeyDefinedTwiceIsRefused() throws {
        #expect(Self.files.contains("en") && Self.files.contains("sq") && Self.files.contains("sr-Latn"))
        func file(_ language: String, _ messages: String, reviewed: Bool = true) -> String {
            #"{"language":"\#(language)","reviewed":\#(reviewed),"messages":{\#(messages)}}"#
        }
        let merged = try MessageCatalogue.merged(
            [
                "sq": file("sq", #""a":"A""#), "x.sq": file("sq", #""b":"B""#, reviewed: false),
                "x.en": file("en", #""c":"C""#),
            ],
            name: "sq")
        #expect(merged.messages == ["a": "A", "b": "B"])
        #expect(!merged.reviewed)
        #expect(throws: MessageCatalogue.ParseError.self) {
            try MessageCatalogue.merged(["sq": file("sq", #""a":"A""#), "x.sq": file("sq", #""a":"B""#)], name: "sq")
        }
        #expect(throws: MessageCatalogue.ParseError.self) {
            try MessageCatalogue.merged(["sq": file("sq", #""a":"A""#), "x.sq": file("en", #""b":"B""#)], name: "sq")
        }
    }

    @Test func everyKeyExistsInEveryLanguageAndNoLanguageHasExtraKeys() throws {
        let english = Set(Self.catalogue(.english).messages.keys)
        #expect(english.count > 200)
        for language in Language.allCases {
            let keys = Set(Self.catalogue(language).messages.keys)
            #expect(keys.subtracting(english).isEmpty, "\(language): extra \(keys.subtracting(english).sorted())")
            #expect(english.subtracting(keys).isEmpty, "\(language): missing \(english.subtracting(keys).sorted())")
        }
    }

    @Test func everyMessageIsNonEmptyAndHasTheSamePlaceholdersInEveryLanguage() {
        let english = Self.catalogue(.english).messages
        for language in Language.allCases {
            for (key, text) in Self.catalogue(language).messages {
                #expect(!text.trimmingCharacters(in: .whitespaces).isEmpty, "\(language) \(key)")
                #expect(
                    MessageCatalogue.placeholders(text) == MessageCatalogue.placeholders(english[key] ?? ""),
                    "\(language) \(key)")
            }
        }
    }

    @Test func translationsAreMarkedUnreviewedUntilAPractitionerReviewsThem() throws {
        #expect(Self.catalogue(.english).reviewed)  // the source language
        for language in [Language.albanian, .serbianLatin, .serbianCyrillic] {
            #expect(!Self.catalogue(language).reviewed, "\(language)")
        }
        for name in Self.files where name != "en" && !name.hasSuffix(".en") {
            #expect(try Self.file(name).contains("\"note\": \"UNREVIEWED"), "\(name)")
        }
        // The glossary says the same, term by term.
        let glossary = try String(contentsOf: Self.root.appendingPathComponent("docs/glossary.md"), encoding: .utf8)
        #expect(glossary.contains("UNREVIEWED"))
        #expect(!glossary.lowercased().contains("| reviewed |"))
    }

    @Test func aCatalogueThatIsNotTheDocumentedShapeIsRefused() {
        for text in [
            "", "[]", #"{"language":"sq","reviewed":false}"#, #"{"language":"sq","reviewed":"no","messages":{}}"#,
            #"{"language":"sq","reviewed":false,"messages":{"a":1}}"#,
            #"{"language":"sq","reviewed":false,"messages":{"a":"x","a":"y"}}"#,
        ] {
            #expect(throws: MessageCatalogue.ParseError.self, "\(text)") { try MessageCatalogue.parse(text) }
        }
    }

    /// Every key the dashboard's code names literally (`t("…")`, `t.html("…")`) is in the catalogue.
    @Test func everyKeyTheDashboardCodeUsesIsInTheCatalogue() throws {
        let folder = Self.root.appendingPathComponent("Sources/QueryService/Dashboard")
        let english = Self.catalogue(.english).messages
        var used: Set<String> = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".swift") {
            let source = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            for pattern in [#"t\("([a-zA-Z.\-]+)""#, #"t\.html\("([a-zA-Z.\-]+)""#, #"\.t\("([a-zA-Z.\-]+)""#] {
                let regex = try NSRegularExpression(pattern: pattern)
                for match in regex.matches(in: source, range: NSRange(source.startIndex..., in: source)) {
                    used.insert(String(source[Range(match.range(at: 1), in: source)!]))
                }
            }
        }
        #expect(used.count > 100)
        let keyLike = used.filter { $0.contains(".") && !$0.hasSuffix(".") }
        #expect(keyLike.filter { english[$0] == nil }.isEmpty, "\(keyLike.filter { english[$0] == nil }.sorted())")
    }

    /// Every value of the vocabularies a page shows has a label in every language.
    @Test func everyStatusReasonCodeEventTypeRuleAndInstitutionHasAMessage() {
        var keys: [String] = []
        keys += DeadlineFilter.Status.allCases.map { "status." + $0.rawValue }
        keys += DeadlineBoard.StatusChoice.allCases.map { "choice." + $0.rawValue }
        keys += DeadlineBoard.SortKey.allCases.map { "sortKey." + $0.rawValue }
        keys += CaseEventType.allCases.map { "event." + $0.rawValue }
        keys += SystemEventType.allCases.map { "event." + $0.rawValue }
        keys += ["open", "closed"].map { "caseStatus." + $0 }
        keys += IdentificationStatus.allCases.map { "identification." + $0.rawValue }
        keys += RiskLevel.allCases.map { "risk." + $0.rawValue }
        keys += ReferralPurpose.allCases.map { "purpose." + $0.rawValue }
        keys += ConsentPurpose.allCases.map { "purpose." + $0.rawValue }
        keys += Urgency.allCases.map { "urgency." + $0.rawValue }
        keys += ReferralStatus.allCases.map { "referral.status." + $0.rawValue }
        keys += DeclineReason.allCases.map { "decline." + $0.rawValue }
        keys += CompletionOutcome.allCases.map { "completion." + $0.rawValue }
        keys += ReflectionOutcome.allCases.map { "reflection." + $0.rawValue }
        keys += ClosureReason.allCases.map { "closure." + $0.rawValue }
        keys += ReopenReason.allCases.map { "reopen." + $0.rawValue }
        keys += CorrectionReason.allCases.map { "correction." + $0.rawValue }
        keys += ConsentOverrideReason.allCases.map { "consentOverride." + $0.rawValue }
        keys += Ruleset.kosovoDefault.rules.map { "rule." + $0.id }
        keys += Institution.demo.map { "institution." + $0.id }
        keys += ["coordinator", "auditor", "institution", "metrics"].map { "roleName." + $0 }
        keys += ["400", "401", "403", "404", "503", "other"].flatMap { ["error.title." + $0, "error.message." + $0] }
        for language in Language.allCases {
            let messages = Self.catalogue(language).messages
            #expect(keys.filter { messages[$0] == nil }.isEmpty, "\(language): \(keys.filter { messages[$0] == nil })")
        }
    }

    @Test func aMissingKeyShowsTheKeyNeverAnotherLanguage() {
        let t = Localizer(.albanian, timeZone: "Europe/Belgrade")
        #expect(t("no.such.key") == "no.such.key")
        #expect(t.optional("rule.custom-rule") == nil)
        #expect(DashboardLayout.ruleTitle("custom-rule", fallback: "Custom", t) == "Custom")
        #expect(t.code("purpose", "from-a-newer-vocabulary") == "from-a-newer-vocabulary")
        #expect(DashboardLayout.institutionName("role:shelter", t) == "role:shelter")
        #expect(DashboardLayout.institutionName("opav", t) == "Zyra për Mbrojtje dhe Ndihmë Viktimave")
    }

    @Test func htmlMessagesEscapeTheirTextAndInsertOnlyMarkupArguments() {
        let t = Localizer(.english, timeZone: "UTC")
        let html = t.html("compliance.suppressed")
        #expect(html.text == "Counts under 5 are shown as &lt;5.")
        let user = "<b>x</b>"
        let signed = t.html("layout.signedIn", ["user": "<strong>\(user)</strong>", "role": "\(user)"])
        #expect(signed.text == "Signed in as <strong>&lt;b&gt;x&lt;/b&gt;</strong> (&lt;b&gt;x&lt;/b&gt;)")
    }

    // MARK: - Serbian scripts

    @Test func serbianLatinBecomesCyrillicLetterForLetterWithItsDigraphs() {
        #expect(SerbianScript.cyrillic("Ljubljana njiva džep") == "Љубљана њива џеп")
        #expect(SerbianScript.cyrillic("Ljubav NJEGOŠ Džamija DŽEP") == "Љубав ЊЕГОШ Џамија ЏЕП")
        #expect(SerbianScript.cyrillic("LJUBAV") == "LJUBAV")  // capitals in ASCII only: taken for an acronym
        #expect(SerbianScript.cyrillic("Šđčćž ŠĐČĆŽ") == "Шђчћж ШЂЧЋЖ")
        #expect(SerbianScript.cyrillic("Žrtva trgovine ljudima") == "Жртва трговине људима")
        // Placeholders and capital-letter acronyms stay as they are.
        #expect(SerbianScript.cyrillic("SOP rok {n} za {name}, UTC") == "SOP рок {n} за {name}, UTC")
        #expect(SerbianScript.cyrillic("ǈubav ǋiva ǅep") == "Љубав Њива Џеп")
        #expect(SerbianScript.latin("Љубљана њива џеп ЉУБАВ") == "Ljubljana njiva džep LJUBAV")
    }

    /// The whole Serbian catalogue survives Latin → Cyrillic → Latin, and its Cyrillic has no
    /// Latin letters left but acronyms and placeholders.
    @Test func theSerbianCatalogueRoundTripsThroughCyrillic() {
        let latin = Self.catalogue(.serbianLatin).messages
        let cyrillic = Self.catalogue(.serbianCyrillic).messages
        for (key, text) in latin {
            #expect(SerbianScript.latin(SerbianScript.cyrillic(text)) == text, "\(key)")
            var stripped = cyrillic[key]!
            for name in MessageCatalogue.placeholders(stripped) {
                stripped = stripped.replacingOccurrences(of: "{\(name)}", with: "")
            }
            let words = stripped.split { !$0.isLetter }
            let latinWords = words.filter { word in word.contains { $0.isASCII && $0.isLetter } }
            #expect(latinWords.allSatisfy { $0.allSatisfy(\.isUppercase) }, "\(key): \(latinWords)")
        }
    }

    // MARK: - Choosing the language

    @Test func acceptLanguageIsParsedWithItsQualities() {
        typealias C = LanguageChoice
        #expect(C.negotiate("sq") == .albanian)
        #expect(C.negotiate("sq-XK,sq;q=0.9") == .albanian)
        #expect(C.negotiate("en-US,en;q=0.9") == .english)
        #expect(C.negotiate("de-DE, en;q=0.5, sq;q=0.8") == .albanian)  // by quality, not order
        #expect(C.negotiate("sr-Cyrl-RS") == .serbianCyrillic)
        #expect(C.negotiate("sr-RS, sr;q=0.9") == .serbianLatin)
        #expect(C.negotiate("SR-LATN") == .serbianLatin)
        #expect(C.negotiate("en;q=0.5, sr-Latn;q=0.5") == .english)  // ties: the order given
        #expect(C.negotiate("sq;q=0, en;q=0.1") == .english)  // q=0: not this one
        #expect(C.negotiate("sq;q=0") == nil)
        #expect(C.negotiate("de, fr;q=0.9") == nil)
        #expect(C.negotiate("*") == nil)  // the deployment's default decides
        #expect(C.negotiate("") == nil)
        // Malformed entries are skipped, the rest still counts.
        #expect(C.negotiate("sq;q=2, en") == .english)
        #expect(C.negotiate("sq;q=0.5000, en;q=0.1") == .english)
        #expect(C.negotiate("sq;q=abc, en;q=0.1") == .english)
        #expect(C.negotiate("s<q>, en;q=0.1") == .english)
        #expect(C.negotiate("sq;foo=bar, en;q=0.1") == .english)
        #expect(C.negotiate(";;;,,,==") == nil)
        #expect(C.negotiate(String(repeating: "xx,", count: 10_000) + "sq") == nil)  // bounded: 32 entries
        #expect(C.quality("0.5") == 500 && C.quality("1.000") == 1000 && C.quality("1.001") == nil)
        #expect(C.quality("0.") == nil && C.quality(".5") == nil && C.quality("1") == 1000)
    }

    @Test func theSwitchBeatsTheCookieWhichBeatsTheBrowserWhichBeatsTheDefault() {
        typealias C = LanguageChoice
        let all = C.choose(query: "sr-Cyrl", cookie: "en", acceptLanguage: "sq", fallback: .english)
        #expect(all == C(language: .serbianCyrillic, source: .query))
        #expect(
            C.choose(query: nil, cookie: "en", acceptLanguage: "sq", fallback: .albanian)
                == C(language: .english, source: .cookie))
        #expect(
            C.choose(query: nil, cookie: nil, acceptLanguage: "sr;q=0.8, de", fallback: .english)
                == C(language: .serbianLatin, source: .acceptLanguage))
        #expect(
            C.choose(query: nil, cookie: nil, acceptLanguage: "de", fallback: .albanian)
                == C(language: .albanian, source: .deploymentDefault))
        // An unknown code is passed over, and said.
        #expect(
            C.choose(query: "xx", cookie: nil, acceptLanguage: "en", fallback: .albanian)
                == C(language: .english, source: .acceptLanguage, unknownRequested: true))
        #expect(
            C.choose(query: "<script>", cookie: "klingon", acceptLanguage: nil, fallback: .albanian)
                == C(language: .albanian, source: .deploymentDefault, unknownRequested: true))
        #expect(Language(tag: "SQ") == .albanian && Language(tag: "sr") == nil && Language(tag: "") == nil)
    }

    @Test func theSwitchLinksKeepThePageQueryAndNeverAnotherPath() {
        var request = HTTPRequest(method: .GET, target: "//evil.example/x?status=overdue&lang=en&rule=a%20b")
        request.headers.add(name: "Accept-Language", value: "sq")
        let locale = PageLocale(request, defaultLanguage: .english, timeZone: "Europe/Belgrade")
        #expect(locale.t.language == .english)
        #expect(locale.switchTarget(.albanian) == "?status=overdue&rule=a%20b&lang=sq")
        #expect(locale.headers["Set-Cookie"]?.hasPrefix("handoff_lang=en; Path=/;") == true)
        #expect(locale.languageSwitch.text.contains("aria-current=\"true\">English</a>"))
    }

    // MARK: - Dates and times

    @Test func datesAreInTheDeploymentsZoneWithTheZoneShownInEachLanguagesConvention() {
        let winter = Timestamp.parse("2026-12-06T13:02:00Z")!  // 14:02 in Belgrade (UTC+1)
        let summer = Timestamp.parse("2026-07-01T22:30:00Z")!  // 00:30 the next day (UTC+2)
        let zone = "Europe/Belgrade"
        let en = Localizer(.english, timeZone: zone)
        let winterZone = en.zoneLabel(winter)
        let summerZone = en.zoneLabel(summer)
        #expect(winterZone == "CET")
        #expect(summerZone == "CEST")
        #expect(Localizer(.english, timeZone: "Asia/Kolkata").zoneLabel(winter) == "UTC+5:30")
        #expect(en.dateTime(winter) == "6 Dec 2026, 14:02 \(winterZone)")
        #expect(Localizer(.albanian, timeZone: zone).dateTime(winter) == "6.12.2026 14:02 \(winterZone)")
        #expect(Localizer(.serbianLatin, timeZone: zone).dateTime(winter) == "6. 12. 2026. 14:02 \(winterZone)")
        #expect(Localizer(.serbianCyrillic, timeZone: zone).dateTime(summer) == "2. 7. 2026. 00:30 \(summerZone)")
        #expect(Localizer(.albanian, timeZone: "UTC").dateTime(winter) == "6.12.2026 13:02 UTC")
        // An unknown zone name falls back to UTC rather than failing a page.
        #expect(Localizer(.albanian, timeZone: "Nowhere/Else").dateTime(winter) == "6.12.2026 13:02 UTC")
        let now = winter
        #expect(en.relative(now.addingTimeInterval(3 * 86_400 + 4 * 3600), now: now) == "in 3 d 4 h")
        #expect(
            Localizer(.albanian, timeZone: zone).relative(now.addingTimeInterval(-3600 * 5 - 600), now: now)
                == "5 orë 10 min më parë")
        #expect(Localizer(.serbianLatin, timeZone: zone).relative(now.addingTimeInterval(30), now: now) == "za 1 min")
    }
}
