import EventStore
import Foundation
import HandoffTestSupport
import Referrals
import Testing

@testable import HandoffCLI

@Suite struct ProcessCommandTests {
    @Test func projectWatchAndRebuildOnce() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        try await Seeding.referenceData(store, historyRecordedBefore: Ruleset.backfillForever)
        let appended = try await Seeding.cases(store, count: 12)
        #expect(appended > 12)
        // Seeding again adds nothing.
        #expect(try await Seeding.cases(store, count: 12) == 0)
        try await waitUntilAllReadable(store)

        let cli = CapturedCLI(databaseURL: db.url)
        var r = await cli.run("project", "--once")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("caught up"))
        r = await cli.run("watch", "--once")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("missed deadlines"))
        r = await cli.run("project", "rebuild", "all")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("rebuilt all"))
        #expect(r.err.contains("done"), "plain progress lines when not on a terminal: \(r.err)")
        r = await cli.run("project", "rebuild", "nonsense")
        #expect(r.status == 2)
    }
}
