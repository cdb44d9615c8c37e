import EventStore

/// `EventStore.Actor` under a name that does not clash with `Referrals.Actor`.
typealias StoreActor = Actor
