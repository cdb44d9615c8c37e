import Foundation

/// What admission needs to know beyond the case itself.
public struct AdmissionContext: Sendable {
    /// The registered institutions that work on cases (from the `institutions` stream;
    /// ``Institution/worksOnCases``), each with its kinds: those a referral or a consent may name,
    /// and who may record events in cases.
    public var institutions: [String: [InstitutionKind]]
    /// The current time, injected: this module reads no clock.
    public var now: Date
    /// How far `occurredAt` may lie in the future, for clock skew between institutions (5 min).
    public var allowedClockSkew: TimeInterval
    /// Every published ruleset version: their consent policies decide which referrals need consent.
    public var rulesets: [Ruleset]

    public init(
        institutions: [String: [InstitutionKind]], now: Date, allowedClockSkew: TimeInterval = 300,
        rulesets: [Ruleset] = []
    ) {
        self.institutions = institutions
        self.now = now
        self.allowedClockSkew = allowedClockSkew
        self.rulesets = rulesets
    }

    /// ``init(institutions:now:allowedClockSkew:rulesets:)`` with the institutions of a list that
    /// work on cases.
    public init(
        registered: [Institution], now: Date, allowedClockSkew: TimeInterval = 300, rulesets: [Ruleset] = []
    ) {
        self.init(
            institutions: Dictionary(
                registered.filter(\.worksOnCases).map { ($0.id, $0.kinds) }, uniquingKeysWith: { _, last in last }),
            now: now, allowedClockSkew: allowedClockSkew, rulesets: rulesets)
    }

    /// Whether `institution` is registered to work on cases.
    public func isRegistered(_ institution: String) -> Bool { institutions[institution] != nil }

    /// The earliest `effectiveFrom` of the published rulesets: no event may be dated before it
    /// (nil while none is published).
    public var earliestEffectiveFrom: Date? { rulesets.map(\.effectiveFrom).min() }

    /// Whether a referral of `purpose` recorded now needs the victim's consent: some ruleset
    /// series in force now (by `effectiveFrom`, at the time of recording — a backdated
    /// `occurredAt` cannot pick an older policy) has a consent policy that requires it.
    public func consentRequired(for purpose: ReferralPurpose) -> Bool {
        Dictionary(grouping: rulesets, by: \.id).values.contains { versions in
            let sorted = versions.sorted { ($0.effectiveFrom, $0.version) < ($1.effectiveFrom, $1.version) }
            return DeadlineEvaluator.inForce(sorted, at: now)?.consent?.requiresConsent(purpose) ?? false
        }
    }
}

/// The gate every case event passes before it is appended: decoding, the write policy and the
/// checks that need the case's current state.
public enum CaseAdmission {
    /// The most events one institution records in a case (a case of years of monthly reviews and
    /// dozens of referrals holds a few hundred in all). Each institution's own, so that no party
    /// can use up a case for the others (an attack pass filled a case's limit from a shelter, and
    /// no party could record anything in it any more).
    public static let maxEventsPerInstitution = 1_000
    /// The most corrections of one event, and by one institution in a case.
    public static let maxCorrectionsPerEvent = 10
    public static let maxCorrectionsPerInstitution = 100
    /// The most referrals one institution has open in a case (issued, acknowledged or accepted,
    /// not declined, completed or withdrawn). Each open referral holds two running deadlines of
    /// its recipient, weighed against every event of the case and in every pass of every
    /// correction: an attack pass opened 888 referrals to the prosecution in one case and
    /// corrected it a hundred times, and every later append to the case — the prosecution's own
    /// answers included — held every institution's read models back seven seconds.
    public static let maxOpenReferralsPerInstitution = 50
    /// The most reflection periods one institution starts in a case. A person is given one, at
    /// times a second; each period is a deadline met when it ends, and an attack pass started and
    /// ended 470 one-day periods in one request: 470 met deadlines, the shelter's on-time rate from
    /// 81.6 % to 95.9 %.
    public static let maxReflectionPeriodsPerInstitution = 3

