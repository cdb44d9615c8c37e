// The declaration side of the command-line parser: a command is plain data.
//
//     let serve = CommandSpec(
//         "serve", summary: "Run the query service.",
//         options: [
//             OptionSpec("--port", value: "P", kind: .integer(1...65535), default: "8080", help: "port to listen on"),
//             OptionSpec("--host", value: "H", default: "127.0.0.1", help: "address to bind"),
//         ])
//
// `CommandSpec.parse(_:)` (ArgumentParsing.swift) turns argv into a `ParseOutcome`.

/// What an option's or positional's value must look like. Checked while parsing, so the typed
/// accessors on `ParsedArguments` never see a malformed value.
public enum ValueKind: Sendable, Equatable {
    /// Any string.
    case string
    /// A decimal integer (`-?[0-9]+`, no `+`, no spaces), optionally within a range.
    case integer(ClosedRange<Int>? = nil)
    /// Exactly one of the listed words.
    case oneOf([String])

    /// Shorthand for an unbounded integer.
    public static var integer: ValueKind { .integer(nil) }
}

/// A positional argument, e.g. `NAME` in `handoff project rebuild NAME`.
public struct PositionalSpec: Sendable, Equatable {
    /// Shown in usage and errors, conventionally upper case: `STREAM`, `FILE`.
    public var name: String
    public var help: String
    public var kind: ValueKind
    /// Optional positionals must follow all required ones.
    public var isRequired: Bool
    /// Takes all remaining positionals (zero or more if optional, one or more if required). Last only.
    public var isVariadic: Bool

    public init(
        _ name: String, kind: ValueKind = .string, required: Bool = true, variadic: Bool = false, help: String = ""
    ) {
        self.name = name
        self.help = help
        self.kind = kind
        self.isRequired = required
        self.isVariadic = variadic
    }
}

/// An option that takes a value: `--port 8080` or `--port=8080`.
public struct OptionSpec: Sendable, Equatable {
    /// The full spelling including the dashes: `--port`.
    public var name: String
    /// Placeholder for the value in usage text: `P`, `DIR`. For `.oneOf` kinds, nil shows the choices.
    public var valueName: String
    public var help: String
    public var kind: ValueKind
    /// Parsing fails with `missing_option` when a required option is absent.
    public var isRequired: Bool
    /// May be given more than once; otherwise a second occurrence is `duplicate_option`.
    public var isRepeatable: Bool
    /// Returned by `ParsedArguments.string(_:)` / `int(_:)` when the option is absent.
    public var defaultValue: String?

    public init(
        _ name: String, value valueName: String? = nil, kind: ValueKind = .string, required: Bool = false,
        repeatable: Bool = false, default defaultValue: String? = nil, help: String = ""
    ) {
        self.name = name
        if let valueName {
            self.valueName = valueName
        } else if case .oneOf(let words) = kind {
            self.valueName = words.joined(separator: "|")
        } else {
            self.valueName = "VALUE"
        }
        self.help = help
        self.kind = kind
        self.isRequired = required
        self.isRepeatable = repeatable
        self.defaultValue = defaultValue
    }
}

/// A switch without a value: `--once`.
public struct FlagSpec: Sendable, Equatable {
    /// The full spelling including the dashes: `--once`.
    public var name: String
    public var help: String

    public init(_ name: String, help: String = "") {
        self.name = name
        self.help = help
    }
}

/// A command: its own arguments and, optionally, sub-commands (`handoff project rebuild`).
public struct CommandSpec: Sendable, Equatable {
    /// The word that selects this command (`rebuild`); for the root, the program name (`handoff`).
    public var name: String
    /// One line, shown in the parent's command list and at the top of this command's help.
    public var summary: String
    /// Further paragraphs shown in this command's help.
    public var discussion: String
    public var positionals: [PositionalSpec]
    public var options: [OptionSpec]
    public var flags: [FlagSpec]
    public var subcommands: [CommandSpec]
    /// Whether the command needs one of its sub-commands (`handoff token` alone is an error) or
    /// also runs by itself (`handoff project` runs the projectors, `handoff project rebuild` rebuilds).
    public var requiresSubcommand: Bool

