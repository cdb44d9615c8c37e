import Crypto
import EventStore
import Foundation
import Postgres
import Referrals

/// API tokens: created once and shown once, stored only as their SHA-256.
///
/// A token is `hnd_` followed by 43 base64url characters: 32 bytes (256 bits) from the system's
/// CSPRNG (`SystemRandomNumberGenerator`, which is `getrandom(2)` on Linux). Authentication
/// finds candidate rows by the first 8 bytes of the hash and compares the full hash in constant
/// time, so neither the token nor its hash leaks through timing.
///
/// With a cache (`cacheTTL` above zero; the query service uses
/// ``QueryServiceConfiguration/tokenCacheTTL``) a token that authenticated is trusted for at most
/// that long without asking the database again. A revocation through this store takes effect at
/// once; one made elsewhere (another process, SQL) within `cacheTTL`. See ``TokenCache``.
///
/// ```swift
/// let tokens = TokenStore(pool: pool)
/// let token = try await tokens.create(role: .institution, institution: "opav", user: "advocate-7")
/// print(token)   // the only time it is ever seen
/// ```
public struct TokenStore: Sendable {
    let pool: ConnectionPool
    let cache: TokenCache

    /// - Parameter cacheTTL: how long a token that authenticated is trusted without a new
    ///   database lookup; `.zero` (the default) looks every token up every time.
    public init(pool: ConnectionPool, cacheTTL: Duration = .zero) {
        self.pool = pool
        self.cache = TokenCache(ttl: cacheTTL)
    }

    /// Errors of token administration.
    public enum TokenError: Error, Sendable, Equatable, CustomStringConvertible {
        /// An `institution` token needs an institution id.
        case institutionRequired
        /// Institution ids are 1–64 of `a-z 0-9 -`; users 1–128 characters.
        case invalid(String)
        public var description: String {
            switch self {
            case .institutionRequired: return "an institution token needs --institution"
            case .invalid(let what): return "invalid \(what)"
            }
        }
    }

    /// Creates a token and returns it; only its hash is stored.
    /// - Throws: `TokenError`, or a database error.
    public func create(role: Principal.Role, institution: String?, user: String) async throws -> String {
        try await issue(role: role, institution: institution, user: user).token
    }

    /// Creates a token and returns it with the id of its row (the id names it to
    /// ``revoke(id:)`` and in logs; it is not secret). - Throws: as ``create(role:institution:user:)``.
    public func issue(role: Principal.Role, institution: String?, user: String) async throws -> (
        token: String, id: Int64
    ) {
        if role == .institution, institution == nil { throw TokenError.institutionRequired }
        return try await insert(role: role.rawValue, institution: institution, user: user)
    }

    /// Creates a token that may read `/metrics` and nothing else (role `metrics`; it stands for
    /// no principal, so every other route refuses it as unknown). Only its hash is stored.
    /// - Throws: `TokenError`, or a database error.
    public func createMetricsToken(user: String) async throws -> (token: String, id: Int64) {
        try await insert(role: Self.metricsRole, institution: nil, user: user)
    }

    /// The role of tokens that only scrape `/metrics`.
    static let metricsRole = "metrics"

    /// Whether a token may read `/metrics`.
    public enum MetricsAccess: Sendable, Equatable {
        /// A live `metrics` token.
        case granted
        /// A live token of another role.
        case forbidden
        /// No token, or an unknown or revoked one.
        case unauthenticated
    }

    /// What a token may do at `/metrics`. Looked up every time (a scrape every few seconds).
    /// - Throws: a database error (an outage).
    public func metricsAccess(_ token: String) async throws -> MetricsAccess {
        guard !token.isEmpty, token.utf8.count <= 256 else { return .unauthenticated }
        guard let row = try await lookUp(hash: SHA256.hash(Array(token.utf8))) else { return .unauthenticated }
        return row.role == Self.metricsRole ? .granted : .forbidden
    }

    private func insert(role: String, institution: String?, user: String) async throws -> (token: String, id: Int64) {
        if let institution, !Identifiers.isValidInstitutionId(institution) {
            throw TokenError.invalid("institution id")
        }
        // The name events record as `actor.user`, by the one rule for persons' names.
        guard Identifiers.isValidUserName(user) else { throw TokenError.invalid("user") }
        let token = Self.generate()
        let hash = SHA256.hash(Array(token.utf8))
        let inserted = try await pool.query(
            """
            INSERT INTO handoff.api_tokens (lookup, token_hash, role, institution, "user")
            VALUES (\(ByteA(Array(hash.prefix(8)))), \(ByteA(hash)), \(role), \(institution), \(user))
            RETURNING id
            """)
        return (token, try inserted.first!.decode(0))
    }

    /// What a live token stands for: its principal and the id of its row (the credential that
    /// sessions and stream limits are counted against; never secret, never the token).
    public struct Credential: Sendable, Hashable {
        public var principal: Principal
        public var tokenId: Int64
    }

