import Foundation
import HTTP
import Projections
import Referrals

/// The tables of the dashboard pages. Each has a caption and `<th scope>` headers, and sits in
/// a focusable, labelled scroll region so a narrow screen can scroll it by keyboard too.
enum DashboardTables {
    static func wrap(_ id: String, label: String, _ table: HTML) -> HTML {
        "<div class=\"table-wrap\" role=\"region\" aria-label=\"\(label)\" tabindex=\"0\" id=\"\(id)-wrap\">\(table)</div>"
    }

    // MARK: - Deadlines

    /// The filter form of a deadline board: institution, rule and status, then Apply.
    static func deadlineFilters(
        _ board: DeadlineBoard, institutions: [String], rules: [(id: String, title: String)], action: String
    ) -> HTML {
        func option(_ value: String, _ label: String, selected: Bool) -> HTML {
            "<option value=\"\(value)\"\(selected ? HTML(" selected") : .empty)>\(label)</option>"
        }
        let institutionOptions =
            [option("", "All institutions", selected: board.institution == nil)]
            + institutions.map { option($0, DashboardLayout.institutionName($0), selected: board.institution == $0) }
        let ruleOptions =
            [option("", "All rules", selected: board.rule == nil)]
            + rules.map { option($0.id, $0.title, selected: board.rule == $0.id) }
        let statusOptions = DeadlineBoard.StatusChoice.allCases.map {
            option($0.rawValue, $0.label, selected: board.status == $0)
        }
        let sortFields: HTML =
            board.sort == .due && !board.descending
            ? .empty
            : """
            <input type="hidden" name="sort" value="\(board.sort.rawValue)">\
            <input type="hidden" name="dir" value="\(board.descending ? "desc" : "asc")">
            """
        return """
            <form class="filters" method="get" action="\(action)">
            <div class="field"><label for="f-institution">Responsible institution</label>
            <select id="f-institution" name="institution">\(institutionOptions)</select></div>
            <div class="field"><label for="f-rule">Rule</label>
            <select id="f-rule" name="rule">\(ruleOptions)</select></div>
            <div class="field"><label for="f-status">Status</label>
            <select id="f-status" name="status">\(statusOptions)</select></div>
            \(sortFields)
            <div class="field actions"><button type="submit">Apply filters</button>
            <a href="\(action)">Reset</a></div>
            </form>
            """
    }

    /// The deadline table; column headers are links that sort (and say how it is sorted).
    static func deadlines(
        _ rows: [DeadlineRow], total: Int, board: DeadlineBoard, caption: String, now: Date, action: String,
        id: String
    ) -> HTML {
        func header(_ key: DeadlineBoard.SortKey, _ label: String) -> HTML {
            let sorted = board.sort == key
            let ariaSort: HTML =
                sorted ? " aria-sort=\"\(board.descending ? "descending" : "ascending")\"" : ""
            let arrow: HTML =
                sorted
                ? (board.descending ? " <span aria-hidden=\"true\">▼</span>" : " <span aria-hidden=\"true\">▲</span>")
                : ""
            let query = board.sorted(by: key).queryString
            return
                "<th scope=\"col\"\(ariaSort)><a href=\"\(action + (query.isEmpty ? "" : "?" + query))\">\(label)\(arrow)</a></th>"
        }
        let shown = rows.prefix(DeadlineBoard.rowLimit)
        let body: [HTML] =
            shown.isEmpty
            ? ["<tr><td colspan=\"5\" class=\"empty\">No deadlines match these filters.</td></tr>"]
            : shown.map { d in
                let when: HTML =
                    if let satisfied = d.satisfiedAt {
                        "\(DashboardLayout.time(d.dueAt))<span class=\"sub\">met \(DashboardLayout.time(satisfied))</span>"
                    } else {
                        "\(DashboardLayout.time(d.dueAt))<span class=\"sub\">\(DashboardLayout.relative(d.dueAt, now: now))</span>"
                    }
                return """
                    <tr class="\(d.status.rawValue)"><th scope="row">\(DashboardLayout.caseLink(d.caseId))</th>\
                    <td>\(d.title)<span class="sub">\(d.ruleId)</span></td>\
                    <td>\(DashboardLayout.institutionName(d.responsible))</td>\
                    <td>\(when)</td><td>\(DashboardLayout.badge(d.status))</td></tr>
                    """
            }
        let more = total > shown.count ? " Showing the first \(shown.count) of \(total)." : " \(total) shown."
        let table: HTML = """
            <table class="deadlines">
            <caption>\(caption)\(more) Sorted by \(sortName(board.sort)), \(board.descending ? "descending" : "ascending").</caption>
            <thead><tr>\(header(.caseId, "Case"))\(header(.rule, "Rule"))\(header(.responsible, "Responsible"))\
            \(header(.due, "Due"))\(header(.status, "Status"))</tr></thead>
            <tbody>\(body)</tbody>
            </table>
            """
        return wrap(id, label: caption, table)
    }

    private static func sortName(_ key: DeadlineBoard.SortKey) -> String {
        switch key {
        case .due: "due time"
        case .caseId: "case"
        case .rule: "rule"
        case .responsible: "responsible institution"
        case .status: "urgency"
        }
    }

    // MARK: - Compliance

