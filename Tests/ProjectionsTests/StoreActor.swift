import EventStore

// `Actor` is declared by both EventStore and Referrals; this file imports EventStore alone.
typealias StoreActor = Actor
