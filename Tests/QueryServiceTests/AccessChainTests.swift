@testable import ServiceStore
import Crypto
import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Referrals
import Testing

@testable import QueryService

/// The access log is hash-chained (docs/hash-chain.md, sections 8-10): every way a superuser can
/// tamper with it is found by `verifyAccessLog`, by the case's own check (verify route and the
/// auditor's case page), or — for a re-chained log — by a checkpoint kept off-site.
@Suite("Access log chain")
struct AccessChainTests {
    static let off = "ALTER TABLE handoff.access_log DISABLE TRIGGER access_log_append_only;"
    static let on = "ALTER TABLE handoff.access_log ENABLE TRIGGER access_log_append_only;"

    /// Recomputes every row's links and hash in seq order, renumbering seq and case_seq, and
    /// rewrites both head tables: what a superuser does to hide a change from the chain alone.
    static let rechain = """
        DO $$
        DECLARE r record; z bytea := decode(repeat('00', 32), 'hex'); p bytea := decode(repeat('00', 32), 'hex');
                n bigint := 0; cs bigint; cp bytea; h bytea;
        BEGIN
          DELETE FROM handoff.access_case_heads;
          UPDATE handoff.access_log SET seq = seq - 1000000000;  -- out of the way of the new numbers
          FOR r IN SELECT * FROM handoff.access_log ORDER BY seq LOOP
            n := n + 1;
            SELECT case_seq, hash INTO cs, cp FROM handoff.access_case_heads WHERE case_id = r.case_id;
            IF NOT FOUND THEN cs := 0; cp := z; END IF;
            cs := cs + 1;
            h := sha256(p || cp || convert_to(handoff.access_canonical_text(n, cs, r.at, r.outcome, r.role,
                 r.institution, r."user", r.case_id, r.endpoint), 'UTF8'));
            UPDATE handoff.access_log SET seq = n, case_seq = cs, prev_hash = p, case_prev_hash = cp, hash = h
             WHERE seq = r.seq;
            INSERT INTO handoff.access_case_heads VALUES (r.case_id, cs, h)
              ON CONFLICT (case_id) DO UPDATE SET case_seq = EXCLUDED.case_seq, hash = EXCLUDED.hash;
            p := h;
          END LOOP;
          UPDATE handoff.access_log_head SET seq = n, hash = p;
        END $$;
        """

    /// Two cases, reads allowed and denied (isf and opav are no parties): rows 1…8; case KS-AC-1
    /// has rows 1-3 and 5-7 (6 rows), KS-AC-2 rows 4 and 8.
    static func seeded() async throws -> Harness {
        let h = try await Harness.start(readSide: StubReadSide())
        try await h.openCase("KS-AC-1")
        try await h.openCase("KS-AC-2")
        for (caller, path) in [
            ("kp-dthb", "/v1/cases/KS-AC-1/history"), ("natc", "/v1/cases/KS-AC-1"), ("isf", "/v1/cases/KS-AC-1"),
            ("kp-dthb", "/v1/cases/KS-AC-2/history"), ("audit", "/v1/cases/KS-AC-1/history"),
            ("opav", "/v1/cases/KS-AC-1/history"), ("natc", "/v1/cases/KS-AC-1/history"),
            ("natc", "/v1/cases/KS-AC-2/history"),
        ] {
            _ = try await h.api.get(path, token: h.token(caller))
        }
        return h
    }

    static func execute(_ h: Harness, _ sql: String) async throws {
        let connection = try await h.db.connect()
        defer { connection.close() }
        try await connection.execute(sql)
    }

