import EventStore
import Foundation
import HandoffTestSupport
import Postgres
import Testing

@Suite struct VerificationTests {
    /// Three cases with a few events each.
    func seeded() async throws -> (TestDB, EventStore) {
        let db = try await TestDatabase.make()
        let store = db.store()
        var last = Cursor.start
        for n in 1...3 {
            last = try await store.append(
                to: stream("V-\(n)"),
                events: [
                    event("CaseOpened", data: #"{"profile": {"ageBand": "18-24"}}"#),
                    event("RiskAssessed", data: #"{"level": "high"}"#),
                    event("CaseReviewed"),
                ]
            ).events.last!.cursor
        }
        try await waitUntilReadable(store, last)
        return (db, store)
    }

    /// Runs SQL as the superuser with the append-only trigger disabled, as an attacker with full access would.
    func tamper(_ db: TestDB, _ statement: String) async throws {
        let c = try await db.connect()
        defer { c.close() }
        try await c.execute(
            "BEGIN; ALTER TABLE handoff.events DISABLE TRIGGER events_append_only; \(statement); "
                + "ALTER TABLE handoff.events ENABLE TRIGGER events_append_only; COMMIT")
    }

    @Test func intactStoreVerifies() async throws {
        let (_, store) = try await seeded()
        let report = try await store.verify()
        #expect(report.valid)
        #expect(report.events == 9)
        #expect(report.streams == 3)
        let one = try await store.verify(stream: stream("V-2"))
        #expect(one.valid && one.events == 3)
        #expect(one.headHash?.count == 32)
    }

    @Test func changedDataIsNamed() async throws {
        let (db, store) = try await seeded()
        try await tamper(
            db, #"UPDATE handoff.events SET data = '{"level": "low"}' WHERE stream = 'case-V-2' AND version = 2"#)
        let report = try await store.verify()
        #expect(report.problem?.stream == "case-V-2")
        #expect(report.problem?.version == 2)
        #expect(report.problem?.reason.contains("hash") == true)
    }

    @Test func forgedInsertAndReorderAreNamed() async throws {
        let (db, store) = try await seeded()
        // A forged event appended with a made-up hash.
        try await tamper(
            db,
            "INSERT INTO handoff.events (stream, version, id, type, data, metadata, occurred_at, recorded_at, prev_hash, hash) "
                + "SELECT stream, 4, gen_random_uuid(), 'CaseClosed', '{}', metadata, occurred_at, recorded_at, hash, hash "
                + "FROM handoff.events WHERE stream = 'case-V-1' AND version = 3")
        var report = try await store.verify()
        #expect(report.problem?.stream == "case-V-1")
        #expect(report.problem?.version == 4)

        let (db2, store2) = try await seeded()
        // Two events swap places (versions exchanged).
        try await tamper(
            db2,
            "UPDATE handoff.events SET version = CASE version WHEN 1 THEN 102 WHEN 2 THEN 101 END WHERE stream = 'case-V-3' AND version IN (1, 2); "
                + "UPDATE handoff.events SET version = version - 100 WHERE stream = 'case-V-3' AND version > 100")
        report = try await store2.verify()
        #expect(report.problem?.stream == "case-V-3")
        #expect(report.problem?.version == 1)
    }

    @Test func deletedTailAndStreamAreFoundAgainstACheckpoint() async throws {
        let (db, store) = try await seeded()
        let (checkpoint, heads, appended) = try await store.writeCheckpoint()
        #expect(checkpoint.count == 9)
        #expect(checkpoint.streams == 3)
        #expect(appended.streamVersion == 1)
        #expect(try await store.compare(with: checkpoint).matches)
        // Later appends do not disturb the checkpoint's comparison.
        try await store.append(to: stream("V-1"), events: [event()])
        try await store.append(to: stream("V-4"), events: [event()])
        #expect(try await store.compare(with: checkpoint, savedHeads: heads).matches)

        // The attacker removes the tail of one stream and a whole other stream, fixing the streams table too.
        try await tamper(
            db,
            "DELETE FROM handoff.events WHERE stream = 'case-V-2' AND version = 3; "
                + "DELETE FROM handoff.events WHERE stream = 'case-V-3'; "
                + "UPDATE handoff.streams SET version = 2, head_hash = (SELECT hash FROM handoff.events WHERE stream = 'case-V-2' AND version = 2), last_recorded_at = (SELECT recorded_at FROM handoff.events WHERE stream = 'case-V-2' AND version = 2) WHERE stream = 'case-V-2'; "
                + "DELETE FROM handoff.streams WHERE stream = 'case-V-3'")
        // Per-stream chains alone still verify: this is what the checkpoint is for.
        #expect(try await store.verify().valid)
        let comparison = try await store.compare(with: checkpoint, savedHeads: heads)
        #expect(!comparison.matches)
        #expect(comparison.findings.contains { $0.contains("case-V-2") && $0.contains("tail") })
        #expect(comparison.findings.contains { $0.contains("case-V-3") && $0.contains("missing") })
        // Without the saved heads the digest and counts still show it.
        let bare = try await store.compare(with: checkpoint)
        #expect(!bare.matches)
        #expect(bare.findings.contains { $0.contains("events covered: 5") })
    }

    @Test func naiveTailDeletionIsCaughtByTheStreamsTable() async throws {
        let (db, store) = try await seeded()
        try await tamper(db, "DELETE FROM handoff.events WHERE stream = 'case-V-1' AND version = 3")
        let report = try await store.verify()
        #expect(report.problem?.stream == "case-V-1")
        #expect(report.problem?.reason.contains("missing") == true)
    }

    /// What an auditor's pass did to the tables beside the chains, each caught by both verifiers: a
    /// stream removed behind an empty streams row named first (the Swift verifier looked at the
    /// first leftover row only), a stream's `last_recorded_at` moved ahead (the next append's time
    /// of record starts there: every later event of the stream dated 30 days ahead), and an event
    /// recorded in the future.
    @Test func theTablesBesideTheChainsAreChecked() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/verify-chain.py").path
        func check(_ db: TestDB, _ store: EventStore, _ stream: String, _ reason: String) async throws {
            let report = try await store.verify()
            #expect(report.problem?.stream == stream, "\(String(describing: report.problem))")
            #expect(report.problem?.reason.contains(reason) == true, "\(String(describing: report.problem))")
            let run = try runPython(script, [], url: db.url)
            #expect(run.status == 1 && run.output.contains("FAIL \(stream)"), "\(run.output)")
        }
        var (db, store) = try await seeded()
        try await tamper(
            db,
            "DELETE FROM handoff.events WHERE stream = 'case-V-2'; "
                + "INSERT INTO handoff.streams VALUES ('aaa', 0, decode(repeat('00', 32), 'hex'), NULL)")
        try await check(db, store, "case-V-2", "no events")

        (db, store) = try await seeded()
        try await tamper(
            db, "UPDATE handoff.streams SET last_recorded_at = now() + interval '30 days' WHERE stream = 'case-V-3'")
        try await check(db, store, "case-V-3", "last_recorded_at")
        // The one stream's verification (a case's verify) sees it too.
        #expect(try await store.verify(stream: stream("V-3")).problem?.reason.contains("last_recorded_at") == true)

        // ... and an append after it: the event is chained with a time of record 30 days ahead,
        // and the streams table agrees with it again. The time of record in the future shows it.
        (db, store) = try await seeded()
        try await tamper(
            db, "UPDATE handoff.streams SET last_recorded_at = now() + interval '30 days' WHERE stream = 'case-V-1'")
        let late = try await store.append(to: stream("V-1"), events: [event("CaseReviewed")])
        try await waitUntilReadable(store, late.events[0].cursor)
        try await check(db, store, "case-V-1", "recorded after this check began")
        #expect(try await store.verify().problem?.version == 4)
    }

    /// A superuser who re-chains or shortens what a checkpoint covers, and leaves the `checkpoints`
    /// stream alone, is caught by the store's own newest checkpoint; one who removes that newest
    /// checkpoint too is caught by the whole event saved off-site (its version and hash).
    @Test func theStoresOwnCheckpointAndTheSavedEventAreChecked() async throws {
        let (db, store) = try await seeded()
        #expect(try await store.compareNewestStoredCheckpoint() == nil)  // none written yet
        _ = try await store.writeCheckpoint()
        let (_, _, second) = try await store.writeCheckpoint()
        let saved = try await store.read(stream: .checkpoints, fromVersion: 2, limit: 1)[0]
        let printed =
            #"{"stream":"checkpoints","version":2,"hash":"\#(saved.hash.hexString)","data":\#(saved.data)}"#
        let offSite = try #require(Checkpoint(json: Data(printed.utf8)))
        #expect(offSite.event == Checkpoint.Stored(version: second.streamVersion, hash: saved.hash.hexString))
        #expect(try await store.compare(with: offSite).matches)
        var own = try #require(try await store.compareNewestStoredCheckpoint())
        #expect(own.version == 2 && own.comparison.matches)

        // A covered tail deleted and the streams table fixed: the chains verify, the stored checkpoint does not.
        try await tamper(
            db,
            "DELETE FROM handoff.events WHERE stream = 'case-V-2' AND version = 3; "
                + "UPDATE handoff.streams SET version = 2, head_hash = (SELECT hash FROM handoff.events WHERE stream = 'case-V-2' AND version = 2), last_recorded_at = (SELECT recorded_at FROM handoff.events WHERE stream = 'case-V-2' AND version = 2) WHERE stream = 'case-V-2'"
        )
        #expect(try await store.verify().valid)
        own = try #require(try await store.compareNewestStoredCheckpoint())
        #expect(!own.comparison.matches)
        #expect(own.comparison.findings.contains { $0.contains("events covered: 8") }, "\(own.comparison.findings)")

        // The newest checkpoint removed as well: the older one still sees the tail; the saved event
        // sees that its checkpoint is gone.
        try await tamper(
            db,
            "DELETE FROM handoff.events WHERE stream = 'checkpoints' AND version = 2; "
                + "UPDATE handoff.streams SET version = 1, head_hash = (SELECT hash FROM handoff.events WHERE stream = 'checkpoints' AND version = 1), last_recorded_at = (SELECT recorded_at FROM handoff.events WHERE stream = 'checkpoints' AND version = 1) WHERE stream = 'checkpoints'"
        )
        #expect(try await store.verify().valid)
        own = try #require(try await store.compareNewestStoredCheckpoint())
        #expect(own.version == 1 && !own.comparison.matches)
        let against = try await store.compare(with: offSite)
        #expect(against.findings.contains { $0.contains("checkpoints@2 is missing") }, "\(against.findings)")
    }

    @Test func checkpointJSONRoundTrips() throws {
        let cp = Checkpoint(
            cursor: Cursor(xid: 900, position: 12), count: 12, streams: 3,
            headsDigest: String(repeating: "ab", count: 32))
        #expect(Checkpoint(json: Data(cp.json.utf8)) == cp)
        let wrapped = #"{"type": "Checkpoint", "data": \#(cp.json)}"#
        #expect(Checkpoint(json: Data(wrapped.utf8)) == cp)
        #expect(Checkpoint(json: Data("{}".utf8)) == nil)
        #expect(Checkpoint(json: Data("not json".utf8)) == nil)
        // The covered set is the one `xid` and `position` name; `cursor` is neither needed nor read.
        let documented =
            #"{"xid": "900", "position": 12, "count": 12, "streams": 3, "headsDigest": "\#(cp.headsDigest)"}"#
        #expect(Checkpoint(json: Data(documented.utf8)) == cp)
        let disagreeing = cp.json.replacingOccurrences(of: #""cursor":"900-12""#, with: #""cursor":"858-675""#)
        #expect(Checkpoint(json: Data(disagreeing.utf8)) == cp)
        // A format this build does not know is refused, not half-read; so is a format 2 without the access head.
        let v3 = #"{"format": "handoff-checkpoint-v3", "# + documented.dropFirst()
        #expect(Checkpoint(json: Data(v3.utf8)) == nil)
        let v2 = #"{"format": "handoff-checkpoint-v2", "# + documented.dropFirst()
        #expect(Checkpoint(json: Data(v2.utf8)) == nil)
        // The whole event of another stream is no checkpoint.
        let other = #"{"stream": "case-V-1", "version": 1, "hash": "\#(cp.headsDigest)", "data": \#(cp.json)}"#
        #expect(Checkpoint(json: Data(other.utf8)) == nil)
    }

    @Test func auditorsPythonScriptAgreesWithTheStore() async throws {
        let (db, store) = try await seeded()
        let extra = try await store.append(to: stream("V-1"), events: [event(data: #"{"t": "\u2028 ñ \" \\ 😀 \n"}"#)])
        try await waitUntilReadable(store, extra.events[0].cursor)
        let (checkpoint, _, _) = try await store.writeCheckpoint()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/verify-chain.py")
        let checkpointFile = FileManager.default.temporaryDirectory.appendingPathComponent("cp-\(UUID()).json")
        try Data(checkpoint.json.utf8).write(to: checkpointFile)
        defer { try? FileManager.default.removeItem(at: checkpointFile) }

        let ok = try runPython(script.path, ["--checkpoint", checkpointFile.path], url: db.url)
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.contains("OK 11 events"), "\(ok.output)")  // 10 case events and the checkpoint

        try await VerificationTests().tamper(
            db, #"UPDATE handoff.events SET data = '{"level": "low"}' WHERE stream = 'case-V-2' AND version = 2"#)
        let bad = try runPython(script.path, [], url: db.url)
        #expect(bad.status == 1)
        #expect(bad.output.contains("case-V-2@2"), "\(bad.output)")
    }

    /// The script checks what `handoff verify` checks beyond the chains: each stream's last event
    /// against `handoff.streams`, the store's newest checkpoint, and a saved whole checkpoint
    /// event's place in its stream; it refuses a checkpoint format it does not know.
    @Test func auditorsPythonScriptChecksHeadsAndCheckpoints() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/verify-chain.py").path
        let (db, store) = try await seeded()
        _ = try await store.writeCheckpoint()
        let saved = try await store.read(stream: .checkpoints, fromVersion: 1, limit: 1)[0]
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cp-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: file) }
        func save(_ text: String) throws { try Data(text.utf8).write(to: file) }
        try save(#"{"stream":"checkpoints","version":1,"hash":"\#(saved.hash.hexString)","data":\#(saved.data)}"#)
        var run = try runPython(script, ["--checkpoint", file.path], url: db.url)
        #expect(run.status == 0 && run.output.contains("STORED CHECKPOINT checkpoints@1 OK"), "\(run.output)")
        #expect(run.output.contains("CHECKPOINT EVENT checkpoints@1 OK"), "\(run.output)")
        try save(saved.data.replacingOccurrences(of: "handoff-checkpoint-v2", with: "handoff-checkpoint-v3"))
        run = try runPython(script, ["--checkpoint", file.path], url: db.url)
        #expect(run.status == 2, "\(run.output)")

        // A tail deleted, the streams table left as it was.
        try await tamper(db, "DELETE FROM handoff.events WHERE stream = 'case-V-1' AND version = 3")
        run = try runPython(script, [], url: db.url)
        #expect(run.status == 1 && run.output.contains("FAIL case-V-1"), "\(run.output)")
        // ... and the streams table fixed: the stored checkpoint no longer recomputes.
        try await tamper(
            db,
            "UPDATE handoff.streams SET version = 2, head_hash = (SELECT hash FROM handoff.events WHERE stream = 'case-V-1' AND version = 2), last_recorded_at = (SELECT recorded_at FROM handoff.events WHERE stream = 'case-V-1' AND version = 2) WHERE stream = 'case-V-1'"
        )
        run = try runPython(script, [], url: db.url)
        #expect(run.status == 1 && run.output.contains("STORED CHECKPOINT checkpoints@1 MISMATCH"), "\(run.output)")
        // ... and the checkpoint removed too: only the saved event shows it.
        try await tamper(
            db,
            "DELETE FROM handoff.events WHERE stream = 'checkpoints'; DELETE FROM handoff.streams WHERE stream = 'checkpoints'"
        )
        try save(#"{"stream":"checkpoints","version":1,"hash":"\#(saved.hash.hexString)","data":\#(saved.data)}"#)
        run = try runPython(script, ["--checkpoint", file.path], url: db.url)
        #expect(run.status == 1 && run.output.contains("CHECKPOINT EVENT checkpoints@1 MISSING"), "\(run.output)")
    }

    func runPython(_ script: String, _ args: [String], url: String) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script] + args
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
}
