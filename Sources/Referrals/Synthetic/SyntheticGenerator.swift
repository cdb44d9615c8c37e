import Foundation

/// One generated case: a pseudonymous id and its events in stream order.
public struct SyntheticCase: Sendable, Hashable {
    public var caseId: String
    public var events: [CaseEvent]
}

/// One event of a generated history, with its case.
public struct SyntheticEvent: Sendable, Hashable {
    public var caseId: String
    /// The event's version in its case stream (1, 2, …).
    public var version: Int
    public var event: CaseEvent
    public var type: CaseEventType { event.type }
    public var data: JSONValue { event.body.data }
}

/// Synthetic referral flows between the demo institutions, deterministic from a seed.
///
/// Every case is generated from its own PRNG stream, seeded by (seed, index), so case *n* is the
/// same whether generated alone, in a batch or lazily. Flows follow the Kosovo referral
/// practice: police (sometimes social work or a victim advocate) open a case, refer to OPAV,
/// assess risk, place the person in a shelter (PVPT may decline for lack of capacity, then
/// ISF), involve social work and a guardian for children, the prosecution, a reflection
/// period, IOM return assistance, reviews and closure. Delays are drawn so that, relative to
/// `now`, some deadlines are met, some met late, some overdue, some due soon. Cases start
/// across `window` ending at `now`; events after `now` are not emitted, so recent cases are
/// still running.
///
/// Nothing here is real: ids are pseudonyms (`KS-2026-000123`, `officer-1182`) and profiles
/// are banded codes.
public struct SyntheticGenerator: Sendable {
    public let seed: UInt64
    public let now: Date
    /// How far back cases start (default 400 days).
    public let window: TimeInterval

    public init(seed: UInt64, now: Date, window: TimeInterval = 400 * 86_400) {
        self.seed = seed
        self.now = now
        self.window = window
    }

    /// Cases `0..<count`.
    public func cases(count: Int) -> [SyntheticCase] { (0..<count).map(makeCase) }

    /// A lazy history of `caseCount` cases, case after case, holding one case in memory at a
    /// time: for benchmarks of millions of events.
    public func history(caseCount: Int) -> SyntheticHistory { SyntheticHistory(generator: self, caseCount: caseCount) }

    /// Case number `index` (0-based).
    public func makeCase(index: Int) -> SyntheticCase {
        var rng = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03))
        _ = rng.next()
        var flow = Flow(rng: rng, now: now)
        flow.build(start: now.addingTimeInterval(-Double.random(in: 0..<window, using: &flow.rng)))
        let year = Timestamp.civil(flow.start).year
        let number = String(index + 1)
        let caseId = "KS-\(year)-" + String(repeating: "0", count: max(0, 6 - number.count)) + number
        return SyntheticCase(caseId: caseId, events: flow.finish())
    }
}

/// The lazy sequence of ``SyntheticGenerator/history(caseCount:)``.
public struct SyntheticHistory: Sequence, Sendable {
    let generator: SyntheticGenerator
    let caseCount: Int

    public struct Iterator: IteratorProtocol {
        let generator: SyntheticGenerator
        let caseCount: Int
        var nextCase = 0
        var current: SyntheticCase?
        var position = 0

        public mutating func next() -> SyntheticEvent? {
            while current == nil || position >= current!.events.count {
                guard nextCase < caseCount else { return nil }
                current = generator.makeCase(index: nextCase)
                nextCase += 1
                position = 0
            }
            defer { position += 1 }
            return SyntheticEvent(caseId: current!.caseId, version: position + 1, event: current!.events[position])
        }
    }

    public func makeIterator() -> Iterator { Iterator(generator: generator, caseCount: caseCount) }
}

/// Builds one case: schedules events at times that respect their dependencies, then orders
/// them, applies closure and cuts at `now`.
struct Flow {
    var rng: SplitMix64
    let now: Date
    var start = Date(timeIntervalSince1970: 0)
    var scheduled: [(at: Date, seq: Int, actor: Actor, body: CaseEventBody)] = []
    var users: [String: String] = [:]
    var referralCount = 0
    /// Whether the case's person is a child (set by ``build(start:)``).
    var child = false
    var closeAt: Date?
    var reopenAt: Date?
    var secondCloseAt: Date?
    /// The schedule index of each correction's target; ids are assigned in ``finish()``.
    var correctionTargets: [Int: Int] = [:]

    init(rng: SplitMix64, now: Date) {
        self.rng = rng
        self.now = now
    }

    mutating func user(_ institution: String) -> String {
        if let u = users[institution] { return u }
        let prefix: String =
            switch institution {
            case "kp-dthb": "officer"
            case "ksp": "prosecutor"
            case "opav": "advocate"
            case "csw-prishtina": "social-worker"
            case "isf", "pvpt": "shelter-staff"
            case "iom-kosovo": "caseworker"
            default: "user"
            }
        let u = "\(prefix)-\(Int.random(in: 1000...1999, using: &rng))"
        users[institution] = u
        return u
    }

