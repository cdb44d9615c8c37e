import Foundation
import Postgres
import QueryService
import Referrals
import ServiceStore

#if canImport(Glibc)
    import Glibc
#endif

/// `handoff user add|disable|reset-password|unlock|list`: persons' accounts (``AccountStore``).
/// Output is JSON on stdout; a password appears only when generated, once.
enum AccountCommands {
    static func store(_ context: CLIContext) throws -> AccountStore {
        AccountStore(pool: ConnectionPool(url: try context.databaseURL(), maximumConnections: 1))
    }

    /// The password of `add` and `reset-password`: generated, typed at the prompt, or stdin's first line.
    static func password(_ args: ParsedArguments, _ context: CLIContext) throws -> (password: String, generated: Bool) {
        if args.flag("--generate-password") { return (AccountStore.generatePassword(), true) }
        guard let typed = try context.readPassword() else {
            throw CLIError.usage("write the password (one line) to stdin, or use --generate-password")
        }
        if let problem = AccountStore.passwordProblem(typed) { throw CLIError.usage(problem) }
        return (typed, false)
    }

    static func add(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let user = args.positionals.first ?? ""
        let role = Principal.Role(rawValue: args.string("--role") ?? "")!
        let institution = args.string("--institution")
        if role == .institution && institution == nil {
            throw CLIError.usage("--role institution needs --institution ID")
        }
        guard Identifiers.isValidUserName(user) else {
            throw CLIError.usage("a user name is 1-64 of a-z 0-9 . _ - (beginning with a letter or digit)")
        }
        try await RegistryCommands.checkCredentialInstitution(institution, actsOnCases: role == .institution, context)
        let (password, generated) = try password(args, context)
        do {
            let account = try await store(context).add(
                userName: user, role: role, institution: institution, displayName: args.string("--name") ?? "",
                password: password)
            var object = json(account)
            if generated { object["password"] = password }
            context.out(try line(object))
            if account.requiresOneTimeCode {
                context.err("\(user) enrols a one-time code at the first sign-in (the dashboard shows the key)")
            }
        } catch let error as AccountStore.AccountError {
            if case .exists = error { throw CLIError(message: "\(error)") }
            throw CLIError.usage("\(error)")
        }
    }

    static func disable(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let user = args.positionals.first ?? ""
        do {
            let ended = try await store(context).disable(userName: user)
            context.out(try line(["user": user, "disabled": true, "sessionsEnded": ended]))
        } catch let error as AccountStore.AccountError {
            throw CLIError(message: "\(error)")
        }
    }

    static func resetPassword(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let user = args.positionals.first ?? ""
        let accounts = try store(context)
        guard try await accounts.account(named: user) != nil else {
            throw CLIError(message: "\(AccountStore.AccountError.notFound(user))")
        }
        let (password, generated) = try password(args, context)
        do {
            var ended = try await accounts.resetPassword(userName: user, password: password)
            if args.flag("--clear-one-time-code") { ended += try await accounts.clearOneTimeCode(userName: user) }
            var object: [String: Any] = ["user": user, "passwordReset": true, "sessionsEnded": ended]
            if args.flag("--clear-one-time-code") { object["oneTimeCodeCleared"] = true }
            if generated { object["password"] = password }
            context.out(try line(object))
        } catch let error as AccountStore.AccountError {
            throw CLIError(message: "\(error)")
        }
    }

    static func unlock(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let user = args.positionals.first ?? ""
        let accounts = try store(context)
        guard try await accounts.account(named: user) != nil else {
            throw CLIError(message: "\(AccountStore.AccountError.notFound(user))")
        }
        let was = try await accounts.unlock(userName: user)
        context.out(try line(["user": user, "unlocked": true, "hadFailedAttempts": was]))
    }

    static func list(_ args: ParsedArguments, _ context: CLIContext) async throws {
        for account in try await store(context).list() { context.out(try line(json(account))) }
    }

    static func json(_ account: AccountStore.Account) -> [String: Any] {
        [
            "user": account.userName, "role": account.role.rawValue, "institution": account.institution ?? NSNull(),
            "displayName": account.displayName, "disabled": account.disabled, "oneTimeCode": account.hasOneTimeCode,
            "locked": account.locked,
        ]
    }

    static func line(_ object: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

/// Reads a line from the terminal with echo off (a password prompt), restoring the terminal after —
/// also when the prompt is interrupted by Ctrl-C or SIGTERM, which otherwise leave the shell blind.
enum TerminalPassword {
    /// The terminal's settings before the prompt, for the signal handler (set before it is installed).
    nonisolated(unsafe) private static var saved = termios()

    static func read(prompt: String) -> String? {
        FileHandle.standardError.write(Data(prompt.utf8))
        let canHide = tcgetattr(STDIN_FILENO, &saved) == 0
        var previous: [Int32: sigaction] = [:]
        if canHide {
            // Restores the terminal, then ends as the signal would have (tcsetattr and _exit are
            // async-signal-safe).
            let restore: @convention(c) (Int32) -> Void = { number in
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &TerminalPassword.saved)
                _exit(128 + number)
            }
            for number in [SIGINT, SIGTERM, SIGHUP] {
                var action = sigaction()
                action.__sigaction_handler.sa_handler = restore
                var old = sigaction()
                sigaction(number, &action, &old)
                previous[number] = old
            }
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        defer {
            if canHide {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
                for (number, old) in previous {
                    var old = old
                    sigaction(number, &old, nil)
                }
            }
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return readLine(strippingNewline: true)
    }
}
