import Foundation

/// A versioned set of SOP deadline rules (DESIGN.md "SOP rules are data"), published as a
/// `SopRulesetPublished` event and loaded with ``Ruleset/load(_:)``.
///
/// Versions of one ruleset share an ``id``. A deadline is judged by the version whose
/// ``effectiveFrom`` is the latest not after the time its trigger counts from
/// (``DeadlineEvaluator/judging(_:_:)``), so publishing a change never rewrites past compliance.
public struct Ruleset: Sendable, Hashable {
    /// The series, e.g. `kosovo-default`.
    public var id: String
    /// 1, 2, 3… within the series.
    public var version: Int
    /// The title in English, the fallback for every language.
    public var title: String
    /// The title in other languages, by tag (`sq`, `sr-Latn`, `sr-Cyrl`): the document's optional
    /// `titles` (docs/rulesets.md, "Titles in several languages").
    public var titles: [String: String] = [:]
    /// Local midnight, in the ruleset's ``clock``'s zone (UTC without one), of the date the
    /// procedure took effect (not the date it was published).
    public var effectiveFrom: Date
    /// How the ruleset counts time: its `timeZone` (IANA) and `holidays` (docs/rulesets.md "Time").
    public var clock: RulesetClock = .utc
    /// What a reader must know about the ruleset's standing (e.g. that figures are placeholders).
    public var notice: String?
    /// ISO 3166-1 alpha-2 of the jurisdiction, if given.
    public var jurisdiction: String?
    public var rules: [SopRule]
    /// How long after an event's `occurredAt` it may be recorded and still count at `occurredAt`
    /// (docs/time-of-record.md); `PT24H` when the document does not say.
    public var lateEntryGrace: ISODuration
    /// How long after a trigger's `occurredAt` it may be recorded and still start a deadline that
    /// another institution must meet at `occurredAt` (docs/time-of-record.md, section 2); `PT0S`
    /// when the document does not say: another institution's deadline runs from the moment the
    /// trigger is recorded, so nobody is made late by a backdated entry. Never longer than
    /// ``lateEntryGrace``.
    public var lateTriggerGrace: ISODuration = Ruleset.defaultLateTriggerGrace
    /// Wider graces for a synthetic history entered all at once (the demo's and the benchmarks'
    /// data sets), for events recorded before a fixed time only; `nil` for real records.
    public var backfill: Backfill?
    /// Whether a referral of each purpose needs the victim's recorded consent; `nil` when the
    /// document has no `consent` section (then no referral needs one, as before that section existed).
    public var consent: ConsentPolicy?
    /// The document as loaded, for republishing it unchanged.
    public var document: JSONValue

    /// `effectiveFrom` as the document gives it: a local date (`2014-01-01`) in the ruleset's zone.
    public var effectiveDate: String { document["effectiveFrom"]?.stringValue ?? Timestamp.formatDate(effectiveFrom) }

    /// The rule with this id, if any.
    public func rule(_ id: String) -> SopRule? { rules.first { $0.id == id } }

    /// The graces of a synthetic history: they judge only events recorded before `recordedBefore`
    /// (the end of the seeding), so nothing entered afterwards — through the API of a demo, say —
    /// gets more than the ruleset's own graces.
    public struct Backfill: Sendable, Hashable {
        public var recordedBefore: Date
        public var lateEntryGrace: ISODuration
        public var lateTriggerGrace: ISODuration
    }

    /// The late-entry grace, in seconds, that judges `event` (a satisfying or closing one): the
    /// backfill's for an event recorded before its time, else ``lateEntryGrace``.
    public func lateEntryGrace(for event: CaseEvent) -> TimeInterval {
        (isBackfill(event) ? backfill?.lateEntryGrace : nil)?.fixedSeconds ?? lateEntryGrace.fixedSeconds
    }

    /// The late-trigger grace, in seconds, that judges `trigger` for another institution's deadline:
    /// the backfill's for a trigger recorded before its time, else ``lateTriggerGrace``.
    public func lateTriggerGrace(for trigger: CaseEvent) -> TimeInterval {
        (isBackfill(trigger) ? backfill?.lateTriggerGrace : nil)?.fixedSeconds ?? lateTriggerGrace.fixedSeconds
    }

    /// The grace, in seconds, of an event that ends a deadline (a closure, a not-a-victim
    /// finding): none — it counts when it was recorded — except the backfill's late-entry grace for
    /// a synthetic history recorded before its time.
    public func cancellationGrace(for event: CaseEvent) -> TimeInterval {
        isBackfill(event) ? lateEntryGrace(for: event) : 0
    }

