/// A balance that fills evenly up to a cap: the one refill rule of the service's per-caller
/// allowances (``AppendBudget``, ``DeniedAttempts``).
struct RefillingBalance {
    var balance: Double
    /// When `balance` was last brought up to date.
    var at: ContinuousClock.Instant

    /// The balance at `now`: what `perSecond` added since `at`, at most `cap`.
    func filled(at now: ContinuousClock.Instant, cap: Double, perSecond: Double) -> Double {
        min(cap, balance + max(0, (now - at) / .seconds(1)) * perSecond)
    }

    /// Brings the balance up to `now` (read under the caller's lock, so that no stretch is filled
    /// twice) and returns it.
    mutating func refill(to now: ContinuousClock.Instant, cap: Double, perSecond: Double) -> Double {
        balance = filled(at: now, cap: cap, perSecond: perSecond)
        at = max(now, at)
        return balance
    }
}
