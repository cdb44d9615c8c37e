import EventStore
import Foundation
import Postgres

#if canImport(Glibc)
    import Glibc
#endif

/// Where a command reads its environment and writes its output; tests pass their own.
public struct CLIContext: Sendable {
    public var environment: [String: String]
    public var standardOutput: @Sendable (String) -> Void
    public var standardError: @Sendable (String) -> Void
    /// True when stderr is a terminal (progress bars instead of plain lines).
    public var isTerminal: Bool
    /// True for the process's own context: a long-running command then also sets the
    /// process-wide logger (`LoggingSystem`); a test's context leaves it alone.
    public var isProcess = false
    /// Reads standard input to its end (`handoff token revoke -` reads the token there, where
    /// `ps` cannot see it); nil when there is none.
    public var standardInput: @Sendable () -> String?
    /// Asks for a password on the terminal with echo off (`handoff user add`, `reset-password`);
    /// nil when stdin is not a terminal: the password is then the first line of stdin. Never argv.
    public var passwordPrompt: (@Sendable (String) -> String?)? = nil

    public init(
        environment: [String: String], standardOutput: @escaping @Sendable (String) -> Void,
        standardError: @escaping @Sendable (String) -> Void, isTerminal: Bool = false,
        standardInput: @escaping @Sendable () -> String? = { nil }
    ) {
        self.environment = environment
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.isTerminal = isTerminal
        self.standardInput = standardInput
    }

    /// The process's own environment, stdout and stderr.
    public static var process: CLIContext {
        var context = CLIContext(
            environment: ProcessInfo.processInfo.environment,
            standardOutput: { FileHandle.standardOutput.write(Data($0.utf8)) },
            standardError: { FileHandle.standardError.write(Data($0.utf8)) },
            isTerminal: isatty(STDERR_FILENO) == 1,
            standardInput: {
                // At most 64 KiB: a token is a line; anything longer is not one.
                let data = FileHandle.standardInput.readData(ofLength: 65_536)
                return String(data: data, encoding: .utf8)
            })
        context.isProcess = true
        if isatty(STDIN_FILENO) == 1 { context.passwordPrompt = { TerminalPassword.read(prompt: $0) } }
        return context
    }

    /// A password: asked twice on a terminal (echo off; the two must agree), else the first line
    /// of stdin. Nil when none was given.
    func readPassword() throws -> String? {
        if let passwordPrompt {
            guard let first = passwordPrompt("New password: "), !first.isEmpty else { return nil }
            guard passwordPrompt("Again: ") == first else { throw CLIError(message: "the two passwords differ") }
            return first
        }
        guard let input = standardInput() else { return nil }
        let line = input.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let password = String(line.hasSuffix("\r") ? line.dropLast() : line)
        return password.isEmpty ? nil : password
    }

    func out(_ line: String) { standardOutput(line + "\n") }
    func err(_ line: String) { standardError(line + "\n") }

    /// `DATABASE_URL`, or an error saying it is needed.
    func databaseURL() throws -> String {
        guard let url = environment["DATABASE_URL"], !url.isEmpty else {
            throw CLIError(
                message: "DATABASE_URL is not set (a libpq URI, e.g. postgresql://handoff@localhost/handoff)")
        }
        return url
    }
}

/// A failure with its exit status: 1 error, 2 bad usage, 3 wrong expected version.
public struct CLIError: Error, CustomStringConvertible {
    public var message: String
    public var exitCode: Int32 = 1
    public var description: String { message }

    static func usage(_ message: String) -> CLIError { CLIError(message: message, exitCode: 2) }
}

/// The `handoff` command line.
public enum HandoffCLI {
    /// Runs a command line (without the program name) and returns the exit status.
    public static func run(_ arguments: [String], context: CLIContext) async -> Int32 {
        let parsed: ParsedArguments
        switch CommandSpec.handoff.parse(arguments) {
        case .help(let text):
            context.standardOutput(text.hasSuffix("\n") ? text : text + "\n")
            return 0
        case .failure(let error):
            context.err("handoff: \(error.message)")
            context.err(error.hint)
            return UsageError.exitCode
        case .parsed(let p):
            parsed = p
        }
        do {
            try await dispatch(parsed, context)
            return 0
        } catch let error as CLIError {
            context.err("handoff: \(error.message)")
            return error.exitCode
        } catch let error as EventStoreError {
            if case .unavailable = error {
                context.err("handoff: \(await unreachable(context) ?? String(describing: error))")
                return 1
            }
            context.err("handoff: \(error)")
            if case .wrongExpectedVersion = error { return 3 }
            return 1
        } catch let error as PostgresError where error.isUnavailable {
            context.err("handoff: \(await unreachable(context) ?? String(describing: error))")
            return 1
        } catch {
            context.err("handoff: \(error)")
            return 1
        }
    }

    /// What libpq says when it connects to `DATABASE_URL` now, for a command that found the database
    /// unavailable: a URL that does not parse, a database that does not exist, a refused password
    /// and a server that is down all read "the database is unavailable" otherwise (an operator's
    /// pass). The URL's password never appears. Nil when the connection now succeeds or there is no URL.
    static func unreachable(_ context: CLIContext) async -> String? {
        guard let url = try? context.databaseURL() else { return nil }
        do {
            let connection = try await Connection.connect(url, connectTimeout: 5, applicationName: "handoff-cli")
            connection.close()
            return nil
        } catch let error as PostgresError {
            var message = (error.serverMessage ?? "\(error)").split(whereSeparator: \.isNewline).joined(separator: "; ")
            if let password = URLComponents(string: url)?.password, !password.isEmpty {
                message = message.replacingOccurrences(of: password, with: "***")
            }
            return "cannot connect to the database (DATABASE_URL): " + message
        } catch {
            return nil
        }
    }

    static func dispatch(_ args: ParsedArguments, _ context: CLIContext) async throws {
        switch args.subcommandPath {
        case ["migrate"]: try await StoreCommands.migrate(context)
        case ["append"]: try await StoreCommands.append(args, context)
        case ["read"]: try await StoreCommands.read(args, context)
        case ["verify"]: try await StoreCommands.verify(args, context)
        case ["checkpoint"]: try await StoreCommands.checkpoint(args, context)
        case ["bench"]: try await BenchCommand.run(args, context)
        case ["report", "annual"]: try await ReportCommand.annual(args, context)
        case ["institution", "add"]: try await RegistryCommands.addInstitution(args, context)
        case ["sop", "publish"]: try await RegistryCommands.publishRuleset(args, context)
        case ["project"]: try await ProcessCommands.project(args, context)
        case ["project", "rebuild"]: try await ProcessCommands.rebuild(args, context)
        case ["watch"]: try await ProcessCommands.watch(args, context)
        case ["serve"]: try await ServiceCommands.serve(args, context)
        case ["demo"]: try await DemoCommand.run(args, context)
        case ["token", "create"]: try await ServiceCommands.createToken(args, context)
        case ["secret", "rotate"]: try await SecretCommands.rotate(context)
        case ["token", "revoke"]: try await ServiceCommands.revokeToken(args, context)
        case ["user", "add"]: try await AccountCommands.add(args, context)
        case ["user", "disable"]: try await AccountCommands.disable(args, context)
        case ["user", "reset-password"]: try await AccountCommands.resetPassword(args, context)
        case ["user", "unlock"]: try await AccountCommands.unlock(args, context)
        case ["user", "list"]: try await AccountCommands.list(args, context)
        default:
            try await dispatchMore(args, context)
        }
    }
}
