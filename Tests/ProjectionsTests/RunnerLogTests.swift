import EventStore
import Foundation
import HandoffTestSupport
import Logging
import Synchronization
import Testing

@testable import Projections

/// The projector runner's log (issue 19): start, lag while catching up, caught up, every failed
/// batch with its cause, stop — and names, counts and positions only.
@Suite("Projection runner log")
struct RunnerLogTests {
    @Test func theRunnerLogsItsStartCatchUpFailuresAndStopWithoutEventData() async throws {
        let db = try await TestDatabase.make()
        let store = db.store()
        _ = try await Seed.world(store, seed: 5, minimumEvents: 600, now: generatorNow)
        let failures = Mutex(0)
        let runner = ProjectionRunner(
            store: store, projectors: [RegistryProjector(), CaseProjector()], batchSize: 50,
            beforeCommit: { projector, _, _ in
                // The first batch of the case projector fails once, as a crash before COMMIT would.
                guard projector == "cases" else { return }
                let first = failures.withLock { count -> Bool in
                    count += 1
                    return count == 1
                }
                if first { throw ProjectionsError.injected("first batch") }
            })
        let capture = LogCapture()
        let logger = Logger(label: "projector", sink: capture, logLevel: .trace)
        let running = Task {
            await runner.run(
                wakeups: Wakeups(), pollInterval: .milliseconds(50), logger: logger, reportEvery: .milliseconds(100))
        }
        // Bounded wait for both projectors to be reported caught up.
        let deadline = ContinuousClock.now + .seconds(60)
        func caughtUp() -> Set<String> {
            Set(capture.records.filter { $0.message == "caught up" }.compactMap { $0["projector"] })
        }
        while caughtUp() != ["registry", "cases"], ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        running.cancel()
        await running.value

        let records = capture.records
        #expect(records.first?.message == "projectors started")
        #expect(records.first?["projectors"] == "registry,cases")
        #expect(records.last?.message == "projectors stopped")
        #expect(caughtUp() == ["registry", "cases"])
        let failed = records.filter { $0.message == "projector batch failed; retrying" }
        #expect(failed.count == 1)
        #expect(failed.first?.level == .error)
        #expect(failed.first?["error_code"] == "injected_failure")
        #expect(failed.first?["error_type"]?.hasSuffix("ProjectionsError") == true)
        // What a line may hold: names, counts, positions, codes.
        let allowed: Set<String> = [
            "projectors", "batch_size", "projector", "events_behind", "seconds_behind", "position", "error_type",
            "error_code",
        ]
        for record in records {
            #expect(Set(record.metadata.keys).isSubset(of: allowed), "\(record.metadata.keys)")
        }
    }
}