    mutating func add(_ at: Date, _ institution: String, _ body: CaseEventBody) {
        scheduled.append((at, scheduled.count, Actor(institution: institution, user: user(institution)), body))
    }

    /// A delay for a step with deadline `hours`: mostly on time, sometimes late, sometimes never.
    mutating func delay(within hours: Double, lateChance: Double = 0.15, missChance: Double = 0.05) -> TimeInterval? {
        let x = Double.random(in: 0..<1, using: &rng)
        if x < missChance { return nil }
        if x < missChance + lateChance { return rng.hours(hours * 1.05...hours * 2.5) }
        return rng.hours(hours * 0.05...hours * 0.9)
    }

    /// Issues a referral and schedules the recipient's response; returns the referral id and
    /// the time it was accepted, if it was.
    @discardableResult
    mutating func refer(
        at: Date, from: String, to: String, purpose: ReferralPurpose, urgent: Bool = false, declineChance: Double = 0,
        completeAfterDays: ClosedRange<Double>? = nil
    ) -> (id: String, acceptedAt: Date?) {
        referralCount += 1
        let id = "R-\(referralCount)"
        // Consent first where the default ruleset asks for it; now and then an override instead
        // (a finding the coordinator sees), as in practice.
        var override: ConsentOverrideReason?
        if Ruleset.kosovoDefault.consent?.requiresConsent(purpose) ?? false {
            if rng.chance(0.04) {
                override = rng.pick([.imminentDanger, .childBestInterest, .legalObligation])
                // (Drawn from the same three whatever the case, so the rest of the history stays as
                // the seed made it; the child's best interest only for a child.)
                if override == .childBestInterest, !child { override = .imminentDanger }
            } else if let consent = ConsentPurpose(rawValue: purpose.rawValue) {
                add(at, from, .consentRecorded(purpose: consent, recipients: [to], given: true))
            }
        }
        add(
            at, from,
            .referralIssued(
                referralId: id, to: to, purpose: purpose, urgency: urgent ? .urgent : .routine,
                consentOverride: override))
        let ackLimit: Double = urgent ? 2 : 24
        guard let ack = delay(within: ackLimit) else {
            // Now and then the issuer takes back a referral nobody answered (sent in error, or
            // no longer needed).
            if rng.chance(0.3) {
                add(
                    at.addingTimeInterval((ackLimit + 1) * 3600), from,
                    .referralWithdrawn(referralId: id, reason: rng.pick([.issuedInError, .noLongerNeeded, .duplicate])))
            }
            return (id, nil)
        }
        let ackAt = at.addingTimeInterval(ack)
        if rng.chance(0.6) { add(ackAt, to, .referralAcknowledged(referralId: id)) }
        if rng.chance(declineChance) {
            add(
                ackAt.addingTimeInterval(rng.hours(0.1...20)), to,
                .referralDeclined(
                    referralId: id, reason: rng.pick([.noCapacity, .noCapacity, .notEligible, .outsideMandate])))
            return (id, nil)
        }
        guard let decide = delay(within: 72, lateChance: 0.1, missChance: 0.03) else { return (id, nil) }
        let acceptedAt = max(ackAt.addingTimeInterval(60), at.addingTimeInterval(decide))
        add(acceptedAt, to, .referralAccepted(referralId: id))
        if let completeAfterDays, rng.chance(0.7) {
            add(
                acceptedAt.addingTimeInterval(Double.random(in: completeAfterDays, using: &rng) * 86_400), to,
                .referralCompleted(
                    referralId: id,
                    outcome: rng.weighted([(.servicesProvided, 8), (.victimWithdrew, 1), (.transferred, 1)])))
        }
        return (id, acceptedAt)
    }