    /// Deadline outcomes summed per key (institution or rule).
    struct ComplianceRow: Sendable, Hashable {
        var key: String
        var met = 0
        var metLate = 0
        var overdue = 0
        var pending = 0
        var cancelled = 0
    }

    static func aggregate(_ cells: [ComplianceCell], by key: (ComplianceCell) -> String) -> [ComplianceRow] {
        var rows: [String: ComplianceRow] = [:]
        for cell in cells {
            var row = rows[key(cell)] ?? ComplianceRow(key: key(cell))
            row.met += cell.met
            row.metLate += cell.metLate
            row.overdue += cell.overdue
            row.pending += cell.pending
            row.cancelled += cell.cancelled
            rows[row.key] = row
        }
        return rows.values.sorted { $0.key < $1.key }
    }

    /// A compliance table. With `suppress`, counts under 5 read `<5` (as `GET /v1/stats` does for
    /// everyone but auditors) and the on-time rate is shown only when no count it uses is suppressed.
    static func compliance(
        _ rows: [ComplianceRow], keyHeader: String, keyLabel: (String) -> HTML, caption: String, suppress: Bool,
        id: String
    ) -> HTML {
        func count(_ n: Int) -> HTML {
            suppress && DisclosureControl.isSmall(n) ? "\(DisclosureControl.marker)" : "\(n)"
        }
        let body: [HTML] =
            rows.isEmpty
            ? ["<tr><td colspan=\"7\" class=\"empty\">No deadlines yet.</td></tr>"]
            : rows.map { r in
                let decided = r.met + r.metLate + r.overdue
                let hidden = suppress && [r.met, r.metLate, r.overdue].contains(where: DisclosureControl.isSmall)
                let rate: HTML =
                    decided == 0 || hidden
                    ? "<span class=\"sub\">—</span>" : "\(Int((Double(r.met) / Double(decided) * 100).rounded())) %"
                return """
                    <tr><th scope="row">\(keyLabel(r.key))</th><td>\(count(r.met))</td><td>\(count(r.metLate))</td>\
                    <td class="\(r.overdue >= (suppress ? 5 : 1) ? "warn" : "")">\(count(r.overdue))</td><td>\(count(r.pending))</td>\
                    <td>\(count(r.cancelled))</td><td>\(rate)</td></tr>
                    """
            }
        let table: HTML = """
            <table class="numbers">
            <caption>\(caption)</caption>
            <thead><tr><th scope="col">\(keyHeader)</th><th scope="col">Met</th><th scope="col">Met late</th>\
            <th scope="col">Overdue</th><th scope="col">Running</th><th scope="col">Cancelled</th>\
            <th scope="col">On time</th></tr></thead>
            <tbody>\(body)</tbody>
            </table>
            """
        return wrap(id, label: caption, table)
    }

    // MARK: - Inbox and access log

    static func inbox(_ items: [InboxItem], institution: String, now: Date) -> HTML {
        let body: [HTML] =
            items.isEmpty
            ? ["<tr><td colspan=\"6\" class=\"empty\">No open referrals.</td></tr>"]
            : items.map { r in
                """
                <tr><th scope="row">\(DashboardLayout.caseLink(r.caseId))</th><td>\(r.referralId)</td>\
                <td>\(DashboardLayout.institutionName(r.from))</td><td>\(r.purpose)</td>\
                <td><span class="urgency \(r.urgency)">\(r.urgency)</span></td>\
                <td>\(r.status)</td><td>\(DashboardLayout.time(r.issuedAt))\
                <span class="sub">\(DashboardLayout.relative(r.issuedAt, now: now))</span></td></tr>
                """
            }
        let caption = "Open referrals addressed to \(DashboardLayout.institutionName(institution)) (\(items.count))."
        let table: HTML = """
            <table>
            <caption>\(caption)</caption>
            <thead><tr><th scope="col">Case</th><th scope="col">Referral</th><th scope="col">From</th>\
            <th scope="col">Purpose</th><th scope="col">Urgency</th><th scope="col">Status</th>\
            <th scope="col">Issued</th></tr></thead>
            <tbody>\(body)</tbody>
            </table>
            """
        return wrap("inbox", label: "Inbox", table)
    }

    static func accessLog(_ entries: [AccessLog.Entry], caption: String, id: String) -> HTML {
        let body: [HTML] =
            entries.isEmpty
            ? ["<tr><td colspan=\"6\" class=\"empty\">No reads recorded.</td></tr>"]
            : entries.map { e in
                """
                <tr><td>\(DashboardLayout.time(stored: e.at))</td><td>\(e.user)</td>\
                <td>\(e.role)\(e.institution.map { " · " + $0 } ?? "")</td>\
                <th scope="row">\(DashboardLayout.caseLink(e.caseId))</th><td><code>\(e.endpoint)</code></td>\
                <td class="outcome \(e.outcome)">\(e.outcome == "denied" ? "refused" : "answered")</td></tr>
                """
            }
        let table: HTML = """
            <table>
            <caption>\(caption)</caption>
            <thead><tr><th scope="col">When</th><th scope="col">User</th><th scope="col">Role</th>\
            <th scope="col">Case</th><th scope="col">Endpoint</th><th scope="col">Outcome</th></tr></thead>
            <tbody>\(body)</tbody>
            </table>
            """
        return wrap(id, label: caption, table)
    }
}
