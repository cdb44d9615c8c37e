import Foundation

/// Who appended an event: an institution and a pseudonymous user of it (never a person's name).
public struct EventActor: Hashable, Sendable, Codable {
    public var institution: String
    public var user: String
    public init(institution: String, user: String) {
        self.institution = institution
        self.user = user
    }
}

/// Metadata every event carries.
public struct EventMetadata: Hashable, Sendable {
    public var actor: EventActor
    public var correlationId: UUID
    public var causationId: UUID?
    /// Who appended it by hand (`handoff append`), for the institution in `actor`; nil through the API.
    public var operatorName: String?

    public init(actor: EventActor, correlationId: UUID = UUID(), causationId: UUID? = nil, operatorName: String? = nil)
    {
        self.actor = actor
        self.correlationId = correlationId
        self.causationId = causationId
        self.operatorName = operatorName
    }

    /// The metadata as a JSON object.
    public var json: String {
        var s =
            "{\"actor\":{\"institution\":" + JSONText.quote(actor.institution) + ",\"user\":"
            + JSONText.quote(actor.user) + "},\"correlationId\":\"" + correlationId.uuidString.lowercased() + "\""
        s += ",\"causationId\":" + (causationId.map { "\"" + $0.uuidString.lowercased() + "\"" } ?? "null")
        if let operatorName { s += ",\"operator\":" + JSONText.quote(operatorName) }
        s += "}"
        return s
    }
}

/// An event to append.
public struct NewEvent: Sendable {
    /// The event's id: re-sending the same id with the same content returns the original result.
    public var id: UUID
    /// A name such as `ReferralIssued` (a letter, then letters and digits, at most 64).
    public var type: String
    /// The event's data: the text of one JSON object.
    public var data: String
    public var metadata: EventMetadata
    /// Business time; nil means the time of recording. Never more than 5 minutes in the future.
    public var occurredAt: Date?

    public init(id: UUID = UUID(), type: String, data: String, metadata: EventMetadata, occurredAt: Date? = nil) {
        self.id = id
        self.type = type
        self.data = data
        self.metadata = metadata
        self.occurredAt = occurredAt
    }
}

/// An event as stored.
public struct RecordedEvent: Sendable, Hashable {
    public var position: Int64
    public var xid: UInt64
    public var stream: String
    public var version: Int64
    public var id: UUID
    public var type: String
    /// PostgreSQL's text form of the data (`data::text`), as hashed.
    public var data: String
    /// PostgreSQL's text form of the metadata, as hashed.
    public var metadata: String
    /// `occurredAt` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, exactly as hashed.
    public var occurredAt: String
    public var recordedAt: String
    public var prevHash: [UInt8]
    public var hash: [UInt8]

    public var cursor: Cursor { Cursor(xid: xid, position: position) }
    public var occurredDate: Date { PostgresTimestampText.date(occurredAt) }
    public var recordedDate: Date { PostgresTimestampText.date(recordedAt) }
}

/// One appended (or found, when deduplicated) event.
public struct AppendedEvent: Sendable, Hashable {
    public var id: UUID
    public var version: Int64
    public var cursor: Cursor
    public var hash: [UInt8]
    public var recordedAt: Date
}

/// The outcome of an append.
public struct AppendResult: Sendable, Hashable {
    /// The stream's version after the append (for a deduplicated retry: the version of its last event).
    public var streamVersion: Int64
    public var events: [AppendedEvent]
    /// True when every event already existed with the same content and nothing was written.
    public var deduplicated: Bool
}
