import EventStore
import Foundation
import Postgres

/// A synthetic event: pseudonymous actor, banded data, no identities.
func event(
    _ type: String = "CaseReviewed", data: String = "{}", id: UUID = UUID(), institution: String = "kp-dthb",
    occurredAt: Date? = nil
) -> NewEvent {
    NewEvent(
        id: id, type: type, data: data,
        metadata: EventMetadata(actor: EventActor(institution: institution, user: "officer-1182")),
        occurredAt: occurredAt)
}

func stream(_ caseId: String) -> StreamName { StreamName.case(caseId)! }

/// A call of the SQL append function itself, as a client without the Swift store would make it.
func rawAppend(stream: String, id: UUID) -> SQL {
    let ids = "{\(id.uuidString.lowercased())}"
    return """
        SELECT * FROM handoff.append(\(stream), \("any"), \(ids)::uuid[], \("{CaseReviewed}")::text[],
            \(#"{"{}"}"#)::jsonb[], \(#"{"{}"}"#)::jsonb[], \("{NULL}")::timestamptz[])
        """
}
