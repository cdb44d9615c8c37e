import Foundation

/// Who appended an event: the institution and a pseudonymous user (`officer-1182`).
public struct Actor: Sendable, Hashable, Codable {
    public var institution: String
    public var user: String

    public init(institution: String, user: String) {
        self.institution = institution
        self.user = user
    }
}

/// One event of a case stream, typed: what the fold, the policy and the rules engine read.
public struct CaseEvent: Sendable, Hashable {
    public var id: UUID
    /// Business time, given by the institution; deadlines run from it.
    public var occurredAt: Date
    public var actor: Actor
    public var body: CaseEventBody
    /// Server time, when the event was recorded; `nil` for an event not recorded yet (admission),
    /// which counts as recorded at `occurredAt`. See ``countedAt(grace:)``.
    public var recordedAt: Date?

    public init(id: UUID, occurredAt: Date, actor: Actor, body: CaseEventBody, recordedAt: Date? = nil) {
        self.id = id
        self.occurredAt = occurredAt
        self.actor = actor
        self.body = body
        self.recordedAt = recordedAt
    }

    /// The time of record (docs/time-of-record.md): `occurredAt` when the event was recorded
    /// within `grace` of it, otherwise `recordedAt − grace` — an institution that enters an
    /// event late cannot make it count earlier than the grace allows — and never later than
    /// ``occurredAtCapped``: an `occurredAt` dated ahead (the clock skew admission allows)
    /// cannot make it count after it was recorded.
    public func countedAt(grace: TimeInterval) -> Date {
        guard let recordedAt else { return occurredAt }
        return min(max(occurredAt, recordedAt.addingTimeInterval(-grace)), recordedAt)
    }

    /// When the event was put on the record: `recordedAt`, or `occurredAt` for an event not
    /// recorded yet (one being admitted).
    public var recordedOrOccurredAt: Date { recordedAt ?? occurredAt }

    /// `occurredAt`, or `recordedAt` when that is earlier: whatever an event records had happened
    /// by the moment it was recorded, so a time dated ahead counts as the time of recording.
    public var occurredAtCapped: Date {
        guard let recordedAt else { return occurredAt }
        return min(occurredAt, recordedAt)
    }

    /// How long after it occurred the event was recorded, when that is more than `grace`
    /// (a late entry the case page marks); nil otherwise.
    public func lateBy(grace: TimeInterval) -> TimeInterval? {
        guard let recordedAt, recordedAt.timeIntervalSince(occurredAt) > grace else { return nil }
        return recordedAt.timeIntervalSince(occurredAt)
    }

    public var type: CaseEventType { body.type }

    /// Decodes a stored event (type and `data` as recorded) into a typed event.
    public init(
        id: UUID, type: String, data: JSONValue, occurredAt: Date, actor: Actor, recordedAt: Date? = nil
    ) throws(ReferralsError) {
        self.init(
            id: id, occurredAt: occurredAt, actor: actor, body: try CaseEventBody.decode(type: type, data: data),
            recordedAt: recordedAt)
    }
}
