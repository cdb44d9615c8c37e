import EventStore
import Foundation
import HandoffTestSupport
import Referrals
import Testing

@testable import HandoffCLI

@Suite struct WatchAlarmTests {
    @Test("handoff watch --once prints a taken notice id as an alarm and still writes the notice")
    func watchPrintsAlarms() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        try await Seeding.referenceData(store, historyRecordedBefore: Ruleset.backfillForever)
        // A case opened five days ago; someone holding the key squats the ids of its two overdue notices.
        let actor = EventMetadata(actor: EventActor(institution: "kp-dthb", user: "officer"))
        let opened = NewEvent(
            type: "CaseOpened",
            data: #"{"identificationStatus":"presumed","profile":{"sex":"female","ageBand":"18-24","child":false,"#
                + #""nationality":"XK","exploitation":["sexual"]}}"#,
            metadata: actor, occurredAt: Date().addingTimeInterval(-5 * 86_400))
        let key = try await SystemEventKey.current(of: store)
        let trigger = opened.id.uuidString.lowercased()
        let squats = ["victim-advocate-assigned", "risk-assessed"].map { rule in
            NewEvent(
                id: key.eventId(type: "SopDeadlineMissed", identity: ["KS-ALARM-1", "kosovo-default", rule, trigger]),
                type: "GuardianAppointed", data: "{}", metadata: actor)
        }
        _ = try await store.append(to: .case("KS-ALARM-1")!, expected: .noStream, events: [opened] + squats)
        try await waitUntilAllReadable(store)

        let cli = CapturedCLI(databaseURL: db.url)
        var r = await cli.run("project", "--once")
        #expect(r.status == 0, "\(r.err)")
        r = await cli.run("watch", "--once")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("notices appended: 2, notice id conflicts: 2"), "\(r.out)")
        #expect(r.err.components(separatedBy: "alarm:").count == 3, "\(r.err)")
        #expect(!r.err.contains("retrying"))
        #expect(try await store.readAll(stream: .sop("KS-ALARM-1")!).count == 2)
    }
}
