import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Testing

/// `handoff.log_access`, the one writer of access-log rows, called directly: what it writes
/// verifies on every chain and by every verifier, and what it refuses is exactly what migration
/// 0014 refused (the function has been rewritten for speed since; its acceptance set and its
/// output may not change).
@Suite("Access log function")
struct AccessLogFunctionTests {
    struct Row: Equatable, CustomStringConvertible {
        var role: String?
        var institution: String?
        var user: String?
        var caseId: String?
        var endpoint: String?
        var outcome: String?
        var description: String {
            [role, institution, user, caseId, endpoint, outcome].map { $0.map { "\($0.debugDescription)" } ?? "nil" }
                .joined(separator: ", ")
        }
    }

    static let valid = Row(
        role: "institution", institution: "opav", user: "advocate-7", caseId: "KS-2026-000001",
        endpoint: "GET /v1/cases/{caseId}", outcome: "allowed")

    /// Calls the function with one batch; returns the last seq it wrote.
    @discardableResult
    static func write(_ c: Connection, _ rows: [Row]) async throws -> Int64? {
        try await c.query(
            """
            SELECT handoff.log_access(
                \(PostgresArray.optionalText(rows.map(\.role)))::text[],
                \(PostgresArray.optionalText(rows.map(\.institution)))::text[],
                \(PostgresArray.optionalText(rows.map(\.user)))::text[],
                \(PostgresArray.optionalText(rows.map(\.caseId)))::text[],
                \(PostgresArray.optionalText(rows.map(\.endpoint)))::text[],
                \(PostgresArray.optionalText(rows.map(\.outcome)))::text[])
            """
        ).first!.decodeOptional(0)
    }

    /// The log's head (seq and hash in hex) and its row count.
    static func state(_ c: Connection) async throws -> String {
        try await c.query(
            """
            SELECT h.seq || ' ' || encode(h.hash, 'hex') || ' ' || (SELECT count(*) FROM handoff.access_log)
                   || ' ' || (SELECT count(*) FROM handoff.access_case_heads)
              FROM handoff.access_log_head h
            """
        ).first!.decode(0)
    }

