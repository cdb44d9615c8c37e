import Foundation
import Projections
import Referrals

/// Every text of the annual report in one language, from the message catalogues
/// (`Catalogues/report.<lang>.json`, keys `annual.…`, merged with the dashboard's own catalogue),
/// with numbers and dates in that language's conventions.
///
/// Labels of codes the dashboard already names (purposes, decline and closure reasons, consent
/// overrides, reflection outcomes, institutions, rules) come from the dashboard's keys, so each
/// code has one label; a rule's title comes from its ruleset when the ruleset has one for the
/// language (``RulesetTitles``). A code nobody names (a country code, a custom institution id) is
/// shown as it is.
///
/// ```swift
/// let m = ReportMessages(language: .albanian)
/// m["section.victims"]          // "Viktimat"
/// m.integer(12_345)             // "12 345"
/// m.label("shelter", in: "dimension.purpose")
/// ```
public struct ReportMessages: Sendable {
    /// The languages the report is written in (`?lang=`, `--lang`): every ``Language``.
    public static let languages = Language.allCases

    /// The language used.
    public var language: Language { t.language }
    private(set) var t: Localizer
    /// Per-language titles the published rulesets give their rules and themselves.
    var titles: RulesetTitles { t.ruleTitles }

    /// - Parameters:
    ///   - language: the report's language.
    ///   - timeZone: the zone dates are shown in (the deployment's).
    ///   - titles: the rulesets' own titles per language (see ``RulesetTitles``).
    public init(
        language: Language = .english, timeZone: String = "Europe/Belgrade", titles: RulesetTitles = RulesetTitles()
    ) {
        t = Localizer(language, timeZone: timeZone)
        t.ruleTitles = titles
    }

    /// The text of `key` (without its `annual.` prefix).
    public subscript(_ key: String) -> String { t("annual." + key) }

    /// The text of `key` with each `{name}` replaced by `values[name]`.
    public func format(_ key: String, _ values: [String: String]) -> String {
        var text = self[key]
        for (name, value) in values { text = text.replacingOccurrences(of: "{\(name)}", with: value) }
        return text
    }

    /// The label of a row or column code in a dimension (`dimension.sex`), or the code itself.
    public func label(_ code: String, in dimension: String) -> String {
        if code == "total" { return self["value.total"] }
        let dim = dimension.hasPrefix("dimension.") ? String(dimension.dropFirst("dimension.".count)) : dimension
        // A table's own values first (its columns: `issued`, `met`, …), then the row vocabulary.
        if let text = t.optional("annual.value.\(dim).\(code)") ?? t.optional("annual.value.\(code)") { return text }
        let shared = [
            "purpose": "purpose", "declineReason": "decline", "closureReason": "closure",
            "overrideReason": "consentOverride", "reflectionOutcome": "reflection",
        ]
        if let prefix = shared[dim], let text = t.optional(prefix + "." + code) { return capitalized(text) }
        switch dim {
        case "institution", "responsible": return DashboardLayout.institutionName(code, t)
        case "rule": return ruleTitle(code)
        default: return code
        }
    }

    /// A rule's title as the dashboard gives it (``DashboardLayout/ruleTitle(_:fallback:_:)``), else the id.
    public func ruleTitle(_ ruleId: String) -> String { DashboardLayout.ruleTitle(ruleId, fallback: ruleId, t) }

    /// A ruleset's title in this language, else its English title.
    public func rulesetTitle(_ ruleset: AnnualReport.RulesetInForce) -> String {
        titles.ruleset(ruleset.rulesetId, version: ruleset.version, in: language.tag) ?? ruleset.title
    }

    private func capitalized(_ text: String) -> String { text.prefix(1).uppercased() + text.dropFirst() }

    // MARK: - Numbers and dates

    /// A count with the language's digit grouping (`12,345`, `12 345`, `12.345`).
    public func integer(_ n: Int) -> String { t.integer(n) }

    /// A signed change (`+12`, `−3`, `0`).
    public func change(_ n: Int) -> String { n > 0 ? "+" + t.integer(n) : n < 0 ? "−" + t.integer(-n) : "0" }

    /// A decimal with `digits` fraction digits in the language's notation (`12.5`, `12,5`).
    public func decimal(_ d: Double, digits: Int = 1) -> String { t.decimal(d, digits: digits) }

    /// A share as a whole percentage (`81%` in all three languages).
    public func percent(_ share: Double) -> String { t.percent(share) }

    /// An instant in the deployment's zone with the zone shown, in the language's conventions.
    public func dateTime(_ date: Date) -> String { t.dateTime(date) }

    /// A calendar date given as `YYYY-MM-DD`, in the language's conventions; the text itself when
    /// it is not one.
    public func date(iso text: String) -> String {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return text }
        return t.date(year: parts[0], month: parts[1], day: parts[2])
    }
}
