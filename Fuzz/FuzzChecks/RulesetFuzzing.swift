import Foundation
import Referrals

/// The fuzz check of the SOP ruleset loader, ``Ruleset/load(json:)``.
///
/// Every input must either load or fail with `invalid_json` / `invalid_ruleset`. A loaded
/// ruleset must load again, equal, from its serialized document, and must evaluate against
/// fixed synthetic cases (``DeadlineEvaluator``) without trapping, giving deadlines of its own
/// rules that fall due no earlier than their trigger and warn between the two.
public enum RulesetFuzzing {
    public static func check(_ input: [UInt8]) throws(InvariantViolation) {
        let ruleset: Ruleset
        do {
            ruleset = try Ruleset.load(json: input)
        } catch {
            try expect(
                error.code == .invalidJSON || error.code == .invalidRuleset, "load failed with \(error.code)")
            return
        }
        try expect(!ruleset.rules.isEmpty, "a ruleset without rules loaded")
        try expect(Set(ruleset.rules.map(\.id)).count == ruleset.rules.count, "two rules share an id")
        do {
            let again = try Ruleset.load(json: ruleset.document.serialized())
            try expect(again == ruleset, "loading the serialized document gave another ruleset")
        } catch let error as ReferralsError {
            throw InvariantViolation("the serialized document of a loaded ruleset does not load: \(error)")
        } catch let violation as InvariantViolation {
            throw violation
        } catch {
            throw InvariantViolation("unexpected error \(error)")
        }

        let ruleIds = Set(ruleset.rules.map(\.id))
        for synthetic in histories {
            let deadlines = DeadlineEvaluator.evaluate(
                caseId: synthetic.caseId, events: synthetic.events, rulesets: [ruleset], now: FixedCase.now)
            for deadline in deadlines {
                try expect(ruleIds.contains(deadline.ruleId), "a deadline of an unknown rule")
                try expect(deadline.dueAt >= deadline.triggeredAt, "\(deadline.ruleId): due before its trigger")
                try expect(
                    deadline.triggeredAt <= deadline.warnAt && deadline.warnAt <= deadline.dueAt,
                    "\(deadline.ruleId): warns outside trigger…due")
            }
        }
    }

    /// The fixed case of the event check plus a few generated ones (children, closures,
    /// corrections, reopenings), computed once.
    static let histories: [(caseId: String, events: [CaseEvent])] = {
        let generated = SyntheticGenerator(seed: 20_260_101, now: FixedCase.now).cases(count: 6)
        return [(FixedCase.caseId, FixedCase.history)] + generated.map { ($0.caseId, $0.events) }
    }()
}