    /// Many cases, cases repeated within a batch (next to each other and far apart) and across
    /// batches, denied and allowed rows, every role, NULL institutions, non-ASCII and
    /// longest-allowed values: every row is stored as given, in order, and verifies on the whole
    /// log's chain and on its case's chain — by the specification's SQL, by Swift and by the
    /// auditor's Python script.
    @Test func mixedBatchesVerifyOnBothChains() async throws {
        let db = try await TestDatabase.make()
        let c = try await db.connect()
        defer { c.close() }
        let users = [
            "advocate-7", "përdorues-ë", "корисник-ђ", "Đorđe Šćekić", "tab\there", "emoji 🙂 reader",
            String(repeating: "ш", count: 128), String(repeating: "🙂", count: 128), "line\u{2028}separator",
        ]
        let endpoints = [
            "GET /v1/cases/{caseId}", "GET /v1/deadlines", "GET /cases/{caseId}", String(repeating: "ё", count: 200),
        ]
        let longCase = String(repeating: "K", count: 64)
        func row(_ i: Int, caseId: String) -> Row {
            let role = ["institution", "coordinator", "auditor"][i % 3]
            let institution: String? = i % 4 == 0 ? nil : (i % 5 == 0 ? String(repeating: "z", count: 64) : "opav")
            return Row(
                role: role, institution: institution, user: users[i % users.count], caseId: caseId,
                endpoint: endpoints[i % endpoints.count], outcome: i % 3 == 1 ? "denied" : "allowed")
        }
        var batches: [[Row]] = []
        // Heads for 20 cases, each twice in its batch.
        batches.append((0..<40).map { row($0, caseId: "KS-MX-\($0 % 20)") })
        // 1,500 rows over 300 cases, some already headed: repeats far apart and side by side.
        batches.append(
            (0..<1500).map { i in row(i, caseId: i % 97 == 0 ? longCase : "KS-MX-\((i * 7 + i / 300) % 300)") })
        batches.append([row(7, caseId: "KS-MX-5")])
        batches.append((0..<50).map { row($0, caseId: $0 < 25 ? "KS-MX-299" : "ks-new-\($0 % 2)") })
        // Case ids that differ only in letter case are different cases (byte-exact, whatever the collation).
        batches.append((0..<12).map { row($0, caseId: ["KS-MX-7", "ks-mx-7", "Ks-Mx-7", "KS-NEW-0"][$0 % 4]) })
        batches.append((0..<58).map { row($0, caseId: "KS-MX-\(290 - $0)") })
        var written: [Row] = []
        for batch in batches {
            let last = try await Self.write(c, batch)
            written += batch
            #expect(last == Int64(written.count))
        }
        #expect(try await Self.write(c, []) == nil)

        // Stored as given, in order; one `at` per batch, never decreasing.
        let stored = try await c.query(
            """
            SELECT role, institution, "user", case_id, endpoint, outcome, seq,
                   (SELECT count(DISTINCT at) FROM handoff.access_log), lag(at) OVER (ORDER BY seq) <= at
              FROM handoff.access_log ORDER BY seq
            """)
        let rows = try stored.all.map {
            Row(
                role: try $0.decode(0), institution: try $0.decodeOptional(1), user: try $0.decode(2),
                caseId: try $0.decode(3), endpoint: try $0.decode(4), outcome: try $0.decode(5))
        }
        #expect(rows == written)
        #expect(try stored.all.map { try $0.decode(6, as: Int64.self) } == Array(1...Int64(written.count)))
        #expect(try stored.first!.decode(7, as: Int.self) == batches.count)
        #expect(try stored.all.dropFirst().allSatisfy { try $0.decode(8, as: Bool.self) })

        // The specification's SQL (docs/hash-chain.md section 8), not the writer's: numbers, links, hashes.
        let mismatches = try await c.query(
            """
            SELECT count(*) FILTER (WHERE NOT ok) FROM (
                SELECT hash = sha256(prev_hash || case_prev_hash || convert_to(concat_ws(E'\\n',
                           'handoff-access-v1', seq::text, case_seq::text,
                           to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), outcome, role,
                           coalesce(institution, ''), "user", case_id, endpoint), 'UTF8'))
                       AND prev_hash = coalesce(lag(hash) OVER (ORDER BY seq), decode(repeat('00', 32), 'hex'))
                       AND case_prev_hash = coalesce(lag(hash) OVER (PARTITION BY case_id ORDER BY seq),
                                                     decode(repeat('00', 32), 'hex'))
                       AND case_seq = row_number() OVER (PARTITION BY case_id ORDER BY seq) AS ok
                  FROM handoff.access_log) checked
            """)
        #expect(try mismatches.first!.decode(0, as: Int.self) == 0)
        let heads = try await c.query(
            """
            SELECT (SELECT count(*) FROM handoff.access_case_heads h
                      JOIN (SELECT DISTINCT ON (case_id) case_id, case_seq, hash FROM handoff.access_log
                             ORDER BY case_id, seq DESC) l USING (case_id)
                     WHERE h.case_seq = l.case_seq AND h.hash = l.hash),
                   (SELECT count(DISTINCT case_id) FROM handoff.access_log),
                   (SELECT count(*) FROM handoff.access_case_heads)
            """
        ).first!
        let distinctCases = Set(written.compactMap(\.caseId)).count
        #expect(try heads.decode(0, as: Int.self) == distinctCases)
        #expect(try heads.decode(1, as: Int.self) == distinctCases)
        #expect(try heads.decode(2, as: Int.self) == distinctCases)

        // Swift's verifiers: the whole log, then every case on its own.
        let pool = db.pool(size: 2)
        let store = EventStore(pool: pool)
        let report = try await store.verifyAccessLog(pageSize: 333)
        #expect(report.valid, "\(String(describing: report.problem))")
        #expect(report.rows == Int64(written.count))
        for caseId in Set(written.compactMap(\.caseId)) {
            let record = try await store.verifyAccessRecord(caseId: caseId)
            #expect(record.valid, "\(caseId): \(String(describing: record.problem))")
            #expect(record.rows == Int64(written.filter { $0.caseId == caseId }.count))
        }
        await pool.close()
        // The auditor's own script.
        let script = try AccessChainTests.runScript([], url: db.url)
        #expect(script.status == 0, "\(script.output)")
        #expect(script.output.contains("OK \(written.count) access log rows"), "\(script.output)")
    }

