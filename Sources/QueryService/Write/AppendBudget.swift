import Foundation
import Referrals
import Synchronization

/// How much work one institution's appends may make for the projector, which evaluates every
/// case an append touches from its whole stream, one case after another, for everyone, and for
/// the deadline watcher, which writes a notice of every deadline missed.
///
/// An append's cost, as far as the appending institution made it: 10 for the append; ``perEvent``
/// for each event appended (the deadlines it may start, their rows and, missed, their notices);
/// its own events in the case afterwards times one plus three for each of its own corrections
/// there (each correction is evaluated as the record stood before it and after it: two or three
/// passes over the stream); and ``lateEntryCost`` for each event dated back more than an hour
/// (the notices of what it starts already overdue). Only its own: a party that fills a shared case
/// spends its own share, not the police's when the police record their next step there.
/// Measured in rebuilds on the reference machine, the last part's unit is 2.5 µs of the
/// projector's time for the heaviest case admission lets one institution make (1,000 events, 100
/// of them corrections: about 300,000, a second and a half) and up to 40 µs for cases whose
/// events each start deadlines and rows of their own (a thousand reviews: about 1,000, some
/// 30–40 ms); a notice costs the watcher about 2 ms.
///
/// Three attack passes shaped this (docs/operations.md, "The projector's work, shared"): fifteen
/// of the heaviest cases touched once a second put every institution's inbox and deadlines half a
/// minute behind, and the watcher wrote no notice meanwhile; cases of a thousand open referrals,
/// thousands of cases dated years back, and thousands of openings whose deadlines would fall due
/// together a day later each did the same more cheaply than a first version of this budget saw.
///
/// Each institution has a balance of `burst`, filled at `perSecond`. An append is admitted while
/// the balance is above zero, its cost spent in the same step, and given back when nothing was
/// written (a refused, conflicting or deduplicated request costs nothing; an append that costs
/// more than is left leaves a debt, so that no case is too heavy ever to be written to). Below
/// zero, appends are refused with 429 `too_many_appends`, and `Retry-After` says when the debt is
/// paid. The default: about twelve events a second sustained, bursts of a couple of thousand; a
/// few seconds of the watcher's time at most. Per institution, not per token or person: an institution's many tokens share it.
public struct AppendBudgetPolicy: Sendable, Hashable {
    /// The balance an institution starts with and may save up to.
    public var burst: Double
    /// How fast the balance fills, per second.
    public var perSecond: Double

    public init(burst: Double = 1_000_000, perSecond: Double = 5_000) {
        self.burst = max(1, burst)
        self.perSecond = max(1, perSecond)
    }

    /// What each event appended costs on top: the deadlines it may start, their rows, and — when
    /// they are missed — the watcher's notices, a few milliseconds apiece. An attack pass opened
    /// 5,000 cases in eight seconds, at 11 each, whose deadlines were all to fall due in the same
    /// few seconds a day later: the watcher would have been minutes behind at that moment, and
    /// the institution's own late entry then counted as met.
    public static let perEvent: Double = 400

    /// The cost of an append of `appended` events after which the appending institution has
    /// `events` events in the case, `corrections` of them corrections.
    public static func cost(appended: Int = 1, events: Int, corrections: Int) -> Double {
        10 + perEvent * Double(max(1, appended)) + Double(max(0, events)) * Double(1 + 3 * max(0, corrections))
    }

    /// What an event dated back more than ``lateEntryAge`` costs on top: the deadline watcher's
    /// notices of what it started already overdue (a case opened years back starts five deadlines
    /// due long ago, and the watcher writes a notice for each, a few milliseconds apiece). An attack
    /// pass opened 7,000 such cases in ten seconds, at a cost of 11 each: the watcher fell a minute
    /// behind, and the institution's own late entry, dated back within the grace, counted as met
    /// because no notice had come first.
    public static let lateEntryCost: Double = 2_000
    /// How far back an event is dated before it costs ``lateEntryCost``.
    public static let lateEntryAge: TimeInterval = 3_600