    private func isBackfill(_ event: CaseEvent) -> Bool {
        guard let backfill, let recordedAt = event.recordedAt else { return false }
        return recordedAt < backfill.recordedBefore
    }

    /// The grace when none is given: a day.
    public static let defaultLateEntryGrace = ISODuration(hours: 24)

    /// The trigger grace when none is given: none.
    public static let defaultLateTriggerGrace = ISODuration(hours: 0)
}

/// Which referral purposes need the victim's recorded consent (Council of Europe Convention
/// Art. 12(7): assistance on a consensual and informed basis), and the legal basis of each
/// purpose that does not.
public struct ConsentPolicy: Sendable, Hashable {
    /// One purpose's rule.
    public struct Entry: Sendable, Hashable {
        /// `true`: a `ReferralIssued` of this purpose needs a `ConsentRecorded{given: true}` for its
        /// recipient and purpose still in force, or a `consentOverride`.
        public var required: Bool
        /// Why no consent is needed (for `required == false`), e.g. the law that obliges the referral.
        public var legalBasis: String?
        public var source: SopRule.Source
        /// Whether the entry is confirmed from its source; `false` marks a placeholder, not law.
        public var confirmed: Bool
    }

    /// By purpose. A purpose the document does not list needs consent.
    public var entries: [ReferralPurpose: Entry]

    /// Whether a referral of `purpose` needs consent.
    public func requiresConsent(_ purpose: ReferralPurpose) -> Bool { entries[purpose]?.required ?? true }
}

/// One SOP deadline rule: when `trigger` happens, `satisfiedBy` must follow `within`.
public struct SopRule: Sendable, Hashable {
    public var id: String
    /// The title in English, the fallback for every language.
    public var title: String
    /// The title in other languages, by tag (`sq`, `sr-Latn`, `sr-Cyrl`), from the rule's `titles`.
    public var titles: [String: String] = [:]
    public var source: Source
    /// Whether the figure (`within`) is confirmed from the source. `false`: a configurable
    /// placeholder, not law.
    public var confirmed: Bool
    public var trigger: Trigger
    public var satisfiedBy: Satisfaction
    /// How long after the trigger the rule is met.
    public var within: ISODuration
    /// `"within": {"workingDays": n}`: met by the end of the n-th working day after the trigger's
    /// local day (``RulesetClock/addWorkingDays(_:to:)``); ``within`` is then unused.
    public var withinWorkingDays: Int? = nil
    /// The shorter limit when the trigger's referral is `urgent`.
    public var urgentWithin: ISODuration?
    /// An integer field of the trigger's `data` holding the limit in days (e.g. `days` of
    /// `ReflectionPeriodStarted`); when the trigger lacks it, ``within`` applies.
    public var withinDaysFromField: String?
    /// Who must act (see ``Responsible``).
    public var responsible: Responsible
    /// A deadline is `due-soon` from `dueAt − warnBefore`; no warning window when `nil`.
    public var warnBefore: ISODuration?
    /// ``warnBefore`` for urgent triggers.
    public var urgentWarnBefore: ISODuration?
    /// Whether each satisfying event also starts the next deadline of this rule (a review
    /// every 30 days).
    public var recurring: Bool
    /// The events that end this rule's open deadlines (docs/rulesets.md). One not yet due then
    /// becomes `cancelled`; one already past due stays `overdue` (missed) for compliance. Without
    /// `cancelledBy` in the document: ``defaultCancellations(trigger:)``.
    public var cancelledBy: [Cancellation]
    /// Whether `CaseReopened` starts this rule again when the case's closure ended one of its
    /// deadlines unmet (cancelled, or missed). The new deadline runs from the reopening; the old
    /// one keeps its status. `false` without `reopenRetriggers` in the document.
    public var reopenRetriggers: Bool
    /// Where the choice of ``reopenRetriggers`` comes from, and whether it is confirmed.
    public var reopenSource: Source?
    public var reopenConfirmed: Bool

    /// An event that ends a rule's open deadlines: one of `events` whose (corrected) `data`
    /// meets `conditions`, about the deadline's referral when `sameReferral`.
    public struct Cancellation: Sendable, Hashable {
        public var events: [CaseEventType]
        public var conditions: [Condition]
        public var sameReferral: Bool
        /// Where the choice comes from; `nil` for the defaults.
        public var source: Source?
        /// Whether the choice is confirmed from its source.
        public var confirmed: Bool

