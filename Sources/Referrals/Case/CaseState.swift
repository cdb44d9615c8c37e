import Foundation

/// Where a referral stands.
public enum ReferralStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case issued, acknowledged, accepted, declined, completed, withdrawn

    /// Whether the recipient still has to act (issued, acknowledged or accepted).
    public var isOpen: Bool { self != .declined && self != .completed && self != .withdrawn }
}

/// One referral of a case, as the fold sees it.
public struct Referral: Sendable, Hashable {
    public var id: String
    /// The issuing institution.
    public var from: String
    /// The recipient institution.
    public var to: String
    public var purpose: ReferralPurpose
    public var urgency: Urgency
    public var status: ReferralStatus
    public var issuedAt: Date
    public var issuedByEventId: UUID
    public var acknowledgedAt: Date?
    public var acceptedAt: Date?
    public var declinedAt: Date?
    public var declineReason: DeclineReason?
    public var completedAt: Date?
    public var outcome: CompletionOutcome?
    /// When the issuer withdrew it, and why.
    public var withdrawnAt: Date?
    public var withdrawalReason: WithdrawalReason?
    /// Issued without the consent its purpose needs, for this reason (a finding).
    public var consentOverride: ConsentOverrideReason?
    /// When a consent this referral relied on was withdrawn while the referral was open.
    public var consentWithdrawnAt: Date?
}

/// A consent as recorded.
public struct ConsentRecord: Sendable, Hashable {
    public var purpose: ConsentPurpose
    public var recipients: [String]
    public var given: Bool
    public var recordedAt: Date
    public var recordedBy: String
}

/// A reflection and recovery period.
public struct ReflectionPeriod: Sendable, Hashable {
    public var startedAt: Date
    /// As given in `ReflectionPeriodStarted`; `nil` means the ruleset's default.
    public var days: Int?
    /// The `ReflectionPeriodStarted` event: the trigger of the period's deadline, whose term is the
    /// length the annual report counts (the case projector's reflection rows).
    public var startEventId: UUID
    /// The institution that started it.
    public var startedBy: String
    public var endedAt: Date?
    public var outcome: ReflectionOutcome?
    public var isRunning: Bool { endedAt == nil }
    /// The length the annual report counts for a period started without `days` that no deadline
    /// gives a term to (no ruleset in force): the default ruleset's `reflection-period-ends` term.
    public static let defaultDays = 90
}

/// One closure of a case: when it happened, why (as corrected), and when a reopening undid it.
public struct Closure: Sendable, Hashable {
    public var closedAt: Date
    public var reason: ClosureReason
    /// When the reopening that undid it counts: when it says (no later than it was recorded), if
    /// by the closer; else when it was recorded.
    public var reopenedAt: Date?
    /// The institution that closed it.
    public var closer: String
    /// Whether the institution that closed it undid it saying the case was closed in error: then it
    /// was no closure, and the annual report counts it nowhere. Another party's reopening "in error"
    /// leaves the closure counted (attack pass 19: a shelter erased the police's closures, a past
    /// year's too).
    public var inError = false
}

/// Whether a case is open.
public enum CaseStatus: String, Sendable, Hashable, Codable {
    case open, closed
}

