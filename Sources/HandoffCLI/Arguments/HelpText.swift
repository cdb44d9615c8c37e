// Usage text generated from a CommandSpec, e.g. for `handoff demo --help`:
//
//     Usage: handoff demo [--port P] [--cases N] [--home DIR] [--reset]
//
//     Run everything in one process with a private database and synthetic cases.
//
//     Options:
//       --port P      port of the query service (default: 8080)
//       ...
//       -h, --help    show this help

extension CommandSpec {
    /// The help text of this command, reached by `path` (root first), ending in a newline.
    public func helpText(path: [String]) -> String {
        let prefix = path.joined(separator: " ")
        var lines: [String] = []
        if !subcommands.isEmpty {
            lines.append("Usage: \(prefix) <command>")
        }
        if !requiresSubcommand {
            lines.append((subcommands.isEmpty ? "Usage: " : "       ") + prefix + usageSuffix)
        }
        lines.append("")
        lines.append(summary)
        if !discussion.isEmpty {
            lines.append("")
            lines.append(discussion)
        }

        var sections: [(String, [(String, String)])] = []
        if !positionals.isEmpty {
            sections.append(("Arguments", positionals.map { ($0.name, $0.help) }))
        }
        if !subcommands.isEmpty {
            sections.append(("Commands", subcommands.map { ($0.name, $0.summary) }))
        }
        var optionRows: [(String, String)] = []
        for option in options {
            var help = option.help
            if option.isRequired { help += help.isEmpty ? "required" : " (required)" }
            if option.isRepeatable { help += help.isEmpty ? "may be repeated" : " (may be repeated)" }
            if let value = option.defaultValue { help += help.isEmpty ? "default: \(value)" : " (default: \(value))" }
            if case .integer(let range?) = option.kind {
                help += " [\(range.lowerBound)…\(range.upperBound)]"
            }
            optionRows.append(("\(option.name) \(option.valueName)", help))
        }
        optionRows += flags.map { ($0.name, $0.help) }
        optionRows.append(("-h, --help", "show this help"))
        sections.append(("Options", optionRows))

        // Help texts line up after the longest left column of at most 28 characters; longer ones
        // put their help on the next line.
        let width = sections.flatMap { $0.1 }.map { $0.0.count }.filter { $0 <= 28 }.max() ?? 0
        for (title, rows) in sections {
            lines.append("")
            lines.append(title + ":")
            for (left, help) in rows {
                if help.isEmpty {
                    lines.append("  " + left)
                } else if left.count > width {
                    lines.append("  " + left)
                    lines.append(String(repeating: " ", count: width + 6) + help)
                } else {
                    lines.append("  " + left + String(repeating: " ", count: width - left.count + 4) + help)
                }
            }
        }
        if !subcommands.isEmpty {
            lines.append("")
            lines.append("Run '\(prefix) <command> --help' for a command's usage.")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `ID [STREAM] [ARGS...] [--port P] --name NAME [--once]` — positionals, options, then flags,
    /// as in API.md's CLI table.
    var usageSuffix: String {
        var parts: [String] = []
        for positional in positionals {
            let part = positional.name + (positional.isVariadic ? "..." : "")
            parts.append(positional.isRequired ? part : "[\(part)]")
        }
        for option in options {
            var part = "\(option.name) \(option.valueName)"
            if option.isRepeatable { part += " ..." }
            parts.append(option.isRequired ? part : "[\(part)]")
        }
        for flag in flags { parts.append("[\(flag.name)]") }
        return parts.isEmpty ? "" : " " + parts.joined(separator: " ")
    }
}