        public init(
            events: [CaseEventType], conditions: [Condition] = [], sameReferral: Bool = false, source: Source? = nil,
            confirmed: Bool = false
        ) {
            self.events = events
            self.conditions = conditions
            self.sameReferral = sameReferral
            self.source = source
            self.confirmed = confirmed
        }
    }

    /// What a rule without `cancelledBy` is cancelled by (the behaviour before the field existed,
    /// plus the referral lifecycle): the case's closure; and, when its trigger names a referral,
    /// that referral's withdrawal (a withdrawn referral's steps can no longer be taken).
    public static func defaultCancellations(trigger: Trigger) -> [Cancellation] {
        var result = [Cancellation(events: [.caseClosed])]
        if trigger.events.allSatisfy(\.carriesReferralId) {
            result.append(Cancellation(events: [.referralWithdrawn], sameReferral: true))
        }
        return result
    }

    /// Where a rule comes from.
    public struct Source: Sendable, Hashable {
        public var document: String
        public var section: String?
        public var note: String?
    }

    /// The event (type and conditions on its `data`) that starts a deadline.
    public struct Trigger: Sendable, Hashable {
        public var events: [CaseEventType]
        public var conditions: [Condition]
        /// The event starts no deadline when its actor holds one of these institution kinds (the
        /// document's `exceptActorKinds`): a victim advocate that opens a case needs no referral
        /// to a victim advocate.
        public var exceptActorKinds: [InstitutionKind] = []
        /// The event starts no deadline while one of this rule is open on the case (not met, not
        /// ended; the document's `oneOpenAtATime`): a case that becomes undecided again needs a
        /// decision, but a change between two undecided statuses starts no second term.
        public var oneOpenAtATime = false
    }

    /// What meets a deadline: a later event of one of `events` whose `data` meets `conditions`,
    /// about the trigger's referral (`sameReferral`), appended by the trigger referral's
    /// recipient (`byRecipient`) or by the institution responsible for the deadline
    /// (`byResponsible`), and about a referral of one of `referralPurposes`.
    public struct Satisfaction: Sendable, Hashable {
        public var events: [CaseEventType]
        public var conditions: [Condition]
        public var sameReferral: Bool
        public var byRecipient: Bool
        public var referralPurposes: [ReferralPurpose]?
        /// Only the responsible institution's own event meets it: another party recording the act
        /// (a shelter's `GuardianAppointed` for the centre's guardian deadline) does not.
        public var byResponsible = false
    }

    /// A test on one field of an event's `data`, addressed by a dotted path (`profile.child`);
    /// with `event`, a test on events of that type only (a rule triggered by two event types
    /// whose fields differ).
    public struct Condition: Sendable, Hashable {
        public enum Test: Sendable, Hashable {
            /// The field equals the value.
            case equals(JSONValue)
            /// The field equals one of the values.
            case isOneOf([JSONValue])
            /// The field is an array containing the value.
            case contains(JSONValue)
        }

        public var field: String
        public var test: Test
        /// The event type the test applies to; `nil`: every type the rule lists.
        public var event: CaseEventType?

        public init(field: String, test: Test, event: CaseEventType? = nil) {
            self.field = field
            self.test = test
            self.event = event
        }

        /// Whether `data` meets the condition; a missing field never does.
        public func matches(_ data: JSONValue) -> Bool {
            var value: JSONValue? = data
            for component in field.split(separator: ".") { value = value?[String(component)] }
            guard let value else { return false }
            switch test {
            case .equals(let expected): return value == expected
            case .isOneOf(let options): return options.contains(value)
            case .contains(let element): return value.arrayValue?.contains(element) ?? false
            }
        }
    }

    /// Who is responsible for meeting a deadline.
    public enum Responsible: Sendable, Hashable {
        /// The recipient of the trigger's referral.
        case referralRecipient
        /// The issuer of the trigger's referral.
        case referralIssuer
        /// The institution that opened the case.
        case caseOpener
        /// The institution that appended the trigger.
        case triggerActor
        /// A named institution.
        case institution(String)
        /// The role's holder (``DeadlineEvaluator/holder(of:in:kinds:)``); the case's opener while
        /// nobody holds it.
        case role(InstitutionKind)
    }
}

extension [SopRule.Condition] {
    /// Whether an event of `type` with `data` meets every condition that applies to its type:
    /// the one reading of `where` for triggers, satisfactions and cancellations.
    func allMatch(_ type: CaseEventType, _ data: () -> JSONValue) -> Bool {
        allSatisfy { $0.event.map { $0 != type } ?? false || $0.matches(data()) }
    }
}
