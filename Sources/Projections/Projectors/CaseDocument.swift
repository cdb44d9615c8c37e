import Foundation
import Postgres
import Referrals

/// A case's summary as `GET /v1/cases/{caseId}` sends it, rendered by the `cases` projector in the
/// same transaction as the case's other rows (`handoff.case_documents`, Migrations/0031), so that
/// a read is one primary-key lookup instead of a query over four tables.
///
/// One thing in it depends on the time of the read, not on the log: the status of a deadline
/// nothing has settled yet (pending, then due-soon, then overdue, with no event in between). The
/// stored document leaves those statuses out — `cuts` are the byte offsets in `body` where each
/// goes, and `openDue`/`openWarn` the times they turn on — and the read fills them in with
/// `handoff.deadline_status`, the one definition the deadline pages and the statistics use too
/// (``filled(body:cuts:statuses:)``). A settled deadline's status is written in.
///
/// The members, their order and their formats are those of ``CaseSummary`` as `JSONEncoder`
/// writes it (`CaseSummaryReadTests` holds the two equal at many times of reading, live and after
/// a rebuild).
struct CaseDocument: Sendable {
    /// The case's parties, opener first: the need-to-know check reads them without parsing the JSON.
    var parties: [String]
    /// The JSON text without the unsettled deadlines' `status` values.
    var body: [UInt8]
    /// Where each left-out status goes: byte offsets into `body`, ascending.
    var cuts: [Int]
    /// Each unsettled deadline's due time, in the order of the cuts.
    var openDue: [Date]
    /// Each unsettled deadline's warning time, in the order of the cuts.
    var openWarn: [Date]

    /// `body` with `statuses` (one per cut, bare status names) written in as JSON strings.
    /// - Returns: nil when the counts differ or a cut is out of order or outside the body.
    static func filled(body: [UInt8], cuts: [Int], statuses: [String]) -> [UInt8]? {
        guard statuses.count == cuts.count else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 16 * cuts.count)
        var start = 0
        for (cut, status) in zip(cuts, statuses) {
            guard cut >= start, cut <= body.count else { return nil }
            out.append(contentsOf: body[start..<cut])
            JSONValue.writeString(status, into: &out)
            start = cut
        }
        out.append(contentsOf: body[start...])
        return out
    }

    /// Renders a folded case: its state, its stream's head and its evaluated deadlines (in the
    /// evaluator's order, which numbers them as the `deadlines` rows' `ordinal`).
    static func render(_ s: CaseState, history: History.CaseHistory, deadlines: [Deadline]) -> CaseDocument {
        var w = JSONBytes(capacity: 2048 + 512 * deadlines.count)
        var openDue: [Date] = []
        var openWarn: [Date] = []
        func time(_ date: Date?) -> String? { date.map(Timestamp.format) }
        w.beginObject()
        w.member("caseId", s.caseId)
        w.member("status", s.status.rawValue)
        w.member("identificationStatus", s.identificationStatus.rawValue)
        w.member("riskLevel", s.riskLevel?.rawValue)
        w.member("openedBy", s.openedBy)
        w.member("openedAt", time(s.openedAt))
        w.key("child")
        w.bool(s.isChild)
        w.key("version")
        w.number(Int(history.version))
        w.member("lastEventAt", time(history.lastRecordedAt))
        w.member("closedAt", time(s.isClosed ? s.closedAt : nil))
        w.member("closureReason", s.isClosed ? s.closureReason?.rawValue : nil)
        w.key("parties")
        w.beginArray()
        for party in s.parties { w.string(party) }
        w.endArray()
        w.key("openReferrals")
        w.beginArray()
        for r in s.openReferrals {
            w.beginObject()
            w.member("caseId", s.caseId)
            w.member("referralId", r.id)
            w.member("from", r.from)
            w.member("to", r.to)
            w.member("purpose", r.purpose.rawValue)
            w.member("urgency", r.urgency.rawValue)
            w.member("status", r.status.rawValue)
            w.member("issuedAt", time(r.issuedAt))
            w.member("issuedEventId", r.issuedByEventId.uuidString.lowercased())
            w.member("acknowledgedAt", time(r.acknowledgedAt))
            w.member("acceptedAt", time(r.acceptedAt))
            w.member("declinedAt", time(r.declinedAt))
            w.member("declineReason", r.declineReason?.rawValue)
            w.member("completedAt", time(r.completedAt))
            w.member("outcome", r.outcome?.rawValue)
            w.member("withdrawnAt", time(r.withdrawnAt))
            w.member("withdrawalReason", r.withdrawalReason?.rawValue)
            w.endObject()
        }
        w.endArray()
        w.key("deadlines")
        w.beginArray()
        // The `deadlines` rows' order: due time, then ordinal (the evaluator's order), as stored.
        let ordered = deadlines.enumerated()
            .map { (due: PostgresTimestamp.stored($0.element.dueAt), ordinal: $0.offset, $0.element) }
            .sorted { ($0.due, $0.ordinal) < ($1.due, $1.ordinal) }
        for (_, _, d) in ordered {
            w.beginObject()
            w.member("caseId", d.caseId)
            w.member("ruleId", d.ruleId)
            w.member("title", d.title)
            w.member("dueAt", time(d.dueAt))
            w.member("warnAt", time(d.warnAt))
            w.key("status")
            if let settled = d.settled {
                w.string(settled.rawValue)
            } else {
                w.gap()
                openDue.append(d.dueAt)
                openWarn.append(d.warnAt)
            }
            w.member("responsible", d.responsible)
            w.member("triggerEventId", d.triggerEventId.uuidString.lowercased())
            w.member("satisfiedAt", time(d.satisfiedAt))
            w.member("referralId", d.referralId)
            w.member("rulesetId", d.rulesetId)
            w.key("rulesetVersion")
            w.number(d.rulesetVersion)
            w.key("confirmed")
            w.bool(d.confirmed)
            w.member("missedNoticeEventId", d.notified ? firstNotice(of: d, in: history)?.uuidString.lowercased() : nil)
            w.key("counted")
            w.bool(d.counted)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return CaseDocument(parties: s.parties, body: w.bytes, cuts: w.gaps, openDue: openDue, openWarn: openWarn)
    }

    /// The first notice recorded about a deadline (``Deadline/isNoticed(by:)``), earliest first.
    static func firstNotice(of deadline: Deadline, in history: History.CaseHistory) -> UUID? {
        history.firstNotices.filter { deadline.isNoticed(by: $0.key) }.values.min { $0.isBefore($1) }?.id
    }

    /// Appends the row of a rendered document.
    static func add(_ document: CaseDocument, caseId: String, to r: inout RowBatch) {
        r.text(caseId)
        r.textArray(document.parties)
        r.text(String(decoding: document.body, as: UTF8.self))
        r.textArray(document.cuts.map(String.init))
        r.textArray(document.openDue.map(PostgresTimestamp.format))
        r.textArray(document.openWarn.map(PostgresTimestamp.format))
        r.endRow()
    }
}
