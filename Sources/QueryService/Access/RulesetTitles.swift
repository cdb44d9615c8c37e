import EventStore
import Foundation
import Referrals

/// The titles published rulesets give themselves and their rules in languages other than
/// English (the ruleset file's optional `titles`), for the report and the dashboard.
public struct RulesetTitles: Sendable, Hashable {
    /// Rule id → language tag → title (the latest published version that has the rule).
    public var rules: [String: [String: String]]
    /// `rulesetId v version` → language tag → title.
    public var rulesets: [String: [String: String]]

    public init(rules: [String: [String: String]] = [:], rulesets: [String: [String: String]] = [:]) {
        self.rules = rules
        self.rulesets = rulesets
    }

    /// The titles of `rulesets` (published versions, any order): a later version's titles win.
    public init(_ published: [Ruleset]) {
        self.init()
        for ruleset in published.sorted(by: { ($0.id, $0.version) < ($1.id, $1.version) }) {
            rulesets["\(ruleset.id) v\(ruleset.version)"] = ruleset.titles.merging(["en": ruleset.title]) { a, _ in a }
            for rule in ruleset.rules {
                rules[rule.id] = rule.titles.merging(["en": rule.title]) { a, _ in a }
            }
        }
    }

    /// The title of rule `ruleId` in `language` (a tag; `sr-Cyrl` is `sr-Latn` transliterated).
    public func rule(_ ruleId: String, in language: String) -> String? { lookup(rules[ruleId], language) }

    /// The title of a ruleset version in `language`.
    public func ruleset(_ id: String, version: Int, in language: String) -> String? {
        lookup(rulesets["\(id) v\(version)"], language)
    }

    private func lookup(_ titles: [String: String]?, _ language: String) -> String? {
        guard let titles else { return nil }
        if let title = titles[language] { return title }
        if language == Language.serbianCyrillic.tag, let latin = titles[Language.serbianLatin.tag] {
            return SerbianScript.cyrillic(latin)
        }
        return nil
    }
}

extension RulesetTitles {
    /// The titles of every ruleset published in `store` (its `sop-rulesets` stream, a few events).
    public static func published(in store: EventStore) async throws -> RulesetTitles {
        RulesetTitles(try await RulesetRegistry(store: store).current())
    }
}
