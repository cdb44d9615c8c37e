import Foundation
import Referrals
import Synchronization

/// How much work one institution's appends may make for the projector, which evaluates every
/// case an append touches from its whole stream, one case after another, for everyone.
///
/// An append's cost is the work of evaluating its case afterwards, as far as the appending
/// institution made it: its own events in the case, times one plus three for each of its own
/// corrections (each correction is evaluated as the record stood before it and after it: two or
/// three passes over the stream). A case of a few dozen events costs a few dozen; the heaviest
/// case admission lets one institution make (1,000 events, 100 of them corrections) costs about
/// 300,000, about a second and a half of the projector's time on the reference machine. Only its
/// own: a party that fills a shared case to the limit spends its own share, not the police's when
/// the police record their next step there. An attack pass opened fifteen such cases from one
/// institution's token and then touched each once a second: the projector fell behind by half a
/// minute for every institution's inbox, deadlines and case summaries, and the watcher, which
/// reads the deadlines as projected, wrote no notice meanwhile.
///
/// Each institution has a balance of `burst`, filled at `perSecond` and spent by each append's
/// cost. An append is admitted while the balance is above zero (even one that costs more than the
/// balance: it leaves a debt, so that no case is too heavy ever to be written to); below zero, the
/// append is refused with 429 `too_many_appends` and `Retry-After` says when the debt is paid. The
/// default lets an institution keep a tenth of the projector's time busy with its own appends,
/// with bursts of ten seconds' worth: thousands of appends a second to ordinary cases, one a
/// second to a case of a thousand events and ten corrections, one every fifteen seconds to the
/// heaviest. Per institution, not per token or person: an institution's many tokens share it.
public struct AppendBudgetPolicy: Sendable, Hashable {
    /// The balance an institution starts with and may save up to.
    public var burst: Double
    /// How fast the balance fills, per second.
    public var perSecond: Double

    public init(burst: Double = 2_000_000, perSecond: Double = 20_000) {
        self.burst = max(1, burst)
        self.perSecond = max(1, perSecond)
    }

    /// The cost of an append after which the appending institution has `events` events in the
    /// case, `corrections` of them corrections.
    public static func cost(events: Int, corrections: Int) -> Double {
        Double(max(1, events)) * Double(1 + 3 * max(0, corrections))
    }

    /// The cost of `institution` appending `adding` to the case whose state is `state` (nil: a
    /// new case).
    static func cost(of adding: [CaseEvent], to state: CaseState?, by institution: String) -> Double {
        let corrections =
            (state?.correctionsBy[institution] ?? 0)
            + adding.filter({ if case .recordCorrected = $0.body { true } else { false } }).count
        return cost(events: (state?.eventsBy[institution] ?? 0) + adding.count, corrections: corrections)
    }
}

/// The balances of ``AppendBudgetPolicy``, per institution, in this process.
final class AppendBudget: Sendable {
    let policy: AppendBudgetPolicy
    private let balances = Mutex<[String: (balance: Double, at: ContinuousClock.Instant)]>([:])

    init(policy: AppendBudgetPolicy) {
        self.policy = policy
    }

    /// Spends `cost` of `institution`'s balance, or refuses.
    /// - Returns: nil when spent; else how long until the balance is above zero again.
    func spend(_ cost: Double, by institution: String, now: ContinuousClock.Instant = .now) -> Duration? {
        balances.withLock { balances in
            var (balance, at) = balances[institution] ?? (policy.burst, now)
            let elapsed = max(0, (now - at) / .seconds(1))
            balance = min(policy.burst, balance + elapsed * policy.perSecond)
            defer { balances[institution] = (balance, now) }
            guard balance > 0 else {
                return .milliseconds(Int((-balance / policy.perSecond * 1000).rounded(.up)) + 1)
            }
            balance -= cost
            return nil
        }
    }

    /// `institution`'s balance now (for tests).
    func balance(of institution: String, now: ContinuousClock.Instant = .now) -> Double {
        balances.withLock { balances in
            guard let (balance, at) = balances[institution] else { return policy.burst }
            return min(policy.burst, balance + max(0, (now - at) / .seconds(1)) * policy.perSecond)
        }
    }
}
