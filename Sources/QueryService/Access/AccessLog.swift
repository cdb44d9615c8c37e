import Foundation
import Postgres
import Referrals

/// The append-only record of who read which case through which endpoint.
///
/// Entries are written before the data is sent: a read that cannot be logged is not served
/// (the caller gets 503). The table's trigger rejects UPDATE, DELETE and TRUNCATE.
public struct AccessLog: Sendable {
    public let pool: ConnectionPool

    public init(pool: ConnectionPool) {
        self.pool = pool
    }

    /// One entry as `GET /v1/audit/access` returns it.
    public struct Entry: Sendable, Hashable {
        public var at: String
        public var institution: String?
        public var user: String
        public var role: String
        public var caseId: String
        public var endpoint: String
    }

    /// Records that `principal` read each of `caseIds` through `endpoint` (one row per case).
    public func record(_ principal: Principal, caseIds: some Collection<String>, endpoint: String) async throws {
        guard !caseIds.isEmpty else { return }
        let cases = PostgresArray.text(Array(Set(caseIds)).sorted())
        try await pool.query(
            """
            INSERT INTO handoff.access_log (role, institution, "user", case_id, endpoint)
            SELECT \(principal.role.rawValue), \(principal.institution), \(principal.user), c, \(endpoint)
              FROM unnest(\(cases)::text[]) AS c
            """)
    }

    /// Entries for one case (or all cases), oldest first, at most `limit`.
    public func entries(caseId: String?, limit: Int = 1000) async throws -> [Entry] {
        let result = try await pool.query(
            """
            SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), institution, "user", role,
                   case_id, endpoint
              FROM handoff.access_log
             WHERE \(caseId)::text IS NULL OR case_id = \(caseId)
             ORDER BY id LIMIT \(limit)
            """)
        return try result.all.map { row in
            Entry(
                at: try row.decode(0), institution: try row.decodeOptional(1), user: try row.decode(2),
                role: try row.decode(3), caseId: try row.decode(4), endpoint: try row.decode(5))
        }
    }
}