    /// The cost of `institution` appending `adding` (admitted at `now`) to the case whose state is
    /// `state` (nil: a new case).
    static func cost(of adding: [CaseEvent], to state: CaseState?, by institution: String, at now: Date) -> Double {
        let corrections =
            (state?.correctionsBy[institution] ?? 0)
            + adding.filter({ if case .recordCorrected = $0.body { true } else { false } }).count
        return cost(
            appended: adding.count, events: (state?.eventsBy[institution] ?? 0) + adding.count,
            corrections: corrections) + lateEntries(adding.map(\.occurredAt), at: now)
    }

    /// What events dated `occurredAt` cost on top for being dated back (``lateEntryCost``).
    static func lateEntries(_ occurredAt: [Date], at now: Date) -> Double {
        Double(occurredAt.filter { now.timeIntervalSince($0) > lateEntryAge }.count) * lateEntryCost
    }
}

/// The balances of ``AppendBudgetPolicy``, per institution, in this process.
final class AppendBudget: Sendable {
    let policy: AppendBudgetPolicy
    private let balances = Mutex<[String: RefillingBalance]>([:])

    init(policy: AppendBudgetPolicy) {
        self.policy = policy
    }

    /// Whether `institution` may append now: nil while its balance is above zero; else how long
    /// until it is. Spends nothing.
    func refusal(for institution: String, now: ContinuousClock.Instant? = nil) -> Duration? {
        balances.withLock { balances in
            let balance = Self.refilled(&balances, institution, now ?? .now, policy)
            return Self.wait(balance, policy)
        }
    }

    /// Spends `cost` of `institution`'s balance for an append about to be made, in one step with
    /// the check: nil (spent) while the balance is above zero — it may go into debt, so that no
    /// case is too heavy ever to be written to — else how long until it is (nothing spent).
    /// Concurrent appends each see what the others spent: none slips in on a balance another
    /// already used (an attack pass got 29 of 30 heavy batches in at once when the check and the
    /// charge were apart). Give it back with ``refund(_:to:now:)`` when nothing was written.
    func spend(_ cost: Double, from institution: String, now: ContinuousClock.Instant? = nil) -> Duration? {
        balances.withLock { balances in
            let balance = Self.refilled(&balances, institution, now ?? .now, policy)
            if let wait = Self.wait(balance, policy) { return wait }
            balances[institution]?.balance = balance - cost
            return nil
        }
    }

    /// Gives back what ``spend(_:from:now:)`` took for an append that wrote nothing (refused,
    /// conflicting, or answered as a retry of one already written); never above the burst.
    func refund(_ cost: Double, to institution: String, now: ContinuousClock.Instant? = nil) {
        balances.withLock { balances in
            let balance = Self.refilled(&balances, institution, now ?? .now, policy)
            balances[institution]?.balance = min(policy.burst, balance + cost)
        }
    }

    private static func wait(_ balance: Double, _ policy: AppendBudgetPolicy) -> Duration? {
        guard balance <= 0 else { return nil }
        return .milliseconds(Int((-balance / policy.perSecond * 1000).rounded(.up)) + 1)
    }

    func balance(of institution: String, now: ContinuousClock.Instant? = nil) -> Double {
        balances.withLock { Self.refilled(&$0, institution, now ?? .now, policy) }
    }

    /// The balance filled up to `now` (the clock read under the lock, so that no stretch is
    /// filled twice), and stored as of `now`.
    private static func refilled(
        _ balances: inout [String: RefillingBalance], _ institution: String, _ now: ContinuousClock.Instant,
        _ policy: AppendBudgetPolicy
    ) -> Double {
        var entry = balances[institution] ?? RefillingBalance(balance: policy.burst, at: now)
        let filled = entry.refill(to: now, cap: policy.burst, perSecond: policy.perSecond)
        balances[institution] = entry
        return filled
    }
}