    /// The chain as specified, recomputed by the database from the spec's SQL (not the
    /// function's), agrees with every stored hash; Swift's verification agrees too.
    @Test func everyRowAllowedOrDeniedIsChainedAsSpecified() async throws {
        let h = try await Self.seeded()
        defer { Task { await h.stop() } }
        let connection = try await h.db.connect()
        defer { connection.close() }
        let rows = try await connection.query(
            """
            SELECT seq, outcome, hash = sha256(prev_hash || case_prev_hash || convert_to(concat_ws(E'\\n',
                     'handoff-access-v1', seq::text, case_seq::text,
                     to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), outcome, role,
                     coalesce(institution, ''), "user", case_id, endpoint), 'UTF8')),
                   prev_hash = coalesce(lag(hash) OVER (ORDER BY seq), decode(repeat('00', 32), 'hex')),
                   case_prev_hash = coalesce(lag(hash) OVER (PARTITION BY case_id ORDER BY seq),
                                             decode(repeat('00', 32), 'hex'))
              FROM handoff.access_log ORDER BY seq
            """)
        #expect(try rows.all.map { try $0.decode(0, as: Int64.self) } == Array(1...8))
        #expect(try rows.all.filter { try $0.decode(1, as: String.self) == "denied" }.count == 2)
        for row in rows.all {
            #expect(try row.decode(2, as: Bool.self) && row.decode(3, as: Bool.self) && row.decode(4, as: Bool.self))
        }
        let report = try await h.store.verifyAccessLog(pageSize: 3)
        #expect(report.valid && report.rows == 8)
        let record = try await h.store.verifyAccessRecord(caseId: "KS-AC-1")
        #expect(record.valid && record.rows == 6)
        // The verify route and the auditor's case page say so (their own reads included).
        let verify = try await h.api.get("/v1/cases/KS-AC-1/verify", token: h.token("audit"))
        #expect(verify.json["accessLog"]?["valid"] == .bool(true))
        #expect(verify.json["accessLog"]?["entries"]?.int == 7)
        let page = try await DashboardTests.page(h.api, "/cases/KS-AC-1", token: h.token("audit"))
        #expect(page.text.contains("Read record intact"))
    }

    enum Tampering: String, CaseIterable, Sendable {
        case rowEdited, rowDeleted, tailTruncated, rowInserted
        case rowEditedAndRechained, rowDeletedAndRechained, tailTruncatedAndHeadsFixed, rowInsertedAndRechained
    }

