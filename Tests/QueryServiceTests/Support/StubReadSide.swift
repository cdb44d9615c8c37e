import Foundation
import QueryService
import Referrals
import Synchronization

/// A read side with canned answers that remembers what it was asked, so route tests can check
/// validation, authorization and rendering without the projections.
final class StubReadSide: ReadSide {
    struct Calls {
        var deadlines: [(DeadlineFilter, String?)] = []
        var inbox: [String] = []
        var stats: [Int?] = []
    }

    let calls = Mutex(Calls())
    let deadlineRows: [DeadlineRow]
    let inboxItems: [InboxItem]
    let report: StatsReport

    init(deadlineRows: [DeadlineRow] = [], inboxItems: [InboxItem] = [], report: StatsReport? = nil) {
        self.deadlineRows = deadlineRows
        self.inboxItems = inboxItems
        self.report = report ?? StatsReport(cases: 0, counts: [:], compliance: [])
    }

    func caseSummary(caseId: String) async throws -> JSONValue? {
        ["caseId": .string(caseId), "status": "open", "version": 1]
    }

    func deadlines(_ filter: DeadlineFilter, visibleTo institution: String?) async throws -> [DeadlineRow] {
        calls.withLock { $0.deadlines.append((filter, institution)) }
        return deadlineRows.filter { filter.status == nil || $0.status == filter.status }
    }

    func inbox(institution: String) async throws -> [InboxItem] {
        calls.withLock { $0.inbox.append(institution) }
        return inboxItems
    }

    func stats(year: Int?) async throws -> StatsReport {
        calls.withLock { $0.stats.append(year) }
        return report
    }
}
