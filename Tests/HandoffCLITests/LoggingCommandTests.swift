import EventStore
import Foundation
import HandoffTestSupport
import Referrals
import Testing

@testable import HandoffCLI

/// `--log-format`, `--log-level` and `token create --role metrics` (issue 19).
@Suite struct LoggingCommandTests {
    @Test func longRunningCommandsTakeLogFormatAndLevelAndSayItInTheirHelp() async throws {
        let cli = CapturedCLI(databaseURL: nil)
        for command in ["serve", "project", "watch", "demo"] {
            let help = await cli.run(command, "--help")
            #expect(help.status == 0)
            #expect(help.out.contains("--log-format"), "\(command)")
            #expect(help.out.contains("--log-level"), "\(command)")
            let bad = await cli.run(command, "--log-format", "xml")
            #expect(bad.status == 2, "\(command): \(bad.err)")
            let badLevel = await cli.run(command, "--log-level", "loud")
            #expect(badLevel.status == 2, "\(command): \(badLevel.err)")
        }
    }

    @Test func projectOnceLogsJSONOrTextLinesAtTheLevelAsked() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        try await Seeding.referenceData(store, historyRecordedBefore: Ruleset.backfillForever)
        try await waitUntilAllReadable(store)
        let cli = CapturedCLI(databaseURL: db.url)
        let json = await cli.run("project", "--once", "--log-format", "json")
        #expect(json.status == 0, "\(json.err)")
        let lines = json.err.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["logger"] as? String == "projector", "\(line)")
            #expect(object?["ts"] != nil && object?["level"] != nil && object?["msg"] != nil)
        }
        #expect(json.err.contains(#""msg":"caught up""#))
        let text = await cli.run("project", "--once", "--log-format", "text")
        #expect(text.err.contains("projector: caught up"), "\(text.err)")
        let quiet = await cli.run("project", "--once", "--log-level", "error")
        #expect(quiet.status == 0)
        #expect(quiet.err.isEmpty, "\(quiet.err)")
    }

    @Test func watchOnceLogsItsStartEachPassWithCountsAndItsStop() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        try await Seeding.referenceData(store, historyRecordedBefore: Ruleset.backfillForever)
        let cli = CapturedCLI(databaseURL: db.url)
        let run = await cli.run("watch", "--once", "--log-level", "debug", "--log-format", "json")
        #expect(run.status == 0, "\(run.err)")
        let lines = run.err.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(lines.allSatisfy { $0["logger"] as? String == "watcher" })
        #expect(lines.map { $0["msg"] as? String } == ["watcher started", "pass", "watcher stopped"])
        #expect(lines.dropFirst().first?["missed"] as? Int == 0)
        #expect(lines.dropFirst().first?["appended"] as? Int == 0)
    }

    @Test func aMetricsTokenIsCreatedWithoutAnInstitution() async throws {
        let db = try await TestDatabase.make()
        let cli = CapturedCLI(databaseURL: db.url)
        let created = await cli.run("token", "create", "--role", "metrics", "--user", "prometheus")
        #expect(created.status == 0, "\(created.err)")
        #expect(created.out.hasPrefix("hnd_"))
        let connection = try await db.connect()
        defer { connection.close() }
        let role: String? = try await connection.query(
            "SELECT role FROM handoff.api_tokens WHERE \"user\" = 'prometheus'"
        ).first?.decode(0)
        #expect(role == "metrics")
        let withInstitution = await cli.run(
            "token", "create", "--role", "metrics", "--institution", "opav", "--user", "prometheus")
        #expect(withInstitution.status == 2)
    }
}