/// The state of one case, folded from its events in stream order.
///
/// The fold is pure and total: ``apply(_:)`` never traps and never throws. On a valid history
/// (one that ``CaseAdmission`` admitted event by event) it is exact; an event that makes no
/// sense in the current state (a decision on an unknown referral, a second `CaseOpened`) only
/// counts towards ``version``.
///
/// ```swift
/// let state = CaseState.fold(caseId: "KS-2026-000123", events: events)
/// state?.parties  // ["kp-dthb", "opav", …]
/// ```
public struct CaseState: Sendable, Hashable {
    public let caseId: String
    /// The number of events applied (the stream version).
    public private(set) var version: Int
    public private(set) var status: CaseStatus
    /// The institution that opened the case, and when.
    public let openedBy: String
    public let openedAt: Date
    public let openingEventId: UUID
    public private(set) var identificationStatus: IdentificationStatus
    public private(set) var profile: Profile
    public private(set) var riskLevel: RiskLevel?
    public private(set) var riskAssessedAt: Date?
    /// The opener, then every referral recipient, in order of first appearance.
    public private(set) var parties: [String]
    /// The referrals by id; ``referralOrder`` gives the order they were issued.
    public private(set) var referrals: [String: Referral] = [:]
    public private(set) var referralOrder: [String] = []
    public private(set) var consents: [ConsentRecord] = []
    public private(set) var guardianAppointedAt: Date?
    /// Every reflection period of the case, in the order they started (one runs at a time).
    public private(set) var reflectionPeriods: [ReflectionPeriod] = []
    /// The latest reflection period.
    public var reflectionPeriod: ReflectionPeriod? { reflectionPeriods.last }
    public private(set) var lastReviewedAt: Date?
    /// When the case was last closed (kept after a reopening: no reopening is dated before it).
    public var closedAt: Date? { closures.last?.closedAt }
    /// Why it was last closed, as corrected.
    public var closureReason: ClosureReason? { closures.last?.reason }
    /// The institution whose closure of the case as a `duplicate` stands (the case is closed, and
    /// that was its last closure), if any: the terms it met in the case do not count in the
    /// compliance figures (``DeadlineEvaluator/leaveOutOwnDuplicates(_:_:)``).
    public var duplicateClosedBy: String? {
        guard status == .closed, let closure = closures.last, closure.reason == .duplicate else { return nil }
        return closure.closer
    }
    /// When the reopening since the last closure counts (``Closure/reopenedAt``): no closure after
    /// it is dated before. Nil while the case has not been reopened since.
    public var reopenedAt: Date? { closures.last?.reopenedAt }
    public private(set) var reopenCount = 0
    /// Every closure of the case, in order, each with the reopening that undid it (the annual
    /// report counts each case closed in a year once there, by its last closure in it; a reopening
    /// no longer erases a closure of a past year).
    public private(set) var closures: [Closure] = []
    public private(set) var correctionCount = 0
    /// How many corrections each corrected event has had, by event id.
    public private(set) var correctionsOf: [UUID: Int] = [:]
    /// How many events each institution has recorded in the case, and how many of them were
    /// corrections (the limits of ``CaseAdmission`` are each institution's own).
    public private(set) var eventsBy: [String: Int] = [:]
    public private(set) var correctionsBy: [String: Int] = [:]
    /// The effective (corrected) body of every event, by event id: what `RecordCorrected`
    /// validates against and merges into.
    public private(set) var bodies: [UUID: CaseEventBody] = [:]
    /// The institution that recorded each event (as ``bodies``): only it may correct the event.
    public private(set) var recordedBy: [UUID: String] = [:]

    private var partySet: Set<String>
    private var identificationSetBy: UUID
    private var riskSetBy: UUID?
    /// The `ReflectionPeriodStarted` of the latest period.
    public private(set) var reflectionSetBy: UUID?
    /// The closure each `CaseClosed` made or `CaseReopened` undid, and the period each
    /// `ReflectionPeriodEnded` ended, by event id (indices into ``closures`` and
    /// ``reflectionPeriods``): what a correction of that event changes.
    private var closureBy: [UUID: Int] = [:]
    private var reflectionEndedBy: [UUID: Int] = [:]

    /// Starts a case from its `CaseOpened` event; `nil` for any other event.
    public init?(caseId: String, opening event: CaseEvent) {
        guard case .caseOpened(let status, let profile) = event.body else { return nil }
        self.caseId = caseId
        version = 1
        self.status = .open
        openedBy = event.actor.institution
        openedAt = event.occurredAt
        openingEventId = event.id
        identificationStatus = status
        self.profile = profile
        parties = [event.actor.institution]
        partySet = [event.actor.institution]
        identificationSetBy = event.id
        bodies[event.id] = event.body
        recordedBy[event.id] = event.actor.institution
        eventsBy[event.actor.institution] = 1  // the opening is the opener's first event in the case
    }

    /// Folds a history. `nil` when it is empty or does not start with `CaseOpened`.
    public static func fold(caseId: String, events: some Sequence<CaseEvent>) -> CaseState? {
        var state: CaseState?
        for event in events {
            if state == nil {
                state = CaseState(caseId: caseId, opening: event)
                if state == nil { return nil }
            } else {
                state!.apply(event)
            }
        }
        return state
    }

