// Turning argv into a ParseOutcome. Pure: no I/O, no global state.
//
// Rules, in the order they apply:
// 1. Leading words that name sub-commands select them (`project rebuild`). A sub-command is only
//    recognized directly after its parent's name, before any option.
// 2. `-h` or `--help` anywhere before `--` returns the selected command's help, whatever else is wrong.
// 3. A command that requires a sub-command and got none (or an unknown word) fails.
// 4. Tokens left to right: `--` ends options (everything after is positional); `--name=value` or
//    `--name value` for options (a separate value may not start with `--`: write `--name=--x`);
//    `--flag` for flags; any other word starting with `-` (but not `-` alone) is an unknown option;
//    the rest are positionals. The first error in token order wins.
// 5. Positionals are matched to the declaration; then required options are checked.

extension CommandSpec {
    /// Parses `arguments` (argv without the program name) against this root command.
    ///
    ///     switch handoff.parse(Array(CommandLine.arguments.dropFirst())) {
    ///     case .parsed(let args): run(args)
    ///     case .help(let text): print(text, terminator: ""); exit(0)
    ///     case .failure(let error): printToStderr(error.message, error.hint); exit(UsageError.exitCode)
    ///     }
    public func parse(_ arguments: [String]) -> ParseOutcome {
        var command = self
        var path = [name]
        var index = 0
        while index < arguments.count, let sub = command.subcommand(named: arguments[index]) {
            command = sub
            path.append(sub.name)
            index += 1
        }
        let rest = arguments[index...]

        for token in rest {
            if token == "--" { break }
            if token == "-h" || token == "--help" { return .help(command.helpText(path: path)) }
        }

        func fail(_ kind: UsageError.Kind, _ message: String) -> ParseOutcome {
            .failure(UsageError(kind, commandPath: path, message: message))
        }
        let where_ = "for '" + path.joined(separator: " ") + "'"

        if command.requiresSubcommand {
            let choices = command.subcommands.map(\.name).joined(separator: ", ")
            guard let first = rest.first else {
                return fail(.missingCommand, "missing command \(where_) (one of: \(choices))")
            }
            if first.hasPrefix("-") && first != "-" && first != "--" {
                let name = first.split(separator: "=", maxSplits: 1).first.map(String.init) ?? first
                return fail(.unknownOption(name), "unknown option \(quoted(name)) \(where_); expected a command")
            }
            return fail(
                .unknownCommand(first),
                "unknown command \(quoted(first)) \(where_)"
                    + suggestion(first, among: command.subcommands.map(\.name), otherwise: " (one of: \(choices))"))
        }

        var positionals: [String] = []
        var values: [String: [String]] = [:]
        var flags: Set<String> = []
        var optionsEnded = false
        var i = rest.startIndex
        while i < rest.endIndex {
            let token = rest[i]
            i += 1
            if optionsEnded || token == "-" || !token.hasPrefix("-") {
                positionals.append(token)
                continue
            }
            if token == "--" {
                optionsEnded = true
                continue
            }
            let name: String
            var inlineValue: String? = nil
            if let equals = token.firstIndex(of: "="), token.hasPrefix("--") {
                name = String(token[..<equals])
                inlineValue = String(token[token.index(after: equals)...])
            } else {
                name = token
            }
            if let flag = command.flag(named: name) {
                if inlineValue != nil {
                    return fail(.unexpectedValue(flag: flag.name), "flag \(quoted(flag.name)) takes no value")
                }
                if !flags.insert(flag.name).inserted {
                    return fail(.duplicateOption(flag.name), "flag \(quoted(flag.name)) given more than once")
                }
                continue
            }
            guard let option = command.option(named: name) else {
                let known = command.options.map(\.name) + command.flags.map(\.name)
                return fail(
                    .unknownOption(name),
                    "unknown option \(quoted(name)) \(where_)" + suggestion(name, among: known, otherwise: ""))
            }
            let value: String
            if let inlineValue {
                value = inlineValue
            } else if i < rest.endIndex, !rest[i].hasPrefix("--") {
                value = rest[i]
                i += 1
            } else {
                return fail(
                    .missingValue(option: option.name),
                    "option \(quoted(option.name)) needs a value (\(option.valueName))")
            }
            if values[option.name] != nil && !option.isRepeatable {
                return fail(.duplicateOption(option.name), "option \(quoted(option.name)) given more than once")
            }
            if let problem = option.kind.check(value) {
                return fail(
                    invalidKind(option.kind, name: option.name, value: value),
                    "option \(quoted(option.name)) \(problem), got \(quoted(value))")
            }
            values[option.name, default: []].append(value)
        }

        // Match positionals to the declaration.
        let specs = command.positionals
        if let first = positionals.first, specs.isEmpty, !command.subcommands.isEmpty {
            if command.subcommand(named: first) != nil {
                return fail(
                    .unknownCommand(first),
                    "command \(quoted(first)) must come directly after '\(path.joined(separator: " "))', before options"
                )
            }
            return fail(
                .unknownCommand(first),
                "unknown command \(quoted(first)) \(where_)"
                    + suggestion(first, among: command.subcommands.map(\.name), otherwise: ""))
        }
        let variadic = specs.last?.isVariadic ?? false
        if !variadic && positionals.count > specs.count {
            let extra = positionals[specs.count]
            return fail(.unexpectedArgument(extra), "unexpected argument \(quoted(extra)) \(where_)")
        }
        for (offset, spec) in specs.enumerated() {
            let given =
                spec.isVariadic
                ? Array(positionals.dropFirst(offset))
                : positionals.indices.contains(offset) ? [positionals[offset]] : []
            if given.isEmpty && spec.isRequired {
                return fail(.missingPositional(spec.name), "missing argument \(spec.name) \(where_)")
            }
            for value in given {
                if let problem = spec.kind.check(value) {
                    return fail(
                        invalidKind(spec.kind, name: spec.name, value: value),
                        "argument \(spec.name) \(problem), got \(quoted(value))")
                }
            }
        }
        for option in command.options where option.isRequired && values[option.name] == nil {
            return fail(
                .missingOption(option.name),
                "missing option \(quoted(option.name + " " + option.valueName)) \(where_)")
        }
        return .parsed(
            ParsedArguments(commandPath: path, spec: command, positionals: positionals, values: values, flags: flags))
    }

    private func invalidKind(_ kind: ValueKind, name: String, value: String) -> UsageError.Kind {
        if case .integer = kind, parseStrictInteger(value) == nil {
            return .invalidInteger(name: name, value: value)
        }
        return .invalidValue(name: name, value: value)
    }
}

/// "; did you mean '--port'?" when one candidate is within two edits, else `otherwise`.
private func suggestion(_ word: String, among candidates: [String], otherwise: String) -> String {
    let scored = candidates.map { ($0, editDistance(word, $0)) }.filter { $0.1 <= 2 }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return otherwise }
    return "; did you mean \(quoted(best.0))?"
}

private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var previous = Array(0...b.count)
    var current = previous
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
