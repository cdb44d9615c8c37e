import Crypto
import Foundation
import HandoffTestSupport
import Postgres
import QueryService
import ServiceStore
import Testing

@testable import HandoffCLI

/// `handoff user add|disable|reset-password|unlock|list`: passwords from stdin (or generated and
/// printed once), never from the command line; disabling and resetting end sessions.
@Suite struct AccountCommandTests {
    static func object(_ line: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func addListDisableResetAndUnlock() async throws {
        let db = try await TestDatabase.make()
        try await DemoRegistry.register(db.url)
        let cli = CapturedCLI(databaseURL: db.url)
        let password = "a long enough password"
        // The password is the first line of stdin.
        var r = await cli.run(
            [
                "user", "add", "advocate-3", "--role", "institution", "--institution", "opav", "--name",
                "Advocate Three",
            ],
            input: password + "\nignored second line\n")
        #expect(r.status == 0, "\(r.err)")
        let added = try Self.object(r.out)
        #expect(added["user"] as? String == "advocate-3" && added["role"] as? String == "institution")
        #expect(added["password"] == nil && !r.out.contains(password) && !r.err.contains(password))
        // Generated: printed once, in the JSON.
        r = await cli.run([
            "user", "add", "natc-2", "--role", "coordinator", "--name", "Coordinator", "--generate-password",
        ])
        #expect(r.status == 0, "\(r.err)")
        let generated = try #require(try Self.object(r.out)["password"] as? String)
        #expect(AccountStore.passwordProblem(generated) == nil)
        #expect(r.err.contains("one-time code"))

        let pool = ConnectionPool(url: db.url, maximumConnections: 1)
        defer { Task { await pool.close() } }
        let accounts = AccountStore(pool: pool, policy: SignInPolicy(maxFailures: 2, firstDelay: .zero))
        #expect(
            try await accounts.signIn(userName: "advocate-3", password: password, code: nil).outcome
                != .wrongCredentials)
        #expect(
            try await accounts.signIn(userName: "natc-2", password: generated, code: nil).outcome
                == .enrolmentRequired(try #require(try await accounts.account(named: "natc-2"))))

        // Bad usage: no password, a short one, a password on the command line, bad names and roles.
        for (args, input) in [
            (["user", "add", "x1", "--role", "institution", "--institution", "opav", "--name", "X"], nil),
            (["user", "add", "x1", "--role", "institution", "--institution", "opav", "--name", "X"], "short\n"),
            (
                [
                    "user", "add", "x1", "--role", "institution", "--institution", "opav", "--name", "X", "--password",
                    password,
                ], nil
            ),
            (["user", "add", "x1", "--role", "institution", "--name", "X"], password),
            (["user", "add", "Bad Name", "--role", "auditor", "--name", "X"], password),
            (["user", "add", "x1", "--role", "admin", "--name", "X"], password),
        ] as [([String], String?)] {
            r = await cli.run(args, input: input)
            #expect(r.status == 2, "\(args)")
            #expect(!r.out.contains(password) && !r.err.contains(password))
        }
        r = await cli.run(
            ["user", "add", "advocate-3", "--role", "institution", "--institution", "opav", "--name", "Again"],
            input: password)
        #expect(r.status == 1 && r.err.contains("exists"))

        // list: one JSON line each, never a password or hash.
        r = await cli.run(["user", "list"])
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(try lines.map { try Self.object($0)["user"] as? String } == ["advocate-3", "natc-2"])
        #expect(!r.out.contains("$2a$") && !r.out.contains(generated))

        // Locked after two failures; reset-password and unlock lift it.
        for _ in 0..<2 { _ = try await accounts.signIn(userName: "advocate-3", password: "wrong password", code: nil) }
        #expect(try await accounts.signIn(userName: "advocate-3", password: password, code: nil).outcome == .locked)
        r = await cli.run(["user", "list"])
        #expect(r.out.contains("\"locked\":true"))
        r = await cli.run(["user", "unlock", "advocate-3"])
        #expect(r.status == 0 && r.out.contains("\"hadFailedAttempts\":true"))
        #expect(try await accounts.signIn(userName: "advocate-3", password: password, code: nil).outcome != .locked)
        for _ in 0..<2 { _ = try await accounts.signIn(userName: "advocate-3", password: "wrong password", code: nil) }
        r = await cli.run(["user", "reset-password", "advocate-3", "--generate-password"])
        #expect(r.status == 0, "\(r.err)")
        let newPassword = try #require(try Self.object(r.out)["password"] as? String)
        if case .signedIn = try await accounts.signIn(userName: "advocate-3", password: newPassword, code: nil).outcome
        {
        } else {
            Issue.record("the new password signs in")
        }
        #expect(
            try await accounts.signIn(userName: "advocate-3", password: password, code: nil).outcome
                == .wrongCredentials)
        // From stdin too.
        r = await cli.run(["user", "reset-password", "advocate-3"], input: password + "\n")
        #expect(r.status == 0 && !r.out.contains(password))

        // disable: ends sessions, and the account signs in no more.
        let account = try #require(try await accounts.account(named: "advocate-3"))
        let sessions = SessionStore(pool: pool)
        let started = try await sessions.start(for: account)
        r = await cli.run(["user", "disable", "advocate-3"])
        #expect(r.status == 0 && r.out.contains("\"sessionsEnded\":1"))
        #expect(try await sessions.resume(started.secret) == nil)
        #expect(
            try await accounts.signIn(userName: "advocate-3", password: password, code: nil).outcome
                == .wrongCredentials)
        r = await cli.run(["user", "list"])
        #expect(r.out.contains("\"disabled\":true"))
        // Unknown users.
        for command in [
            ["user", "disable", "nobody"], ["user", "unlock", "nobody"], ["user", "reset-password", "nobody"],
        ] {
            r = await cli.run(command, input: password)
            #expect(r.status == 1, "\(command)")
        }
    }

    /// An operator cannot issue a credential for an institution the registry does not know (a
    /// typo, or one never registered), nor an institution-role one for the coordinator's or the
    /// auditor's institution, which monitor cases and never act in them.
    @Test func credentialsOnlyForRegisteredInstitutionsAndRolesTheyHold() async throws {
        let db = try await TestDatabase.make()
        let cli = CapturedCLI(databaseURL: db.url)
        let password = "a long enough password"
        let unregistered = await cli.run(
            ["user", "add", "u1", "--role", "institution", "--institution", "opav", "--name", "U"], input: password)
        #expect(unregistered.status == 2 && unregistered.err.contains("not registered"), "\(unregistered.err)")
        try await DemoRegistry.register(db.url)
        for (command, expected) in [
            (["user", "add", "u1", "--role", "institution", "--institution", "opa", "--name", "U"], "not registered"),
            (["token", "create", "--role", "institution", "--institution", "opa", "--user", "u1"], "not registered"),
            (["user", "add", "u1", "--role", "institution", "--institution", "natc", "--name", "U"], "monitors cases"),
            (["token", "create", "--role", "institution", "--institution", "audit", "--user", "u1"], "monitors cases"),
            (
                ["token", "create", "--role", "coordinator", "--institution", "nobody", "--user", "u1"],
                "not registered"
            ),
            // The name events record as actor.user, by the rule for persons' names.
            (["token", "create", "--role", "auditor", "--user", "Officer One"], "--user is 1-64"),
            (["token", "create", "--role", "auditor", "--user", "evil\u{202E}"], "--user is 1-64"),
        ] {
            let r = await cli.run(command, input: password)
            #expect(r.status == 2 && r.err.contains(expected), "\(command): \(r.err)")
            #expect(r.out.isEmpty)
        }
        for command in [
            ["user", "add", "u1", "--role", "institution", "--institution", "opav", "--name", "U"],
            ["token", "create", "--role", "institution", "--institution", "opav", "--user", "u1"],
            ["token", "create", "--role", "coordinator", "--institution", "natc", "--user", "u2"],
            ["token", "create", "--role", "auditor", "--user", "u3"],
        ] {
            let r = await cli.run(command, input: password)
            #expect(r.status == 0, "\(command): \(r.err)")
        }
    }

    @Test func theDemoWritesOnePersonPerInstitutionWithKeysForCoordinatorAndAuditor() async throws {
        let db = try await TestDatabase.make()
        let pool = ConnectionPool(url: db.url, maximumConnections: 2)
        defer { Task { await pool.close() } }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("persons-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("persons.json")
        let people = try await DemoPersons.write(to: file, pool: pool)
        #expect(
            Set(people.map(\.user))
                == Set(["kp-dthb", "ksp", "opav", "csw-prishtina", "isf", "pvpt", "iom-kosovo", "natc", "audit"]))
        #expect(people.filter { $0.key != nil }.map(\.user).sorted() == ["audit", "natc"])
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let accounts = AccountStore(pool: pool)
        let natc = try #require(people.first { $0.user == "natc" })
        let secret = try #require(Base32.decode(natc.key!))
        let code = AccountStore.totp(secret).code(at: Date().timeIntervalSince1970)
        guard
            case .signedIn(let account) = try await accounts.signIn(
                userName: "natc", password: natc.password, code: code
            ).outcome
        else {
            Issue.record("natc signs in with its password and code")
            return
        }
        #expect(account.role == .coordinator)
        // A second start reuses the file.
        let again = try await DemoPersons.write(to: file, pool: pool)
        #expect(again.map(\.password) == people.map(\.password))
        #expect(DemoPersons.banner(people).contains(natc.key!))
    }
}
