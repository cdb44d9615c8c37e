import EventStore
import Foundation

/// A synthetic event: pseudonymous actor, banded data, no identities.
func event(
    _ type: String = "CaseReviewed", data: String = "{}", id: UUID = UUID(), institution: String = "kp-dthb",
    occurredAt: Date? = nil
) -> NewEvent {
    NewEvent(
        id: id, type: type, data: data,
        metadata: EventMetadata(actor: EventActor(institution: institution, user: "officer-1182")), occurredAt: occurredAt)
}

func stream(_ caseId: String) -> StreamName { StreamName.case(caseId)! }
