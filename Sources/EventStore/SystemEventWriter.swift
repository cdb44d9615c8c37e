import Foundation
import Postgres

/// Appends system events exactly once, under ids derived with the server's ``SystemEventKey``
/// (docs/system-events.md).
///
/// Whether the event exists already is decided only by finding it, by its content, in its own
/// stream — never by an id collision: an id taken anywhere else is an alarm
/// (``SystemEventIdConflict``), recorded in `handoff.system_event_id_conflicts` and handed back,
/// and the event is then written under a random id. Writers
/// append with the stream's exact expected version, so two writers (even under different keys,
/// across a rotation) never both write the same event: the second finds the first's.
///
/// ```swift
/// let writer = SystemEventWriter(store: store, key: try await SystemEventKey.current(of: store))
/// let written = try await writer.appendOnce(
///     type: "InstitutionRegistered", identity: [institution.id], to: .institutions,
///     event: { id in NewEvent(id: id, type: "InstitutionRegistered", data: text, metadata: metadata) },
///     isSame: { $0.type == "InstitutionRegistered" && registeredId($0) == institution.id })
/// ```
public struct SystemEventWriter: Sendable {
    public let store: EventStore
    public let key: SystemEventKey
    /// Reads and appends before giving up when other writers keep moving the stream or ids keep
    /// colliding.
    public static let maximumAttempts = 8

    public init(store: EventStore, key: SystemEventKey) {
        self.store = store
        self.key = key
    }

    /// What ``appendOnce(type:identity:to:event:isSame:)`` did.
    public struct Written: Sendable, Hashable {
        /// The append's result; for an event that existed, its original position and hash
        /// (`deduplicated` true).
        public var result: AppendResult
        /// Whether the event was in its stream already (an earlier pass, another writer, another key).
        public var existed: Bool
        /// For an event that existed: whether its `data` equals the data given now.
        public var sameData: Bool
        /// Ids found taken by other events on the way: each one an alarm.
        public var conflicts: [SystemEventIdConflict]
    }

    /// Appends the event `event(id)` to `stream` unless `stream` holds an event `isSame` recognises.
    ///
    /// - Parameters:
    ///   - type: the event type, part of the id's derivation.
    ///   - identity: what makes the event unique (e.g. case, ruleset series, rule, trigger).
    ///   - event: the event under a given id; its content must not depend on the id.
    ///   - isSame: whether a recorded event of `stream` is this event.
    /// - Throws: the store's errors; after ``maximumAttempts`` the last ``SystemEventIdConflict`` or
    ///   `EventStoreError.wrongExpectedVersion`.
    public func appendOnce(
        type: String, identity: [String], to stream: StreamName, event: (UUID) -> NewEvent,
        isSame: (RecordedEvent) -> Bool
    ) async throws -> Written {
        var conflicts: [SystemEventIdConflict] = []
        var lastError: any Error = EventStoreError.wrongExpectedVersion(expected: "?", actual: -1)
        for _ in 0..<Self.maximumAttempts {
            let events = try await store.readAll(stream: stream)
            if let found = events.first(where: isSame) {
                return Written(
                    result: AppendResult(
                        streamVersion: found.version,
                        events: [
                            AppendedEvent(
                                id: found.id, version: found.version, cursor: found.cursor, hash: found.hash,
                                recordedAt: found.recordedDate)
                        ], deduplicated: true),
                    existed: true, sameData: try await hasData(found.id, event(found.id).data), conflicts: conflicts)
            }
            // After a conflict the derived id is known to someone else: a random one, which nobody can
            // know in advance (exactly-once does not rest on the id but on the stream's content and version).
            let id = conflicts.isEmpty ? key.eventId(type: type, identity: identity) : UUID()
            do {
                let result = try await store.append(
                    to: stream, expected: .exactly(events.last?.version ?? 0), events: [event(id)])
                // Deduplicated: another writer wrote this very event a moment ago; the next read finds it.
                if result.deduplicated { continue }
                return Written(result: result, existed: false, sameData: true, conflicts: conflicts)
            } catch let error as EventStoreError {
                lastError = error
                switch error {
                case .wrongExpectedVersion:
                    continue  // another writer appended to the stream: look again
                case .duplicateEventId:
                    // This very event, written by another writer with other data? The next read finds it.
                    if try await store.readAll(stream: stream).contains(where: isSame) { continue }
                    let conflict = SystemEventIdConflict(type: type, stream: stream.rawValue, eventId: id)
                    await record(conflict)
                    conflicts.append(conflict)
                    lastError = conflict
                default:
                    throw error
                }
            }
        }
        throw lastError
    }

    /// Whether the event `id` has exactly this `data` (compared as jsonb, as the store's
    /// deduplication compares it).
    private func hasData(_ id: UUID, _ data: String) async throws -> Bool {
        do {
            let row = try await store.pool.query("SELECT data = \(data)::jsonb FROM handoff.events WHERE id = \(id)")
            return try row.first?.decode(0, as: Bool.self) ?? false
        } catch { throw EventStoreError.from(error) }
    }

    /// Keeps the alarm in the database, where `/metrics` counts it. Best effort: failing to record
    /// an alarm must not stop the event, and the caller reports it anyway.
    private func record(_ conflict: SystemEventIdConflict) async {
        _ = try? await store.pool.query(
            """
            INSERT INTO handoff.system_event_id_conflicts (event_type, stream, event_id)
            VALUES (\(conflict.type), \(conflict.stream), \(conflict.eventId))
            """)
    }

}

extension EventStore {
    /// The system event id conflicts recorded so far (alarms, see ``SystemEventIdConflict``), by
    /// event type, for `/metrics`.
    public func systemEventIdConflictCounts() async throws -> [String: Int] {
        do {
            let rows = try await pool.query(
                "SELECT event_type, count(*) FROM handoff.system_event_id_conflicts GROUP BY event_type")
            var counts: [String: Int] = [:]
            for row in rows.all { counts[try row.decode(0)] = try row.decode(1) }
            return counts
        } catch { throw EventStoreError.from(error) }
    }
}

/// A system event's id found taken by another event (in another stream, or with other content):
/// with a secret key nobody should be able to do that, so it is an alarm — recorded, counted in
/// `/metrics`, reported — and the event is written under a random id.
public struct SystemEventIdConflict: Error, Sendable, Hashable, CustomStringConvertible {
    /// The system event's type, e.g. `SopDeadlineMissed`.
    public var type: String
    /// The stream the system event was for.
    public var stream: String
    /// The id that was taken.
    public var eventId: UUID

    public var description: String {
        "alarm: the id \(eventId.uuidString.lowercased()) of a \(type) for \(stream) was taken by another event"
    }
}