    /// Admits one event for `principal` onto a case whose current state is `state` (`nil` if the
    /// case does not exist yet), returning the typed event to append. For a batch, fold each
    /// admitted event into the state before admitting the next.
    ///
    /// Order of checks, so that each failure has one meaning:
    /// 1. `caseId` format and a known `type` → `invalid_event`;
    /// 2. ``CasePolicy/authorizeAppend(_:type:to:kinds:)`` → `forbidden`, `not_found`,
    ///    `wrong_expected_version`, `invalid_event` (closed case);
    /// 3. ``CaseEventBody/decode(type:data:)`` → `invalid_event` with the field path;
    /// 4. `occurredAt` at most ``AdmissionContext/allowedClockSkew`` after `now`, and not before
    ///    ``AdmissionContext/earliestEffectiveFrom`` → `invalid_event`;
    /// 5. ``validateInContext(_:state:context:)`` → `invalid_event` (an `occurredAt` before the
    ///    case's opening or before the referral it acts on among them), `forbidden` when someone
    ///    other than the recipient acts on a referral or other than the issuer withdraws it
    ///    (``ReferralLifecycle``), `consent_required` for a referral whose
    ///    purpose needs consent without it or an override.
    ///
    /// ```swift
    /// let event = try CaseAdmission.admit(
    ///     principal: .institution("opav", user: "advocate-7"), caseId: "KS-2026-000123", state: state,
    ///     id: UUID(), type: "ReferralAccepted", data: ["referralId": "R-1"], occurredAt: now,
    ///     context: AdmissionContext(registered: Institution.demo, now: now))
    /// ```
    public static func admit(
        principal: Principal, caseId: String, state: CaseState?, id: UUID, type: String, data: JSONValue,
        occurredAt: Date, context: AdmissionContext
    ) throws(ReferralsError) -> CaseEvent {
        guard Identifiers.isValidCaseId(caseId) else {
            throw .invalidEvent("caseId", "must be 1-64 characters of A-Z, a-z, 0-9 and -")
        }
        guard let eventType = CaseEventType(rawValue: type) else {
            throw .invalidEvent("type", "is not a known case event type")
        }
        try CasePolicy.authorizeAppend(principal, type: eventType, to: state, kinds: context.institutions)
        // Only an institution registered to work on cases acts in one: not one the registry does not
        // know, nor the coordinator's or the auditor's (their bodies monitor cases), whatever token
        // an operator issued for it by mistake.
        guard let institution = principal.institution, context.isRegistered(institution) else {
            throw ReferralsError(
                .forbidden, "Only an institution registered to work on cases records events in them.")
        }
        let body = try CaseEventBody.decode(type: eventType, data: data)
        let event = CaseEvent(
            id: id, occurredAt: occurredAt,
            actor: Actor(institution: principal.institution ?? "", user: principal.user),
            body: body)
        try validateInContext(event, state: state, context: context)
        return event
    }

    /// Whether `event` is its actor's step on a referral addressed to it (acknowledging,
    /// accepting, declining or completing it).
    static func answersItsOwnReferral(_ event: CaseEvent, in state: CaseState) -> Bool {
        switch event.body {
        case .referralAcknowledged(let id), .referralAccepted(let id), .referralDeclined(let id, _),
            .referralCompleted(let id, _):
            return state.referrals[id]?.to == event.actor.institution
        default:
            return false
        }
    }