    /// ``fold(caseId:events:)`` one step at a time: `nil` plus `CaseOpened` starts a case.
    public static func applying(_ event: CaseEvent, to state: CaseState?, caseId: String) -> CaseState? {
        guard var state else { return CaseState(caseId: caseId, opening: event) }
        state.apply(event)
        return state
    }

    /// Whether `institution` is a party: it opened the case or a referral names it.
    public func isParty(_ institution: String) -> Bool { partySet.contains(institution) }

    /// Whether the person is a child, per the (corrected) profile.
    public var isChild: Bool { profile.child }
    public var isClosed: Bool { status == .closed }
    public var guardianAppointed: Bool { guardianAppointedAt != nil }

    /// Whether the victim's consent to a referral of `purpose` to `recipient` is in force: the
    /// latest `ConsentRecorded` of that purpose naming that recipient gave it (a later
    /// `given: false` withdraws it).
    public func hasConsent(purpose: ReferralPurpose, recipient: String) -> Bool {
        consents.last { $0.purpose.rawValue == purpose.rawValue && $0.recipients.contains(recipient) }?.given ?? false
    }

    /// Whether the victim's consent covers a referral of `purpose` to `recipient` dated `at`: given
    /// as the case stands now, and already given by `at` (a referral cannot be dated before the
    /// consent it relies on, nor before a withdrawal recorded since).
    public func hasConsent(purpose: ReferralPurpose, recipient: String, at: Date) -> Bool {
        func covers(_ c: ConsentRecord) -> Bool {
            c.purpose.rawValue == purpose.rawValue && c.recipients.contains(recipient)
        }
        return hasConsent(purpose: purpose, recipient: recipient)
            && (consents.last { covers($0) && $0.recordedAt <= at }?.given ?? false)
    }

    /// Referrals still waiting for their recipient, in issue order.
    public var openReferrals: [Referral] { referralOrder.compactMap { referrals[$0] }.filter { $0.status.isOpen } }

    /// Applies the next event of the stream.
    public mutating func apply(_ event: CaseEvent) {
        version += 1
        let at = event.occurredAt
        eventsBy[event.actor.institution, default: 0] += 1
        if case .recordCorrected = event.body {
            correctionsBy[event.actor.institution, default: 0] += 1
        } else {
            bodies[event.id] = event.body
            recordedBy[event.id] = event.actor.institution
        }
        switch event.body {
        case .caseOpened:
            break  // a second opening is not a valid history; only the version counts
        case .referralIssued(let id, let to, let purpose, let urgency, let override):
            guard referrals[id] == nil else { return }
            referrals[id] = Referral(
                id: id, from: event.actor.institution, to: to, purpose: purpose, urgency: urgency, status: .issued,
                issuedAt: at, issuedByEventId: event.id, consentOverride: override)
            referralOrder.append(id)
            addParty(to)
        case .referralAcknowledged(let id), .referralAccepted(let id), .referralDeclined(let id, _),
            .referralCompleted(let id, _), .referralWithdrawn(let id, _):
            // The same function admission asks: a step it would refuse changes nothing here.
            guard let r = referrals[id], let next = try? ReferralLifecycle.applying(event, to: r) else { return }
            referrals[id] = next
        case .riskAssessed(let level):
            riskLevel = level
            riskAssessedAt = at
            riskSetBy = event.id
        case .identificationStatusChanged(let newStatus):
            identificationStatus = newStatus
            identificationSetBy = event.id
        case .consentRecorded(let purpose, let recipients, let given):
            consents.append(
                ConsentRecord(
                    purpose: purpose, recipients: recipients, given: given, recordedAt: at,
                    recordedBy: event.actor.institution))
            if !given {
                // A withdrawal flags the open referrals it covered (they stay open: who acts on
                // them, and how, is for the institutions to decide).
                for id in referralOrder {
                    guard var r = referrals[id], r.status.isOpen, r.consentWithdrawnAt == nil,
                        recipients.contains(r.to), purpose.rawValue == r.purpose.rawValue
                    else { continue }
                    r.consentWithdrawnAt = at
                    referrals[id] = r
                }
            }
        case .guardianAppointed:
            if guardianAppointedAt == nil { guardianAppointedAt = at }
        case .reflectionPeriodStarted(let days):
            guard reflectionPeriod?.isRunning != true else { return }
            reflectionPeriods.append(
                ReflectionPeriod(
                    startedAt: at, days: days, startEventId: event.id, startedBy: event.actor.institution))
            reflectionSetBy = event.id
        case .reflectionPeriodEnded(let outcome):
            guard reflectionPeriod?.isRunning == true else { return }
            reflectionPeriods[reflectionPeriods.count - 1].endedAt = at
            reflectionPeriods[reflectionPeriods.count - 1].outcome = outcome
            reflectionEndedBy[event.id] = reflectionPeriods.count - 1
        case .caseReviewed:
            lastReviewedAt = at
        case .caseClosed(let reason):
            guard status == .open else { return }
            status = .closed
            closures.append(Closure(closedAt: at, reason: reason, closer: event.actor.institution))
            closureBy[event.id] = closures.count - 1
        case .caseReopened(let reason):
            guard status == .closed else { return }
            status = .open
            // The closer's own reopening counts when it says (no later than it was recorded);
            // another party's when it was recorded: nobody moves another institution's closure in
            // time (attack pass 20 had a shelter reopen the police's closure of last year, dated a
            // second after it, and the case turned "open" at the end of that published year). One
            // time for the case and its closure, which the next closure may not precede.
            let closer = closures.last?.closer
            if !closures.isEmpty {
                closures[closures.count - 1].reopenedAt =
                    event.actor.institution == closer ? event.occurredAtCapped : event.recordedOrOccurredAt
                closures[closures.count - 1].inError = reason == .closedInError && event.actor.institution == closer
                closureBy[event.id] = closures.count - 1  // the closure this reopening undid
            }
            reopenCount += 1
        case .recordCorrected(let targetId, _, let correction):
            applyCorrection(of: targetId, with: correction)
        }
    }

