/// What the service's own stores throw besides database errors; the query service maps each to
/// its documented answer.
public enum ServiceStoreError: Error, Sendable, Equatable {
    /// Too many reads wait to be access-logged (503 `unavailable`).
    case accessLogQueueFull
    /// The access log cannot be written just now (503 `unavailable`).
    case accessLogWriteFailed
    /// Not a valid case id (400 `bad_request`).
    case invalidCaseId
    /// The institution keeps ``SubscriptionStore/perOwner`` subscriptions already (409
    /// `too_many_subscriptions`).
    case tooManySubscriptions
}