    /// Revokes a token by its id (`handoff token revoke ID`). Returns whether a live token was
    /// revoked. Sessions made from it end with it (their lookup requires a live token).
    @discardableResult
    public func revoke(id: Int64) async throws -> Bool {
        cache.evict(tokenId: id)
        let result = try await pool.query(
            "UPDATE handoff.api_tokens SET revoked_at = clock_timestamp() WHERE id = \(id) AND revoked_at IS NULL")
        cache.evict(tokenId: id)
        return result.affectedRows > 0
    }

    /// The id of a token's row (live or revoked), or nil for a token never issued here.
    public func id(of token: String) async throws -> Int64? {
        let hash = SHA256.hash(Array(token.utf8))
        return try await pool.query("SELECT id FROM handoff.api_tokens WHERE token_hash = \(ByteA(hash))")
            .first?.decode(0)
    }

    /// Whether the token with this id is still live, asked of the database (never the cache):
    /// long-lived streams call it to end once their token is revoked.
    public func isLive(id: Int64) async throws -> Bool {
        try await !pool.query("SELECT 1 FROM handoff.api_tokens WHERE id = \(id) AND revoked_at IS NULL").isEmpty
    }

    /// Revokes a token (given as the token itself). Returns whether a live token was revoked.
    @discardableResult
    public func revoke(token: String) async throws -> Bool {
        let hash = SHA256.hash(Array(token.utf8))
        cache.evict(hash: hash)
        let result = try await pool.query(
            """
            UPDATE handoff.api_tokens SET revoked_at = clock_timestamp()
             WHERE token_hash = \(ByteA(hash)) AND revoked_at IS NULL
            """)
        cache.evict(hash: hash)
        return result.affectedRows > 0
    }

    /// Revokes every live token of a user (of an institution, when given). Returns how many.
    @discardableResult
    public func revoke(user: String, institution: String?) async throws -> Int {
        let result = try await pool.query(
            """
            UPDATE handoff.api_tokens SET revoked_at = clock_timestamp()
             WHERE "user" = \(user) AND (\(institution)::text IS NULL OR institution = \(institution))
               AND revoked_at IS NULL
            """)
        cache.evict(user: user, institution: institution)
        return result.affectedRows
    }

    /// The principal a live token stands for, or nil for an unknown or revoked token.
    /// With a cache, a token that authenticated less than ``cacheTTL`` ago is not looked up again.
    /// - Throws: a database error (an outage), which the service answers with 503.
    public func authenticate(_ token: String) async throws -> Principal? {
        try await credential(token)?.principal
    }

    /// The credential a live token stands for (see ``authenticate(_:)``), or nil.
    public func credential(_ token: String) async throws -> Credential? {
        guard !token.isEmpty, token.utf8.count <= 256 else { return nil }
        let hash = SHA256.hash(Array(token.utf8))
        if let cached = cache.entry(for: hash) {
            return Credential(principal: cached.principal, tokenId: cached.tokenId)
        }
        let ticket = cache.lookupStarted()
        // A role that names no principal (`metrics`) authenticates nothing here.
        let found = try await lookUp(hash: hash).flatMap { row in
            Principal.Role(rawValue: row.role).map {
                Credential(
                    principal: Principal(role: $0, institution: row.institution, user: row.user), tokenId: row.id)
            }
        }
        if let found { cache.store(found.principal, tokenId: found.tokenId, for: hash, ticket: ticket) }
        return found
    }

    /// The live token's row, as ``credential(_:)`` and ``metricsAccess(_:)`` read it.
    struct TokenRow {
        var role: String
        var institution: String?
        var user: String
        var id: Int64
    }

    /// The database lookup behind ``credential(_:)`` and ``metricsAccess(_:)``.
    private func lookUp(hash: [UInt8]) async throws -> TokenRow? {
        let rows = try await pool.query(
            """
            SELECT token_hash, role, institution, "user", id FROM handoff.api_tokens
             WHERE lookup = \(ByteA(Array(hash.prefix(8)))) AND revoked_at IS NULL
            """)
        var found: TokenRow?
        for row in rows.all {
            let stored = try row.decode(0, as: ByteA.self).bytes
            // Every candidate is compared in full, whichever matches.
            if constantTimeEquals(stored, hash) {
                found = TokenRow(
                    role: try row.decode(1), institution: try row.decodeOptional(2), user: try row.decode(3),
                    id: try row.decode(4))
            }
        }
        return found
    }

    /// How every API token begins.
    public static let prefix = "hnd_"

    /// 32 random bytes from the system's CSPRNG as `<prefix><base64url>` (43 characters after
    /// the prefix): API tokens (`hnd_`) and dashboard session ids (`hds_`).
    static func generate(prefix: String = TokenStore.prefix) -> String {
        prefix + Data(SecureRandom.bytes(32)).base64URLEncoded
    }

}
