import Testing
@testable import HandoffCLI

/// A small tree that exercises every feature, independent of the real `handoff` declaration.
private let tool = CommandSpec(
    "tool",
    summary: "A test tool.",
    subcommands: [
        CommandSpec(
            "run",
            summary: "Run it.",
            positionals: [
                PositionalSpec("FIRST", help: "first thing"),
                PositionalSpec("SECOND", kind: .integer, required: false, help: "an optional number"),
            ],
            options: [
                OptionSpec("--port", value: "P", kind: .integer(1...65535), default: "8080", help: "port"),
                OptionSpec("--name", value: "NAME", help: "a name"),
                OptionSpec("--tag", value: "T", repeatable: true, help: "a tag"),
                OptionSpec("--mode", kind: .oneOf(["fast", "slow"]), help: "how"),
                OptionSpec("--offset", value: "N", kind: .integer, help: "any integer"),
            ],
            flags: [FlagSpec("--once", help: "once"), FlagSpec("--json", help: "as JSON")]),
        CommandSpec(
            "group",
            summary: "A group that also runs by itself.",
            flags: [FlagSpec("--reset")],
            subcommands: [
                CommandSpec(
                    "inner", summary: "Inner.",
                    positionals: [PositionalSpec("ITEMS", variadic: true)],
                    options: [OptionSpec("--must", value: "M", required: true)])
            ],
            requiresSubcommand: false),
        CommandSpec("abstract", summary: "Needs a sub-command.", subcommands: [CommandSpec("leaf", summary: "Leaf.")]),
    ])

private func parsed(_ spec: CommandSpec, _ args: [String]) -> ParsedArguments? {
    if case .parsed(let p) = spec.parse(args) { return p }
    return nil
}

private func failure(_ spec: CommandSpec, _ args: [String]) -> UsageError? {
    if case .failure(let e) = spec.parse(args) { return e }
    return nil
}

private func help(_ spec: CommandSpec, _ args: [String]) -> String? {
    if case .help(let text) = spec.parse(args) { return text }
    return nil
}

struct HappyCase: Sendable, CustomTestStringConvertible {
    var args: [String]
    var path: [String]
    var positionals: [String] = []
    var strings: [String: String?] = [:]
    var ints: [String: Int?] = [:]
    var flags: [String: Bool] = [:]
    var testDescription: String { args.joined(separator: " ") }
}

struct UnhappyCase: Sendable, CustomTestStringConvertible {
    var args: [String]
    var kind: UsageError.Kind
    var message: String
    var testDescription: String { args.joined(separator: " ") }
}

@Suite("ArgumentsTests")
struct ArgumentsTests {
    static let happy: [HappyCase] = [
        HappyCase(
            args: ["run", "x"], path: ["tool", "run"], positionals: ["x"],
            strings: ["--port": "8080", "--name": nil], ints: ["--port": 8080, "--offset": nil],
            flags: ["--once": false, "--json": false]),
        HappyCase(
            args: ["run", "x", "--port", "9000"], path: ["tool", "run"], positionals: ["x"], ints: ["--port": 9000]),
        HappyCase(
            args: ["run", "--port=9000", "x"], path: ["tool", "run"], positionals: ["x"], ints: ["--port": 9000]),
        HappyCase(args: ["run", "x", "42"], path: ["tool", "run"], positionals: ["x", "42"]),
        HappyCase(
            args: ["run", "--once", "x", "--json"], path: ["tool", "run"], positionals: ["x"],
            flags: ["--once": true, "--json": true]),
        HappyCase(args: ["run", "--name=", "x"], path: ["tool", "run"], positionals: ["x"], strings: ["--name": ""]),
        HappyCase(
            args: ["run", "--name=a=b", "x"], path: ["tool", "run"], positionals: ["x"], strings: ["--name": "a=b"]),
        HappyCase(
            args: ["run", "--name", "-", "x"], path: ["tool", "run"], positionals: ["x"], strings: ["--name": "-"]),
        HappyCase(
            args: ["run", "--name", "-v", "x"], path: ["tool", "run"], positionals: ["x"], strings: ["--name": "-v"]),
        HappyCase(
            args: ["run", "--name=--weird", "x"], path: ["tool", "run"], positionals: ["x"],
            strings: ["--name": "--weird"]),
        HappyCase(
            args: ["run", "--offset", "-5", "x"], path: ["tool", "run"], positionals: ["x"], ints: ["--offset": -5]),
        HappyCase(
            args: ["run", "--mode", "slow", "x"], path: ["tool", "run"], positionals: ["x"], strings: ["--mode": "slow"]
        ),
        HappyCase(args: ["run", "-"], path: ["tool", "run"], positionals: ["-"]),
        HappyCase(
            args: ["run", "--", "--once"], path: ["tool", "run"], positionals: ["--once"], flags: ["--once": false]),
        HappyCase(args: ["run", "--", "-h"], path: ["tool", "run"], positionals: ["-h"]),
        HappyCase(args: ["run", "x", "--", "-7"], path: ["tool", "run"], positionals: ["x", "-7"]),
        HappyCase(args: ["run", "line\none"], path: ["tool", "run"], positionals: ["line\none"]),
        HappyCase(args: ["run", "{\"a\": 1}"], path: ["tool", "run"], positionals: ["{\"a\": 1}"]),
        HappyCase(args: ["group"], path: ["tool", "group"], flags: ["--reset": false]),
        HappyCase(args: ["group", "--reset"], path: ["tool", "group"], flags: ["--reset": true]),
        HappyCase(
            args: ["group", "inner", "--must", "m", "a"], path: ["tool", "group", "inner"], positionals: ["a"],
            strings: ["--must": "m"]),
        HappyCase(
            args: ["group", "inner", "a", "--must=m", "b", "c"], path: ["tool", "group", "inner"],
            positionals: ["a", "b", "c"]),
        HappyCase(args: ["abstract", "leaf"], path: ["tool", "abstract", "leaf"]),
    ]