    mutating func build(start t0: Date) {
        start = t0
        let opener = rng.weighted([("kp-dthb", 8.0), ("csw-prishtina", 1.0), ("opav", 1.0)])
        let childBand: AgeBand? = rng.chance(0.25) ? rng.pick([.age0to11, .age12to14, .age15to17, .age15to17]) : nil
        let ageBand =
            childBand
            ?? rng.weighted([
                (.age18to24, 5.0), (.age25to34, 4.0), (.age35to49, 2.0), (.age50plus, 0.5), (.unknown, 0.5),
            ])
        let child = childBand != nil
        self.child = child
        let nationality = rng.weighted([
            ("XK", 12.0), ("AL", 3.0), ("MD", 1.0), ("UA", 1.0), ("RS", 1.0), ("MK", 1.0), ("BG", 0.5), ("NG", 0.5),
            ("BD", 0.5),
        ])
        let foreign = nationality != "XK"
        var exploitation: [Exploitation] = [
            rng.weighted([
                (.sexual, 6.0), (.forcedLabour, 2.0), (.forcedBegging, 1.5), (.forcedCriminality, 0.5),
                (.forcedMarriage, 0.5),
            ])
        ]
        if rng.chance(0.15), !exploitation.contains(.forcedLabour) { exploitation.append(.forcedLabour) }
        let initial: IdentificationStatus = rng.weighted([(.presumed, 6.0), (.potential, 3.0), (.identified, 1.0)])
        let profile = Profile(
            sex: rng.weighted([(.female, 13.0), (.male, 6.0), (.other, 0.3), (.unknown, 0.7)]), ageBand: ageBand,
            child: child,
            nationality: nationality, exploitation: exploitation)
        add(t0, opener, .caseOpened(identificationStatus: initial, profile: profile))

        // Victim advocate (OPAV), with consent first.
        var advocate = opener == "opav"
        var t = t0.addingTimeInterval(rng.hours(0.1...2))
        if opener != "opav" {
            add(t, opener, .consentRecorded(purpose: .victimAdvocacy, recipients: ["opav"], given: true))
            let (_, accepted) = refer(
                at: t.addingTimeInterval(300), from: opener, to: "opav", purpose: .victimAdvocacy,
                urgent: rng.chance(0.3))
            advocate = accepted != nil
            if let accepted { t = accepted }
        }
        let coordinator = advocate ? "opav" : opener

        // Risk assessment by the opener (jointly with the advocate).
        if let d = delay(within: 72) {
            let assessor = rng.chance(0.5) || !advocate ? opener : "opav"
            let level: RiskLevel = rng.weighted([(.low, 2.0), (.medium, 4.0), (.high, 3.0)])
            add(t0.addingTimeInterval(d), assessor, .riskAssessed(level: level))
            if rng.chance(0.04) {
                // A data-entry error, corrected a few hours later.
                let target = scheduled.count - 1
                let corrected: RiskLevel = level == .high ? .medium : .high
                add(
                    t0.addingTimeInterval(d + rng.hours(1...30)), assessor,
                    .recordCorrected(
                        correctsEventId: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
                        reason: .dataEntryError,
                        correction: JSONObject([("level", .string(corrected.rawValue))])))
                correctionTargets[scheduled.count - 1] = target
            }
        }

        // A child: social work and a guardian.
        if child {
            if opener == "csw-prishtina" {
                if let d = delay(within: 24) { add(t0.addingTimeInterval(d), opener, .guardianAppointed) }
            } else {
                let at = t0.addingTimeInterval(rng.hours(0.2...3))
                let (_, accepted) = refer(
                    at: at, from: opener, to: "csw-prishtina", purpose: .guardianship, urgent: true)
                if let accepted, let d = delay(within: 24, lateChance: 0.2) {
                    add(
                        max(accepted.addingTimeInterval(600), t0.addingTimeInterval(d)), "csw-prishtina",
                        .guardianAppointed)
                }
            }
        }

        // Shelter: PVPT may decline for lack of capacity, then ISF.
        if rng.chance(0.7) {
            let at = t.addingTimeInterval(rng.hours(1...24))
            let first = rng.chance(0.5) ? "pvpt" : "isf"
            let (_, accepted) = refer(
                at: at, from: coordinator, to: first, purpose: .shelter, urgent: rng.chance(0.4),
                declineChance: first == "pvpt" ? 0.3 : 0.05, completeAfterDays: 30...120)
            if accepted == nil, rng.chance(0.8) {
                refer(
                    at: at.addingTimeInterval(rng.hours(26...60)), from: coordinator,
                    to: first == "pvpt" ? "isf" : "pvpt", purpose: .shelter, completeAfterDays: 30...120)
            }
        }

        // Social welfare for adults, sometimes.
        if !child, opener != "csw-prishtina", rng.chance(0.3) {
            refer(
                at: t.addingTimeInterval(rng.hours(24...240)), from: coordinator, to: "csw-prishtina",
                purpose: .socialWelfare, declineChance: 0.1, completeAfterDays: 20...90)
        }

        // Prosecution.
        if opener == "kp-dthb", rng.chance(0.5) {
            refer(
                at: t0.addingTimeInterval(rng.hours(24...400)), from: "kp-dthb", to: "ksp", purpose: .investigation,
                completeAfterDays: 60...300)
        }

        // Identification decided.
        if initial != .identified, let d = delay(within: 30 * 24, lateChance: 0.15, missChance: 0.1) {
            add(
                t0.addingTimeInterval(d), opener,
                .identificationStatusChanged(status: rng.chance(0.88) ? .identified : .notAVictim))
        }

        // Reflection period, mostly for foreign nationals.
        var reflectionEnd: Date?
        if foreign || rng.chance(0.2) {
            let starter = opener == "kp-dthb" ? "kp-dthb" : coordinator
            let at = t0.addingTimeInterval(rng.hours(2...96))
            let days = rng.weighted([(90, 8.0), (60, 1.0), (30, 1.0)])
            add(at, starter, .reflectionPeriodStarted(days: rng.chance(0.2) ? nil : days))
            if let d = delay(within: Double(days) * 24, lateChance: 0.15, missChance: 0.05) {
                let end = at.addingTimeInterval(d)
                reflectionEnd = end
                add(
                    end, starter,
                    .reflectionPeriodEnded(
                        outcome: rng.weighted([
                            (.cooperationAgreed, 4.0), (.cooperationDeclined, 2.0), (.returnedHome, 1.0),
                            (.residencePermit, 1.0),
                        ])))
            }
        }

        // IOM return assistance for some foreign nationals.
        if foreign, advocate, rng.chance(0.5) {
            let at = (reflectionEnd ?? t0.addingTimeInterval(86_400 * 20)).addingTimeInterval(rng.hours(2...72))
            refer(at: at, from: "opav", to: "iom-kosovo", purpose: .returnAssistance, completeAfterDays: 10...60)
        }

        // Closure for most older cases, sometimes reopened.
        let lifetime = Double.random(in: 60...300, using: &rng) * 86_400
        if rng.chance(0.75) {
            let close = t0.addingTimeInterval(lifetime)
            closeAt = close
            add(
                close, coordinator,
                .caseClosed(
                    reason: rng.weighted([
                        (.reintegrated, 5.0), (.returnedHome, 2.0), (.lostContact, 1.0), (.victimWithdrew, 1.0),
                        (.notAVictim, 0.5),
                    ])))
            if rng.chance(0.08) {
                let reopen = close.addingTimeInterval(Double.random(in: 10...60, using: &rng) * 86_400)
                reopenAt = reopen
                add(
                    reopen, coordinator,
                    .caseReopened(reason: rng.pick([.newInformation, .victimReturned, .reTrafficked])))
                add(reopen.addingTimeInterval(rng.hours(24...200)), coordinator, .riskAssessed(level: .high))
                if rng.chance(0.5) {
                    secondCloseAt = reopen.addingTimeInterval(Double.random(in: 40...120, using: &rng) * 86_400)
                    add(secondCloseAt!, coordinator, .caseClosed(reason: .reintegrated))
                }
            }
        }

        // Reviews about every 30 days (sometimes late, sometimes skipped), in both open spells.
        var review = t0
        let end = closeAt ?? now
        while true {
            review = review.addingTimeInterval(delay(within: 30 * 24, lateChance: 0.15, missChance: 0) ?? 86_400)
            if rng.chance(0.02) { break }  // reviews stop being recorded
            guard review < end else { break }
            add(review, rng.chance(0.7) ? coordinator : opener, .caseReviewed)
        }
        if let reopenAt {
            review = reopenAt
            let end2 = secondCloseAt ?? now
            while true {
                review = review.addingTimeInterval(delay(within: 30 * 24, lateChance: 0.15, missChance: 0) ?? 86_400)
                guard review < end2 else { break }
                add(review, coordinator, .caseReviewed)
            }
        }
    }

