import EventStore
import Foundation
import HTTP
import Projections
import Referrals
import ServiceStore

/// The routes answered from the read models (`ReadSide`): validation, authorization, access
/// logging and rendering happen here.
extension QueryService {
    /// `GET /v1/deadlines`: one page (`limit`, default 100, at most 1000) in (dueAt, caseId)
    /// order, after the opaque cursor `after` (absent or empty: the first page); `next` is the
    /// cursor of the following page, or null on the last one.
    func deadlines(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        var filter = DeadlineFilter()
        if let text = request.query["status"] {
            guard let status = DeadlineFilter.Status(rawValue: text) else {
                throw ServiceError.badRequest(
                    "status is one of overdue, due-soon, pending, met, met-late, cancelled.", field: "status")
            }
            filter.status = status
        }
        if let text = request.query["caseStatus"] {
            // `all` (the default) is no filter; the dashboard's board asks for `open`.
            guard text == "all" || CaseStatus(rawValue: text) != nil else {
                throw ServiceError.badRequest("caseStatus is one of open, closed, all.", field: "caseStatus")
            }
            filter.caseStatus = CaseStatus(rawValue: text)
        }
        if let caseId = request.query["caseId"] {
            guard StreamName.isValidCaseId(caseId) else {
                throw ServiceError.badRequest("A case id is 1-64 characters of A-Z, a-z, 0-9 and -.", field: "caseId")
            }
            filter.caseId = caseId
        }
        if let responsible = request.query["responsible"] {
            let bare = responsible.hasPrefix("role:") ? String(responsible.dropFirst(5)) : responsible
            guard Identifiers.isValidInstitutionId(bare) else {
                throw ServiceError.badRequest("responsible is an institution id or role:<kind>.", field: "responsible")
            }
            filter.responsible = responsible
        }
        let visibleTo: String?
        switch principal.role {
        case .institution:
            guard let institution = principal.institution else { throw ServiceError.forbidden("No institution.") }
            visibleTo = institution
        case .coordinator, .auditor:
            visibleTo = nil
        }
        var after: DeadlineCursor?
        if let text = request.query["after"], !text.isEmpty {
            guard let cursor = DeadlineCursor(encoded: text) else {
                throw ServiceError.badRequest("after must be a cursor this API returned as next.", field: "after")
            }
            after = cursor
        }
        let limit = try Self.limit(request, default: 100, maximum: 1000)
        let (notParty, page) = try await withReads(request) { reads in
            var notParty = false
            if let institution = visibleTo, let caseId = filter.caseId {
                notParty = try await reads.access.partyCases(institution: institution, among: [caseId]).isEmpty
                // A standby behind the referral that made the caller a party must not refuse it:
                // the primary decides (withReads retries a 404 there).
                if notParty && reads.source == .replica { throw Self.noSuchCase }
            }
            return (
                notParty,
                try await reads.readSide.deadlinesPage(filter, visibleTo: visibleTo, after: after, limit: limit)
            )
        }
        if notParty, let caseId = filter.caseId {
            // Asking for the deadlines of a case it is no party to (existing or not) is an
            // attempt on that case: the answer is the same empty page either way, and the
            // attempt is recorded as denied.
            try await recordDenied(principal, caseId: caseId, request)
        }
        let rows = page.rows
        try await accessLog.record(principal, caseIds: Set(rows.map(\.caseId)), endpoint: Self.endpoint(request))
        var w = JSONBytes(capacity: 256 * rows.count + 64)
        w.beginObject()
        w.key("deadlines")
        w.beginArray()
        for d in rows {
            w.beginObject()
            w.member("caseId", d.caseId)
            w.member("ruleId", d.ruleId)
            w.member("title", d.title)
            w.member("dueAt", Timestamp.format(d.dueAt))
            w.member("status", d.status.rawValue)
            w.member("responsible", d.responsible)
            w.member("triggerEventId", d.triggerEventId.uuidString.lowercased())
            w.member("satisfiedAt", d.satisfiedAt.map(Timestamp.format))
            w.key("counted")
            w.bool(d.counted)
            w.endObject()
        }
        w.endArray()
        w.member("next", page.next?.encoded)
        w.endObject()
        return .json(.ok, w.bytes)
    }

