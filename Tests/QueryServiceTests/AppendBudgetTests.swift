import EventStore
import Foundation
import Referrals
import Testing

@testable import QueryService

/// What one institution's appends may cost the projector (``AppendBudgetPolicy``): an attack
/// pass opened fifteen of the heaviest cases admission allows from one token and touched each
/// once a second, and every institution's inbox, deadlines and case summaries fell half a minute
/// behind — the watcher, reading the deadlines as projected, wrote no notice meanwhile.
@Suite("Append budget")
struct AppendBudgetTests {
    @Test func theCostIsTheInstitutionsOwnEventsTimesItsOwnCorrections() {
        #expect(AppendBudgetPolicy.cost(events: 1, corrections: 0) == 411)
        #expect(AppendBudgetPolicy.cost(events: 40, corrections: 0) == 450)
        #expect(AppendBudgetPolicy.cost(appended: 40, events: 40, corrections: 0) == 16_050)
        #expect(AppendBudgetPolicy.cost(events: 1_000, corrections: 10) == 31_410)
        // The heaviest case one institution can make: about a second and a half of the projector.
        #expect(AppendBudgetPolicy.cost(events: 1_000, corrections: 100) == 301_410)
    }

    /// An event dated back more than an hour pays for the watcher's notices of what it starts
    /// already overdue: an attack pass opened 7,000 cases dated 2014 in ten seconds (11 each), the
    /// watcher fell a minute behind, and the institution's own late entry counted as met.
    @Test func backDatedEntriesPayForTheNoticesTheyCause() async throws {
        let now = Date()
        #expect(AppendBudgetPolicy.lateEntries([now, now.addingTimeInterval(-3_000)], at: now) == 0)
        #expect(AppendBudgetPolicy.lateEntries([now.addingTimeInterval(-3_700)], at: now) == 2_000)
        let h = try await Harness.start { $0.appendBudget = AppendBudgetPolicy(burst: 5_000, perSecond: 1) }
        defer { Task { await h.stop() } }
        let years = Timestamp.format(now.addingTimeInterval(-2 * 365 * 86_400))
        var statuses: [Int] = []
        for _ in 0..<5 {
            statuses.append(
                try await h.api.post("/v1/cases", token: h.token("kp-dthb"), Harness.openedData(occurredAt: years))
                    .status)
        }
        #expect(statuses == [201, 201, 201, 429, 429])
        // Openings of today cost 411 each: another institution opens ten.
        for _ in 0..<10 {
            #expect(try await h.api.post("/v1/cases", token: h.token("isf"), Harness.openedData()).status == 201)
        }
    }

    @Test func aBalanceIsSpentGoesIntoDebtAndFillsAgain() {
        let budget = AppendBudget(policy: AppendBudgetPolicy(burst: 100, perSecond: 10))
        let t0 = ContinuousClock.now
        #expect(budget.refusal(for: "isf", now: t0) == nil)
        #expect(budget.spend(60, from: "isf", now: t0) == nil)
        // Above zero, even an append that costs more than is left is admitted: it leaves a debt.
        #expect(budget.spend(90, from: "isf", now: t0) == nil)
        #expect(budget.balance(of: "isf", now: t0) == -50)
        // What was spent for nothing written comes back, never above the burst.
        budget.refund(90, to: "isf", now: t0)
        #expect(budget.balance(of: "isf", now: t0) == 40)
        #expect(budget.spend(90, from: "isf", now: t0) == nil)
        budget.refund(1_000, to: "kp-dthb", now: t0)
        #expect(budget.balance(of: "kp-dthb", now: t0) == 100)
        // In debt: refused, with how long until the balance is above zero (5 s at 10 a second).
        let wait = budget.refusal(for: "isf", now: t0)
        #expect(wait != nil && wait! > .seconds(5) && wait! < .seconds(5.1))
        // Asking spends nothing, nor does a refused spend; others have balances of their own.
        #expect(budget.spend(10, from: "isf", now: t0) != nil)
        #expect(budget.balance(of: "isf", now: t0) == -50)
        #expect(budget.refusal(for: "kp-dthb", now: t0) == nil)
        // The balance fills at its rate, up to the burst and no further, and a clock read late
        // fills no stretch twice.
        #expect(budget.refusal(for: "isf", now: t0 + .seconds(6)) == nil)
        #expect(budget.balance(of: "isf", now: t0 + .seconds(5)) == 10)
        #expect(budget.balance(of: "isf", now: t0 + .seconds(1_000)) == 100)
    }

    /// The check and the spending are one step: appends sent at once cannot all pass on one
    /// balance (an attack pass got 29 of 30 heavy batches in at once when they were apart).
    @Test func appendsAtOnceCannotAllPassOnOneBalance() async throws {
        let budget = AppendBudget(policy: AppendBudgetPolicy(burst: 100, perSecond: 0.001))
        let admitted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<64 { group.addTask { budget.spend(60, from: "kp-dthb") == nil } }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 2)  // 100 → 40 → −20, then refused

