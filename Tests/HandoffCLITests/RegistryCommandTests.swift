import Crypto
import EventStore
import Foundation
import HandoffTestSupport
import Testing

@Suite struct RegistryCommandTests {
    var rulesetPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
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

    /// `sop publish` refuses the new ruleset fields' mistakes with the field named, and publishes nothing.
    @Test(arguments: [
        (#""events": ["CaseClosed"]"#, #""events": ["CaseDeleted"]"#, "rules[0].cancelledBy[0].events[0]"),
        (#""timeZone": "Europe/Belgrade""#, #""timeZone": "Europe/Atlantis""#, "timeZone"),
        (#""date": "02-17""#, #""date": "02-30""#, "holidays.fixed[3].date"),
        (#""within": "PT24H""#, #""within": {"workingDays": 0}"#, "rules[0].within.workingDays"),
    ])
    func publishRefusesBadLifecycleAndTimeFields(original: String, replacement: String, field: String) async throws {
        let db = try await TestDatabase.make()
        let cli = CapturedCLI(databaseURL: db.url)
        var text = try String(contentsOfFile: rulesetPath, encoding: .utf8)
        let range = try #require(text.range(of: original))
        text.replaceSubrange(range, with: replacement)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(UUID()).json")
        try Data(text.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = await cli.run("sop", "publish", file.path)
        #expect(r.status == 1)
        #expect(r.err.contains(field), "\(r.err)")
        #expect(try await db.store().readAll(stream: .sopRulesets).isEmpty)
    }

    /// The id the old derivation gave a registry event: SHA-256 of `namespace:name`, version 8 —
    /// computable by anyone.
    static func predictable(_ namespace: String, _ name: String) -> UUID {
        var b = Array(SHA256.hash(utf8: namespace + ":" + name).prefix(16))
        b[6] = (b[6] & 0x0F) | 0x80
        b[8] = (b[8] & 0x3F) | 0x80
        return b.withUnsafeBytes { UUID(uuid: $0.loadUnaligned(as: uuid_t.self)) }
    }

    @Test("a party cannot block a registration or a publication by taking its id first")
    func registryIdsCannotBeSquatted() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        // A party appends, to a case of its own, events under the ids registry events used to get.
        let actor = EventMetadata(actor: EventActor(institution: "kp-dthb", user: "officer"))
        let opened =
            #"{"identificationStatus":"presumed","profile":{"sex":"female","ageBand":"18-24","child":false,"#
            + #""nationality":"XK","exploitation":["sexual"]}}"#
        var events = [NewEvent(type: "CaseOpened", data: opened, metadata: actor)]
        for id in [
            Self.predictable("institution", "new-shelter"), Self.predictable("sop-ruleset", "kosovo-default@1"),
        ] {
            events.append(NewEvent(id: id, type: "GuardianAppointed", data: "{}", metadata: actor))
        }
        _ = try await store.append(to: .case("KS-SQUAT-1")!, expected: .noStream, events: events)

        let cli = CapturedCLI(databaseURL: db.url)
        var r = await cli.run("institution", "add", "new-shelter", "--name", "New Shelter", "--kind", "shelter")
        #expect(r.status == 0, "\(r.err)")
        r = await cli.run("sop", "publish", rulesetPath)
        #expect(r.status == 0, "\(r.err)")
        #expect(try await store.readAll(stream: .institutions).count == 1)
        #expect(try await store.readAll(stream: .sopRulesets).count == 1)

        // After a key rotation the same registration and publication are still recognised.
        r = await cli.run("secret", "rotate")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("system event key 2"))
        r = await cli.run("institution", "add", "new-shelter", "--name", "New Shelter", "--kind", "shelter")
        #expect(r.status == 0, "\(r.err)")
        r = await cli.run("institution", "add", "new-shelter", "--name", "Other Name", "--kind", "shelter")
        #expect(r.status == 1)
        #expect(r.err.contains("already registered"))
        r = await cli.run("sop", "publish", rulesetPath)
        #expect(r.status == 0, "\(r.err)")
        #expect(try await store.readAll(stream: .institutions).count == 1)
        #expect(try await store.readAll(stream: .sopRulesets).count == 1)
        #expect(try await store.systemEventIdConflictCounts().isEmpty)

        // Even with the key (leaked), taking the id first blocks nothing: it is an alarm, printed
        // and counted, and the registration is written under another id.
        let key = try await SystemEventKey.current(of: store)
        let taken = key.eventId(type: "InstitutionRegistered", identity: ["leaky-shelter"])
        _ = try await store.append(
            to: .case("KS-SQUAT-1")!,
            events: [NewEvent(id: taken, type: "GuardianAppointed", data: "{}", metadata: actor)])
        r = await cli.run("institution", "add", "leaky-shelter", "--name", "Leaky Shelter", "--kind", "shelter")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("alarm") && r.err.contains(taken.uuidString.lowercased()), "\(r.err)")
        let registered = try await store.readAll(stream: .institutions)
        #expect(registered.count == 2)
        #expect(registered.last?.id != taken)
        #expect(try await store.systemEventIdConflictCounts() == ["InstitutionRegistered": 1])
    }

    @Test("migrate creates one key; rotate adds the next; the key's secret is never printed")
    func keysCreatedAndRotated() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let cli = CapturedCLI(databaseURL: db.url)
        var r = await cli.run("migrate")
        #expect(r.status == 0, "\(r.err)")
        r = await cli.run("migrate")
        #expect(r.status == 0, "\(r.err)")
        let connection = try await db.connect()
        defer { connection.close() }
        func keys() async throws -> [Int] {
            try await connection.query("SELECT key_id FROM handoff.system_event_keys ORDER BY 1").all.map {
                try $0.decode(0)
            }
        }
        #expect(try await keys() == [1])
        r = await cli.run("secret", "rotate")
        #expect(r.status == 0, "\(r.err)")
        #expect(try await keys() == [1, 2])
        let secrets = try await connection.query("SELECT encode(secret, 'hex') FROM handoff.system_event_keys").all
            .map { try $0.decode(0, as: String.self) }
        #expect(Set(secrets).count == 2)
        #expect(secrets.allSatisfy { $0.count == 64 })
        for secret in secrets { #expect(!r.out.contains(secret) && !r.err.contains(secret)) }
        r = await cli.run("secret", "rotate", "--help")
        #expect(r.out.contains("system event key") || r.err.contains("system event key"))
    }
}