    @Test("happy paths", arguments: happy)
    func happyPath(_ c: HappyCase) throws {
        let p = try #require(parsed(tool, c.args))
        #expect(p.commandPath == c.path)
        #expect(p.positionals == c.positionals)
        for (name, value) in c.strings { #expect(p.string(name) == value, "\(name)") }
        for (name, value) in c.ints { #expect(p.int(name) == value, "\(name)") }
        for (name, value) in c.flags { #expect(p.flag(name) == value, "\(name)") }
    }

    static let unhappy: [UnhappyCase] = [
        UnhappyCase(
            args: [], kind: .missingCommand, message: "missing command for 'tool' (one of: run, group, abstract)"),
        UnhappyCase(
            args: ["rn"], kind: .unknownCommand("rn"), message: "unknown command 'rn' for 'tool'; did you mean 'run'?"),
        UnhappyCase(
            args: ["zzzzzz"], kind: .unknownCommand("zzzzzz"),
            message: "unknown command 'zzzzzz' for 'tool' (one of: run, group, abstract)"),
        UnhappyCase(
            args: ["--port", "1"], kind: .unknownOption("--port"),
            message: "unknown option '--port' for 'tool'; expected a command"),
        UnhappyCase(
            args: ["abstract"], kind: .missingCommand, message: "missing command for 'tool abstract' (one of: leaf)"),
        UnhappyCase(
            args: ["group", "innr"], kind: .unknownCommand("innr"),
            message: "unknown command 'innr' for 'tool group'; did you mean 'inner'?"),
        UnhappyCase(
            args: ["run", "x", "--prot", "1"], kind: .unknownOption("--prot"),
            message: "unknown option '--prot' for 'tool run'; did you mean '--port'?"),
        UnhappyCase(
            args: ["run", "x", "--prot=1"], kind: .unknownOption("--prot"),
            message: "unknown option '--prot' for 'tool run'; did you mean '--port'?"),
        UnhappyCase(
            args: ["run", "x", "--completely-else"], kind: .unknownOption("--completely-else"),
            message: "unknown option '--completely-else' for 'tool run'"),
        UnhappyCase(args: ["run", "-x"], kind: .unknownOption("-x"), message: "unknown option '-x' for 'tool run'"),
        UnhappyCase(args: ["run", "-5"], kind: .unknownOption("-5"), message: "unknown option '-5' for 'tool run'"),
        UnhappyCase(
            args: ["run", "x", "--port"], kind: .missingValue(option: "--port"),
            message: "option '--port' needs a value (P)"),
        UnhappyCase(
            args: ["run", "x", "--name", "--once"], kind: .missingValue(option: "--name"),
            message: "option '--name' needs a value (NAME)"),
        UnhappyCase(args: ["run"], kind: .missingPositional("FIRST"), message: "missing argument FIRST for 'tool run'"),
        UnhappyCase(
            args: ["run", "--once"], kind: .missingPositional("FIRST"), message: "missing argument FIRST for 'tool run'"
        ),
        UnhappyCase(
            args: ["run", "x", "1", "extra"], kind: .unexpectedArgument("extra"),
            message: "unexpected argument 'extra' for 'tool run'"),
        UnhappyCase(
            args: ["abstract", "leaf", "x"], kind: .unexpectedArgument("x"),
            message: "unexpected argument 'x' for 'tool abstract leaf'"),
        UnhappyCase(
            args: ["run", "x", "--port", "80a"], kind: .invalidInteger(name: "--port", value: "80a"),
            message: "option '--port' expects an integer, got '80a'"),
        UnhappyCase(
            args: ["run", "x", "--port=+80"], kind: .invalidInteger(name: "--port", value: "+80"),
            message: "option '--port' expects an integer, got '+80'"),
        UnhappyCase(
            args: ["run", "x", "--port", " 80"], kind: .invalidInteger(name: "--port", value: " 80"),
            message: "option '--port' expects an integer, got ' 80'"),
        UnhappyCase(
            args: ["run", "x", "--port="], kind: .invalidInteger(name: "--port", value: ""),
            message: "option '--port' expects an integer, got ''"),
        UnhappyCase(
            args: ["run", "x", "--offset", "99999999999999999999"],
            kind: .invalidInteger(name: "--offset", value: "99999999999999999999"),
            message: "option '--offset' expects an integer, got '99999999999999999999'"),
        UnhappyCase(
            args: ["run", "x", "--port", "0"], kind: .invalidValue(name: "--port", value: "0"),
            message: "option '--port' must be between 1 and 65535, got '0'"),
        UnhappyCase(
            args: ["run", "x", "--port", "65536"], kind: .invalidValue(name: "--port", value: "65536"),
            message: "option '--port' must be between 1 and 65535, got '65536'"),
        UnhappyCase(
            args: ["run", "x", "--mode", "medium"], kind: .invalidValue(name: "--mode", value: "medium"),
            message: "option '--mode' must be one of fast, slow, got 'medium'"),
        UnhappyCase(
            args: ["run", "x", "two"], kind: .invalidInteger(name: "SECOND", value: "two"),
            message: "argument SECOND expects an integer, got 'two'"),
        UnhappyCase(
            args: ["run", "x", "--port", "1", "--port", "1"], kind: .duplicateOption("--port"),
            message: "option '--port' given more than once"),
        UnhappyCase(
            args: ["run", "x", "--port=1", "--port=2"], kind: .duplicateOption("--port"),
            message: "option '--port' given more than once"),
        UnhappyCase(
            args: ["run", "x", "--once", "--once"], kind: .duplicateOption("--once"),
            message: "flag '--once' given more than once"),
        UnhappyCase(
            args: ["run", "x", "--once=yes"], kind: .unexpectedValue(flag: "--once"),
            message: "flag '--once' takes no value"),
        UnhappyCase(
            args: ["group", "inner", "a"], kind: .missingOption("--must"),
            message: "missing option '--must M' for 'tool group inner'"),
        UnhappyCase(
            args: ["group", "inner"], kind: .missingPositional("ITEMS"),
            message: "missing argument ITEMS for 'tool group inner'"),
        // The first error in token order wins.
        UnhappyCase(
            args: ["run", "--bogus", "--port", "x"], kind: .unknownOption("--bogus"),
            message: "unknown option '--bogus' for 'tool run'"),
        // User input is escaped so the message stays on one line.
        UnhappyCase(
            args: ["run", "x", "1", "a\nb\t'c'"], kind: .unexpectedArgument("a\nb\t'c'"),
            message: "unexpected argument 'a\\nb\\t\\'c\\'' for 'tool run'"),
        UnhappyCase(
            args: ["run", "x", "1", String(repeating: "y", count: 100)],
            kind: .unexpectedArgument(String(repeating: "y", count: 100)),
            message: "unexpected argument '\(String(repeating: "y", count: 60))…' for 'tool run'"),
    ]

    @Test("unhappy paths", arguments: unhappy)
    func unhappyPath(_ c: UnhappyCase) throws {
        let error = try #require(failure(tool, c.args))
        #expect(error.kind == c.kind)
        #expect(error.message == c.message)
        #expect(!error.message.contains("\n"))
        #expect(error.description == error.message)
    }

    @Test("error codes, hint and exit code")
    func errorDetails() throws {
        let error = try #require(failure(tool, ["group", "inner", "a"]))
        #expect(error.code == "missing_option")
        #expect(error.commandPath == ["tool", "group", "inner"])
        #expect(error.hint == "Run 'tool group inner --help' for usage.")
        #expect(UsageError.exitCode == 2)
        #expect(failure(tool, ["run", "x", "--port", "z"])?.code == "invalid_integer")
        #expect(failure(tool, ["run", "x", "--once", "--once"])?.code == "duplicate_option")
    }

    static let helpRequests: [([String], String)] = [
        (["--help"], "Usage: tool <command>"),
        (["-h"], "Usage: tool <command>"),
        (["run", "--help"], "Usage: tool run"),
        (["run", "x", "--port", "nonsense", "-h"], "Usage: tool run"),  // help wins over other errors
        (["run", "--bogus", "-h"], "Usage: tool run"),
        (["group", "-h"], "Usage: tool group <command>"),
        (["group", "inner", "--help"], "Usage: tool group inner"),
        (["abstract", "--help"], "Usage: tool abstract <command>"),
    ]

    @Test("--help and -h give the selected command's usage", arguments: helpRequests)
    func helpOutcome(args: [String], firstLine: String) throws {
        let text = try #require(help(tool, args))
        #expect(text.hasPrefix(firstLine))
        #expect(text.hasSuffix("\n"))
        #expect(text.contains("-h, --help"))
    }

    @Test("help text is generated from the declaration")
    func helpTextContent() throws {
        let text = try #require(help(tool, ["run", "--help"]))
        #expect(
            text == """
                Usage: tool run FIRST [SECOND] [--port P] [--name NAME] [--tag T ...] [--mode fast|slow] [--offset N] [--once] [--json]

                Run it.

                Arguments:
                  FIRST               first thing
                  SECOND              an optional number

                Options:
                  --port P            port (default: 8080) [1…65535]
                  --name NAME         a name
                  --tag T             a tag (may be repeated)
                  --mode fast|slow    how
                  --offset N          any integer
                  --once              once
                  --json              as JSON
                  -h, --help          show this help

                """)
        let group = try #require(help(tool, ["group", "--help"]))
        #expect(group.hasPrefix("Usage: tool group <command>\n       tool group [--reset]\n"))
        #expect(group.contains("Commands:\n  inner"))
        #expect(group.contains("Run 'tool group <command> --help' for a command's usage."))
        let inner = try #require(help(tool, ["group", "inner", "-h"]))
        #expect(inner.hasPrefix("Usage: tool group inner ITEMS... --must M\n"))
        #expect(inner.contains("--must M"))
        #expect(inner.contains("required"))
    }

    @Test("repeatable options keep every value in order")
    func repeatable() throws {
        let p = try #require(parsed(tool, ["run", "--tag", "a", "x", "--tag=b", "--tag", "a"]))
        #expect(p.strings("--tag") == ["a", "b", "a"])
        #expect(p.string("--tag") == "a")
        #expect(p.isPresent("--tag"))
        #expect(!p.isPresent("--port"))
        #expect(p.string("--port") == "8080")
        #expect(p.strings("--port") == [])
    }

    @Test("positional accessors")
    func positionalAccessors() throws {
        let p = try #require(parsed(tool, ["run", "first", "7"]))
        #expect(p.positional(0) == "first")
        #expect(p.positional(1) == "7")
        #expect(p.positional(2) == nil)
        #expect(p.positional(named: "SECOND") == "7")
        #expect(p.positionalInt(1) == 7)
        #expect(p.subcommandPath == ["run"])
        let q = try #require(parsed(tool, ["run", "first"]))
        #expect(q.positional(named: "SECOND") == nil)
    }

    @Test("parsing is pure: the same input gives the same outcome")
    func deterministic() {
        let args = ["run", "x", "--tag", "a", "--once"]
        #expect(tool.parse(args) == tool.parse(args))
    }

    @Test("the test tool's declaration is sound")
    func toolDeclaration() {
        #expect(tool.declarationProblems() == [])
    }

    @Test("declaration mistakes are reported")
    func declarationProblems() {
        let bad = CommandSpec(
            "bad", summary: "",
            positionals: [
                PositionalSpec("A", required: false), PositionalSpec("B"), PositionalSpec("C", variadic: true),
                PositionalSpec("D"),
            ],
            options: [
                OptionSpec("port"), OptionSpec("--x", required: true, default: "1"),
                OptionSpec("--n", kind: .integer, default: "many"), OptionSpec("--help"),
            ],
            flags: [FlagSpec("--x")],
            subcommands: [CommandSpec("sub", summary: ""), CommandSpec("sub", summary: "")])
        let problems = bad.declarationProblems()
        #expect(problems.contains("bad: 'port' is not of the form --word"))
        #expect(problems.contains("bad: '--help' declared twice or reserved"))
        #expect(problems.contains("bad: '--x' declared twice or reserved"))
        #expect(problems.contains("bad: required B follows an optional positional"))
        #expect(problems.contains("bad: variadic C is not last"))
        #expect(problems.contains("bad: --x is required and has a default"))
        #expect(problems.contains("bad: default 'many' of --n does not fit its kind"))
        #expect(problems.contains("bad: a command with sub-commands cannot take positionals"))
        #expect(problems.contains("bad: command 'sub' declared twice"))
        let abstractLeaf = CommandSpec("x", summary: "", requiresSubcommand: true)
        #expect(abstractLeaf.declarationProblems() == ["x: requires a sub-command but declares none"])
    }
}

/// The real `handoff` declaration against API.md's CLI table.
@Suite("ArgumentsTests: handoff")
struct HandoffArgumentsTests {
    @Test("the declaration is sound")
    func sound() {
        #expect(CommandSpec.handoff.declarationProblems() == [])
    }

    static let commandLines: [([String], [String])] = [
        (["demo"], ["demo"]),
        (["demo", "--port", "8080", "--cases", "50", "--home", "/tmp/h", "--reset"], ["demo"]),
        (["migrate"], ["migrate"]),
        (["serve", "--port=8081", "--host", "0.0.0.0"], ["serve"]),
        (["project"], ["project"]),
        (["project", "--once"], ["project"]),
        (["project", "rebuild", "all"], ["project", "rebuild"]),
        (["watch", "--once"], ["watch"]),
        (["append", "case-KS-1", "CaseOpened", "{}", "--expected-version", "no-stream"], ["append"]),
        (
            ["append", "case-KS-1", "RiskAssessed", "{\"level\":\"high\"}", "--institution", "ksp", "--user", "u"],
            ["append"]
        ),
        (["read", "case-KS-1"], ["read"]),
        (["verify"], ["verify"]),
        (["verify", "case-KS-1"], ["verify"]),
        (["checkpoint"], ["checkpoint"]),
        (
            ["institution", "add", "opav", "--name", "Office for Victim Advocacy", "--kind", "victim-advocacy"],
            ["institution", "add"]
        ),
        (["token", "create", "--role", "institution", "--institution", "opav", "--user", "u1"], ["token", "create"]),
        (["token", "create", "--role=auditor", "--user=a"], ["token", "create"]),
        (["sop", "publish", "rules.json"], ["sop", "publish"]),
        (["bench", "append"], ["bench"]),
        (["bench", "all", "--json", "--seconds", "5"], ["bench"]),
    ]

    @Test("every command line of API.md parses", arguments: commandLines)
    func parses(args: [String], path: [String]) throws {
        let p = try #require(parsed(.handoff, args))
        #expect(p.subcommandPath == path)
    }

    @Test("typed values of handoff commands")
    func values() throws {
        let demo = try #require(parsed(.handoff, ["demo", "--cases", "12"]))
        #expect(demo.int("--cases") == 12)
        #expect(demo.int("--port") == nil)
        #expect(demo.string("--home") == "./.handoff")
        #expect(!demo.flag("--reset"))
        let rebuild = try #require(parsed(.handoff, ["project", "rebuild", "inbox"]))
        #expect(rebuild.positional(named: "NAME") == "inbox")
        let append = try #require(parsed(.handoff, ["append", "s", "T", "{}"]))
        #expect(append.string("--expected-version") == "any")
        #expect(append.positionals == ["s", "T", "{}"])
    }

    static let badCommandLines: [([String], String)] = [
        (["project", "rebuild"], "missing argument NAME for 'handoff project rebuild'"),
        (
            ["project", "--once", "rebuild", "x"],
            "command 'rebuild' must come directly after 'handoff project', before options"
        ),
        (["project", "rebiuld", "x"], "unknown command 'rebiuld' for 'handoff project'; did you mean 'rebuild'?"),
        (["sop", "publish"], "missing argument FILE for 'handoff sop publish'"),
        (["sop"], "missing command for 'handoff sop' (one of: publish)"),
        (
            ["token", "create", "--user", "u"],
            "missing option '--role institution|coordinator|auditor|metrics' for 'handoff token create'"
        ),
        (
            ["token", "create", "--role", "admin", "--user", "u"],
            "option '--role' must be one of institution, coordinator, auditor, metrics, got 'admin'"
        ),
        (["institution", "add", "x", "--name", "N"], "missing option '--kind KIND' for 'handoff institution add'"),
        (["serve", "--port", "http"], "option '--port' expects an integer, got 'http'"),
        (["migrate", "now"], "unexpected argument 'now' for 'handoff migrate'"),
        (["verify", "a", "b"], "unexpected argument 'b' for 'handoff verify'"),
        (["serve", "--once"], "unknown option '--once' for 'handoff serve'"),
        (["wacth"], "unknown command 'wacth' for 'handoff'; did you mean 'watch'?"),
        (["demo", "--reset", "--reset"], "flag '--reset' given more than once"),
    ]

    @Test("bad handoff command lines", arguments: badCommandLines)
    func bad(args: [String], message: String) throws {
        let error = try #require(failure(.handoff, args))
        #expect(error.message == message)
    }

    /// The logging options of every long-running command (issue 19).
    static let logging = "[--log-format json|text] [--log-level trace|debug|info|notice|warning|error|critical]"
    /// The database deadlines of `serve` and `demo` (issue 19).
    static let deadlines = "[--statement-timeout SECONDS] [--pool-wait SECONDS]"

    static let usageLines: [([String], String)] = [
        (["demo"], "handoff demo [--port P] [--cases N] [--home DIR] \(deadlines) \(logging) [--reset]"),
        (["migrate"], "handoff migrate"),
        // API.md's line, then the options added since (issue 19).
        (
            ["serve"],
            "handoff serve [--port P] [--host H] [--public-url URL] [--max-streams-per-token N] [--max-requests-per-caller N] "
                + "[--append-budget N] "
                + "[--append-budget-per-second N] [--body-budget-mib M] "
                + "[--body-budget-per-address-mib M] [--session-idle-minutes N] [--session-hours N] [--sign-in-max-failures N] [--sign-in-lock-minutes N] "
                + "[--default-lang sq|sr-Latn|sr-Cyrl|en] [--read-url URL] [--read-max-lag SECONDS] \(deadlines) "
                + "\(logging)"
        ),
        (["project"], "handoff project \(deadlines) \(logging) [--once]"),
        (["project", "rebuild"], "handoff project rebuild NAME"),
        (["watch"], "handoff watch \(deadlines) \(logging) [--once]"),
        (["read"], "handoff read STREAM"),
        (["verify"], "handoff verify [STREAM] [--checkpoint FILE] [--heads FILE] [--read-models]"),
        (["checkpoint"], "handoff checkpoint [--heads FILE]"),
        (["institution", "add"], "handoff institution add ID --name NAME --kind KIND [--case-id-prefix P]"),
        (
            ["token", "create"],
            "handoff token create --role institution|coordinator|auditor|metrics [--institution ID] --user U"
        ),
        (["sop", "publish"], "handoff sop publish FILE"),
        (
            ["user", "add"],
            "handoff user add USER --role institution|coordinator|auditor [--institution ID] --name NAME "
                + "[--generate-password]"
        ),
        (["user", "reset-password"], "handoff user reset-password USER [--generate-password] [--clear-one-time-code]"),
        (["user", "disable"], "handoff user disable USER"),
        (["user", "list"], "handoff user list"),
    ]

    @Test("usage lines read as in API.md", arguments: usageLines)
    func usageLine(args: [String], line: String) throws {
        let text = try #require(help(.handoff, args + ["-h"]))
        #expect(text.contains(line + "\n"))
    }

    @Test("every handoff command has help")
    func everyCommandHasHelp() throws {
        func walk(_ spec: CommandSpec, _ args: [String]) throws {
            let text = try #require(help(.handoff, args + ["--help"]))
            #expect(text.contains(spec.summary))
            #expect(text.contains("Usage: handoff"))
            for sub in spec.subcommands { try walk(sub, args + [sub.name]) }
        }
        try walk(.handoff, [])
    }
}
