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
        /// The stream version of each of `events`.
        var versions: [Int64] = []
        /// The stream's version (its last event's, decodable or not).
        var version: Int64 = 0
        var lastEventId = UUID()
        var lastRecordedAt = Date(timeIntervalSince1970: 0)
        /// The first notice of each key among the case's `SopDeadlineMissed` notices (from its
        /// `sop-` stream): what the case document names as a deadline's `missedNoticeEventId`.
        var firstNotices: [NoticeKey: Notice] = [:]
        /// The case's notices, as the evaluator matches them: each with when it was first recorded.
        var notices: [NoticeKey: Date] { firstNotices.mapValues(\.recordedAt) }

        /// Adds a notice read from the case's `sop-` stream.
        mutating func addNotice(_ key: NoticeKey, id: UUID, recordedAt: Date) {
            let notice = Notice(id: id, recordedAt: recordedAt)
            if let first = firstNotices[key], !notice.isBefore(first) { return }
            firstNotices[key] = notice
        }
    }

    /// One recorded notice.
    struct Notice: Sendable {
        var id: UUID
        var recordedAt: Date

        /// Earliest recorded first, then lowest id (the order of `ORDER BY recorded_at, event_id`).
        func isBefore(_ other: Notice) -> Bool {
            (recordedAt, id.uuidString) < (other.recordedAt, other.id.uuidString)
        }
    }

    /// The typed events of each case, in stream order.
    /// - Parameter notices: whether to read the cases' notices too (without: the caller adds them).
    static func cases(
        _ caseIds: [String], through cursor: Cursor?, on connection: Connection, notices readNotices: Bool = true
    ) async throws -> [String: CaseHistory] {
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
                    id: try row.decode(1), type: type, data: data, occurredAt: try row.decode(6), actor: actor,
                    recordedAt: try row.decode(8))
            else { continue }
            out[caseId]!.events.append(event)
            out[caseId]!.versions.append(try row.decode(7))
        }
        guard readNotices else { return out }
        let notices = try await connection.query(
            """
            SELECT substr(stream, 5), data::text, id, recorded_at FROM handoff.events
             WHERE stream = ANY(\(PostgresArray.text(caseIds.map { "sop-" + $0 }))::text[])
               AND type = 'SopDeadlineMissed'
               AND (\(xid)::xid8 IS NULL OR (xid, position) <= (\(xid)::xid8, \(position)::bigint))
            """)
        for row in notices.all {
            let caseId: String = try row.decode(0)
            guard out[caseId] != nil, let key = noticeKey(dataText: try row.decode(1)) else { continue }
            out[caseId]!.addNotice(key, id: try row.decode(2), recordedAt: try row.decode(3))
        }
        return out
    }

    /// The deadline a `SopDeadlineMissed` notice is about; nil if its data does not decode.
    static func noticeKey(dataText: String) -> NoticeKey? {
        guard let data = try? JSONValue.parse(dataText),
            case .sopDeadlineMissed(let ruleId, _, let trigger, _, let rulesetId)? = try? SystemEventBody.decode(
                type: "SopDeadlineMissed", data: data)
        else { return nil }
        return NoticeKey(ruleId: ruleId, triggerEventId: trigger, rulesetId: rulesetId)
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

extension History.CaseHistory {
    /// Adds one event of the stream, as the global log delivered it, so that the history equals
    /// what ``History/cases(_:through:on:)`` would read: the decodable events in version order,
    /// and `version`, `lastEventId`, `lastRecordedAt` from the highest version.
    /// - Parameter event: nil for an event that does not decode (it only moves `version`).
    mutating func add(version: Int64, id: UUID, recordedAt: Date, event: CaseEvent?) {
        if version > self.version {
            self.version = version
            lastEventId = id
            lastRecordedAt = recordedAt
        }
        guard let event else { return }
        if let last = versions.last, last > version {
            // Later versions already here (the global order is not the stream order): keep version order.
            let index = versions.firstIndex { $0 > version }!
            versions.insert(version, at: index)
            events.insert(event, at: index)
        } else {
            versions.append(version)
            events.append(event)
        }
    }
}

extension History {
    /// What an event of a case stream from the global log becomes in a ``CaseHistory``.
    enum Decoded {
        /// A typed event.
        case event(CaseEvent)
        /// An event ``cases(_:through:on:)`` skips as well (its data does not decode).
        case skipped
        /// An event whose reading might differ from the SQL's (odd metadata, an unreadable time):
        /// read the case from the table instead.
        case unsure
    }

    /// Decodes an event of a case stream as ``cases(_:through:on:)`` does from its columns: the
    /// data as stored, the actor's institution and user from the metadata (`""` when missing),
    /// `occurredAt` from its text.
    static func decode(_ e: RecordedEvent) -> Decoded {
        guard let occurredAt = PostgresTimestamp.parse(e.occurredAt),
            let recordedAt = PostgresTimestamp.parse(e.recordedAt), let (institution, user) = actor(e.metadata)
        else { return .unsure }
        guard let data = try? JSONValue.parse(e.data),
            let event = try? CaseEvent(
                id: e.id, type: e.type, data: data, occurredAt: occurredAt,
                actor: Referrals.Actor(institution: institution, user: user), recordedAt: recordedAt)
        else { return .skipped }
        return .event(event)
    }

    /// The actor's institution and user from the metadata's text, as `metadata->'actor'->>…` reads them.
    static func actor(_ metadata: String) -> (institution: String, user: String)? {
        if let simple = simpleActor(metadata) { return simple }
        guard let value = try? JSONValue.parse(metadata), let institution = actorField(value, "institution"),
            let user = actorField(value, "user")
        else { return nil }
        return (institution, user)
    }

    /// The common case without a JSON parser: jsonb writes an object's keys shortest first, so
    /// metadata whose actor holds just a user and an institution (as every append writes it)
    /// starts `{"actor": {"user": "…", "institution": "…"}`. nil for anything else, or for values
    /// with escapes.
    static func simpleActor(_ metadata: String) -> (institution: String, user: String)? {
        var text = metadata
        return text.withUTF8 { bytes -> (institution: String, user: String)? in
            var i = 0
            func expect(_ literal: StaticString) -> Bool {
                let n = literal.utf8CodeUnitCount
                guard i + n <= bytes.count,
                    memcmp(bytes.baseAddress! + i, literal.utf8Start, n) == 0
                else { return false }
                i += n
                return true
            }
            func string() -> String? {
                let start = i
                while i < bytes.count {
                    switch bytes[i] {
                    case UInt8(ascii: "\\"): return nil
                    case UInt8(ascii: "\""):
                        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                    default: i += 1
                    }
                }
                return nil
            }
            guard expect(#"{"actor": {"user": ""#), let user = string(), expect(#"", "institution": ""#),
                let institution = string(), expect(#""}"#)
            else { return nil }
            return (institution, user)
        }
    }

    /// `metadata->'actor'->>field` with `""` for SQL NULL, when that is certain (a string, null or
    /// missing); nil otherwise.
    private static func actorField(_ metadata: JSONValue, _ field: String) -> String? {
        guard let actor = metadata["actor"] else { return "" }
        guard case .object = actor else { return actor == .null ? "" : nil }
        switch actor[field] {
        case nil, .null?: return ""
        case .string(let s)?: return s
        default: return nil
        }
    }
}
