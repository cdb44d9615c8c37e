import Crypto
import Foundation
import Postgres
import QueryService
import Referrals
import ServiceStore

/// The demo's persons: one account per demo institution, its user name the institution's id,
/// with a random password; the coordinator `natc` and the auditor `audit` also with a one-time-code
/// key enrolled. Written to `DIR/persons.json` (mode 0600) beside `tokens.json`:
///
/// ```json
/// {"natc": {"user": "natc", "role": "coordinator", "password": "…", "oneTimeCodeKey": "BASE32…"}, …}
/// ```
enum DemoPersons {
    struct Person: Sendable {
        var user: String
        var role: Principal.Role
        var password: String
        /// Base32, for an authenticator app (coordinator and auditor only).
        var key: String?
    }

    /// Reuses `persons.json` when every account in it exists and is enabled; otherwise sets a new
    /// password (and key) for each demo institution's account, creating what is missing.
    static func write(to file: URL, pool: ConnectionPool) async throws -> [Person] {
        let accounts = AccountStore(pool: pool)
        if let data = FileManager.default.contents(atPath: file.path),
            let existing = try? JSONSerialization.jsonObject(with: data) as? [String: [String: String]],
            Set(existing.keys) == Set(Institution.demo.map(\.id))
        {
            var people: [Person] = []
            for institution in Institution.demo {
                guard let entry = existing[institution.id], let user = entry["user"], let password = entry["password"],
                    let role = entry["role"].flatMap(Principal.Role.init(rawValue:)),
                    let account = try await accounts.account(named: user), !account.disabled
                else { people = []; break }
                people.append(Person(user: user, role: role, password: password, key: entry["oneTimeCodeKey"]))
            }
            if people.count == Institution.demo.count { return people }
        }
        var people: [Person] = []
        for institution in Institution.demo {
            let role: Principal.Role =
                institution.kinds.contains(.coordinator)
                ? .coordinator : institution.kinds.contains(.auditor) ? .auditor : .institution
            let password = AccountStore.generatePassword()
            let account: AccountStore.Account
            if let found = try await accounts.account(named: institution.id) {
                try await accounts.resetPassword(userName: institution.id, password: password)
                account = found
            } else {
                account = try await accounts.add(
                    userName: institution.id, role: role, institution: institution.id,
                    displayName: "\(institution.name) (demo person)", password: password)
            }
            try await accounts.unlock(userName: institution.id)
            var key: String?
            if account.requiresOneTimeCode {
                let secret = SecureRandom.bytes(AccountStore.secretByteCount)
                try await accounts.enrolOneTimeCode(accountId: account.id, secret: secret)
                key = Base32.encode(secret)
            }
            people.append(Person(user: institution.id, role: role, password: password, key: key))
        }
        var object: [String: [String: String]] = [:]
        for person in people {
            var entry = ["user": person.user, "role": person.role.rawValue, "password": person.password]
            entry["oneTimeCodeKey"] = person.key
            object[person.user] = entry
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        FileManager.default.createFile(atPath: file.path, contents: data, attributes: [.posixPermissions: 0o600])
        return people
    }

    /// The banner's lines: user, password, and the key where there is one.
    static func banner(_ people: [Person]) -> String {
        people.map { person in
            let padded = person.user.padding(toLength: 14, withPad: " ", startingAt: 0)
            return "    \(padded)\(person.password)" + (person.key.map { "   one-time-code key \($0)" } ?? "")
        }.joined(separator: "\n")
    }
}
