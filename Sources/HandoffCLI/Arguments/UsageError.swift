/// Bad command-line usage: the caller prints `message` (one line) to stderr, usually followed by
/// `hint`, and exits with `UsageError.exitCode` (2).
public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// `--prot` where no such option or flag exists, or a single-dash word like `-x`.
        case unknownOption(String)
        /// An option at the end of the arguments, or followed by another `--option`.
        case missingValue(option: String)
        /// `--once=yes`.
        case unexpectedValue(flag: String)
        /// A non-repeatable option or a flag given twice.
        case duplicateOption(String)
        /// A required option is absent.
        case missingOption(String)
        /// A required positional is absent.
        case missingPositional(String)
        /// More positionals than the command takes.
        case unexpectedArgument(String)
        /// An `.integer` option or positional whose value is not an integer.
        case invalidInteger(name: String, value: String)
        /// An integer out of range, or a word not among `.oneOf` choices.
        case invalidValue(name: String, value: String)
        /// A word that names no sub-command.
        case unknownCommand(String)
        /// A command that needs a sub-command got none.
        case missingCommand
    }

    public let kind: Kind
    /// The command being parsed, e.g. `["handoff", "project", "rebuild"]`.
    public let commandPath: [String]
    /// One line, no trailing newline; user input in it is quoted with control characters escaped.
    public let message: String

    /// Exit status for bad usage (API.md, CLI).
    public static let exitCode: Int32 = 2

    /// Stable snake_case code for the kind, for logs and tests.
    public var code: String {
        switch kind {
        case .unknownOption: "unknown_option"
        case .missingValue: "missing_value"
        case .unexpectedValue: "unexpected_value"
        case .duplicateOption: "duplicate_option"
        case .missingOption: "missing_option"
        case .missingPositional: "missing_positional"
        case .unexpectedArgument: "unexpected_argument"
        case .invalidInteger: "invalid_integer"
        case .invalidValue: "invalid_value"
        case .unknownCommand: "unknown_command"
        case .missingCommand: "missing_command"
        }
    }

    /// A second line to print after `message`: where to find the usage.
    public var hint: String { "Run '\(commandPath.joined(separator: " ")) --help' for usage." }

    public var description: String { message }

    init(_ kind: Kind, commandPath: [String], message: String) {
        self.kind = kind
        self.commandPath = commandPath
        self.message = message
    }
}

/// User input as it may appear in a one-line message: single-quoted, control characters and
/// quotes escaped, long values shortened.
func quoted(_ text: String) -> String {
    var out = ""
    var count = 0
    for scalar in text.unicodeScalars {
        if count == 60 {
            out += "…"
            break
        }
        count += 1
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "'": out += "\\'"
        case "\\": out += "\\\\"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029
            {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return "'" + out + "'"
}