    public init(
        _ name: String, summary: String, discussion: String = "", positionals: [PositionalSpec] = [],
        options: [OptionSpec] = [], flags: [FlagSpec] = [], subcommands: [CommandSpec] = [],
        requiresSubcommand: Bool? = nil
    ) {
        self.name = name
        self.summary = summary
        self.discussion = discussion
        self.positionals = positionals
        self.options = options
        self.flags = flags
        self.subcommands = subcommands
        self.requiresSubcommand = requiresSubcommand ?? !subcommands.isEmpty
    }

    func option(named name: String) -> OptionSpec? { options.first { $0.name == name } }
    func flag(named name: String) -> FlagSpec? { flags.first { $0.name == name } }
    func subcommand(named name: String) -> CommandSpec? { subcommands.first { $0.name == name } }

    /// Mistakes in the declaration itself (not in user input), one line each, for a unit test to
    /// assert empty: bad or duplicate names, an optional positional before a required one, a
    /// variadic positional not last, a default that does not fit its kind, a required option with
    /// a default, positionals on a command with sub-commands, a sub-command that cannot be run.
    public func declarationProblems() -> [String] {
        declarationProblems(path: name)
    }

    private func declarationProblems(path: String) -> [String] {
        var problems: [String] = []
        var seen: Set<String> = ["--help", "-h"]
        for name in options.map(\.name) + flags.map(\.name) {
            if !isValidLongName(name) { problems.append("\(path): '\(name)' is not of the form --word") }
            if !seen.insert(name).inserted { problems.append("\(path): '\(name)' declared twice or reserved") }
        }
        var sawOptional = false
        for (index, positional) in positionals.enumerated() {
            if positional.isRequired && sawOptional {
                problems.append("\(path): required \(positional.name) follows an optional positional")
            }
            if !positional.isRequired { sawOptional = true }
            if positional.isVariadic && index != positionals.count - 1 {
                problems.append("\(path): variadic \(positional.name) is not last")
            }
            if positional.name.isEmpty || positional.name.hasPrefix("-") {
                problems.append("\(path): bad positional name '\(positional.name)'")
            }
        }
        for option in options {
            if option.isRequired && option.defaultValue != nil {
                problems.append("\(path): \(option.name) is required and has a default")
            }
            if let value = option.defaultValue, option.kind.check(value) != nil {
                problems.append("\(path): default '\(value)' of \(option.name) does not fit its kind")
            }
        }
        if !subcommands.isEmpty && !positionals.isEmpty {
            problems.append("\(path): a command with sub-commands cannot take positionals")
        }
        if subcommands.isEmpty && requiresSubcommand {
            problems.append("\(path): requires a sub-command but declares none")
        }
        var names: Set<String> = []
        for sub in subcommands {
            if sub.name.isEmpty || sub.name.hasPrefix("-") {
                problems.append("\(path): bad command name '\(sub.name)'")
            }
            if !names.insert(sub.name).inserted { problems.append("\(path): command '\(sub.name)' declared twice") }
            problems += sub.declarationProblems(path: path + " " + sub.name)
        }
        return problems
    }

    private func isValidLongName(_ name: String) -> Bool {
        guard name.hasPrefix("--"), name.count > 2 else { return false }
        return name.dropFirst(2).allSatisfy { ($0.isLetter && $0.isASCII) || $0.isNumber || $0 == "-" }
            && !name.dropFirst(2).hasPrefix("-") && !name.contains("=")
    }
}

extension ValueKind {
    /// nil when `value` fits, else why not (for an error message).
    func check(_ value: String) -> String? {
        switch self {
        case .string:
            return nil
        case .integer(let range):
            guard let number = parseStrictInteger(value) else { return "expects an integer" }
            if let range, !range.contains(number) {
                return "must be between \(range.lowerBound) and \(range.upperBound)"
            }
            return nil
        case .oneOf(let words):
            return words.contains(value) ? nil : "must be one of " + words.joined(separator: ", ")
        }
    }
}

/// `-?[0-9]+` that fits in an `Int`; nothing else (no `+`, spaces, underscores, hex).
func parseStrictInteger(_ text: String) -> Int? {
    let digits = text.hasPrefix("-") ? text.utf8.dropFirst() : text.utf8[...]
    guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
        return nil
    }
    return Int(text)
}