    /// Each tampering is found: by the chain alone where it can be, and by a checkpoint taken
    /// before it in every case — rows re-chained and heads rewritten included.
    @Test(arguments: Tampering.allCases)
    func everyTamperingIsFound(_ tampering: Tampering) async throws {
        let h = try await Self.seeded()
        defer { Task { await h.stop() } }
        let (checkpoint, _, _) = try await h.store.writeCheckpoint()
        #expect(checkpoint.access == Checkpoint.AccessHead(seq: 8, hash: try await Self.hashHex(h, seq: 8)))
        let edit = "UPDATE handoff.access_log SET \"user\" = 'someone-else' WHERE seq = 5;"
        let delete = "DELETE FROM handoff.access_log WHERE seq = 5;"
        let truncate = "DELETE FROM handoff.access_log WHERE seq >= 7;"
        let fixHeads = """
            UPDATE handoff.access_log_head SET (seq, hash) = (SELECT seq, hash FROM handoff.access_log
                                                               ORDER BY seq DESC LIMIT 1);
            DELETE FROM handoff.access_case_heads;
            INSERT INTO handoff.access_case_heads SELECT DISTINCT ON (case_id) case_id, case_seq, hash
              FROM handoff.access_log ORDER BY case_id, seq DESC;
            """
        let insert = """
            INSERT INTO handoff.access_log (seq, at, role, institution, "user", case_id, endpoint, outcome,
                                            case_seq, prev_hash, case_prev_hash, hash)
            SELECT 0, at, 'coordinator', 'natc', 'forged', case_id, endpoint, 'allowed', 1,
                   decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex'), decode(repeat('ab', 32), 'hex')
              FROM handoff.access_log WHERE seq = 1;
            """
        let (sql, chainFinds, caseFinds): (String, Bool, Bool) =
            switch tampering {
            case .rowEdited: (edit, true, true)
            case .rowDeleted: (delete, true, true)
            case .tailTruncated: (truncate, true, true)
            case .rowInserted: (insert, true, true)
            case .rowEditedAndRechained: (edit + Self.rechain, false, false)
            case .rowDeletedAndRechained: (delete + Self.rechain, false, false)
            case .tailTruncatedAndHeadsFixed: (truncate + fixHeads, false, false)
            case .rowInsertedAndRechained: (insert + Self.rechain, false, false)
            }
        try await Self.execute(h, Self.off + sql + Self.on)
        let report = try await h.store.verifyAccessLog()
        #expect(report.valid == !chainFinds, "\(tampering): \(String(describing: report.problem))")
        if tampering == .rowEdited || tampering == .rowInserted {
            #expect(report.problem?.seq == (tampering == .rowEdited ? 5 : 0), "\(tampering)")
        }
        if tampering == .rowDeleted { #expect(report.problem?.seq == 6) }
        // KS-AC-1's own check: the verify route (its read adds one row, after the tampering).
        let record = try await h.store.verifyAccessRecord(caseId: "KS-AC-1")
        #expect(record.valid == !caseFinds, "\(tampering): \(String(describing: record.problem))")
        // The checkpoint taken before finds every one the chain alone cannot (as `handoff verify
        // --checkpoint` runs both).
        let comparison = try await h.store.compare(with: checkpoint)
        if !chainFinds {
            #expect(!comparison.matches, "\(tampering)")
            #expect(comparison.findings.contains { $0.hasPrefix("access log") }, "\(tampering): \(comparison.findings)")
        }
    }

    /// What the auditor sees when a case's read record was tampered with: the verify route and
    /// the case page both say so.
    @Test func theVerifyRouteAndTheCasePageReportABrokenReadRecord() async throws {
        let h = try await Self.seeded()
        defer { Task { await h.stop() } }
        try await Self.execute(h, Self.off + "DELETE FROM handoff.access_log WHERE seq = 2;" + Self.on)
        let verify = try await h.api.get("/v1/cases/KS-AC-1/verify", token: h.token("audit"))
        #expect(verify.status == 200)
        #expect(verify.json["valid"] == .bool(true))  // the events are intact
        #expect(verify.json["accessLog"]?["valid"] == .bool(false))
        #expect(verify.json["accessLog"]?["firstInvalidSeq"]?.int == 3)
        let page = try await DashboardTests.page(h.api, "/cases/KS-AC-1", token: h.token("audit"))
        #expect(page.text.contains("Read record broken"))
        #expect(page.text.contains("access log row 3"))
        // Another case's record is untouched.
        #expect(try await h.store.verifyAccessRecord(caseId: "KS-AC-2").valid)
    }

    /// A checkpoint of format 1 (no access head) still reads and still verifies; a format 2
    /// checkpoint round-trips through its JSON.
    @Test func checkpointsOfBothFormatsVerify() async throws {
        let h = try await Self.seeded()
        defer { Task { await h.stop() } }
        let (current, _, _) = try await h.store.writeCheckpoint()
        let json = current.json
        #expect(json.hasPrefix("{\"format\":\"handoff-checkpoint-v2\","))
        #expect(Checkpoint(json: Data(json.utf8)) == current)
        var v1 = current
        v1.access = nil
        #expect(!v1.json.contains("format"))
        let parsed = try #require(Checkpoint(json: Data(v1.json.utf8)))
        #expect(parsed.access == nil)
        #expect(try await h.store.compare(with: parsed).matches)
        #expect(try await h.store.compare(with: current).matches)
        // A format it does not know, or a v2 without the access head, is refused rather than half-read.
        for bad in [
            json.replacingOccurrences(of: "handoff-checkpoint-v2", with: "handoff-checkpoint-v9"),
            json.replacingOccurrences(of: "\"accessSeq\"", with: "\"accessSeqX\""),
        ] {
            #expect(Checkpoint(json: Data(bad.utf8)) == nil)
        }
    }

    /// The worked example of docs/hash-chain.md section 8: Swift's canonical bytes and hash, and
    /// PostgreSQL's (the function the writer uses, with the session in another time zone), give
    /// the published hashes.
    @Test func theWorkedExampleOfTheSpecification() async throws {
        let zero = CanonicalAccessRow.genesis
        let a1 = try #require(SHA256.bytes(fromHex: "454cf5af7b0f4ff3df09b1dc141cc530be05a6697c2e0c5d988d6a43efe76568"))
        let a2 = try #require(SHA256.bytes(fromHex: "3b8576b9b2aa4b2f4a0aeaf84ef6e04c7c8dcb9a41ba844b8c46828ff3b0e3bb"))
        let a3 = try #require(SHA256.bytes(fromHex: "d39cba2ed98a6c373e3315c2462136097b70c346ad97e63173c236cc6ee80983"))
        let rows = [
            AccessLogRow(
                seq: 1, caseSeq: 1, at: "2026-11-20T09:20:00.250000Z", outcome: "allowed", role: "institution",
                institution: "opav", user: "advocate-7", caseId: "KS-2026-000001",
                endpoint: "GET /v1/cases/{caseId}/history", prevHash: zero, casePrevHash: zero, hash: a1),
            AccessLogRow(
                seq: 2, caseSeq: 2, at: "2026-11-20T09:21:30.000000Z", outcome: "denied", role: "institution",
                institution: "isf", user: "duty-officer-3", caseId: "KS-2026-000001",
                endpoint: "GET /v1/cases/{caseId}", prevHash: a1, casePrevHash: a1, hash: a2),
            AccessLogRow(
                seq: 3, caseSeq: 1, at: "2026-11-20T09:21:30.000000Z", outcome: "allowed", role: "coordinator",
                institution: "natc", user: "coordinator-1", caseId: "KS-2026-000002",
                endpoint: "GET /cases/{caseId}", prevHash: a2, casePrevHash: zero, hash: a3),
        ]
        #expect(Array(CanonicalAccessRow.text(rows[0]).utf8).count == 131)
        for row in rows { #expect(CanonicalAccessRow.hash(row) == row.hash, "\(row.seq)") }
        let db = try await TestDatabase.make()
        let connection = try await db.connect()
        defer { connection.close() }
        try await connection.execute("SET TimeZone = 'Pacific/Kiritimati'")
        for row in rows {
            let local = row.at.replacingOccurrences(of: "Z", with: "+00:00")
            let hash = try await connection.query(
                """
                SELECT sha256(\(ByteA(row.prevHash))::bytea || \(ByteA(row.casePrevHash))::bytea || convert_to(
                    handoff.access_canonical_text(\(row.seq)::bigint, \(row.caseSeq)::bigint, \(local)::timestamptz,
                        \(row.outcome)::text, \(row.role)::text, \(row.institution)::text, \(row.user)::text,
                        \(row.caseId)::text, \(row.endpoint)::text), 'UTF8'))
                """
            ).first!.decode(0, as: ByteA.self).bytes
            #expect(hash == row.hash, "\(row.seq)")
        }
    }

    /// The auditor's own script (scripts/verify-chain.py) agrees: the log verifies, a saved
    /// checkpoint of format 2 matches; an edited row is named; a re-chained truncation is caught
    /// by a checkpoint only (the one stored in the database, and the saved one).
    @Test func theAuditorsScriptVerifiesTheAccessLog() async throws {
        let h = try await Self.seeded()
        defer { Task { await h.stop() } }
        let (checkpoint, _, _) = try await h.store.writeCheckpoint()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cp-\(UUID()).json")
        try Data(checkpoint.json.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let ok = try Self.runScript(["--checkpoint", file.path], url: h.db.url)
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.contains("OK 8 access log rows"), "\(ok.output)")
        #expect(ok.output.contains("ACCESS CHECKPOINT OK accessSeq=8"), "\(ok.output)")

        try await Self.execute(
            h, Self.off + "UPDATE handoff.access_log SET outcome = 'allowed' WHERE seq = 3;" + Self.on)
        let edited = try Self.runScript([], url: h.db.url)
        #expect(edited.status == 1)
        #expect(edited.output.contains("FAIL access log row 3 (case KS-AC-1)"), "\(edited.output)")

        try await Self.execute(
            h, Self.off + "DELETE FROM handoff.access_log WHERE seq >= 7;" + Self.rechain + Self.on)
        // Re-chained: the chain alone cannot tell; the checkpoint stored in the database can.
        let plain = try Self.runScript([], url: h.db.url)
        #expect(plain.status == 1)
        #expect(plain.output.contains("OK 6 access log rows"), "\(plain.output)")
        #expect(plain.output.contains("ACCESS STORED CHECKPOINT checkpoints@1 MISMATCH accessSeq=8"), "\(plain.output)")
        let caught = try Self.runScript(["--checkpoint", file.path], url: h.db.url)
        #expect(caught.status == 1)
        #expect(caught.output.contains("ACCESS CHECKPOINT MISMATCH accessSeq=8"), "\(caught.output)")
    }

    static func runScript(_ args: [String], url: String) throws -> (status: Int32, output: String) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/verify-chain.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path] + args
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = url
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Several writers at once (two service processes, each with its own batching writer): the
    /// batches serialize on the head row only, and the result is one valid chain with every row.
    @Test func concurrentWritersBuildOneValidChain() async throws {
        let db = try await TestDatabase.make()
        let pools = [db.pool(size: 4), db.pool(size: 4)]
        let logs = pools.map { AccessLog(pool: $0) }
        let principals = [
            Principal.institution("opav", user: "advocate-7"),
            Principal(role: .coordinator, institution: "natc", user: "c-1"),
        ]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                let log = logs[i % 2]
                let principal = principals[(i / 2) % 2]
                group.addTask {
                    try await log.record(
                        principal, caseIds: ["KS-CW-\(i % 7)", "KS-CW-\(i % 5)"], endpoint: "GET /v1/cases/{caseId}",
                        outcome: i % 3 == 0 ? .denied : .allowed)
                }
            }
            try await group.waitForAll()
        }
        let store = EventStore(pool: pools[0])
        let report = try await store.verifyAccessLog(pageSize: 37)
        #expect(report.valid, "\(String(describing: report.problem))")
        let expected = (0..<200).reduce(0) { $0 + Set(["\($1 % 7)", "\($1 % 5)"]).count }
        #expect(report.rows == Int64(expected))
        for n in 0..<7 { #expect(try await store.verifyAccessRecord(caseId: "KS-CW-\(n)").valid) }
        for pool in pools { await pool.close() }
    }

