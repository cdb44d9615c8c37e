import EventStore
import Foundation
import HandoffCLI
import HandoffTestSupport
import Testing

@Suite struct StoreCommandTests {
    @Test func migrateAppendReadVerifyCheckpoint() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let cli = CapturedCLI(databaseURL: db.url)

        var r = await cli.run("migrate")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.hasPrefix("applied 0001"))
        r = await cli.run("migrate")
        #expect(r.status == 0)
        #expect(r.out.hasPrefix("up to date"))

        r = await cli.run(
            "institution", "add", "kp-dthb", "--name", "Police", "--kind", "police", "--case-id-prefix", "KP")
        #expect(r.status == 0, "\(r.err)")
        let opening =
            #"{"identificationStatus":"presumed","profile":{"sex":"female","ageBand":"18-24","child":false,"nationality":"XK","exploitation":[]}}"#
        let id = UUID().uuidString.lowercased()
        r = await cli.run(
            "append", "case-KP-2026-000001", "CaseOpened", opening, "--id", id, "--expected-version",
            "no-stream", "--institution", "kp-dthb", "--user", "officer-1182")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains(#""streamVersion":1"#))
        #expect(r.out.contains(id))
        let appended = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let cursorText = try #require(((appended["events"] as? [[String: Any]])?.first?["cursor"]) as? String)
        // Same id and content again: the original result.
        let again = await cli.run(
            "append", "case-KP-2026-000001", "CaseOpened", opening, "--id", id, "--expected-version",
            "no-stream", "--institution", "kp-dthb", "--user", "officer-1182")
        #expect(again.status == 0, "\(again.err)")
        #expect(again.out == r.out)
        // Wrong expected version: exit 3.
        r = await cli.run(
            "append", "case-KP-2026-000001", "CaseReviewed", "{}", "--expected-version", "5", "--institution",
            "kp-dthb",
            "--user", "officer-1182")
        #expect(r.status == 3)
        #expect(r.err.contains("expected=5 actual=1"), "\(r.err)")
        r = await cli.run("institution", "add", "isf", "--name", "Shelter", "--kind", "shelter")
        #expect(r.status == 0, "\(r.err)")
        // Not a back door: the operator's events pass the API's admission.
        let refusals: [([String], String)] = [
            (["case-KS-2026-000777", "CaseOpened", opening, "--institution", "kp-dthb", "--user", "u"], "forbidden"),
            (
                [
                    "case-KP-2026-000001", "RiskAssessed", #"{"level":"extreme"}"#, "--institution", "kp-dthb",
                    "--user", "u",
                ],
                "field=data.level"
            ),
            (
                ["case-KP-2026-000001", "CaseReviewed", "{}", "--institution", "ksp", "--user", "u"],
                "institution ksp is not registered"
            ),
            // The operator, who reads every stream, is told a registered institution is no party
            // (the API answers a non-party as if the case did not exist).
            (
                ["case-KP-2026-000001", "CaseReviewed", "{}", "--institution", "isf", "--user", "u"],
                "isf is not a party to case KP-2026-000001"
            ),
            (
                ["case-KP-2026-000002", "CaseReviewed", "{}", "--institution", "isf", "--user", "u"],
                "not_found"
            ),
            // `actor.user` is recorded for good: a name as the API's credentials give them.
            (
                ["case-KP-2026-000001", "CaseReviewed", "{}", "--institution", "kp-dthb", "--user", "BAD USER"],
                "--user is 1-64"
            ),
            (
                [
                    "case-KP-2026-000001", "CaseReviewed", "{}", "--institution", "kp-dthb", "--user",
                    "evil\nline\u{202E}",
                ],
                "--user is 1-64"
            ),
            (["case-KP-2026-000001", "CaseReviewed", "{}"], "--institution"),
            (["sop-KP-2026-000001", "SopDeadlineMissed", "{}", "--institution", "kp-dthb", "--user", "u"], "watcher"),
            (["institutions", "InstitutionRegistered", "{}"], "institution add"),
        ]
        for (args, message) in refusals {
            let refused = await cli.run(["append"] + args)
            #expect(refused.status != 0, "\(args)")
            #expect(refused.err.contains(message), "\(args): \(refused.err)")
        }

        r = await cli.run("read", "case-KP-2026-000001")
        #expect(r.status == 0)
        let lines = r.out.split(separator: "\n")
        #expect(lines.count == 1)
        let event = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(event["type"] as? String == "CaseOpened")
        #expect((event["actor"] as? [String: String])?["institution"] == "kp-dthb")
        #expect(((event["metadata"] as? [String: Any])?["operator"] as? String)?.hasPrefix("operator:") == true)
        #expect((event["hash"] as? String)?.count == 64)

        r = await cli.run("verify")
        #expect(r.status == 0)
        #expect(r.out.contains("valid: 3 events in 2 streams"), "\(r.out)")

        let headsFile = FileManager.default.temporaryDirectory.appendingPathComponent("heads-\(UUID())").path
        let checkpointFile = FileManager.default.temporaryDirectory.appendingPathComponent("cp-\(UUID()).json").path
        defer {
            try? FileManager.default.removeItem(atPath: headsFile)
            try? FileManager.default.removeItem(atPath: checkpointFile)
        }
        try await waitUntilReadable(db.store(), try #require(Cursor(cursorText)))
        r = await cli.run("checkpoint", "--heads", headsFile)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains(#""type":"Checkpoint""#))
        try Data(r.out.utf8).write(to: URL(fileURLWithPath: checkpointFile))
        r = await cli.run("verify", "--checkpoint", checkpointFile, "--heads", headsFile)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("checkpoint matches"))
        // A heads file that cannot be read, or is not one, is told before anything is verified.
        let notUTF8 = headsFile + ".bin"
        try Data([0xFF, 0xFE, 0x00, 0x80]).write(to: URL(fileURLWithPath: notUTF8))
        defer { try? FileManager.default.removeItem(atPath: notUTF8) }
        for (heads, says) in [
            ("/nonexistent-heads", "cannot read /nonexistent-heads: No such file or directory"),
            (notUTF8, "is not a heads file"), (checkpointFile, "is not a heads file"),
        ] {
            r = await cli.run("verify", "--checkpoint", checkpointFile, "--heads", heads)
            #expect(r.status == 1 && r.err.contains(says), "\(heads): \(r.err)")
            #expect(!r.out.contains("valid"), "\(heads): \(r.out)")
        }
        // The read models, recomputed from the log and compared (ReadModelCheckTests edits them).
        r = await cli.run("verify", "--read-models")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("valid: read model deadlines"), "\(r.out)")
        r = await cli.run("verify", "case-KP-2026-000001", "--read-models")
        #expect(r.status == 2, "\(r.err)")

        // The tail removed by a superuser is found against the checkpoint, and named.
        let c = try await db.connect()
        try await c.execute(
            "BEGIN; ALTER TABLE handoff.events DISABLE TRIGGER events_append_only; "
                + "DELETE FROM handoff.events WHERE stream = 'case-KP-2026-000001'; DELETE FROM handoff.streams WHERE stream = 'case-KP-2026-000001'; "
                + "ALTER TABLE handoff.events ENABLE TRIGGER events_append_only; COMMIT")
        c.close()
        r = await cli.run("verify", "--checkpoint", checkpointFile, "--heads", headsFile)
        #expect(r.status == 1)
        #expect(r.err.contains("stream case-KP-2026-000001 is missing"), "\(r.err)")
    }

    /// `handoff verify` checks the access log's chain and names the first bad row; a format-2
    /// checkpoint finds the access log's tail removed even when its heads were rewritten.
    @Test func verifyChecksTheAccessLogAndNamesTheFirstBadRow() async throws {
        let db = try await TestDatabase.make()
        let cli = CapturedCLI(databaseURL: db.url)
        let c = try await db.connect()
        defer { c.close() }
        for n in 1...4 {
            try await c.execute(
                "SELECT handoff.log_access(ARRAY['institution'], ARRAY['opav'], ARRAY['advocate-\(n)'], "
                    + "ARRAY['KS-CLI-\(n % 2)'], ARRAY['GET /v1/cases/{caseId}'], ARRAY['allowed'])")
        }
        var r = await cli.run("verify")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("valid: access log of 4 rows"), "\(r.out)")
        let checkpointFile = FileManager.default.temporaryDirectory.appendingPathComponent("cp-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: checkpointFile) }
        r = await cli.run("checkpoint")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("handoff-checkpoint-v2") && r.out.contains("accessSeq"), "\(r.out)")
        try Data(r.out.utf8).write(to: URL(fileURLWithPath: checkpointFile))

        let off = "ALTER TABLE handoff.access_log DISABLE TRIGGER access_log_append_only; "
        let on = "ALTER TABLE handoff.access_log ENABLE TRIGGER access_log_append_only; "
        try await c.execute(
            "BEGIN; " + off + "UPDATE handoff.access_log SET \"user\" = 'x' WHERE seq = 3; " + on + "COMMIT")
        r = await cli.run("verify")
        #expect(r.status == 1)
        #expect(r.err.contains("access log row 3 (case KS-CLI-1): hash does not match"), "\(r.err)")
        try await c.execute(
            "BEGIN; " + off + "UPDATE handoff.access_log SET \"user\" = 'advocate-3' WHERE seq = 3; "
                + "DELETE FROM handoff.access_log WHERE seq = 4; "
                + "UPDATE handoff.access_log_head SET (seq, hash) = "
                + "(SELECT seq, hash FROM handoff.access_log WHERE seq = 3); "
                + "UPDATE handoff.access_case_heads SET (case_seq, hash) = (SELECT case_seq, hash FROM handoff.access_log "
                + "WHERE seq = 2) WHERE case_id = 'KS-CLI-0'; " + on + "COMMIT")
        // The tail and the heads both gone: the chain alone cannot tell, the store's own checkpoint can.
        r = await cli.run("verify")
        #expect(r.status == 1)
        #expect(r.err.contains("its own newest checkpoint, checkpoints@1"), "\(r.err)")
        #expect(r.err.contains("access log row 4, the head at the checkpoint, is missing"), "\(r.err)")
        r = await cli.run("verify", "--checkpoint", checkpointFile)
        #expect(r.status == 1)
        #expect(r.err.contains("access log row 4, the head at the checkpoint, is missing"), "\(r.err)")
    }

    @Test func badInputIsAClearErrorAndWritesNothing() async throws {
        let db = try await TestDatabase.make()
        let cli = CapturedCLI(databaseURL: db.url)
        let cases: [([String], Int32, String)] = [
            (["append", "people-1", "CaseReviewed", "{}"], 2, "unknown stream name pattern"),
            (["append", "case-KS-1", "CaseReviewed", "{not json"], 2, "JSON object"),
            (["append", "case-KS-1", "CaseReviewed", "[1]"], 2, "JSON object"),
            (["append", "case-KS-1", "CaseReviewed", "{}", "--id", "not-a-uuid"], 2, "UUID"),
            (["append", "case-KS-1", "CaseReviewed", "{}", "--expected-version", "soon"], 2, "expected-version"),
            (["append", "case-KS-1", "Case Reviewed", "{}"], 2, "event type"),
            (["append", "case-KS-1", "CaseReviewed", "{}", "--institution", "kp-dthb"], 2, "go together"),
            (["append", "case-KS-1", "CaseReviewed", "{}"], 2, "--institution I --user U"),
            (["append", "case-KS-1"], 2, "missing"),
            (["read", "nope"], 2, "stream"),
            (["verify", "--heads", "/nonexistent"], 2, "--heads goes with --checkpoint"),
            (["verify", "--checkpoint", "/nonexistent"], 1, "cannot read /nonexistent: No such file or directory"),
            (["verify", "--checkpoint", "/etc/hostname"], 1, "not a checkpoint"),
            (["verify", "case-KS-NOPE-1"], 1, "no stream case-KS-NOPE-1"),
            (["verify", "case-KS-1", "--read-models"], 2, "checks the whole store"),
            (["frobnicate"], 2, "frobnicate"),
        ]
        for (args, status, message) in cases {
            let r = await cli.run(args)
            #expect(r.status == status, "\(args): \(r.err)")
            #expect(r.err.contains(message), "\(args): \(r.err)")
            #expect(r.err.split(separator: "\n").count <= 2, "one-line error (plus a usage hint): \(r.err)")
            #expect(!r.out.contains("valid"), "nothing checked before the arguments: \(args): \(r.out)")
        }
        #expect(try await db.store().count() == 0)
    }

    /// A database that cannot be reached is told as libpq tells it (an operator's pass: a typo in
    /// the URL, a missing database, a wrong password and a server down all read "the database is
    /// unavailable"), and the URL's password is never printed.
    @Test func anUnreachableDatabaseSaysWhy() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let base = try #require(URLComponents(string: db.url))
        var missing = base
        missing.path = "/no_such_database_here"
        var withPassword = missing
        withPassword.password = "s3cret-Pw"
        let cases: [(String, String)] = [
            (try #require(missing.string), "no_such_database_here"),
            (try #require(withPassword.string), "no_such_database_here"),
            ("not a url", "connection to server"),  // a database name to libpq, on the default socket
        ]
        for (url, says) in cases {
            for command in [["verify"], ["read", "case-KS-1"], ["report", "annual", "--year", "2025"]] {
                let r = await CapturedCLI(databaseURL: url).run(command)
                #expect(r.status == 1, "\(command) \(url): \(r.err)")
                #expect(r.err.contains("cannot connect to the database (DATABASE_URL)"), "\(command): \(r.err)")
                #expect(r.err.contains(says), "\(command): \(r.err)")
                #expect(!r.err.contains("s3cret-Pw"), "\(command): \(r.err)")
            }
        }
    }

    @Test func missingDatabaseURLIsExplained() async {
        let cli = CapturedCLI(databaseURL: nil)
        let r = await cli.run("verify")
        #expect(r.status == 1)
        #expect(r.err.contains("DATABASE_URL"))
    }

    @Test func everyCommandHasHelp() async {
        let cli = CapturedCLI(databaseURL: nil)
        for command in [
            [], ["migrate"], ["append"], ["read"], ["verify"], ["checkpoint"], ["serve"], ["project"],
            ["project", "rebuild"],
            ["watch"], ["institution", "add"], ["token", "create"], ["sop", "publish"], ["demo"], ["bench"],
        ] {
            let r = await cli.run(command + ["--help"])
            #expect(r.status == 0, "\(command)")
            #expect(
                r.out.contains("Usage") || r.out.contains("usage") || r.out.contains("USAGE"), "\(command): \(r.out)")
        }
    }
}
