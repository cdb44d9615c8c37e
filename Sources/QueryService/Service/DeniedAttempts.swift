import Referrals
import Synchronization

/// How many refused attempts on one case one caller may have recorded in the access log.
///
/// Every refused attempt on a case (a non-party's read or append, a read of a case that does not
/// exist; a party's own refused appends are recorded too, outside this allowance) is a `denied`
/// row of that case, and checking a case's access record hashes every row of the case again: an
/// attack pass added 17,159 refused probes to another institution's case in ten seconds, and the
/// case's check went from 7.6 ms to 0.4–0.8 s. So each caller (an institution, whatever its
/// tokens and persons; a coordinator or auditor by person) has `perHour` attempts on each case,
/// refilled evenly through the hour; past them the attempt is refused with 429 and no row — the
/// rows already written show the probing. A case that exists and one that does not are counted
/// alike, so the 429 tells nothing about which it is; each caller has its own allowance, so no
/// one can use up another's and make its attempts go unrecorded.
///
/// At most `maxKeys` callers and cases are remembered: past that, those whose allowance has
/// refilled are forgotten (as if never seen), then the half with the most left. Forgetting gives
/// an allowance back, never takes one away, so the spent ones are forgotten last: to have an
/// allowance it used up forgotten, a caller must first use up that many others.
final class DeniedAttempts: Sendable {
    let perHour: Int
    let maxKeys: Int
    private let now: @Sendable () -> ContinuousClock.Instant
    private let allowances = Mutex<[String: RefillingBalance]>([:])

    init(
        perHour: Int, maxKeys: Int = 100_000, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.perHour = max(1, perHour)
        self.maxKeys = max(1, maxKeys)
        self.now = now
    }

    /// Whose allowance an attempt on `caseId` by `principal` takes from.
    static func key(_ principal: Principal, caseId: String) -> String {
        InFlightRequests.caller(principal) + "\u{0}" + caseId
    }

    /// Takes one attempt from `key`'s allowance: nil when there was one, else the whole seconds
    /// until there is.
    func take(_ key: String) -> Int? {
        let now = self.now()
        let full = Double(perHour)
        let perSecond = full / 3600
        func leftNow(_ allowance: RefillingBalance) -> Double {
            allowance.filled(at: now, cap: full, perSecond: perSecond)
        }
        return allowances.withLock { allowances -> Int? in
            var allowance = allowances[key] ?? RefillingBalance(balance: full, at: now)
            let left = allowance.refill(to: now, cap: full, perSecond: perSecond)
            // (A millionth either way: sums of fractions of an attempt are not exact.)
            guard left >= 1 - 1e-6 else {
                allowances[key] = allowance
                return max(1, Int(((1 - left) / perSecond - 1e-6).rounded(.up)))
            }
            allowance.balance -= 1
            allowances[key] = allowance
            if allowances.count > maxKeys {
                allowances = allowances.filter { leftNow($0.value) < full }
                if allowances.count > maxKeys {
                    let spent = allowances.sorted { leftNow($0.value) < leftNow($1.value) }.prefix(maxKeys / 2)
                    allowances = Dictionary(uniqueKeysWithValues: spent.map { ($0.key, $0.value) })
                }
            }
            return nil
        }
    }

    /// Callers and cases remembered (for tests).
    var count: Int { allowances.withLock { $0.count } }
}
