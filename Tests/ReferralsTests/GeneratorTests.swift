import Foundation
import Testing

@testable import Referrals

@Suite struct GeneratorTests {
    static let now = Timestamp.parse("2026-11-22T10:00:00Z")!

    @Test func splitMix64MatchesTheReferenceSequence() {
        // Reference values for seed 1234567 from the published C implementation.
        var rng = SplitMix64(seed: 1_234_567)
        #expect(rng.next() == 6_457_827_717_110_365_317)
        #expect(rng.next() == 3_203_168_211_198_807_973)
        let uuid = rng.nextUUID().uuidString
        #expect(Array(uuid)[14] == "4" && "89AB".contains(Array(uuid)[19]))
    }

    @Test func sameSeedSameOutput() {
        let a = SyntheticGenerator(seed: 2026, now: Self.now).cases(count: 50)
        let b = SyntheticGenerator(seed: 2026, now: Self.now).cases(count: 50)
        #expect(a == b)
        #expect(SyntheticGenerator(seed: 2026, now: Self.now).makeCase(index: 37) == a[37])
        let c = SyntheticGenerator(seed: 2027, now: Self.now).cases(count: 50)
        #expect(a != c)
    }

    /// Every generated event passes validation and authorization when replayed in order.
    @Test func fiveHundredCasesReplayThroughAdmission() throws {
        let generator = SyntheticGenerator(seed: 7, now: Self.now)
        let context = AdmissionContext(registered: Institution.demo, now: Self.now)
        var eventIds: Set<UUID> = []
        var caseIds: Set<String> = []
        var types: Set<CaseEventType> = []
        var statuses: [DeadlineStatus: Int] = [:]
        var children = 0
        var declined = 0
        for index in 0..<500 {
            let generated = generator.makeCase(index: index)
            #expect(caseIds.insert(generated.caseId).inserted)
            #expect(
                generated.caseId.hasPrefix("KS-20") && generated.caseId.hasSuffix(String(format: "%06d", index + 1)))
            var state: CaseState?
            for event in generated.events {
                #expect(eventIds.insert(event.id).inserted)
                #expect(event.occurredAt <= Self.now)
                #expect(event.actor.user.contains("-"))
                do {
                    let admitted = try CaseAdmission.admit(
                        principal: .institution(event.actor.institution, user: event.actor.user),
                        caseId: generated.caseId,
                        state: state, id: event.id, type: event.type.rawValue,
                        data: try JSONValue.parse(event.body.data.serialized()), occurredAt: event.occurredAt,
                        context: context)
                    #expect(admitted == event)
                } catch {
                    Issue.record("case \(generated.caseId) \(event.type.rawValue): \(error)")
                    break
                }
                state = CaseState.applying(event, to: state, caseId: generated.caseId)
                types.insert(event.type)
            }
            if state?.isChild == true { children += 1 }
            declined += state?.referrals.values.filter { $0.status == .declined }.count ?? 0
            for deadline in DeadlineEvaluator.evaluate(
                caseId: generated.caseId, events: generated.events, rulesets: [Ruleset.kosovoDefault], now: Self.now)
            {
                statuses[deadline.status, default: 0] += 1
            }
        }
        // The flows are varied: every event type, every deadline status.
        #expect(types == Set(CaseEventType.allCases))
        #expect(Set(statuses.keys) == Set(DeadlineStatus.allCases), "\(statuses)")
        #expect(children > 50 && declined > 10)
    }

    @Test func lazyHistoryStreamsCaseByCase() {
        let generator = SyntheticGenerator(seed: 99, now: Self.now)
        let eager = generator.cases(count: 20)
        let lazy = Array(generator.history(caseCount: 20))
        #expect(lazy.count == eager.reduce(0) { $0 + $1.events.count })
        #expect(lazy.map(\.event) == eager.flatMap(\.events))
        #expect(lazy.first?.version == 1 && lazy.first?.type == .caseOpened)
        // Versions count up within each case.
        for (previous, next) in zip(lazy, lazy.dropFirst()) where previous.caseId == next.caseId {
            #expect(next.version == previous.version + 1)
        }
    }

    @Test func largeHistoryIsCheapToIterate() {
        var count = 0
        for _ in SyntheticGenerator(seed: 1, now: Self.now).history(caseCount: 2_000) { count += 1 }
        #expect(count > 20_000)
    }
}
