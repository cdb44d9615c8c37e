import EventStore
import Foundation
import Postgres
import Referrals

/// Reads what projectors and the watcher fold: case streams, published rulesets and registered
/// institutions, straight from `handoff.events`.
///
/// With a cursor, only events at or before it in the gap-free order are read — exactly the events a
/// projector at that checkpoint has seen, so its rows depend on nothing later. Events that do not
/// decode (the store accepts any JSON object) are skipped.
enum History {
    /// One case stream as read.
    struct CaseHistory: Sendable {
        /// The decodable events, in stream order.
        var events: [CaseEvent] = []
        /// The stream's version (its last event's, decodable or not).
        var version: Int64 = 0
        var lastEventId = UUID()
        var lastRecordedAt = Date(timeIntervalSince1970: 0)
    }

    /// The typed events of each case, in stream order.
    static func cases(_ caseIds: [String], through cursor: Cursor?, on connection: Connection) async throws
        -> [String: CaseHistory]
    {
        guard !caseIds.isEmpty else { return [:] }
        let streams = PostgresArray.text(caseIds.map { "case-" + $0 })
        let xid = cursor.map { String($0.xid) }
        let position = cursor?.position
        let result = try await connection.query(
            """
            SELECT stream, id, type, data::text, metadata->'actor'->>'institution', metadata->'actor'->>'user',
                   occurred_at, version, recorded_at
              FROM handoff.events
             WHERE stream = ANY(\(streams)::text[])
               AND (\(xid)::xid8 IS NULL OR (xid, position) <= (\(xid)::xid8, \(position)::bigint))
             ORDER BY stream, version
            """)
        var out: [String: CaseHistory] = [:]
        for row in result.all {
            let stream: String = try row.decode(0)
            let caseId = String(stream.dropFirst(5))
            out[caseId, default: CaseHistory()].version = try row.decode(7)
            out[caseId]!.lastEventId = try row.decode(1)
            out[caseId]!.lastRecordedAt = try row.decode(8)
            guard let type: String = try row.decodeOptional(2), let dataText: String = try row.decodeOptional(3),
                let data = try? JSONValue.parse(dataText)
            else { continue }
            let actor = Referrals.Actor(
                institution: try row.decodeOptional(4) ?? "", user: try row.decodeOptional(5) ?? "")
            guard
                let event = try? CaseEvent(
                    id: try row.decode(1), type: type, data: data, occurredAt: try row.decode(6), actor: actor)
            else { continue }
            out[caseId]!.events.append(event)
        }
        return out
    }

    /// Every ruleset version published in `sop-rulesets` (its `data` is the ruleset document).
    static func rulesets(through cursor: Cursor?, on connection: Connection) async throws -> [Ruleset] {
        try await systemEvents(stream: "sop-rulesets", type: "SopRulesetPublished", through: cursor, on: connection)
            .compactMap { _, data in
                if case .sopRulesetPublished(let r) = try? SystemEventBody.decode(
                    type: "SopRulesetPublished", data: data)
                {
                    return r
                }
                return nil
            }
    }

    /// Every registered institution (the latest registration of an id wins).
    static func institutions(through cursor: Cursor?, on connection: Connection) async throws -> [Institution] {
        var byId: [String: Institution] = [:]
        var order: [String] = []
        for (_, data) in try await systemEvents(
            stream: "institutions", type: "InstitutionRegistered", through: cursor, on: connection)
        {
            guard
                case .institutionRegistered(let i) = try? SystemEventBody.decode(
                    type: "InstitutionRegistered", data: data)
            else { continue }
            if byId[i.id] == nil { order.append(i.id) }
            byId[i.id] = i
        }
        return order.compactMap { byId[$0] }
    }

    private static func systemEvents(stream: String, type: String, through cursor: Cursor?, on connection: Connection)
        async throws -> [(UUID, JSONValue)]
    {
        let xid = cursor.map { String($0.xid) }
        let position = cursor?.position
        let result = try await connection.query(
            """
            SELECT id, data::text FROM handoff.events
             WHERE stream = \(stream) AND type = \(type)
               AND (\(xid)::xid8 IS NULL OR (xid, position) <= (\(xid)::xid8, \(position)::bigint))
             ORDER BY version
            """)
        return try result.all.compactMap { row in
            guard let data = try? JSONValue.parse(try row.decode(1, as: String.self)) else { return nil }
            return (try row.decode(0), data)
        }
    }
}