    /// Borderline values of every field, one at a time in an otherwise valid row: the function
    /// accepts exactly what migration 0014's checks (copied here verbatim) accept, and refuses the
    /// rest with HF011, writing nothing.
    @Test func acceptsExactlyWhatMigration0014Accepted() async throws {
        let db = try await TestDatabase.make()
        let c = try await db.connect()
        defer { c.close() }
        let a64 = String(repeating: "a", count: 64)
        let roles: [String?] = [
            "institution", "coordinator", "auditor", "Coordinator", " auditor", "auditor ", "", nil, "admin",
            "auditor\n",
        ]
        let institutions: [String?] = [
            nil, "opav", "a", "-", "kp-dthb", "op-av-1", a64, a64 + "a", "", "OPAV", "op av", "op_av", "opav\n",
            "\nopav", "opav\r", "opëv", "оpav", "ｏｐａｖ", "op٣", "op\tav", String(repeating: "é", count: 10),
        ]
        let users: [String?] = [
            "advocate-7", "a", "", " ", nil, String(repeating: "a", count: 128), String(repeating: "a", count: 129),
            String(repeating: "ш", count: 128), String(repeating: "ш", count: 129), String(repeating: "🙂", count: 128),
            String(repeating: "🙂", count: 129), "a\nb", "a\rb", "trailing\n", "\r", "a\r\nb", "a\tb", "a\u{0B}b",
            "a\u{85}b", "a\u{2028}b", "Đorđe Šćekić", "e\u{301}",
        ]
        let caseIds: [String?] = [
            "KS-2026-000001", "K", "-", "ks-1", String(repeating: "K", count: 64), String(repeating: "K", count: 65),
            "", nil, "KS_1", "KS 1", "KS-1 ", " KS-1", "KS-1\n", "\nKS-1", "KS-1\r", "KŠ-1", "КS-1", "KS-٣", "KS-１",
            "KS-1/2", "KS.1", "KS-1\t", String(repeating: "ж", count: 32), "KS-1'--", "KS-1\u{200B}",
        ]
        let endpoints: [String?] = [
            "GET /v1/cases/{caseId}", "G", "", nil, String(repeating: "e", count: 200),
            String(repeating: "e", count: 201),
            String(repeating: "ё", count: 200), String(repeating: "ё", count: 201), "GET /\n", "GET /\r", "GET\t/",
            "GET /v1/cases/{caseId}\u{2028}",
        ]
        let outcomes: [String?] = ["allowed", "denied", "Allowed", "", nil, "refused", "allowed\n", " denied"]
        var cases: [Row] = []
        for v in roles { cases.append(with(Self.valid) { $0.role = v }) }
        for v in institutions { cases.append(with(Self.valid) { $0.institution = v }) }
        for v in users { cases.append(with(Self.valid) { $0.user = v }) }
        for v in caseIds { cases.append(with(Self.valid) { $0.caseId = v }) }
        for v in endpoints { cases.append(with(Self.valid) { $0.endpoint = v }) }
        for v in outcomes { cases.append(with(Self.valid) { $0.outcome = v }) }

        var accepted = 0
        for row in cases {
            let expected = try await Self.acceptedIn0014(c, row)
            let before = try await Self.state(c)
            do {
                try await Self.write(c, [row])
                #expect(expected, "accepted but 0014 refused: \(row)")
                accepted += 1
            } catch let error as PostgresError {
                #expect(!expected, "refused but 0014 accepted: \(row)")
                #expect(error.sqlState == "HF011", "\(row): \(error)")
                #expect(try await Self.state(c) == before, "\(row)")
            }
            // One malformed row anywhere in a larger batch refuses the whole batch.
            if !expected {
                var batch = (0..<40).map { n in with(Self.valid) { $0.caseId = "KS-B-\(n % 7)" } }
                batch.insert(row, at: row.description.utf8.count % 41)
                do {
                    try await Self.write(c, batch)
                    Issue.record("a batch holding a malformed row was accepted: \(row)")
                } catch let error as PostgresError {
                    #expect(error.sqlState == "HF011", "\(row): \(error)")
                }
                #expect(try await Self.state(c) == before, "\(row)")
            }
        }
        // The corpus straddles every limit: these are pinned, not only compared.
        #expect(accepted > 20 && accepted < cases.count - 40)
        for (row, ok) in [
            (with(Self.valid) { $0.caseId = String(repeating: "K", count: 64) }, true),
            (with(Self.valid) { $0.caseId = String(repeating: "K", count: 65) }, false),
            (with(Self.valid) { $0.caseId = "KS-1\n" }, false),
            (with(Self.valid) { $0.institution = a64 }, true),
            (with(Self.valid) { $0.institution = a64 + "a" }, false),
            (with(Self.valid) { $0.user = String(repeating: "🙂", count: 128) }, true),
            (with(Self.valid) { $0.user = String(repeating: "a", count: 129) }, false),
            (with(Self.valid) { $0.endpoint = String(repeating: "ё", count: 200) }, true),
            (with(Self.valid) { $0.endpoint = "GET /\r" }, false),
        ] {
            #expect(try await Self.acceptedIn0014(c, row) == ok, "\(row)")
        }

        // Arrays of different lengths are refused as well.
        let before = try await Self.state(c)
        do {
            try await c.execute(
                """
                SELECT handoff.log_access(ARRAY['auditor'], ARRAY[NULL]::text[], ARRAY['u'], ARRAY['KS-1', 'KS-2'],
                                          ARRAY['GET /'], ARRAY['allowed'])
                """)
            Issue.record("arrays of different lengths were accepted")
        } catch let error as PostgresError {
            #expect(error.sqlState == "HF011")
        }
        #expect(try await Self.state(c) == before)
    }