    /// Verifying while reads of the same case are being logged: every report says valid (attack
    /// pass 25 had an institution's refused reads of a case make the auditor's check report "its
    /// newest rows were removed" from an intact log, the rows and the heads read in two snapshots).
    @Test func verifyingWhileReadsAreLoggedFindsNothingRemoved() async throws {
        let db = try await TestDatabase.make()
        let pool = db.pool(size: 6)
        let log = AccessLog(pool: pool)
        let store = EventStore(pool: pool)
        let reader = Principal.institution("isf", user: "shelter-1")
        let reports = try await withThrowingTaskGroup(of: [AccessLogReport].self) { group in
            for w in 0..<4 {
                group.addTask {
                    for i in 0..<60 {
                        try await log.record(
                            reader, caseIds: ["KS-VW-1", "KS-VW-\(w)-\(i % 3)"], endpoint: "GET /v1/cases/{caseId}",
                            outcome: .denied)
                    }
                    return []
                }
            }
            group.addTask {
                var reports: [AccessLogReport] = []
                for _ in 0..<40 {
                    reports.append(try await store.verifyAccessRecord(caseId: "KS-VW-1"))
                    if reports.count % 10 == 0 { reports.append(try await store.verifyAccessLog(pageSize: 50)) }
                }
                return reports
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(reports.count == 44)
        for report in reports { #expect(report.valid, "\(String(describing: report.problem))") }
        #expect(try await store.verifyAccessRecord(caseId: "KS-VW-1").rows == 240)
        await pool.close()
    }

    /// The SQL cross-check printed in docs/hash-chain.md section 10 finds nothing in an intact
    /// log and the first bad row in a tampered one.
    @Test func theSpecificationsSQLCrossCheck() async throws {
        let h = try await Self.seeded()
        defer { Task { await h.stop() } }
        let doc = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("docs/hash-chain.md"), encoding: .utf8)
        let section = try #require(doc.range(of: "## 10. What the access chain proves"))
        let start = try #require(doc.range(of: "```sql\n", range: section.upperBound..<doc.endIndex))
        let end = try #require(doc.range(of: "```", range: start.upperBound..<doc.endIndex))
        let sql = String(doc[start.upperBound..<end.lowerBound])
        let connection = try await h.db.connect()
        defer { connection.close() }
        #expect(try await connection.query(SQL(text: sql, parameters: [])).count == 0)
        try await Self.execute(
            h, Self.off + "UPDATE handoff.access_log SET endpoint = 'GET /' WHERE seq = 4;" + Self.on)
        #expect(try await connection.query(SQL(text: sql, parameters: [])).first?.decode(0, as: Int64.self) == 4)
    }

    static func hashHex(_ h: Harness, seq: Int64) async throws -> String {
        let connection = try await h.db.connect()
        defer { connection.close() }
        return try await connection.query("SELECT encode(hash, 'hex') FROM handoff.access_log WHERE seq = \(seq)")
            .first!.decode(0)
    }
}
