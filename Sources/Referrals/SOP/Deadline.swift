import Foundation

/// Where a deadline stands at the evaluation's `now`.
public enum DeadlineStatus: String, Sendable, Hashable, CaseIterable, Codable {
    /// Open, not yet inside the warning window.
    case pending
    /// Open, inside the warning window (`warnAt ≤ now < dueAt`).
    case dueSoon = "due-soon"
    /// Not met by `dueAt` and not met since; also a deadline already past due when the case
    /// was closed (closure does not excuse a missed deadline).
    case overdue
    /// Met by `dueAt`.
    case met
    /// Met after `dueAt`.
    case metLate = "met-late"
    /// The case was closed before the deadline fell due.
    case cancelled
}

/// One SOP deadline of a case, as ``DeadlineEvaluator`` sees it at a given `now`.
public struct Deadline: Sendable, Hashable {
    public var caseId: String
    public var ruleId: String
    public var title: String
    /// The ruleset version that judged it (the one in force when the trigger counts:
    /// ``DeadlineEvaluator/judging(_:_:)``).
    public var rulesetId: String
    public var rulesetVersion: Int
    /// Whether the rule's figure is confirmed from its source (see ``SopRule/confirmed``).
    public var confirmed: Bool
    public var triggerEventId: UUID
    public var triggeredAt: Date
    /// The referral the trigger named, if any.
    public var referralId: String?
    public var dueAt: Date
    /// From here on an open deadline is `due-soon` (equals `dueAt` when the rule has no warning).
    public var warnAt: Date
    public var status: DeadlineStatus
    /// An institution id: for a `role` rule, the role's holder, or the opener while nobody holds it.
    public var responsible: String
    public var satisfiedAt: Date?
    public var satisfiedByEventId: UUID?
    /// When the case's closure cancelled it.
    public var cancelledAt: Date?
    /// Whether the case's closure ended it unmet after it fell due.
    public var missedAtClosure: Bool
    /// Whether a `SopDeadlineMissed` notice counts for this deadline: then it is never `met` (at
    /// best `met-late`), never `cancelled`, and `overdue` while unmet, so status and notices agree.
    /// A notice recorded after the event that met the deadline in time or cancelled it (the watcher
    /// had read the case before that event) counts for nothing.
    public var notified: Bool = false
    /// Whether the deadline counts in the compliance figures (statistics, the coordinator's table,
    /// the annual report). Every deadline does but a recurring rule's term met while an earlier
    /// counted term of the same rule, series and institution had not yet fallen due, or before half
    /// its own term had run: reviewing again and again inside one term is one review, not a met
    /// deadline each time (``DeadlineEvaluator/markCounted(_:recurring:actedAt:)``, docs/time-of-record.md);
    /// and a term met by the institution that closed its case as a duplicate, while that closure
    /// stands (``DeadlineEvaluator/leaveOutOwnDuplicates(_:_:)``). Its status is shown as it is.
    public var counted: Bool = true
    /// When its term runs from for the institution responsible as the record ends: from the
    /// trigger (as it counts for that institution), moved by the time another's act gave back, or
    /// from when a holder of its role was brought in (the year the annual report counts it in:
    /// ``DeadlineEvaluator/countsFrom(_:events:context:)``).
    public var runsFrom: Date? = nil

    /// The part of the status that no longer depends on the clock — the one definition
    /// (issue 13) the read model stores (`deadlines.settled`) and SQL only compares with `now`:
    /// `met` when satisfied by its due time with no missed notice, else `met-late`; `cancelled`;
    /// `overdue` for good when it was missed before its case closed or has a notice; nil while it
    /// is open (then it is `overdue` from `dueAt`, `due-soon` from `warnAt`, else `pending`).
    public var settled: DeadlineStatus? {
        if let satisfiedAt { return satisfiedAt <= dueAt && !notified ? .met : .metLate }
        if cancelledAt != nil { return .cancelled }
        if missedAtClosure || notified { return .overdue }
        return nil
    }

    /// What identifies the deadline's notice: its rule, trigger and ruleset series.
    public var noticeKey: NoticeKey { NoticeKey(ruleId: ruleId, triggerEventId: triggerEventId, rulesetId: rulesetId) }

    /// Whether `notice` is this deadline's: the same rule, trigger and ruleset series; a notice
    /// that names no series (written before notices recorded it) stands for every series. The one
    /// definition of "already notified" (docs/system-events.md).
    public func isNoticed(by notice: NoticeKey) -> Bool {
        notice.ruleId == ruleId && notice.triggerEventId == triggerEventId
            && (notice.rulesetId == nil || notice.rulesetId == rulesetId)
    }

    /// `<caseId>/<ruleId>/<triggerEventId>`. Not unique when two ruleset series share a rule id;
    /// a notice's identity adds the series (``isNoticed(by:)``, docs/system-events.md).
    public var key: String { "\(caseId)/\(ruleId)/\(triggerEventId.uuidString.lowercased())" }
}

/// A `SopDeadlineMissed` notice as the evaluator matches it to a deadline
/// (``Deadline/isNoticed(by:)``): the rule, the triggering event and the ruleset series (the case
/// is implied).
public struct NoticeKey: Sendable, Hashable {
    public var ruleId: String
    public var triggerEventId: UUID
    /// nil for notices written before notices named their series.
    public var rulesetId: String?

    public init(ruleId: String, triggerEventId: UUID, rulesetId: String? = nil) {
        self.ruleId = ruleId
        self.triggerEventId = triggerEventId
        self.rulesetId = rulesetId
    }
}