    /// Replacing the function kept what 0013 and 0014 granted: the application role may call it,
    /// nobody else may, and it runs as its owner with a fixed search path (and, since 0042, one
    /// generic plan per statement).
    @Test func theRewrittenFunctionKeepsItsPrivileges() async throws {
        let db = try await TestDatabase.make()
        let c = try await db.connect()
        defer { c.close() }
        let row = try await c.query(
            """
            SELECT has_function_privilege('handoff_app', p.oid, 'EXECUTE'),
                   has_function_privilege('handoff_auditor', p.oid, 'EXECUTE'),
                   p.prosecdef, array_to_string(p.proconfig, ';'),
                   NOT EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0)
              FROM pg_proc p
             WHERE p.oid = 'handoff.log_access(text[], text[], text[], text[], text[], text[])'::regprocedure
            """
        ).first!
        #expect(try row.decode(0, as: Bool.self))
        #expect(try !row.decode(1, as: Bool.self))
        #expect(try row.decode(2, as: Bool.self))
        #expect(
            try row.decode(3, as: String.self)
                == "search_path=handoff, pg_temp;enable_seqscan=off;jit=off;plan_cache_mode=force_generic_plan")
        #expect(try row.decode(4, as: Bool.self))
    }

    /// Migration 0014's checks of one row, verbatim: true when the row is well formed.
    static func acceptedIn0014(_ c: Connection, _ r: Row) async throws -> Bool {
        try await c.query(
            """
            SELECT (ro IS NULL OR ro NOT IN ('institution', 'coordinator', 'auditor')
                    OR (i IS NOT NULL AND i !~ '^[a-z0-9-]{1,64}$')
                    OR u IS NULL OR length(u) NOT BETWEEN 1 AND 128 OR u ~ '[\\n\\r]'
                    OR c IS NULL OR c !~ '^[A-Za-z0-9-]{1,64}$'
                    OR e IS NULL OR length(e) NOT BETWEEN 1 AND 200 OR e ~ '[\\n\\r]'
                    OR o IS NULL OR o NOT IN ('allowed', 'denied')) IS NOT TRUE
              FROM (SELECT \(r.role)::text, \(r.institution)::text, \(r.user)::text, \(r.caseId)::text,
                           \(r.endpoint)::text, \(r.outcome)::text) AS x(ro, i, u, c, e, o)
            """
        ).first!.decode(0)
    }
}

private func with<T>(_ value: T, _ change: (inout T) -> Void) -> T {
    var copy = value
    change(&copy)
    return copy
}