    /// The checks of an event against the case's current state and the registry, assuming the
    /// write policy passed: `occurredAt` not in the future nor before the earliest published
    /// ruleset took effect; referral ids new for
    /// `ReferralIssued` and existing (in a state that allows the step) for the other referral
    /// events; only the recipient acts on a referral; recipients registered and not the issuer;
    /// one reflection period at a time; a status change that changes something; corrections
    /// that name an event of this case recorded by the same institution and still decode once
    /// merged.
    ///
    /// - Throws: `invalid_event` with the field, or `forbidden` (not the recipient; for a
    ///   withdrawal, not the issuer; a correction of another institution's event).
    public static func validateInContext(
        _ event: CaseEvent, state: CaseState?, context: AdmissionContext
    ) throws(ReferralsError) {
        guard event.occurredAt <= context.now.addingTimeInterval(context.allowedClockSkew) else {
            throw .invalidEvent("occurredAt", "must not be in the future")
        }
        // Nothing the procedures govern happened before the first of them took effect: a trigger
        // dated earlier would be judged by no ruleset, so no deadline would ever run on it — nor
        // on the referrals issued on a case "opened" then (docs/time-of-record.md).
        if let earliest = context.earliestEffectiveFrom, event.occurredAt < earliest {
            throw .invalidEvent(
                "occurredAt", "must not be before the SOP procedures took effect (\(Timestamp.format(earliest)))")
        }
        guard let state else { return }
        // A case is a person's record of handoffs, not a log to fill: bounded, so that its history,
        // its fold and its deadline evaluation stay small (an attack pass filled a case with 30,000
        // reviews, and each read of its history held 23 MB).
        // Except a recipient's step on a referral addressed to it: its answers are bounded by the
        // referrals others may issue, and an issuer that drove its recipient to the cap (a
        // referral answered in two or three steps) left every later referral to it unanswerable,
        // a miss the recipient could do nothing about (attack pass 18).
        guard
            state.eventsBy[event.actor.institution, default: 0] < CaseAdmission.maxEventsPerInstitution
                || Self.answersItsOwnReferral(event, in: state)
        else {
            throw .invalidEvent(
                "type",
                "an institution records at most \(CaseAdmission.maxEventsPerInstitution) events in a case")
        }
        // Time of record: nothing happens to a case before it was opened, and nothing to a
        // referral before it was issued (docs/time-of-record.md).
        if case .caseOpened = event.body {
        } else if event.occurredAt < state.openedAt {
            throw .invalidEvent(
                "occurredAt", "must not be before the case was opened (\(Timestamp.format(state.openedAt)))")
        }
        if let id = event.body.referralId, event.type != .referralIssued, let referral = state.referrals[id],
            event.occurredAt < referral.issuedAt
        {
            throw .invalidEvent(
                "occurredAt", "must not be before the referral was issued (\(Timestamp.format(referral.issuedAt)))")
        }
        switch event.body {
        case .caseOpened:
            return
        case .referralIssued(let referralId, let to, let purpose, _, let override):
            guard state.referrals[referralId] == nil else {
                throw .invalidEvent("data.referralId", "already exists in this case")
            }
            guard context.isRegistered(to) else {
                throw .invalidEvent("data.to", "is not a registered institution that works on cases")
            }
            // A purpose that carries powers (no consent needed, a role's deadlines, closing the
            // case) goes only to an institution whose kind serves it.
            if let kinds = purpose.recipientKinds, !(context.institutions[to] ?? []).contains(where: kinds.contains) {
                throw .invalidEvent(
                    "data.to",
                    "a \(purpose.rawValue) referral goes to an institution of kind "
                        + kinds.map(\.rawValue).joined(separator: " or "))
            }
            guard to != event.actor.institution else {
                throw .invalidEvent("data.to", "must name another institution than the issuer")
            }
            // The reason is a claim about the case: the child's best interest is a child's
            // (attack pass 22: it was accepted on an adult's case, and the profile corrected later).
            if override == .childBestInterest, !state.isChild {
                throw .invalidEvent(
                    "data.consentOverride.reason", "child-best-interest is a reason only on a child's case")
            }
            guard
                state.referrals.values.filter({ $0.from == event.actor.institution && $0.status.isOpen }).count
                    < CaseAdmission.maxOpenReferralsPerInstitution
            else {
                throw .invalidEvent(
                    "type",
                    "an institution has at most \(CaseAdmission.maxOpenReferralsPerInstitution) referrals open in a "
                        + "case: complete or withdraw one first")
            }
            if override == nil, context.consentRequired(for: purpose),
                !state.hasConsent(purpose: purpose, recipient: to, at: event.occurredAt)
            {
                throw ReferralsError(
                    .consentRequired, field: "data.consentOverride",
                    "a \(purpose.rawValue) referral to \(to) needs the victim's consent: record ConsentRecorded "
                        + "{given: true} for this purpose and recipient first, or give consentOverride.reason "
                        + "(imminent-danger, child-best-interest, legal-obligation, other)")
            }
        case .referralAcknowledged(let referralId), .referralAccepted(let referralId),
            .referralDeclined(let referralId, _), .referralCompleted(let referralId, _),
            .referralWithdrawn(let referralId, _):
            guard let referral = state.referrals[referralId] else {
                throw .invalidEvent("data.referralId", "is not a referral of this case")
            }
            _ = try ReferralLifecycle.applying(event, to: referral)
            if case .referralDeclined = event.body, !CasePolicy.mayDecline(referral, state) {
                throw .invalidEvent(
                    "type",
                    "this institution referred the case on to a new party after this referral reached it, so it "
                        + "took the case on: it does not decline it")
            }
        case .consentRecorded(let purpose, let recipients, let given):
            for (i, recipient) in recipients.enumerated() where !context.isRegistered(recipient) {
                throw .invalidEvent("data.recipients[\(i)]", "is not a registered institution that works on cases")
            }
            // A party in name only records no consent given (CasePolicy's rule 8); any party
            // records a withdrawal, which only protects the victim (attack pass 23).
            if given, !CasePolicy.isActiveParty(event.actor.institution, state) {
                throw CasePolicy.partyInNameOnly
            }
            // The victim's consent to share with an institution is recorded by another: one that
            // names itself would certify its own access (attack pass 22: a shelter the victim had
            // withdrawn consent from recorded it given again, and was referred to on it). A
            // withdrawal naming the recorder is its own word against itself, and stands.
            if given, let i = recipients.firstIndex(of: event.actor.institution) {
                throw .invalidEvent(
                    "data.recipients[\(i)]",
                    "an institution does not record the victim's consent to its own receipt: the institution "
                        + "that asked the victim records it")
            }
            // The victim's latest word is the latest record: a consent dated before a record it
            // would override (a withdrawal, say) would let the stream's order and the dates disagree.
            if let latest = state.consents.filter({
                $0.purpose == purpose && !Set($0.recipients).isDisjoint(with: recipients)
            }).map(\.recordedAt).max(), event.occurredAt < latest {
                throw .invalidEvent(
                    "occurredAt",
                    "must not be before the latest consent record for this purpose and recipient "
                        + "(\(Timestamp.format(latest)))")
            }
            // Nor before a referral already on the record for this purpose to one of its recipients:
            // a withdrawal dated before such a referral would show its issuer referring after the
            // victim had withdrawn consent, which it could not have known (an eleventh attack pass:
            // the recipient itself recorded it), and a consent so dated would cover a referral made
            // without it.
            if let referral = state.referralOrder.lazy.compactMap({ state.referrals[$0] }).first(where: {
                $0.purpose.rawValue == purpose.rawValue && recipients.contains($0.to) && event.occurredAt < $0.issuedAt
            }) {
                throw .invalidEvent(
                    "occurredAt",
                    "must not be before referral \(referral.id) for this purpose and recipient was issued "
                        + "(\(Timestamp.format(referral.issuedAt)))")
            }
        case .reflectionPeriodStarted:
            guard state.reflectionPeriod?.isRunning != true else {
                throw .invalidEvent("type", "a reflection period is already running")
            }
            guard
                state.reflectionPeriods.count(where: { $0.startedBy == event.actor.institution })
                    < CaseAdmission.maxReflectionPeriodsPerInstitution
            else {
                throw .invalidEvent(
                    "type",
                    "an institution starts at most \(CaseAdmission.maxReflectionPeriodsPerInstitution) reflection "
                        + "periods in a case")
            }
            // Periods follow one another: a new one dated inside the last would take its place in
            // the year's figures (an attack pass moved a 10-day period out of the year's table).
            if let ended = state.reflectionPeriod?.endedAt, event.occurredAt < ended {
                throw .invalidEvent(
                    "occurredAt",
                    "must not be before the last reflection period ended (\(Timestamp.format(ended)))")
            }
        case .reflectionPeriodEnded:
            guard let period = state.reflectionPeriod, period.isRunning else {
                throw .invalidEvent("type", "no reflection period is running")
            }
            guard event.occurredAt >= period.startedAt else {
                throw .invalidEvent(
                    "occurredAt",
                    "must not be before the reflection period started (\(Timestamp.format(period.startedAt)))")
            }
        case .identificationStatusChanged(let status):
            guard status != state.identificationStatus else {
                throw .invalidEvent("data.status", "is already the identification status")
            }
        case .recordCorrected(let targetId, _, let correction):
            guard let original = state.bodies[targetId] else {
                throw .invalidEvent("data.correctsEventId", "is not an event of this case")
            }
            // Each institution answers for its own record: another's is not its to rewrite.
            guard state.recordedBy[targetId] == event.actor.institution else {
                throw ReferralsError(
                    .forbidden, field: "data.correctsEventId",
                    "only the institution that recorded an event may correct it")
            }
            // Each correction is a pass of the deadline evaluation: bounded per record and per case
            // (an attack pass sent 3,000 corrections of one event and held the projector back for
            // every case for a minute per append).
            guard state.correctionsOf[targetId, default: 0] < CaseAdmission.maxCorrectionsPerEvent,
                state.correctionsBy[event.actor.institution, default: 0] < CaseAdmission.maxCorrectionsPerInstitution
            else {
                throw .invalidEvent(
                    "data.correctsEventId",
                    "a record may be corrected at most \(CaseAdmission.maxCorrectionsPerEvent) times, and an "
                        + "institution makes at most \(CaseAdmission.maxCorrectionsPerInstitution) corrections in a case"
                )
            }
            // A period's length is corrected only while it runs: once ended, its deadline was
            // judged by it (an attack pass turned an ended 10-day period into 90 days in the report).
            if case .reflectionPeriodStarted = original,
                state.reflectionSetBy != targetId || state.reflectionPeriod?.isRunning != true
            {
                throw .invalidEvent(
                    "data.correctsEventId", "a reflection period's start is corrected only while the period runs")
            }
            do {
                _ = try CaseEventBody.decode(type: original.type, data: original.data.merging(.object(correction)))
            } catch {
                let field = error.field.map { $0.hasPrefix("data.") ? "data.correction." + $0.dropFirst(5) : $0 }
                throw .invalidEvent(field, "the corrected record would be invalid: \(error.message)")
            }
        case .caseReopened:
            // A reopening follows the closure it undoes (dated before it, it would claim the case
            // open while it was closed).
            if let closedAt = state.closedAt, event.occurredAt < closedAt {
                throw .invalidEvent(
                    "occurredAt", "must not be before the case was closed (\(Timestamp.format(closedAt)))")
            }
        case .caseClosed:
            if let reopenedAt = state.reopenedAt, event.occurredAt < reopenedAt {
                throw .invalidEvent(
                    "occurredAt", "must not be before the case was reopened (\(Timestamp.format(reopenedAt)))")
            }
        case .riskAssessed, .guardianAppointed, .caseReviewed:
            return
        }
    }
}
