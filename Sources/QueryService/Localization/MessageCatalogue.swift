import Referrals

/// One language's messages: a key → text map read from `Catalogues/<tag>.json` and its parts
/// `Catalogues/<part>.<tag>.json`.
///
/// The file is a JSON object `{"language": "sq", "reviewed": false, "note": "…", "messages": {…}}`;
/// a message may hold placeholders `{name}` that ``Localizer/callAsFunction(_:_:)`` fills in.
/// `reviewed` says whether a native-speaker practitioner has reviewed the translation
/// (docs/glossary.md); an unreviewed catalogue makes every page say so.
struct MessageCatalogue: Sendable, Hashable {
    var language: String
    var reviewed: Bool
    var messages: [String: String]

    enum ParseError: Error, Equatable {
        case malformed(String)
    }

    /// Parses a catalogue file's text.
    /// - Throws: ``ParseError`` for anything but the shape above (a duplicate key included).
    static func parse(_ text: String) throws -> MessageCatalogue {
        let value: JSONValue
        do { value = try JSONValue.parse(text) } catch { throw ParseError.malformed("not JSON: \(error)") }
        guard let language = value["language"]?.stringValue else { throw ParseError.malformed("no language") }
        guard let reviewed = value["reviewed"]?.boolValue else { throw ParseError.malformed("no reviewed") }
        guard let object = value["messages"]?.objectValue else { throw ParseError.malformed("no messages") }
        var messages: [String: String] = [:]
        for (key, text) in object {
            guard let string = text.stringValue else { throw ParseError.malformed("\(key) is not a string") }
            messages[key] = string
        }
        return MessageCatalogue(language: language, reviewed: reviewed, messages: messages)
    }

    /// The catalogues built into the binary (from ``EmbeddedCatalogues``), by language;
    /// Serbian Cyrillic is the Serbian Latin one transliterated.
    static let builtIn: [Language: MessageCatalogue] = {
        var result: [Language: MessageCatalogue] = [:]
        for language in Language.allCases {
            guard var catalogue = try? merged(EmbeddedCatalogues.files, name: language.catalogueName) else {
                // Tests parse every embedded catalogue; a build that gets here was not tested.
                preconditionFailure("the built-in catalogue \(language.catalogueName) does not parse")
            }
            if language == .serbianCyrillic {
                catalogue.language = language.tag
                catalogue.messages = catalogue.messages.mapValues(SerbianScript.cyrillic)
            }
            result[language] = catalogue
        }
        return result
    }()

    /// One language's catalogue from its files: `<name>` and every part `<part>.<name>`, merged.
    /// The whole is reviewed only if every file is.
    /// - Throws: ``ParseError`` when a file does not parse, names another language, or defines a
    ///   key that another of the language's files already defines.
    static func merged(_ files: [String: String], name: String) throws -> MessageCatalogue {
        guard let main = files[name] else { throw ParseError.malformed("no catalogue \(name)") }
        var result = try parse(main)
        for part in files.keys.filter({ $0.hasSuffix(".\(name)") }).sorted() {
            let catalogue = try parse(files[part]!)
            guard catalogue.language == result.language else {
                throw ParseError.malformed("\(part) is for \(catalogue.language), not \(result.language)")
            }
            for (key, text) in catalogue.messages {
                guard result.messages.updateValue(text, forKey: key) == nil else {
                    throw ParseError.malformed("\(key) is defined twice in the \(name) catalogue")
                }
            }
            result.reviewed = result.reviewed && catalogue.reviewed
        }
        return result
    }

    /// The placeholders (`{name}`) of a message, for the test that every language uses the same.
    static func placeholders(_ text: String) -> Set<String> {
        var names: Set<String> = []
        var current: String?
        for character in text {
            if character == "{" {
                current = ""
            } else if character == "}", let name = current {
                names.insert(name)
                current = nil
            } else if current != nil {
                current!.append(character)
            }
        }
        return names
    }
}
