/// A language the dashboard speaks, by its BCP 47 tag (what `<html lang>` and `?lang=` carry).
///
/// Albanian and Serbian are Kosovo's official languages (Constitution, Art. 5); English is the
/// third language of government texts. Serbian Cyrillic is not a catalogue of its own: it is the
/// Serbian Latin catalogue transliterated by ``SerbianScript/cyrillic(_:)``.
public enum Language: String, Sendable, Hashable, CaseIterable {
    case albanian = "sq"
    case serbianLatin = "sr-Latn"
    case serbianCyrillic = "sr-Cyrl"
    case english = "en"

    /// The language for a tag as `?lang=`, the cookie or `--default-lang` give it: one of the four
    /// tags, compared without regard to case (`sr-latn` is `sr-Latn`); nil for anything else.
    public init?(tag: String) {
        let lowered = tag.lowercased()
        guard let match = Language.allCases.first(where: { $0.rawValue.lowercased() == lowered }) else { return nil }
        self = match
    }

    /// The BCP 47 tag, for `<html lang>`, `hreflang` and the cookie.
    public var tag: String { rawValue }

    /// The language's name in itself, as the language switch shows it (a proper name: the same
    /// in every catalogue).
    public var nativeName: String {
        switch self {
        case .albanian: "Shqip"
        case .serbianLatin: "Srpski (latinica)"
        case .serbianCyrillic: "Српски (ћирилица)"
        case .english: "English"
        }
    }

    /// The catalogue file the messages come from (`Catalogues/<name>.json`).
    var catalogueName: String {
        switch self {
        case .albanian: "sq"
        case .serbianLatin, .serbianCyrillic: "sr-Latn"
        case .english: "en"
        }
    }
}
