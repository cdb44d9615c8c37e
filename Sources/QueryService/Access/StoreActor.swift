import EventStore

/// `EventStore.Actor` under a name that does not clash with `Referrals.Actor` in files that
/// import both modules (the module `EventStore` also has a class `EventStore`, so the qualified
/// name cannot be written there).
typealias StoreActor = Actor
