import Postgres

extension AccessLog {
    /// The newest `limit` entries of the whole log, newest first (the auditor's dashboard panel;
    /// `entries(caseId:limit:)` reads oldest first).
    func newest(limit: Int) async throws -> [Entry] {
        let result = try await pool.query(
            """
            SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), institution, "user", role,
                   case_id, endpoint
              FROM handoff.access_log
             ORDER BY id DESC LIMIT \(limit)
            """)
        return try result.all.map { row in
            Entry(
                at: try row.decode(0), institution: try row.decodeOptional(1), user: try row.decode(2),
                role: try row.decode(3), caseId: try row.decode(4), endpoint: try row.decode(5))
        }
    }
}