    /// Orders the schedule, keeps only what the case's open spells allow, cuts at `now` and
    /// assigns ids.
    mutating func finish() -> [CaseEvent] {
        let ordered = scheduled.sorted { ($0.at, $0.seq) < ($1.at, $1.seq) }
        var events: [CaseEvent] = []
        var ids: [Int: UUID] = [:]
        for item in ordered where item.at <= now {
            if let closeAt, item.at > closeAt {
                // While closed only the reopening; after it, only the reopened spell's events.
                guard let reopenAt, item.at >= reopenAt else { continue }
                if case .caseReopened = item.body {} else if item.at == reopenAt { continue }
                if let secondCloseAt, item.at > secondCloseAt { continue }
                if !isReopenSpell(item.body) { continue }
            }
            var body = item.body
            if case .recordCorrected(_, let reason, let correction) = body {
                guard let target = correctionTargets[item.seq].flatMap({ ids[$0] }) else { continue }
                body = .recordCorrected(correctsEventId: target, reason: reason, correction: correction)
            }
            let id = rng.nextUUID()
            ids[item.seq] = id
            events.append(CaseEvent(id: id, occurredAt: item.at, actor: item.actor, body: body))
        }
        return events
    }

    /// Events scheduled for the reopened spell (the rest of the first spell is dropped).
    func isReopenSpell(_ body: CaseEventBody) -> Bool {
        switch body {
        case .caseReopened, .caseReviewed, .riskAssessed, .caseClosed: true
        default: false
        }
    }
}
