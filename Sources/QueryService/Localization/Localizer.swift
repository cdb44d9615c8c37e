import Foundation

/// What a page says, in one language: messages from that language's catalogue, and dates and
/// times in the deployment's time zone with the zone shown.
///
/// ```swift
/// let t = Localizer(.albanian, timeZone: "Europe/Belgrade")
/// t("board.title")                            // "Afatet në të gjitha institucionet"
/// t("table.shown", ["n": "3"])               // placeholders filled in
/// t.dateTime(date)                            // "6.12.2026 14:02 CET"
/// ```
struct Localizer: Sendable {
    let language: Language
    let timeZone: TimeZone
    let catalogue: MessageCatalogue
    /// The published rulesets' own titles per language (the ruleset file's `titles`).
    var ruleTitles = RulesetTitles()

    init(_ language: Language, timeZone: String) {
        self.language = language
        self.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")!
        self.catalogue = MessageCatalogue.builtIn[language]!
    }

    /// The message for `key` with its `{placeholders}` filled in. A key missing from the
    /// catalogue (the tests keep that from happening) shows the key itself, never another language.
    func callAsFunction(_ key: String, _ arguments: KeyValuePairs<String, String> = [:]) -> String {
        var text = catalogue.messages[key] ?? key
        for (name, value) in arguments {
            text = text.replacingOccurrences(of: "{\(name)}", with: value)
        }
        return text
    }

    /// The message for `key`, or nil when the catalogue has none (for open vocabularies such as
    /// rule ids of a custom ruleset).
    func optional(_ key: String) -> String? { catalogue.messages[key] }

    /// An enumeration value's label (`prefix.rawValue`), or the raw value when the catalogue has
    /// none (a value from a newer vocabulary shows as its code rather than breaking the page).
    func code(_ prefix: String, _ raw: String) -> String { optional(prefix + "." + raw) ?? raw }

    // MARK: - Dates and times

    /// `6 Dec 2026, 14:02 CET` (en), `6.12.2026 14:02 CET` (sq), `6. 12. 2026. 14:02 CET` (sr).
    func dateTime(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        let (year, month, day) = (c.year!, c.month!, c.day!)
        let clock = Self.pad(c.hour!) + ":" + Self.pad(c.minute!) + " " + zoneLabel(date)
        switch language {
        case .english: return "\(day) \(Self.englishMonths[month - 1]) \(year), \(clock)"
        case .albanian: return "\(day).\(month).\(year) \(clock)"
        case .serbianLatin, .serbianCyrillic: return "\(day). \(month). \(year). \(clock)"
        }
    }

    /// The zone as people read it: `CET`/`CEST` in the zones of Central European Time (the
    /// system's own abbreviation for them is `GMT+1` on Linux), else the system's abbreviation
    /// where it is in letters, else the offset (`UTC+1`, `UTC+5:30`).
    func zoneLabel(_ date: Date) -> String {
        if timeZone.identifier == "UTC" || timeZone.identifier == "GMT" { return "UTC" }
        if Self.centralEuropean.contains(timeZone.identifier) {
            switch timeZone.secondsFromGMT(for: date) {
            case 3600: return "CET"
            case 7200: return "CEST"
            default: break
            }
        }
        if let abbreviation = timeZone.abbreviation(for: date), (2...5).contains(abbreviation.count),
            abbreviation.allSatisfy({ $0.isASCII && $0.isLetter && $0.isUppercase })
        {
            return abbreviation
        }
        let seconds = timeZone.secondsFromGMT(for: date)
        if seconds == 0 { return "UTC" }
        let minutes = abs(seconds) / 60
        return "UTC" + (seconds < 0 ? "−" : "+") + String(minutes / 60)
            + (minutes % 60 == 0 ? "" : ":" + Self.pad(minutes % 60))
    }

    /// "in 3 d 4 h", "5 h 10 min ago", in the page's language.
    func relative(_ date: Date, now: Date) -> String {
        let seconds = date.timeIntervalSince(now)
        let total = Int(abs(seconds))
        let span: String
        if total >= 86_400 {
            span =
                self("unit.days", ["n": String(total / 86_400)]) + " "
                + self("unit.hours", ["n": String(total % 86_400 / 3600)])
        } else if total >= 3600 {
            span =
                self("unit.hours", ["n": String(total / 3600)]) + " "
                + self("unit.minutes", ["n": String(total % 3600 / 60)])
        } else {
            span = self("unit.minutes", ["n": String(max(1, total / 60))])
        }
        return self(seconds < 0 ? "relative.past" : "relative.future", ["span": span])
    }

    /// The zones that keep Central European Time (CET, CEST in summer): Kosovo's (IANA names it
    /// `Europe/Belgrade`) and its neighbours'.
    static let centralEuropean: Set<String> = [
        "Europe/Belgrade", "Europe/Tirane", "Europe/Skopje", "Europe/Podgorica", "Europe/Sarajevo", "Europe/Zagreb",
        "Europe/Ljubljana", "Europe/Budapest", "Europe/Vienna", "Europe/Berlin", "Europe/Rome", "Europe/Paris",
        "Europe/Madrid", "Europe/Amsterdam", "Europe/Brussels", "Europe/Prague", "Europe/Warsaw", "CET",
    ]

    static let englishMonths = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    private static func pad(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}

extension Localizer {
    /// The message for `key` as HTML: the message's text escaped, its placeholders filled with
    /// markup (`t.html("board.tileOverdue", ["n": "<span class=\"n\">3</span>"])`). Text arguments
    /// go through `HTML`'s interpolation first, so they are escaped like any other text.
    func html(_ key: String, _ arguments: KeyValuePairs<String, HTML> = [:]) -> HTML {
        var text = HTML.escape(catalogue.messages[key] ?? key)
        for (name, value) in arguments {
            text = text.replacingOccurrences(of: "{\(name)}", with: value.text)
        }
        return HTML(stringLiteral: text)
    }
}