        // Openings of today cost 411 each: 1,000 → 589 → 178 → −233, then refused.
        let h = try await Harness.start { $0.appendBudget = AppendBudgetPolicy(burst: 1_000, perSecond: 0.001) }
        defer { Task { await h.stop() } }
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for n in 0..<12 {
                group.addTask {
                    try await h.api.post(
                        "/v1/cases/KP-RACE-\(n)/events", token: h.token("kp-dthb"),
                        #"{"type": "CaseOpened", "data": \#(Harness.openedData())}"#
                    ).status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 201 }.count == 3, "\(statuses)")
        #expect(statuses.filter { $0 == 429 }.count == 9, "\(statuses)")
    }

    @Test func anInstitutionPastItsShareIsRefusedWith429AndOthersAreNot() async throws {
        // A share of 50,000, coming back at one a second: a case of a hundred events and a few
        // corrections uses it up.
        let h = try await Harness.start { $0.appendBudget = AppendBudgetPolicy(burst: 50_000, perSecond: 1) }
        defer { Task { await h.stop() } }
        let police = h.token("kp-dthb")
        let reviews = (0..<99).map { _ in #"{"type": "CaseReviewed", "data": {}}"# }.joined(separator: ",")
        let opened = try await h.api.post(
            "/v1/cases/KP-HEAVY-1/events", token: police,
            #"{"events": [\#(Harness.openedJSON()), \#(Harness.referralJSON("R-1", to: "opav")), \#(reviews)]}"#)
        #expect(opened.status == 201)
        let risk = UUID()
        let assessed = try await h.api.post(
            "/v1/cases/KP-HEAVY-1/events", token: police,
            #"{"id": "\#(risk)", "type": "RiskAssessed", "data": {"level": "low"}}"#)
        #expect(assessed.status == 201)
        func correction(_ id: UUID = UUID()) -> String {
            #"{"id": "\#(id)", "type": "RecordCorrected", "data": {"correctsEventId": "\#(risk)", "reason": "#
                + #""data-entry-error", "correction": {"level": "high"}}}"#
        }
        // 10 an append, 400 an event, and the 102 events times 1 + 3 per correction: the first few
        // are admitted, then the share is spent.
        var refused: Reply?
        var written: String?
        for _ in 0..<10 {
            let body = correction()
            let reply = try await h.api.post("/v1/cases/KP-HEAVY-1/events", token: police, body)
            if reply.status != 201 {
                refused = reply
                break
            }
            written = body
        }
        let reply = try #require(refused)
        #expect(reply.status == 429, "\(reply.text)")
        #expect(reply.errorCode == "too_many_appends")
        let retryAfter = try #require(reply.header("Retry-After").flatMap { Int($0) })
        #expect(retryAfter >= 1)
        #expect(reply.json["error"]?["retryAfter"]?.int == retryAfter)
        // Nothing of the refused append was written.
        let version = try await h.store.version(of: .case("KP-HEAVY-1")!)
        #expect(try await h.api.post("/v1/cases/KP-HEAVY-1/events", token: police, correction()).status == 429)
        #expect(try await h.store.version(of: .case("KP-HEAVY-1")!) == version)
        // A retry of an append that was written is answered as one, in debt or not.
        let retry = try await h.api.post("/v1/cases/KP-HEAVY-1/events", token: police, try #require(written))
        #expect(retry.status == 200 || retry.status == 201, "\(retry.text)")
        #expect(try await h.store.version(of: .case("KP-HEAVY-1")!) == version)
        // Another token of the same institution shares its share; the dashboard's forms go
        // through the same writer.
        let other = try await h.service.tokens.create(role: .institution, institution: "kp-dthb", user: "officer-2")
        #expect(
            try await h.api.post("/v1/cases/KP-HEAVY-1/events", token: other, #"{"type": "CaseReviewed", "data": {}}"#)
                .status == 429)
        #expect(try await h.api.post("/v1/cases", token: police, Harness.openedData()).status == 429)
        // The dashboard's forms go through the same writer, and say so in the person's language.
        let browser = try await DashboardFormTests.Browser.signIn(h, "kp-dthb")
        for (language, title) in [("en", "Too much at once"), ("sq", "Shumë njëherësh")] {
            let page = try await DashboardFormTests.act(
                h, browser, "KP-HEAVY-1", "RiskAssessed", [("level", "high")],
                headers: [DashboardTests.sameOrigin, ("Accept-Language", language)])
            #expect(page.status == 429, "\(language)")
            #expect(page.text.contains(title), "\(language)")
            #expect(page.header("Retry-After").flatMap { Int($0) }.map { $0 >= 1 } == true, "\(language)")
        }
        #expect(try await h.store.version(of: .case("KP-HEAVY-1")!) == version)
        // Other institutions are not affected, in another case or in this one: a party that did not
        // make the case heavy is charged only for what it made (its own events).
        let advocate = try await h.api.post(
            "/v1/cases/KP-HEAVY-1/events", token: h.token("opav"), #"{"type": "CaseReviewed", "data": {}}"#)
        #expect(advocate.status == 201)
        // Reads go on.
        let opened2 = try await h.api.post("/v1/cases", token: h.token("isf"), Harness.openedData())
        #expect(opened2.status == 201)
        #expect(try await h.api.get("/v1/events", token: police).status == 200)
    }
}