    func inbox(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        guard principal.role == .institution, let institution = principal.institution else {
            throw ServiceError.forbidden("The inbox is an institution's.")
        }
        let items = try await withReads(request) { try await $0.readSide.inbox(institution: institution) }
        try await accessLog.record(principal, caseIds: Set(items.map(\.caseId)), endpoint: Self.endpoint(request))
        let list: [JSONValue] = items.map { r in
            .object(
                JSONObject([
                    ("caseId", .string(r.caseId)), ("referralId", .string(r.referralId)), ("from", .string(r.from)),
                    ("purpose", .string(r.purpose)), ("urgency", .string(r.urgency)), ("status", .string(r.status)),
                    ("issuedAt", .string(Timestamp.format(r.issuedAt))),
                ]))
        }
        return .json(.ok, JSONValue.object(JSONObject([("referrals", .array(list))])).serialized())
    }

    func stats(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        guard principal.role == .coordinator || principal.role == .auditor else {
            throw ServiceError.forbidden("Statistics are for coordinators and auditors.")
        }
        var year: Int?
        if let text = request.query["year"] {
            guard text.count == 4, let y = Int(text), (1900...9999).contains(y) else {
                throw ServiceError.badRequest("year is a four-digit year.", field: "year")
            }
            year = y
        }
        let report = try await withReads(request) { try await $0.readSide.stats(year: year) }
        let body = Self.renderStats(report, year: year, suppressSmallCells: principal.role != .auditor)
        return .json(.ok, body.serialized())
    }

    /// The stats document; with suppression every count under 5 is the string `"<5"`.
    static func renderStats(_ report: StatsReport, year: Int?, suppressSmallCells: Bool) -> JSONValue {
        func cell(_ n: Int) -> JSONValue {
            suppressSmallCells && DisclosureControl.isSmall(n)
                ? .string(DisclosureControl.marker) : .number(JSONNumber(n))
        }
        // The dimensions that split the cases (each case has one value) add up to `cases`: with one
        // small value withheld and the others shown, the total gave it away (an auditor's pass:
        // other = 254 − 252). They go through the report's rule, secondary suppression included.
        let partitions: Set<String> = ["sex", "ageBand", "nationality", "identificationStatus"]
        var cells = [report.cases]
        var lines: [DisclosureControl.Line] = []
        var index: [String: [String: Int]] = [:]
        for dimension in report.counts.keys.sorted() where partitions.contains(dimension) {
            var parts: [Int] = []
            // In a fixed order, so that ties between equal counts fall the same way in every answer
            // (two answers withholding different cells of the same data gave both away).
            for (value, n) in report.counts[dimension]!.sorted(by: { $0.key < $1.key }) {
                index[dimension, default: [:]][value] = cells.count
                parts.append(cells.count)
                cells.append(n)
            }
            lines.append(DisclosureControl.Line(total: 0, parts: parts))
        }
        let withheld = suppressSmallCells ? DisclosureControl.protect(cells, lines: lines) : cells.map { _ in false }
        func protected(_ i: Int) -> JSONValue {
            guard withheld[i] else { return .number(JSONNumber(cells[i])) }
            return .string(
                DisclosureControl.isSmall(cells[i]) ? DisclosureControl.marker : DisclosureControl.secondaryMarker)
        }
        var counts = JSONObject()
        for dimension in report.counts.keys.sorted() {
            var values = JSONObject()
            for (value, n) in report.counts[dimension]!.sorted(by: { $0.key < $1.key }) {
                values[value] = index[dimension]?[value].map(protected) ?? cell(n)
            }
            counts[dimension] = .object(values)
        }
        let compliance: [JSONValue] = report.compliance.map { c in
            .object(
                JSONObject([
                    ("ruleId", .string(c.ruleId)), ("institution", .string(c.institution)), ("met", cell(c.met)),
                    ("metLate", cell(c.metLate)), ("overdue", cell(c.overdue)), ("pending", cell(c.pending)),
                    ("cancelled", cell(c.cancelled)),
                ]))
        }
        return .object(
            JSONObject([
                ("year", year.map { .number(JSONNumber($0)) } ?? .null), ("cases", protected(0)),
                ("suppressed", .bool(suppressSmallCells)), ("counts", .object(counts)),
                ("compliance", .array(compliance)),
            ]))
    }
}
