import Foundation
import Referrals

/// A fixed, synthetic case the fuzz checks admit events against and evaluate rulesets on: opened by `kp-dthb`, with
/// referral `R-1` (urgent) to `opav` and `R-2` (acknowledged) to `isf`, a risk assessment and a
/// running reflection period. Event ids are `00000000-0000-0000-0000-0000000000NN`.
enum FixedCase {
    static let caseId = "KS-2026-000001"
    static let now = Date(timeIntervalSince1970: 1_780_000_000)
    static let context = AdmissionContext(registered: Institution.demo, now: now)

    static func eventId(_ n: Int) -> UUID {
        let hex = String(n, radix: 16)
        return UUID(uuidString: "00000000-0000-0000-0000-" + String(repeating: "0", count: 12 - hex.count) + hex)!
    }

    static let history: [CaseEvent] = {
        let bodies: [(String, CaseEventBody)] = [
            (
                "kp-dthb",
                .caseOpened(
                    identificationStatus: .presumed,
                    profile: Profile(
                        sex: .female, ageBand: .age18to24, child: false, nationality: "XK", exploitation: [.sexual]))
            ),
            ("kp-dthb", .referralIssued(referralId: "R-1", to: "opav", purpose: .victimAdvocacy, urgency: .urgent)),
            ("kp-dthb", .referralIssued(referralId: "R-2", to: "isf", purpose: .shelter, urgency: .routine)),
            ("isf", .referralAcknowledged(referralId: "R-2")),
            ("kp-dthb", .riskAssessed(level: .high)),
            ("opav", .reflectionPeriodStarted(days: 90)),
        ]
        return bodies.enumerated().map { i, entry in
            CaseEvent(
                id: eventId(i + 1), occurredAt: now.addingTimeInterval(Double(i - 10) * 3_600),
                actor: Actor(institution: entry.0, user: "officer-1"), body: entry.1)
        }
    }()

    static let open: CaseState = CaseState.fold(caseId: caseId, events: history)!

    static let closed: CaseState = CaseState.applying(
        CaseEvent(
            id: eventId(7), occurredAt: now.addingTimeInterval(-3_600),
            actor: Actor(institution: "kp-dthb", user: "officer-1"), body: .caseClosed(reason: .lostContact)),
        to: open, caseId: caseId)!
}
