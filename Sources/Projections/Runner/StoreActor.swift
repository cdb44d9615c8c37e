import EventStore

// `Actor` exists in both EventStore and Referrals, and `EventStore.Actor` names a member of the
// class `EventStore`, not the module's type. This file imports EventStore alone, so here `Actor`
// is unambiguous.

/// The store's event actor (institution and user in an event's metadata).
typealias StoreActor = Actor
