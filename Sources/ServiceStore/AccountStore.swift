import Crypto
import EventStore
import Foundation
import Postgres
import Referrals

/// Person accounts in `handoff.accounts` (Migrations/0026): a user name, an institution, a role,
/// a display name, a password hashed by PostgreSQL's pgcrypto (bcrypt, cost 12), and for
/// coordinators and auditors always (for others when they choose) a one-time-code secret (TOTP,
/// RFC 6238).
///
/// Passwords reach the database only as bind parameters of `handoff.password_hash` and
/// `handoff.password_matches`; neither this store nor its errors ever print one. One-time-code
/// secrets are stored sealed (`handoff.totp_seal`, AES-256) under a key derived from the current
/// system event key (``SystemEventKey/derivedKey(purpose:)``), so a reader of the accounts table
/// alone cannot compute codes.
///
/// ```swift
/// let accounts = AccountStore(pool: pool)
/// try await accounts.add(
///     userName: "advocate-7", role: .institution, institution: "opav", displayName: "Advocate 7",
///     password: password)
/// switch try await accounts.signIn(userName: "advocate-7", password: password, code: nil) { … }
/// ```
public struct AccountStore: Sendable {
    let pool: ConnectionPool
    /// How failures slow down and lock.
    public let policy: SignInPolicy

    public init(pool: ConnectionPool, policy: SignInPolicy = SignInPolicy()) {
        self.pool = pool
        self.policy = policy
    }

    /// A person's account as administrators and the service see it (never its password or secret).
    public struct Account: Sendable, Equatable {
        public var id: Int64
        public var userName: String
        public var role: Principal.Role
        public var institution: String?
        public var displayName: String
        public var disabled: Bool
        /// Whether a one-time-code secret is enrolled.
        public var hasOneTimeCode: Bool
        /// Whether sign-in is locked for the account's user name now.
        public var locked: Bool

        /// Who the account acts as: events and the access log record `user` = the user name.
        public var principal: Principal { Principal(role: role, institution: institution, user: userName) }

        /// Coordinator and auditor accounts cannot sign in without a one-time code.
        public var requiresOneTimeCode: Bool { AccountStore.requiresOneTimeCode(role) }
    }

    /// Whether accounts of `role` must enrol a one-time code before they may sign in.
    public static func requiresOneTimeCode(_ role: Principal.Role) -> Bool { role != .institution }

    /// Errors of account administration (safe to print: never a password).
    public enum AccountError: Error, Sendable, Equatable, CustomStringConvertible {
        /// A user name, institution, display name or password that breaks the rules (which one, and why).
        case invalid(String)
        /// An account with this user name exists.
        case exists(String)
        /// No account has this user name.
        case notFound(String)

        public var description: String {
            switch self {
            case .invalid(let why): return why
            case .exists(let name): return "an account named \(name) exists"
            case .notFound(let name): return "no account named \(name)"
            }
        }
    }

    // MARK: - Rules

    /// Shortest password accepted, in characters.
    public static let minimumPasswordLength = 12
    /// Longest password accepted, in UTF-8 bytes: bcrypt reads no further than 72 bytes, so a
    /// longer one would silently match any password that shares its first 72 bytes.
    public static let maximumPasswordBytes = 72

