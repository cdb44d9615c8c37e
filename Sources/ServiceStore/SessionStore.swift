import Crypto
import EventStore
import Foundation
import Postgres
import Referrals

/// Dashboard sessions in `handoff.dashboard_sessions`: a random id the browser keeps in a cookie,
/// stored only as its SHA-256.
///
/// A session belongs to a principal and to the credential it was made from — an API token or a
/// person's account (``AccountStore``, `account_id`). It ends after `idleTimeout` without a
/// request, `lifetime` after it began, at logout, when its token is revoked, or when its account
/// is disabled or its password reset: every lookup requires the credential to be live, so a
/// revocation made anywhere (the CLI, SQL) ends the session at its next request.
///
/// The session id is shown only to the browser (in `Set-Cookie`); neither the database nor a
/// log ever holds it. The CSRF token of a session is derived from its id
/// (`SHA-256("handoff-csrf:" ‖ id)`, base64url), so it needs no storage, cannot be computed
/// from what the database holds, and does not reveal the id.
public struct SessionStore: Sendable {
    let pool: ConnectionPool
    /// How long a session lives without a request.
    public let idleTimeout: Duration
    /// How long a session lives at most.
    public let lifetime: Duration
    /// How often a session's use is written down (its `last_seen_at`): a tenth of the idle
    /// timeout, at most 10 s, so a session in use never looks idle and its row is not written on
    /// every request.
    public var touchInterval: Duration { min(.seconds(10), idleTimeout / 10) }
    /// How many sessions one token or account keeps: a sign-in beyond them ends the oldest.
    public static let sessionsPerCredential = 20

    public init(
        pool: ConnectionPool, idleTimeout: Duration = .seconds(30 * 60), lifetime: Duration = .seconds(12 * 3600)
    ) {
        self.pool = pool
        self.idleTimeout = idleTimeout
        self.lifetime = lifetime
    }

    /// A live session.
    public struct Session: Sendable {
        /// The row's id (not secret; names the session in logs and to ``isLive(id:)``).
        public var id: Int64
        public var principal: Principal
        /// The token it was made from; nil for a session of a person's account.
        public var tokenId: Int64?
        /// The account it was made from; nil for a session of a token.
        public var accountId: Int64? = nil
        /// True while a coordinator's or auditor's first session may do nothing but enrol a
        /// one-time code (``completeEnrolment(id:)`` ends that).
        public var enrolmentPending: Bool = false
        /// The token every form POST of this session must carry.
        public var csrfToken: String

        /// What the session is counted against for stream limits: its token's id, or for an
        /// account the negative of the account's id (token ids are positive).
        public var streamKey: Int64 { tokenId ?? -(accountId ?? id) }
    }

    /// Starts a session for a token that authenticated. Returns the secret id for the cookie.
    public func start(for credential: TokenStore.Credential) async throws -> (secret: String, session: Session) {
        try await start(principal: credential.principal, tokenId: credential.tokenId, accountId: nil)
    }

    /// Starts a session for an account that signed in (``AccountStore/signIn(userName:password:code:now:)``);
    /// with `enrolmentPending` it may only enrol a one-time code. Returns the secret id for the cookie.
    public func start(for account: AccountStore.Account, enrolmentPending: Bool = false) async throws -> (
        secret: String, session: Session
    ) {
        try await start(
            principal: account.principal, tokenId: nil, accountId: account.id, enrolmentPending: enrolmentPending)
    }

    private func start(principal: Principal, tokenId: Int64?, accountId: Int64?, enrolmentPending: Bool = false)
        async throws -> (secret: String, session: Session)
    {
        let secret = Self.generate()
        let lifetime = Self.seconds(lifetime)
        let keep = Self.sessionsPerCredential
        // One transaction: the sign-in's row, and what it prunes, together or not at all.
        let id: Int64 = try await pool.withConnection { connection in
            try await connection.transaction { c in
                // Rows long past their lifetime are of no use to anyone: pruned as new ones begin.
                // (By `now()`, which the index on created_at can be searched with;
                // `clock_timestamp()` made every sign-in scan the whole table: an operator's pass.)
                try await c.query(
                    """
                    DELETE FROM handoff.dashboard_sessions
                     WHERE created_at < now() - make_interval(secs => \(lifetime)) - interval '1 day'
                    """)
                let inserted = try await c.query(
                    """
                    INSERT INTO handoff.dashboard_sessions
                           (session_hash, role, institution, "user", token_id, account_id, enrolment_pending)
                    VALUES (\(ByteA(Self.hash(secret))), \(principal.role.rawValue), \(principal.institution),
                            \(principal.user), \(tokenId), \(accountId), \(enrolmentPending))
                    RETURNING id
                    """)
                // A credential keeps its newest sessions only: a sign-in past the limit ends the
                // oldest, so that one token signing in flat out (900 a second, an operator's pass)
                // cannot grow the table every sign-in and lookup works through.
                if let owner = tokenId ?? accountId {
                    let column: StaticString = tokenId != nil ? "token_id" : "account_id"
                    try await c.query(
                        """
                        DELETE FROM handoff.dashboard_sessions
                         WHERE id IN (SELECT id FROM handoff.dashboard_sessions WHERE \(unescaped: column) = \(owner)
                                       ORDER BY id DESC OFFSET \(keep))
                        """)
                }
                return try inserted.first!.decode(0)
            }
        }
        let session = Session(
            id: id, principal: principal, tokenId: tokenId, accountId: accountId,
            enrolmentPending: enrolmentPending, csrfToken: Self.csrfToken(for: secret))
        return (secret, session)
    }

