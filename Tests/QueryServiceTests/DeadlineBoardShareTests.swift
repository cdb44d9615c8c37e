import Foundation
import Testing

@testable import QueryService

/// The coordinator's unfiltered board shares its rows among the institutions responsible.
@Suite("Deadline board share")
struct DeadlineBoardShareTests {
    static func rows(_ institution: String, _ count: Int, from start: Int = 0) -> [DeadlineRow] {
        (0..<count).map { n in
            DeadlineRow(
                caseId: "KS-\(institution)-\(n)", ruleId: "r", title: "r",
                dueAt: Date(timeIntervalSince1970: Double(start + n)), status: .overdue, responsible: institution,
                triggerEventId: UUID(), satisfiedAt: nil)
        }
    }

    /// One institution's 520 old rows, due first, cannot push the others' off a board of 500.
    @Test func oneInstitutionsManyRowsLeaveRoomForEveryoneElses() {
        let flood = Self.rows("kp-dthb", 520)
        let others = Self.rows("isf", 40, from: 10_000) + Self.rows("opav", 53, from: 20_000)
        let (kept, leftOut) = DeadlineBoard.fairShare(flood + others, limit: 500)
        #expect(kept.count == 500)
        #expect(kept.filter { $0.responsible == "isf" }.count == 40)
        #expect(kept.filter { $0.responsible == "opav" }.count == 53)
        #expect(kept.filter { $0.responsible == "kp-dthb" }.count == 407)
        #expect(leftOut == ["kp-dthb": 113])
        // The order is kept; each keeps its first rows.
        #expect(kept.map(\.dueAt) == kept.map(\.dueAt).sorted())
        #expect(kept.filter { $0.responsible == "kp-dthb" }.last?.caseId == "KS-kp-dthb-406")
    }

    @Test func sharesAreEvenWhenEveryoneHasMoreThanFits() {
        let all = Self.rows("a", 300) + Self.rows("b", 300) + Self.rows("c", 7)
        let (kept, leftOut) = DeadlineBoard.fairShare(all, limit: 100)
        #expect(kept.filter { $0.responsible == "c" }.count == 7)
        #expect(kept.filter { $0.responsible == "a" }.count == 46)
        #expect(kept.filter { $0.responsible == "b" }.count == 46)
        #expect(leftOut == ["a": 254, "b": 254])
        // A board that fits is shown whole.
        #expect(DeadlineBoard.fairShare(Self.rows("a", 3), limit: 100).rows.count == 3)
    }
}
