import EventStore
import Foundation
import HandoffTestSupport
import Testing

@Suite struct RegistryCommandTests {
    var rulesetPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Rulesets/kosovo-default.json").path
    }

    @Test func institutionsRegisterOnce() async throws {
        let db = try await TestDatabase.make()
        let cli = CapturedCLI(databaseURL: db.url)
        var r = await cli.run("institution", "add", "pvpt", "--name", "PVPT Center", "--kind", "ngo,shelter")
        #expect(r.status == 0, "\(r.err)")
        r = await cli.run("institution", "add", "pvpt", "--name", "PVPT Center", "--kind", "ngo,shelter")
        #expect(r.status == 0, "the same registration again is a no-op")
        r = await cli.run("institution", "add", "pvpt", "--name", "Another name", "--kind", "ngo")
        #expect(r.status == 1)
        #expect(r.err.contains("already registered"))
        r = await cli.run("institution", "add", "Bad Id", "--name", "X", "--kind", "ngo")
        #expect(r.status == 2)
        r = await cli.run("institution", "add", "x1", "--name", "X", "--kind", "spaceship")
        #expect(r.status == 2)
        #expect(r.err.contains("kind"))
        let events = try await db.store().readAll(stream: .institutions)
        #expect(events.count == 1)
        #expect(events[0].data.contains("shelter"))
    }

    @Test func rulesetsPublishByVersion() async throws {
        let db = try await TestDatabase.make()
        let cli = CapturedCLI(databaseURL: db.url)
        var r = await cli.run("sop", "publish", rulesetPath)
        #expect(r.status == 0, "\(r.err)")
        r = await cli.run("sop", "publish", rulesetPath)
        #expect(r.status == 0)
        // A changed document under the same version is refused.
        var text = try String(contentsOfFile: rulesetPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "PT24H", with: "PT36H")
        let changed = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(UUID()).json")
        try Data(text.utf8).write(to: changed)
        defer { try? FileManager.default.removeItem(at: changed) }
        r = await cli.run("sop", "publish", changed.path)
        #expect(r.status == 1)
        #expect(r.err.contains("new version"))
        // A malformed ruleset names the reason.
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID()).json")
        try Data(#"{"id": "x", "rules": 3}"#.utf8).write(to: broken)
        defer { try? FileManager.default.removeItem(at: broken) }
        r = await cli.run("sop", "publish", broken.path)
        #expect(r.status == 1)
        #expect(r.err.contains("not valid"))
        #expect(try await db.store().readAll(stream: .sopRulesets).count == 1)
    }
}
