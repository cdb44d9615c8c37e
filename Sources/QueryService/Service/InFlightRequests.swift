import Referrals
import Synchronization

/// How many API requests each caller has in progress, bounded
/// (``QueryServiceConfiguration/maxRequestsInFlightPerCaller``): one caller's burst of reads waits
/// for no connection of the pool the others need, it is refused with 429 instead.
final class InFlightRequests: Sendable {
    let limit: Int
    private let counts = Mutex<[String: Int]>([:])

    init(limit: Int) { self.limit = max(1, limit) }

    /// Who a request counts against (``Principal/caller``).
    static func caller(_ principal: Principal) -> String { principal.caller }

    /// Takes a place for `caller`; false when it holds `limit` already. Each true must be matched
    /// by ``leave(_:)``.
    func enter(_ caller: String) -> Bool {
        counts.withLock { counts in
            guard counts[caller, default: 0] < limit else { return false }
            counts[caller, default: 0] += 1
            return true
        }
    }

    func leave(_ caller: String) {
        counts.withLock { counts in
            let left = counts[caller, default: 1] - 1
            counts[caller] = left > 0 ? left : nil
        }
    }

    /// Requests `caller` has in progress now (for tests).
    func count(_ caller: String) -> Int { counts.withLock { $0[caller, default: 0] } }
}
