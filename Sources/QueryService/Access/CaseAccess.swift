import EventStore
import Foundation
import Postgres
import Referrals

/// Need-to-know decisions from the event log itself (authoritative), never from a read model.
///
/// - For one case (appends, per-case reads): the case stream is read and folded with
///   `CaseState.fold`, so party-ship is exactly what the domain says.
/// - For feeds (`/v1/events`, SSE, subscriptions): the parties of the cases on a page are read
///   *after* the page (their `CaseOpened` actor and `ReferralIssued` recipients, the same rule as
///   `CaseState.isParty`), so an event that names an institution is never filtered out because
///   a projection had not caught up with it yet.
public struct CaseAccess: Sendable {
    let store: EventStore

    /// The case's events, decoded, and its folded state (`nil` when the case does not exist).
    struct LoadedCase: Sendable {
        var recorded: [RecordedEvent]
        var state: CaseState?
        /// The stream's version (also counts events that failed to decode).
        var version: Int64 { recorded.last?.version ?? 0 }
    }

    func load(caseId: String) async throws -> LoadedCase {
        guard let stream = StreamName.case(caseId) else { throw ServiceError.badRequest("Invalid case id.") }
        let recorded = try await store.readAll(stream: stream)
        let events = recorded.compactMap(Self.caseEvent)
        return LoadedCase(recorded: recorded, state: CaseState.fold(caseId: caseId, events: events))
    }

    /// A stored event of a case stream as the domain's typed event; nil if it does not decode
    /// (an event written around the API), which then does not count for party-ship.
    static func caseEvent(_ e: RecordedEvent) -> CaseEvent? {
        guard let data = try? JSONValue.parse(e.data),
            let metadata = try? JSONValue.parse(e.metadata),
            let institution = metadata["actor"]?["institution"]?.stringValue,
            let user = metadata["actor"]?["user"]?.stringValue
        else { return nil }
        return try? CaseEvent(
            id: e.id, type: e.type, data: data, occurredAt: e.occurredDate,
            actor: Referrals.Actor(institution: institution, user: user), recordedAt: e.recordedDate)
    }

    /// Of the given cases, those `institution` is party to right now.
    func partyCases(institution: String, among caseIds: Set<String>) async throws -> Set<String> {
        guard !caseIds.isEmpty else { return [] }
        let streams = PostgresArray.text(caseIds.map { "case-" + $0 }.sorted())
        let result = try await store.pool.query(
            """
            SELECT DISTINCT substr(stream, 6) FROM handoff.events
             WHERE stream = ANY(\(streams)::text[])
               AND ((type = 'CaseOpened' AND version = 1 AND metadata->'actor'->>'institution' = \(institution))
                 OR (type = 'ReferralIssued' AND data->>'to' = \(institution)))
            """)
        return Set(try result.all.map { try $0.decode(0, as: String.self) })
    }

    /// The case of a `case-` stream, else nil.
    public static func caseId(ofCaseStream stream: String) -> String? {
        stream.hasPrefix("case-") ? String(stream.dropFirst(5)) : nil
    }

    /// The case an event belongs to (`case-` and `sop-` streams), else nil.
    static func caseId(ofStream stream: String) -> String? {
        StreamName(stream)?.caseId
    }
}
