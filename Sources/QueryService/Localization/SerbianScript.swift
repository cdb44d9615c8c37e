/// Serbian Latin ↔ Cyrillic (Vuk's alphabet and Gaj's Latin alphabet), letter for letter.
///
/// The two scripts map one to one, with three Latin digraphs for one Cyrillic letter each
/// (`lj` љ, `nj` њ, `dž` џ). Mechanical transliteration has one known limit: a digraph that
/// spans a morpheme boundary (`nadživeti`, `konjunkcija`) becomes one letter; the catalogue's
/// words are checked for that by the round-trip test, and a native speaker reviews the result.
///
/// Left as they are: text in `{…}` (a message's placeholders) and words written in capitals
/// only (international acronyms such as `SOP`, `UTC`, `CET`, `IOM`), which Serbian Cyrillic
/// texts commonly keep in Latin letters.
public enum SerbianScript {
    private static let single: [Character: String] = [
        "a": "а", "b": "б", "v": "в", "g": "г", "d": "д", "đ": "ђ", "e": "е", "ž": "ж", "z": "з", "i": "и",
        "j": "ј", "k": "к", "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "r": "р", "s": "с", "t": "т",
        "ć": "ћ", "u": "у", "f": "ф", "h": "х", "c": "ц", "č": "ч", "š": "ш",
        "A": "А", "B": "Б", "V": "В", "G": "Г", "D": "Д", "Đ": "Ђ", "E": "Е", "Ž": "Ж", "Z": "З", "I": "И",
        "J": "Ј", "K": "К", "L": "Л", "M": "М", "N": "Н", "O": "О", "P": "П", "R": "Р", "S": "С", "T": "Т",
        "Ć": "Ћ", "U": "У", "F": "Ф", "H": "Х", "C": "Ц", "Č": "Ч", "Š": "Ш",
        // The Unicode digraph letters (Latin Extended-B), should a text carry them.
        "ǉ": "љ", "ǈ": "Љ", "Ǉ": "Љ", "ǌ": "њ", "ǋ": "Њ", "Ǌ": "Њ", "ǆ": "џ", "ǅ": "Џ", "Ǆ": "Џ",
    ]
    /// Digraphs, lower and upper second letter (`Lj`, `LJ`).
    private static let digraphs: [(latin: String, cyrillic: String)] = [
        ("lj", "љ"), ("Lj", "Љ"), ("LJ", "Љ"), ("nj", "њ"), ("Nj", "Њ"), ("NJ", "Њ"), ("dž", "џ"), ("Dž", "Џ"),
        ("DŽ", "Џ"),
    ]
    private static let back: [Character: String] = {
        var map: [Character: String] = [:]
        for (latin, cyrillic) in single where latin.unicodeScalars.first!.value < 0x1C4 {
            map[Character(cyrillic)] = String(latin)
        }
        map["љ"] = "lj"
        map["Љ"] = "Lj"
        map["њ"] = "nj"
        map["Њ"] = "Nj"
        map["џ"] = "dž"
        map["Џ"] = "Dž"
        return map
    }()

    /// Serbian Latin text in Cyrillic. `"Rok za ljude {n}"` → `"Рок за људе {n}"`.
    public static func cyrillic(_ latin: String) -> String {
        var out = ""
        for (text, isProtected) in segments(latin) {
            if isProtected {
                out += text
                continue
            }
            for word in words(text) {
                if isAcronym(word) {
                    out += word
                    continue
                }
                var rest = Substring(word)
                while let first = rest.first {
                    if let digraph = digraphs.first(where: { rest.hasPrefix($0.latin) }) {
                        out += digraph.cyrillic
                        rest = rest.dropFirst(digraph.latin.count)
                    } else {
                        out += single[first] ?? String(first)
                        rest = rest.dropFirst()
                    }
                }
            }
        }
        return out
    }

    /// Serbian Cyrillic text in Latin letters (the inverse of ``cyrillic(_:)``).
    public static func latin(_ cyrillic: String) -> String {
        var out = ""
        let characters = Array(cyrillic)
        for (index, character) in characters.enumerated() {
            guard var latin = back[character] else {
                out.append(character)
                continue
            }
            // Љ, Њ, Џ in a word written in capitals: LJ, NJ, DŽ.
            if latin.count == 2, latin.first!.isUppercase {
                let neighbours = [
                    index > 0 ? characters[index - 1] : nil,
                    index + 1 < characters.count
                        ? characters[index + 1] : nil,
                ].compactMap { $0 }.filter(\.isLetter)
                if !neighbours.isEmpty, neighbours.allSatisfy(\.isUppercase) { latin = latin.uppercased() }
            }
            out += latin
        }
        return out
    }

    /// Pieces of the text: placeholders (`{name}`) are protected.
    private static func segments(_ text: String) -> [(String, Bool)] {
        var result: [(String, Bool)] = []
        var current = ""
        var inPlaceholder = false
        for character in text {
            if character == "{" && !inPlaceholder {
                if !current.isEmpty { result.append((current, false)) }
                current = "{"
                inPlaceholder = true
            } else if character == "}" && inPlaceholder {
                result.append((current + "}", true))
                current = ""
                inPlaceholder = false
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { result.append((current, inPlaceholder)) }
        return result
    }

    /// Runs of letters and runs of everything else, in order.
    private static func words(_ text: String) -> [String] {
        var result: [String] = []
        var current = ""
        var inWord = false
        for character in text {
            if character.isLetter != inWord, !current.isEmpty {
                result.append(current)
                current = ""
            }
            inWord = character.isLetter
            current.append(character)
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    private static func isAcronym(_ word: String) -> Bool {
        word.count >= 2 && word.allSatisfy { $0.isLetter && $0.isUppercase && $0.isASCII }
    }
}
