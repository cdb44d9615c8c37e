/// The result of parsing, for the command that was selected.
///
/// Every value has been checked against its declared `ValueKind`, so `int(_:)` on an `.integer`
/// option never fails for a present value. Asking for a name the command did not declare is a
/// programmer error and traps (a typo in the caller, not bad user input).
public struct ParsedArguments: Sendable, Equatable {
    /// The selected command, from the root: `["handoff", "project", "rebuild"]`.
    public let commandPath: [String]
    /// The command words after the root: `["project", "rebuild"]`; `[]` for the root itself.
    public var subcommandPath: [String] { Array(commandPath.dropFirst()) }

    let spec: CommandSpec
    /// Positionals in order, after `--` included.
    public let positionals: [String]
    /// Option values in the order given, per option name.
    let values: [String: [String]]
    let flagsGiven: Set<String>

    init(
        commandPath: [String], spec: CommandSpec, positionals: [String], values: [String: [String]], flags: Set<String>
    ) {
        self.commandPath = commandPath
        self.spec = spec
        self.positionals = positionals
        self.values = values
        self.flagsGiven = flags
    }

    /// The option's value (the last one if repeatable), else its default, else nil.
    public func string(_ option: String) -> String? {
        let spec = declaredOption(option)
        return values[option]?.last ?? spec.defaultValue
    }

    /// Every value of a repeatable option, in the order given (empty when absent; defaults not applied).
    public func strings(_ option: String) -> [String] {
        _ = declaredOption(option)
        return values[option] ?? []
    }

    /// The option's value as an integer (else its default), nil when absent and without default.
    /// Traps if the option was not declared `.integer`.
    public func int(_ option: String) -> Int? {
        let spec = declaredOption(option)
        guard case .integer = spec.kind else { preconditionFailure("option \(option) is not declared as an integer") }
        return string(option).flatMap(parseStrictInteger)
    }

    /// Whether the option was given on the command line (a default does not count).
    public func isPresent(_ option: String) -> Bool {
        _ = declaredOption(option)
        return values[option] != nil
    }

    /// Whether the flag was given.
    public func flag(_ flag: String) -> Bool {
        guard spec.flag(named: flag) != nil else {
            preconditionFailure("flag \(flag) is not declared on \(commandPath)")
        }
        return flagsGiven.contains(flag)
    }

    /// The positional at `index`, nil when an optional one was not given.
    public func positional(_ index: Int) -> String? {
        positionals.indices.contains(index) ? positionals[index] : nil
    }

    /// The positional declared under `name` (for a variadic one, its first value).
    public func positional(named name: String) -> String? {
        guard let index = spec.positionals.firstIndex(where: { $0.name == name }) else {
            preconditionFailure("positional \(name) is not declared on \(commandPath)")
        }
        return positional(index)
    }

    /// The positional at `index` as an integer (declared `.integer`).
    public func positionalInt(_ index: Int) -> Int? {
        positional(index).flatMap(parseStrictInteger)
    }

    private func declaredOption(_ name: String) -> OptionSpec {
        guard let option = spec.option(named: name) else {
            preconditionFailure("option \(name) is not declared on \(commandPath)")
        }
        return option
    }
}

/// What parsing produced: arguments to run with, a help text to print (exit 0), or bad usage.
public enum ParseOutcome: Sendable, Equatable {
    case parsed(ParsedArguments)
    /// `--help` or `-h` was given: the usage text of the selected command, ending in a newline.
    case help(String)
    case failure(UsageError)
}