    private mutating func addParty(_ institution: String) {
        if partySet.insert(institution).inserted { parties.append(institution) }
    }

    /// Merges a correction into the corrected event's body and carries the effect into the
    /// state where that event still determines it: the profile; the identification status, risk
    /// level or reflection days if no later event has replaced them; a decline's or withdrawal's
    /// reason and a completion's outcome; a closure's reason; an ended period's outcome. Every
    /// field a correction may change (``CaseEventBody``: not what identifies a record or was
    /// decided on when it was made) is carried: an auditor's pass corrected a decline's reason and
    /// a period's outcome, was answered 201, and the figures kept the old values.
    private mutating func applyCorrection(of targetId: UUID, with correction: JSONObject) {
        guard let original = bodies[targetId],
            let corrected = try? CaseEventBody.decode(
                type: original.type, data: original.data.merging(.object(correction)))
        else { return }
        correctionCount += 1
        correctionsOf[targetId, default: 0] += 1
        bodies[targetId] = corrected
        switch corrected {
        case .caseOpened(let status, let newProfile):
            profile = newProfile
            if identificationSetBy == targetId { identificationStatus = status }
        case .referralDeclined(let id, let reason) where referrals[id]?.status == .declined:
            referrals[id]?.declineReason = reason
        case .referralWithdrawn(let id, let reason) where referrals[id]?.status == .withdrawn:
            referrals[id]?.withdrawalReason = reason
        case .referralCompleted(let id, let outcome) where referrals[id]?.status == .completed:
            referrals[id]?.outcome = outcome
        case .caseClosed(let reason):
            guard let index = closureBy[targetId] else { break }
            closures[index].reason = reason
        case .caseReopened(let reason):
            // Whether the closure it undid was one made in error, as its closer now says (attack
            // pass 21: the corrected reason changed the record and not the figures).
            guard let index = closureBy[targetId] else { break }
            closures[index].inError = reason == .closedInError && recordedBy[targetId] == closures[index].closer
        case .reflectionPeriodEnded(let outcome):
            guard let index = reflectionEndedBy[targetId] else { break }
            reflectionPeriods[index].outcome = outcome
        case .riskAssessed(let level) where riskSetBy == targetId:
            riskLevel = level
        case .identificationStatusChanged(let newStatus) where identificationSetBy == targetId:
            identificationStatus = newStatus
        case .reflectionPeriodStarted(let days) where reflectionSetBy == targetId && !reflectionPeriods.isEmpty:
            reflectionPeriods[reflectionPeriods.count - 1].days = days
        default:
            break
        }
    }
}