    /// Why `password` cannot be set, or nil when it can: 12 characters at least, 72 bytes at
    /// most, no control characters.
    public static func passwordProblem(_ password: String) -> String? {
        if password.count < minimumPasswordLength {
            return "a password needs at least \(minimumPasswordLength) characters"
        }
        if password.utf8.count > maximumPasswordBytes {
            return "a password may have at most \(maximumPasswordBytes) bytes (bcrypt reads no further)"
        }
        if password.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "a password may not contain control characters"
        }
        return nil
    }

    /// A random password of 24 characters (four groups of five from `a-z 2-9` without look-alikes,
    /// about 100 bits), for `--generate-password` and the demo.
    public static func generatePassword() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")
        var rng = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String((0..<5).map { _ in alphabet.randomElement(using: &rng)! }) }
            .joined(separator: "-")
    }

    /// The user name as typed, trimmed and lowercased (what sign-in looks up).
    public static func normalize(_ typed: String) -> String {
        typed.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    // MARK: - Administration

    /// Creates an account. - Throws: `AccountError` (invalid input, the name taken), or a database error.
    @discardableResult
    public func add(
        userName: String, role: Principal.Role, institution: String?, displayName: String, password: String
    ) async throws -> Account {
        guard Identifiers.isValidUserName(userName) else {
            throw AccountError.invalid("a user name is 1–64 of a-z 0-9 . _ - (beginning with a letter or digit)")
        }
        if role == .institution, institution == nil {
            throw AccountError.invalid("an institution account needs an institution")
        }
        if let institution, !Identifiers.isValidInstitutionId(institution) {
            throw AccountError.invalid("an institution id is 1–64 of a-z 0-9 -")
        }
        let name = displayName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...128).contains(name.count),
            !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw AccountError.invalid("a display name is 1–128 characters without control characters") }
        if let problem = Self.passwordProblem(password) { throw AccountError.invalid(problem) }
        do {
            let row = try await pool.query(
                """
                INSERT INTO handoff.accounts (user_name, role, institution, display_name, password_hash)
                VALUES (\(userName), \(role.rawValue), \(institution), \(name), handoff.password_hash(\(password)))
                RETURNING id
                """
            ).first!
            return Account(
                id: try row.decode(0), userName: userName, role: role, institution: institution, displayName: name,
                disabled: false, hasOneTimeCode: false, locked: false)
        } catch let error as PostgresError where error.sqlState == "23505" {
            throw AccountError.exists(userName)
        }
    }

    /// Every account, by user name.
    public func list() async throws -> [Account] {
        try await accounts(where: nil)
    }

    /// The account with this user name, or nil.
    public func account(named userName: String) async throws -> Account? {
        try await accounts(where: userName).first
    }

    private func accounts(where userName: String?) async throws -> [Account] {
        let rows = try await pool.query(
            """
            SELECT a.id, a.user_name, a.role, a.institution, a.display_name, a.disabled_at IS NOT NULL,
                   a.totp_secret IS NOT NULL,
                   coalesce(t.locked_until > clock_timestamp(), false)
              FROM handoff.accounts a LEFT JOIN handoff.sign_in_throttle t ON t.name_digest = handoff.name_digest(a.user_name)
             WHERE \(userName)::text IS NULL OR a.user_name = \(userName)
             ORDER BY a.user_name
            """)
        return try rows.all.map { row in
            Account(
                id: try row.decode(0), userName: try row.decode(1),
                role: Principal.Role(rawValue: try row.decode(2)) ?? .auditor, institution: try row.decodeOptional(3),
                displayName: try row.decode(4), disabled: try row.decode(5), hasOneTimeCode: try row.decode(6),
                locked: try row.decode(7))
        }
    }

    /// Disables an account and ends its sessions at once (their streams within 5 s). Returns how
    /// many live sessions ended. - Throws: `AccountError.notFound`, or a database error.
    @discardableResult
    public func disable(userName: String) async throws -> Int {
        try await pool.withConnection { connection in
            try await connection.transaction { c in
                let updated = try await c.query(
                    """
                    UPDATE handoff.accounts SET disabled_at = coalesce(disabled_at, clock_timestamp())
                     WHERE user_name = \(userName) RETURNING id
                    """)
                guard let id: Int64 = try updated.first?.decode(0) else { throw AccountError.notFound(userName) }
                return try await Self.endSessions(of: id, c)
            }
        }
    }

    /// Sets a new password, ends the account's sessions and lifts a lock. Returns how many live
    /// sessions ended. - Throws: `AccountError` (invalid password, no such account), or a database error.
    @discardableResult
    public func resetPassword(userName: String, password: String) async throws -> Int {
        if let problem = Self.passwordProblem(password) { throw AccountError.invalid(problem) }
        return try await pool.withConnection { connection in
            try await connection.transaction { c in
                let updated = try await c.query(
                    """
                    UPDATE handoff.accounts
                       SET password_hash = handoff.password_hash(\(password)), password_changed_at = clock_timestamp(),
                           totp_pending = NULL, totp_pending_key_id = NULL, totp_pending_session = NULL
                     WHERE user_name = \(userName) RETURNING id
                    """)
                guard let id: Int64 = try updated.first?.decode(0) else { throw AccountError.notFound(userName) }
                try await c.query(
                    "DELETE FROM handoff.sign_in_throttle WHERE name_digest = handoff.name_digest(\(userName))")
                return try await Self.endSessions(of: id, c)
            }
        }
    }

    /// Lifts a lock and forgets failed attempts for a user name. Returns whether there were any.
    @discardableResult
    public func unlock(userName: String) async throws -> Bool {
        try await pool.query(
            "DELETE FROM handoff.sign_in_throttle WHERE name_digest = handoff.name_digest(\(userName))"
        ).affectedRows > 0
    }

    /// Forgets an account's one-time-code secret (a lost phone): a coordinator or auditor then
    /// enrols again at the next sign-in. Ends its sessions. - Throws: `AccountError.notFound`.
    @discardableResult
    public func clearOneTimeCode(userName: String) async throws -> Int {
        try await pool.withConnection { connection in
            try await connection.transaction { c in
                let updated = try await c.query(
                    """
                    UPDATE handoff.accounts SET totp_secret = NULL, totp_key_id = NULL, totp_pending = NULL,
                           totp_pending_key_id = NULL, totp_pending_session = NULL
                     WHERE user_name = \(userName) RETURNING id
                    """)
                guard let id: Int64 = try updated.first?.decode(0) else { throw AccountError.notFound(userName) }
                return try await Self.endSessions(of: id, c)
            }
        }
    }

    private static func endSessions(of accountId: Int64, _ c: Connection) async throws -> Int {
        try await c.query(
            """
            UPDATE handoff.dashboard_sessions SET revoked_at = clock_timestamp()
             WHERE account_id = \(accountId) AND revoked_at IS NULL
            """
        ).affectedRows
    }

    // MARK: - One-time codes

    /// The purpose one-time-code secrets are sealed under (``SystemEventKey/derivedKey(purpose:)``).
    static let sealPurpose = "totp-secret-seal-v1"

    /// Bytes of a one-time-code secret: 160 bits, as RFC 4226 §4 recommends.
    public static let secretByteCount = 20

    /// The TOTP of a secret: SHA-1, 6 digits, 30 s (what every authenticator app accepts).
    public static func totp(_ secret: [UInt8]) -> TOTP { TOTP(secret: secret) }

    private func sealingKey(id: Int) async throws -> String {
        guard let key = try await SystemEventKey.key(id: id, pool) else { throw SystemEventKey.KeyError.missing }
        return key.derivedKey(purpose: Self.sealPurpose).hexString
    }

    private func currentSealingKey() async throws -> (id: Int, passphrase: String) {
        let key = try await SystemEventKey.current(pool)
        return (key.id, key.derivedKey(purpose: Self.sealPurpose).hexString)
    }

    /// Enrols `secret` at once (the demo, and tests); replaces any earlier one.
    public func enrolOneTimeCode(accountId: Int64, secret: [UInt8]) async throws {
        let key = try await currentSealingKey()
        try await pool.query(
            """
            UPDATE handoff.accounts
               SET totp_secret = handoff.totp_seal(\(ByteA(secret)), \(key.passphrase)), totp_key_id = \(key.id),
                   totp_pending = NULL, totp_pending_key_id = NULL, totp_pending_session = NULL, totp_last_step = NULL
             WHERE id = \(accountId)
            """)
    }

    /// The secret the enrolment page shows to the session `sessionId`: the one already waiting for
    /// that session's confirmation, or a new one (stored sealed until a code confirms it; it
    /// replaces one another session was shown). Nil when the account has a code already.
    ///
    /// A key belongs to the one session it was shown to (found by an attack pass: a key seen by
    /// whoever once had the first password was shown again to the real person, who confirmed it,
    /// and the copy then signed in): another session, or the same person after a password reset,
    /// is shown a new key, and only the session that saw a key can confirm it.
    public func pendingOneTimeCode(accountId: Int64, sessionId: Int64) async throws -> [UInt8]? {
        switch try await waitingKey(accountId: accountId, shownTo: sessionId) {
        case .closed: return nil
        case .shown(_, let secret): return secret
        case .notShownHere: break
        }
        let secret = SecureRandom.bytes(Self.secretByteCount)
        let key = try await currentSealingKey()
        let stored = try await pool.query(
            """
            UPDATE handoff.accounts
               SET totp_pending = handoff.totp_seal(\(ByteA(secret)), \(key.passphrase)), totp_pending_key_id = \(key.id),
                   totp_pending_session = \(sessionId)
             WHERE id = \(accountId) AND totp_secret IS NULL
               AND totp_pending_session IS DISTINCT FROM \(sessionId)
            RETURNING 1
            """)
        if !stored.isEmpty { return secret }
        // Not stored: the account enrolled meanwhile, or another page of this session stored its
        // key first (then both pages show that one).
        if case .shown(_, let secret) = try await waitingKey(accountId: accountId, shownTo: sessionId) { return secret }
        return nil
    }

    /// What an account has waiting for a session's confirmation.
    private enum WaitingKey {
        /// No account, or one with a code already: nothing to show or confirm.
        case closed
        /// No key shown to this session (none waiting, or another session's).
        case notShownHere
        /// The key shown to this session: sealed as stored, and opened.
        case shown(sealed: ByteA, secret: [UInt8])
    }

    private func waitingKey(accountId: Int64, shownTo sessionId: Int64) async throws -> WaitingKey {
        let row = try await pool.query(
            """
            SELECT totp_secret IS NOT NULL, totp_pending, totp_pending_key_id, totp_pending_session
              FROM handoff.accounts WHERE id = \(accountId)
            """
        ).first
        guard let row, try row.decode(0, as: Bool.self) == false else { return .closed }
        guard let sealed = try row.decodeOptional(1, as: ByteA.self), let keyId: Int = try row.decodeOptional(2),
            try row.decodeOptional(3, as: Int64.self) == sessionId
        else { return .notShownHere }
        return .shown(sealed: sealed, secret: try await open(sealed, keyId: keyId))
    }

    /// Confirms the secret waiting for the session `sessionId` with a code from the person's app
    /// (±1 step). Returns whether it was right; then the secret is the account's and that code's
    /// step is used up. A key shown to another session is never confirmed here.
    public func confirmOneTimeCode(accountId: Int64, sessionId: Int64, code: String, now: Date = Date()) async throws
        -> Bool
    {
        guard case .shown(let sealed, let secret) = try await waitingKey(accountId: accountId, shownTo: sessionId)
        else { return false }
        let totp = Self.totp(secret)
        guard let step = totp.matchingStep(for: Self.digits(code), around: totp.step(at: now.timeIntervalSince1970))
        else { return false }
        return try await pool.query(
            """
            UPDATE handoff.accounts
               SET totp_secret = totp_pending, totp_key_id = totp_pending_key_id, totp_pending = NULL,
                   totp_pending_key_id = NULL, totp_pending_session = NULL, totp_last_step = \(step)
             WHERE id = \(accountId) AND totp_secret IS NULL AND totp_pending = \(sealed)
               AND totp_pending_session = \(sessionId)
            """
        ).affectedRows > 0
    }

    private func open(_ sealed: ByteA, keyId: Int) async throws -> [UInt8] {
        let passphrase = try await sealingKey(id: keyId)
        return try await pool.query("SELECT handoff.totp_open(\(sealed), \(passphrase))").first!
            .decode(0, as: ByteA.self).bytes
    }

    /// A code as typed, without spaces (apps show `123 456`).
    public static func digits(_ typed: String) -> String {
        String(typed.unicodeScalars.filter { $0 != " " && $0 != "\u{A0}" && $0 != "-" }.map(Character.init))
    }

    // MARK: - Sign-in

    /// How a sign-in attempt ended.
    public enum SignInOutcome: Sendable, Equatable {
        /// Password (and code, when the account has one) right: start a session.
        case signedIn(Account)
        /// Password right; the account must enrol a one-time code before it may do anything else.
        case enrolmentRequired(Account)
        /// Password right; the account has a one-time code and none was sent. Not counted as a failure.
        case codeRequired
        /// Unknown user name, wrong password, or a disabled account: one answer for all three.
        case wrongCredentials
        /// Password right, code wrong.
        case wrongCode
        /// Password right, code right but already used.
        case replayedCode
        /// Too many failures: nothing is checked until the lock ends.
        case locked

        /// Whether the attempt counts as a failure (and is slowed down).
        public var isFailure: Bool {
            switch self {
            case .wrongCredentials, .wrongCode, .replayedCode: return true
            case .signedIn, .enrolmentRequired, .codeRequired, .locked: return false
            }
        }

        /// A name for logs.
        public var logName: String {
            switch self {
            case .signedIn: return "signed-in"
            case .enrolmentRequired: return "enrolment-required"
            case .codeRequired: return "code-required"
            case .wrongCredentials: return "wrong-credentials"
            case .wrongCode: return "wrong-code"
            case .replayedCode: return "replayed-code"
            case .locked: return "locked"
            }
        }
    }

    /// The result of ``signIn(userName:password:code:now:)``: the outcome, and how long to wait
    /// before answering (a growing delay after failures; see ``SignInPolicy``).
    public struct SignInResult: Sendable, Equatable {
        public var outcome: SignInOutcome
        public var delay: Duration
        /// Whether the name is an account's: only then may a log name it (a password or a token
        /// typed into the name field by mistake must never reach a log).
        public var knownName = false
    }

    /// Checks a sign-in. Every attempt at a well-formed user name — known or not — first reserves
    /// a place in `handoff.sign_in_throttle` (refused while locked), then pays for one bcrypt
    /// comparison (a fresh salt when there is no such account), so an unknown name, a disabled
    /// account and a wrong password take the same time and give the same answer. The
    /// `policy.maxFailures`th failure in a row locks the name for `policy.lockDuration`.
    ///
    /// The caller waits `delay` before it answers (without blocking a thread: `Task.sleep`).
    public func signIn(userName typed: String, password: String, code: String?, now: Date = Date()) async throws
        -> SignInResult
    {
        let userName = Self.normalize(typed)
        // What crypt() may see: text without NUL, at most 72 bytes. Anything else cannot be a
        // stored password; it is compared as the empty string (which never matches) for the same work.
        let usable = !password.isEmpty && password.utf8.count <= Self.maximumPasswordBytes && !password.contains("\0")
        let candidate = usable ? password : ""
        guard Identifiers.isValidUserName(userName) else {
            _ = try await pool.query("SELECT handoff.password_matches(\(candidate), NULL)")
            return SignInResult(outcome: .wrongCredentials, delay: policy.delay(afterFailures: 1))
        }
        let lockSeconds = SessionStore.seconds(policy.lockDuration)
        if UInt8.random(in: 0...63) == 0 {
            // Rows of names nobody tried for a lock's length, and no lock running, count for
            // nothing any more: pruned now and then, so made-up names cannot grow the table forever.
            try await pool.query(
                """
                DELETE FROM handoff.sign_in_throttle
                 WHERE last_attempt_at < clock_timestamp() - make_interval(secs => \(lockSeconds))
                   AND (locked_until IS NULL OR locked_until < clock_timestamp())
                """)
        }
        let reserved = try await pool.query(
            """
            INSERT INTO handoff.sign_in_throttle AS t (name_digest, attempts) VALUES (handoff.name_digest(\(userName)), 1)
            ON CONFLICT (name_digest) DO UPDATE
               SET attempts = CASE WHEN t.locked_until IS NOT NULL
                                     OR t.last_attempt_at < clock_timestamp() - make_interval(secs => \(lockSeconds))
                                   THEN 1 ELSE t.attempts + 1 END,
                   locked_until = NULL, last_attempt_at = clock_timestamp()
             WHERE t.locked_until IS NULL OR t.locked_until <= clock_timestamp()
            RETURNING attempts
            """)
        guard let attempt: Int = try reserved.first?.decode(0), attempt <= policy.maxFailures else {
            var locked = SignInResult(outcome: .locked, delay: .zero)
            locked.knownName = try await account(named: userName) != nil
            return locked
        }
        let row = try await pool.query(
            """
            SELECT a.id, a.role, a.institution, a.display_name, a.disabled_at IS NOT NULL, a.totp_secret, a.totp_key_id,
                   a.totp_last_step, handoff.password_matches(\(candidate), a.password_hash)
              FROM (SELECT 1) AS one LEFT JOIN handoff.accounts a ON a.user_name = \(userName)
            """
        ).first!
        let matches = try row.decodeOptional(8, as: Bool.self) ?? false
        let known = try row.decodeOptional(0, as: Int64.self) != nil
        var result = try await check(
            row, matches: matches && usable, userName: userName, code: code, now: now, attempt: attempt)
        result.knownName = known
        return result
    }

    /// The rest of ``signIn(userName:password:code:now:)`` once the account's row is read.
    private func check(_ row: Row, matches: Bool, userName: String, code: String?, now: Date, attempt: Int)
        async throws -> SignInResult
    {
        guard matches, let id: Int64 = try row.decodeOptional(0), try row.decode(4, as: Bool.self) == false,
            let role = Principal.Role(rawValue: try row.decode(1))
        else { return try await failed(.wrongCredentials, userName: userName, attempt: attempt) }
        var account = Account(
            id: id, userName: userName, role: role, institution: try row.decodeOptional(2),
            displayName: try row.decode(3), disabled: false, hasOneTimeCode: false, locked: false)
        if let sealed = try row.decodeOptional(5, as: ByteA.self), let keyId: Int = try row.decodeOptional(6) {
            account.hasOneTimeCode = true
            let sent = Self.digits(code ?? "")
            if sent.isEmpty {
                // Counted and delayed as a failure: otherwise a right password could be confirmed
                // without the code, for free and at once (an attack pass found it answered in a
                // third of a wrong password's time, and never counted).
                return try await failed(.codeRequired, userName: userName, attempt: attempt)
            }
            let totp = Self.totp(try await open(sealed, keyId: keyId))
            guard let step = totp.matchingStep(for: sent, around: totp.step(at: now.timeIntervalSince1970)) else {
                return try await failed(.wrongCode, userName: userName, attempt: attempt)
            }
            // A code is good once: the step is taken only if it is later than the last one used.
            let taken = try await pool.query(
                """
                UPDATE handoff.accounts SET totp_last_step = \(step)
                 WHERE id = \(id) AND (totp_last_step IS NULL OR totp_last_step < \(step))
                """)
            guard taken.affectedRows > 0 else {
                return try await failed(.replayedCode, userName: userName, attempt: attempt)
            }
        }
        try await pool.query(
            "DELETE FROM handoff.sign_in_throttle WHERE name_digest = handoff.name_digest(\(userName))")
        if account.requiresOneTimeCode && !account.hasOneTimeCode {
            return SignInResult(outcome: .enrolmentRequired(account), delay: .zero)
        }
        return SignInResult(outcome: .signedIn(account), delay: .zero)
    }

    /// A failed attempt: the `maxFailures`th in a row locks the name.
    private func failed(_ outcome: SignInOutcome, userName: String, attempt: Int) async throws -> SignInResult {
        if attempt >= policy.maxFailures {
            try await pool.query(
                """
                UPDATE handoff.sign_in_throttle
                   SET locked_until = clock_timestamp() + make_interval(secs => \(SessionStore.seconds(policy.lockDuration)))
                 WHERE name_digest = handoff.name_digest(\(userName))
                """)
            return SignInResult(outcome: .locked, delay: policy.delay(afterFailures: attempt))
        }
        return SignInResult(outcome: outcome, delay: policy.delay(afterFailures: attempt))
    }
}

