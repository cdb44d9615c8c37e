import Foundation

/// The one definition of a referral's steps: who may take each step and from which status.
/// ``CaseAdmission`` refuses what it refuses, and ``CaseState``'s fold applies what it accepts,
/// so the two can never disagree.
///
/// | event | by | from | to |
/// |---|---|---|---|
/// | `ReferralAcknowledged` | recipient | issued | acknowledged |
/// | `ReferralAccepted` | recipient | issued, acknowledged | accepted |
/// | `ReferralDeclined` | recipient | issued, acknowledged | declined |
/// | `ReferralCompleted` | recipient | accepted | completed |
/// | `ReferralWithdrawn` | issuer | issued, acknowledged, accepted | withdrawn |
public enum ReferralLifecycle {
    /// Which party of a referral may take a step.
    public enum Party: Sendable, Hashable {
        case issuer, recipient
    }

    /// Who takes the step an event of `type` is, and the statuses it may start from; `nil` for
    /// an event type that is not a step of an existing referral.
    public static func step(_ type: CaseEventType) -> (by: Party, from: Set<ReferralStatus>)? {
        switch type {
        case .referralAcknowledged: (.recipient, [.issued])
        case .referralAccepted, .referralDeclined: (.recipient, [.issued, .acknowledged])
        case .referralCompleted: (.recipient, [.accepted])
        case .referralWithdrawn: (.issuer, [.issued, .acknowledged, .accepted])
        default: nil
        }
    }

    /// The institution that takes `party`'s steps on `referral`.
    public static func institution(taking party: Party, of referral: Referral) -> String {
        party == .recipient ? referral.to : referral.from
    }

    /// Whether `institution` may take the step `type` on `referral` now: it is the party who takes
    /// that step and the referral's status allows it — what ``applying(_:to:)`` checks before it
    /// looks at the event itself (the dashboard offers its forms by it).
    public static func allows(_ type: CaseEventType, on referral: Referral, by institution: String) -> Bool {
        guard let (party, from) = step(type) else { return false }
        return Self.institution(taking: party, of: referral) == institution && from.contains(referral.status)
    }

    /// The referral after `event` (a step on it, by `event.actor`), or why the step is not possible.
    ///
    /// - Throws: `forbidden` (field `data.referralId`) when the actor is not the party who takes
    ///   this step; `invalid_event` (field `data.referralId`) when the referral's status does not
    ///   allow it, or the event is not a step of this referral.
    public static func applying(_ event: CaseEvent, to referral: Referral) throws(ReferralsError) -> Referral {
        guard let (party, from) = step(event.type), event.body.referralId == referral.id else {
            throw .invalidEvent("data.referralId", "is not a step of this referral")
        }
        guard institution(taking: party, of: referral) == event.actor.institution else {
            throw ReferralsError(
                .forbidden, field: "data.referralId",
                party == .recipient
                    ? "only the recipient may act on this referral" : "only the issuer may withdraw this referral")
        }
        guard from.contains(referral.status) else {
            throw .invalidEvent(
                "data.referralId", "the referral is \(referral.status.rawValue); this step is not possible")
        }
        var r = referral
        let at = event.occurredAt
        switch event.body {
        case .referralAcknowledged:
            r.status = .acknowledged
            r.acknowledgedAt = at
        case .referralAccepted:
            r.status = .accepted
            r.acceptedAt = at
        case .referralDeclined(_, let reason):
            r.status = .declined
            r.declinedAt = at
            r.declineReason = reason
        case .referralCompleted(_, let outcome):
            r.status = .completed
            r.completedAt = at
            r.outcome = outcome
        case .referralWithdrawn(_, let reason):
            r.status = .withdrawn
            r.withdrawnAt = at
            r.withdrawalReason = reason
        default:
            break  // unreachable: step(_:) admits only the cases above
        }
        return r
    }
}
