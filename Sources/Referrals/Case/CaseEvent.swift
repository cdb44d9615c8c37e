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

    public init(id: UUID, occurredAt: Date, actor: Actor, body: CaseEventBody) {
        self.id = id
        self.occurredAt = occurredAt
        self.actor = actor
        self.body = body
    }

    public var type: CaseEventType { body.type }

    /// Decodes a stored event (type and `data` as recorded) into a typed event.
    public init(id: UUID, type: String, data: JSONValue, occurredAt: Date, actor: Actor) throws(ReferralsError) {
        self.init(id: id, occurredAt: occurredAt, actor: actor, body: try CaseEventBody.decode(type: type, data: data))
    }
}