/// How sign-in resists guessing (docs/operations.md, "Accounts"): each failure in a row waits
/// longer before it is answered, and the `maxFailures`th locks the user name for `lockDuration`.
public struct SignInPolicy: Sendable, Equatable {
    /// Failures in a row that lock a user name (default 5).
    public var maxFailures: Int
    /// How long a lock lasts (default 15 minutes).
    public var lockDuration: Duration
    /// The wait after the first failure; it doubles with each further one (default 0.5 s).
    public var firstDelay: Duration
    /// The longest wait (default 8 s).
    public var maximumDelay: Duration
    /// Sign-ins checked at once by one service (default 8): each costs a bcrypt comparison (about
    /// 0.2 s of the database's CPU), so a flood of attempts at made-up names is turned away
    /// (429) instead of occupying the database.
    public var maxConcurrentChecks: Int
    /// Of those, how many one peer address may hold (default a quarter, at least one), so one
    /// client's flood cannot turn everyone else away. Behind a reverse proxy every sign-in comes
    /// from the proxy's address: raise it to `maxConcurrentChecks` there.
    public var maxConcurrentChecksPerAddress: Int?

    public init(
        maxFailures: Int = 5, lockDuration: Duration = .seconds(15 * 60), firstDelay: Duration = .milliseconds(500),
        maximumDelay: Duration = .seconds(8), maxConcurrentChecks: Int = 8, maxConcurrentChecksPerAddress: Int? = nil
    ) {
        self.maxConcurrentChecks = max(1, maxConcurrentChecks)
        self.maxConcurrentChecksPerAddress = maxConcurrentChecksPerAddress
        self.maxFailures = max(1, maxFailures)
        self.lockDuration = lockDuration
        self.firstDelay = firstDelay
        self.maximumDelay = maximumDelay
    }

    /// The wait before answering the `n`th failure in a row: `firstDelay · 2^(n−1)`, at most
    /// `maximumDelay`.
    public func delay(afterFailures n: Int) -> Duration {
        guard n >= 1 else { return .zero }
        var delay = firstDelay
        for _ in 1..<min(n, 32) where delay < maximumDelay { delay = delay * 2 }
        return min(delay, maximumDelay)
    }
}
