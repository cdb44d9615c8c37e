import EventStore
import Foundation
import Referrals

/// Puts the reference data and synthetic cases into a store: the default ruleset, the demo
/// institutions, and generated cases. Used by the demo and the benchmarks.
enum Seeding {
    /// Registers the demo institutions and publishes the default Kosovo ruleset as synthetic
    /// backfill (``Ruleset/kosovoDefaultForBackfill(recordedBefore:)``), both idempotent.
    ///
    /// The backfill's year-long graces judge only the events recorded before
    /// `historyRecordedBefore`: by default the database's clock now, so call this after the
    /// synthetic history is written (the demo does) and every later entry is judged by the real
    /// graces. A ruleset version published before keeps its own time (a restarted demo).
    static func referenceData(_ store: EventStore, historyRecordedBefore: Date? = nil) async throws {
        for institution in Institution.demo {
            _ = try await RegistryCommands.register(institution, store: store)
        }
        var before = historyRecordedBefore
        if before == nil {
            before = try await store.pool.query("SELECT clock_timestamp()").first?.decode(0, as: Date.self)
        }
        let document = Ruleset.kosovoDefaultForBackfill(recordedBefore: before ?? Date())
        _ = try await RegistryCommands.publish(
            Array(document.serializedString().utf8), store: store, keepingPublished: true)
    }

    /// The store's form of a domain event.
    static func newEvent(_ event: CaseEvent) -> NewEvent {
        NewEvent(
            id: event.id, type: event.body.type.rawValue, data: event.body.data.serializedString(),
            metadata: EventMetadata(actor: EventActor(institution: event.actor.institution, user: event.actor.user)),
            occurredAt: event.occurredAt)
    }

    /// Appends `count` generated cases (each case in one append, `concurrency` at a time), each
    /// under a server-issued id (`KS-<year it was opened>-NNNNNN`), as `POST /v1/cases` opens them.
    /// Cases seeded before are recognised by their event ids and left alone, so a second run adds
    /// nothing.
    static func cases(
        _ store: EventStore, count: Int, seed: UInt64 = 2026, now: Date = Date(), concurrency: Int = 4,
        caseIdPrefix: String = "KS", timeZone: String = "Europe/Belgrade", progress: (@Sendable (Int) -> Void)? = nil
    ) async throws -> Int {
        let generator = SyntheticGenerator(seed: seed, now: now)
        var appended = 0
        var index = 0
        while index < count {
            let chunk = (index..<min(count, index + concurrency)).map(generator.makeCase)
            try await withThrowingTaskGroup(of: Int.self) { group in
                for c in chunk where !c.events.isEmpty {
                    group.addTask {
                        do {
                            let year = Timestamp.year(of: c.events[0].occurredAt, timeZone: timeZone)
                            let caseId = try await store.issueCaseId(prefix: caseIdPrefix, year: year)
                            let r = try await store.append(
                                to: .case(caseId)!, expected: .noStream, events: c.events.map(newEvent))
                            return r.events.count
                        } catch EventStoreError.wrongExpectedVersion {
                            return 0  // seeded before
                        } catch EventStoreError.duplicateEventId {
                            return 0  // seeded before, at another `now`
                        }
                    }
                }
                for try await n in group { appended += n }
            }
            index += chunk.count
            progress?(index)
        }
        return appended
    }
}