    /// The live session with this secret id, marked as just used; nil when unknown, ended,
    /// idle too long, too old, or its token was revoked.
    ///
    /// - Parameter markUsed: false for a request the person did not make themselves — the login
    ///   page asking why it was shown, the dashboard refreshing its live regions — which must not
    ///   keep an unattended session from going idle.
    public func resume(_ secret: String, markUsed: Bool = true) async throws -> Session? {
        guard Self.isWellFormed(secret) else { return nil }
        let hash = ByteA(Self.hash(secret))
        let idle = Self.seconds(idleTimeout)
        let life = Self.seconds(lifetime)
        let touch = Self.seconds(touchInterval)
        // Marked used at most once per `touchInterval`: every request of a session updating its
        // one row made concurrent requests queue on that row's lock while holding pooled
        // connections (an attack pass ran one session's page on 2,400 connections, and other
        // institutions' reads failed). A request that finds the row locked or recently marked
        // only reads it.
        let rows =
            try await markUsed
            ? pool.query(
                """
                WITH live AS (SELECT \(unescaped: Self.sessionColumns), last_seen_at FROM handoff.dashboard_sessions s
                               WHERE session_hash = \(hash) AND handoff.session_is_live(s, \(idle), \(life))),
                     touched AS (UPDATE handoff.dashboard_sessions d SET last_seen_at = clock_timestamp()
                                  WHERE d.id = (SELECT x.id FROM handoff.dashboard_sessions x JOIN live ON x.id = live.id
                                                 WHERE live.last_seen_at < clock_timestamp() - make_interval(secs => \(touch))
                                                   FOR UPDATE OF x SKIP LOCKED))
                SELECT \(unescaped: Self.sessionColumns) FROM live
                """)
            : pool.query(
                """
                SELECT \(unescaped: Self.sessionColumns) FROM handoff.dashboard_sessions s
                 WHERE session_hash = \(hash) AND handoff.session_is_live(s, \(idle), \(life))
                """)
        guard let row = rows.first, let role = Principal.Role(rawValue: try row.decode(1)) else { return nil }
        return Session(
            id: try row.decode(0),
            principal: Principal(role: role, institution: try row.decodeOptional(2), user: try row.decode(3)),
            tokenId: try row.decodeOptional(4), accountId: try row.decodeOptional(5),
            enrolmentPending: try row.decode(6), csrfToken: Self.csrfToken(for: secret))
    }

    /// What ``resume(_:markUsed:)`` reads of a session, in the order it decodes them.
    private static let sessionColumns: StaticString =
        "id, role, institution, \"user\", token_id, account_id, enrolment_pending"

    /// Lets a session that enrolled its one-time code do everything its principal may.
    public func completeEnrolment(id: Int64) async throws {
        try await pool.query("UPDATE handoff.dashboard_sessions SET enrolment_pending = false WHERE id = \(id)")
    }

    /// Whether the session is still live (without marking it used): long-lived streams ask.
    public func isLive(id: Int64) async throws -> Bool {
        try await !pool.query(
            """
            SELECT 1 FROM handoff.dashboard_sessions s
             WHERE id = \(id) AND handoff.session_is_live(s, \(Self.seconds(idleTimeout)), \(Self.seconds(lifetime)))
            """
        ).isEmpty
    }

    /// Ends the session with this secret id (logout). Returns whether a live one ended.
    @discardableResult
    public func end(_ secret: String) async throws -> Bool {
        guard Self.isWellFormed(secret) else { return false }
        let result = try await pool.query(
            """
            UPDATE handoff.dashboard_sessions SET revoked_at = clock_timestamp()
             WHERE session_hash = \(ByteA(Self.hash(secret))) AND revoked_at IS NULL
            """)
        return result.affectedRows > 0
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// `hds_` and 43 base64url characters: 32 bytes from the system's CSPRNG.
    static func generate() -> String { TokenStore.generate(prefix: "hds_") }

    static func isWellFormed(_ secret: String) -> Bool {
        let u = Array(secret.utf8)
        return u.count == 47 && secret.hasPrefix("hds_")
            && u.dropFirst(4).allSatisfy {
                ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95
            }
    }

    static func hash(_ secret: String) -> [UInt8] { SHA256.hash(Array(secret.utf8)) }

    static func csrfToken(for secret: String) -> String {
        Data(SHA256.hash(Array(("handoff-csrf:" + secret).utf8))).base64URLEncoded
    }
}
