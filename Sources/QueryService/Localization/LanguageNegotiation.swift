import Foundation
import HTTP

/// Which language a dashboard page is in, and why.
///
/// Precedence: a `?lang=` on the request (the switch on every page; it is then remembered in the
/// `handoff_lang` cookie), else that cookie, else the browser's `Accept-Language`, else the
/// deployment's default (`handoff serve --default-lang`). A code that is not one of ours is
/// never an error: it is passed over, and a `?lang=` that was passed over is reported so the
/// page can say so.
public struct LanguageChoice: Sendable, Hashable {
    /// Where the language came from.
    public enum Source: String, Sendable, Hashable {
        case query, cookie, acceptLanguage = "accept-language", deploymentDefault = "default"
    }

    public var language: Language
    public var source: Source
    /// `?lang=` held something other than one of our tags (the page says it is not available).
    public var unknownRequested: Bool

    /// The cookie that remembers a language chosen with the switch.
    public static let cookieName = "handoff_lang"
    /// A year: the choice is a preference, not a secret.
    static let cookieMaxAge = 365 * 24 * 3600
    /// The most `Accept-Language` entries read (a browser sends a handful).
    static let maxAcceptEntries = 32

    public init(language: Language, source: Source, unknownRequested: Bool = false) {
        self.language = language
        self.source = source
        self.unknownRequested = unknownRequested
    }

    /// The choice for `request`, with `fallback` as the deployment's default.
    public static func of(_ request: HTTPRequest, fallback: Language) -> LanguageChoice {
        let header = request.headers.values(for: "Accept-Language").joined(separator: ",")
        return choose(
            query: request.query["lang"], cookie: cookie(in: request), acceptLanguage: header, fallback: fallback)
    }

    /// The rule itself, without a request.
    public static func choose(query: String?, cookie: String?, acceptLanguage: String?, fallback: Language)
        -> LanguageChoice
    {
        var unknown = false
        if let query, !query.isEmpty {
            if let language = Language(tag: query) { return LanguageChoice(language: language, source: .query) }
            unknown = true
        }
        if let cookie, let language = Language(tag: cookie) {
            return LanguageChoice(language: language, source: .cookie, unknownRequested: unknown)
        }
        if let acceptLanguage, let language = negotiate(acceptLanguage) {
            return LanguageChoice(language: language, source: .acceptLanguage, unknownRequested: unknown)
        }
        return LanguageChoice(language: fallback, source: .deploymentDefault, unknownRequested: unknown)
    }

    /// The `Set-Cookie` value that remembers a language chosen with the switch (`Lax`: the choice
    /// should survive following a link from elsewhere; it grants nothing).
    public static func rememberCookie(_ language: Language, secure: Bool) -> String {
        "\(cookieName)=\(language.tag); Path=/; Max-Age=\(cookieMaxAge); HttpOnly; SameSite=Lax"
            + (secure ? "; Secure" : "")
    }

    /// The value of the `handoff_lang` cookie, or nil.
    static func cookie(in request: HTTPRequest) -> String? {
        for header in request.headers.values(for: "Cookie") {
            for pair in header.split(separator: ";") {
                let trimmed = pair.trimmingCharacters(in: .whitespaces)
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<equals] == cookieName { return String(trimmed[trimmed.index(after: equals)...]) }
            }
        }
        return nil
    }

    // MARK: - Accept-Language (RFC 9110 §12.5.4)

    /// The best of our languages for an `Accept-Language` value, or nil when it names none.
    ///
    /// Entries are taken by quality (`q`, 0 to 1, default 1; `q=0` means "not this one"), ties in
    /// the order given. A range matches a language when it is the language's tag or a prefix of
    /// it at a `-` (`sr` matches both Serbian scripts; the Latin one is chosen, as the primary
    /// catalogue), or when the language's tag is a prefix of it (`sq-XK` is Albanian, `en-GB`
    /// English, `sr-Cyrl-RS` Serbian Cyrillic, `sr-RS` Serbian Latin). `*` takes nothing of its
    /// own: the deployment's default decides. Malformed entries are skipped.
    public static func negotiate(_ header: String) -> Language? {
        var ranges: [(range: String, q: Int, order: Int)] = []
        for (order, entry) in header.split(separator: ",").prefix(maxAcceptEntries).enumerated() {
            let parts = entry.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let range = parts.first, isLanguageRange(range) else { continue }
            var q = 1000
            var valid = true
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                guard pair.count == 2, pair[0].lowercased() == "q", let value = quality(pair[1]) else {
                    valid = false
                    break
                }
                q = value
            }
            if valid && q > 0 { ranges.append((range.lowercased(), q, order)) }
        }
        ranges.sort { ($0.q, -$0.order) > ($1.q, -$1.order) }
        for entry in ranges {
            if let language = match(entry.range) { return language }
        }
        return nil
    }

    /// Our language for one range (lower-cased), or nil.
    static func match(_ range: String) -> Language? {
        if range == "*" { return nil }
        let subtags = range.split(separator: "-").map(String.init)
        switch subtags[0] {
        case "sq": return .albanian
        case "en": return .english
        case "sr":
            if subtags.dropFirst().contains("cyrl") { return .serbianCyrillic }
            return .serbianLatin
        default: return nil
        }
    }

    /// `1*8ALPHA *("-" 1*8alphanum)` or `*`.
    static func isLanguageRange(_ text: String) -> Bool {
        if text == "*" { return true }
        let subtags = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = subtags.first, (1...8).contains(first.count),
            first.allSatisfy({ $0.isASCII && $0.isLetter })
        else { return false }
        return subtags.dropFirst().allSatisfy { tag in
            (1...8).contains(tag.count) && tag.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
        }
    }

    /// A qvalue in thousandths: `0`, `0.5`, `0.123`, `1`, `1.000`; nil when malformed.
    static func quality(_ text: String) -> Int? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, whole == "0" || whole == "1" else { return nil }
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= 3, fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        if parts.count == 2 && fraction.isEmpty { return nil }
        fraction += String(repeating: "0", count: 3 - fraction.count)
        let value = (whole == "1" ? 1000 : 0) + Int(fraction)!
        return value <= 1000 ? value : nil
    }
}
