import Foundation
import HTTP
import Projections
import Referrals
import ServiceStore

/// The tables of the dashboard pages. Each has a caption and `<th scope>` headers, and sits in
/// a focusable, labelled scroll region so a narrow screen can scroll it by keyboard too.
enum DashboardTables {
    static func wrap(_ id: String, label: String, _ table: HTML) -> HTML {
        "<div class=\"table-wrap\" role=\"region\" aria-label=\"\(label)\" tabindex=\"0\" id=\"\(id)-wrap\">\(table)</div>"
    }

    // MARK: - Deadlines

    /// The filter form of a deadline board: institution, rule and status, then Apply.
    static func deadlineFilters(
        _ board: DeadlineBoard, institutions: [String], rules: [(id: String, title: String)], action: String,
        _ t: Localizer
    ) -> HTML {
        func option(_ value: String, _ label: String, selected: Bool) -> HTML {
            "<option value=\"\(value)\"\(selected ? HTML(" selected") : .empty)>\(label)</option>"
        }
        let institutionOptions =
            [option("", t("filter.allInstitutions"), selected: board.institution == nil)]
            + institutions.map {
                option($0, DashboardLayout.institutionName($0, t), selected: board.institution == $0)
            }
        let ruleOptions =
            [option("", t("filter.allRules"), selected: board.rule == nil)]
            + rules.map { option($0.id, $0.title, selected: board.rule == $0.id) }
        let statusOptions = DeadlineBoard.StatusChoice.allCases.map {
            option($0.rawValue, $0.label(t), selected: board.status == $0)
        }
        let caseOptions: HTML =
            option("open", t("filter.caseStatus.open"), selected: board.caseStatus == .open)
            + option("closed", t("filter.caseStatus.closed"), selected: board.caseStatus == .closed)
            + option("all", t("filter.caseStatus.all"), selected: board.caseStatus == nil)
        let sortFields: HTML =
            board.sort == .due && !board.descending
            ? .empty
            : """
            <input type="hidden" name="sort" value="\(board.sort.rawValue)">\
            <input type="hidden" name="dir" value="\(board.descending ? "desc" : "asc")">
            """
        return """
            <form class="filters" method="get" action="\(action)">
            <div class="field"><label for="f-institution">\(t("filter.responsible"))</label>
            <select id="f-institution" name="institution">\(institutionOptions)</select></div>
            <div class="field"><label for="f-rule">\(t("filter.rule"))</label>
            <select id="f-rule" name="rule">\(ruleOptions)</select></div>
            <div class="field"><label for="f-status">\(t("filter.status"))</label>
            <select id="f-status" name="status">\(statusOptions)</select></div>
            <div class="field"><label for="f-case-status">\(t("filter.caseStatus"))</label>
            <select id="f-case-status" name="caseStatus">\(caseOptions)</select></div>
            \(sortFields)
            <div class="field actions"><button type="submit">\(t("filter.apply"))</button>
            <a href="\(action)">\(t("filter.reset"))</a></div>
            </form>
            """
    }

    /// The deadline table; column headers are links that sort (and say how it is sorted).
    /// The institutions whose rows an unfiltered board left out, each with how many and a link to
    /// the board filtered to it.
    static func leftOut(_ leftOut: [String: Int], board: DeadlineBoard, _ t: Localizer) -> HTML {
        guard !leftOut.isEmpty else { return .empty }
        let items = leftOut.sorted { $0.key < $1.key }.map { institution, count -> HTML in
            var filtered = board
            filtered.institution = institution
            let name = DashboardLayout.institutionName(institution, t)
            let text = t.html("deadlines.moreFor", ["name": "\(name)", "n": "\(count)"])
            return "<li><a href=\"/?\(filtered.queryString)\">\(text)</a></li>"
        }
        return "<ul class=\"left-out\">\(items)</ul>"
    }

    static func deadlines(
        _ rows: [DeadlineRow], total: Int, board: DeadlineBoard, caption: String, now: Date, action: String,
        id: String, _ t: Localizer
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
            ? ["<tr><td colspan=\"5\" class=\"empty\">\(t("deadlines.empty"))</td></tr>"]
            : shown.map { d in
                let when: HTML =
                    if let satisfied = d.satisfiedAt {
                        "\(DashboardLayout.time(d.dueAt, t))<span class=\"sub\">\(t.html("deadlines.met", ["time": DashboardLayout.time(satisfied, t)]))</span>"
                    } else {
                        "\(DashboardLayout.time(d.dueAt, t))<span class=\"sub\">\(t.relative(d.dueAt, now: now))</span>"
                    }
                return """
                    <tr class="\(d.status.rawValue)"><th scope="row">\(DashboardLayout.caseLink(d.caseId))</th>\
                    <td>\(DashboardLayout.ruleTitle(d.ruleId, fallback: d.title, t))<span class="sub">\(d.ruleId)</span></td>\
                    <td>\(DashboardLayout.institutionName(d.responsible, t))</td>\
                    <td>\(when)</td><td>\(DashboardLayout.badge(d.status, t))</td></tr>
                    """
            }
        let more =
            total > shown.count
            ? t("deadlines.more", ["shown": String(shown.count), "total": String(total)])
            : t("deadlines.shown", ["n": String(total)])
        let direction = t(board.descending ? "sort.descending" : "sort.ascending")
        let order = t("deadlines.sorted", ["key": t("sortKey." + board.sort.rawValue), "direction": direction])
        let table: HTML = """
            <table class="deadlines">
            <caption>\(caption) \(more) \(order)</caption>
            <thead><tr>\(header(.caseId, t("col.case")))\(header(.rule, t("col.rule")))\
            \(header(.responsible, t("col.responsible")))\(header(.due, t("col.due")))\(header(.status, t("col.status")))\
            </tr></thead>
            <tbody>\(body)</tbody>
            </table>
            """
        return wrap(id, label: caption, table)
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
        id: String, _ t: Localizer
    ) -> HTML {
        func count(_ n: Int) -> HTML {
            suppress && DisclosureControl.isSmall(n) ? "\(DisclosureControl.marker)" : "\(n)"
        }
        let body: [HTML] =
            rows.isEmpty
            ? ["<tr><td colspan=\"7\" class=\"empty\">\(t("compliance.empty"))</td></tr>"]
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
            <thead><tr><th scope="col">\(keyHeader)</th><th scope="col">\(t("col.met"))</th>\
            <th scope="col">\(t("col.metLate"))</th><th scope="col">\(t("col.overdue"))</th>\
            <th scope="col">\(t("col.running"))</th><th scope="col">\(t("col.cancelled"))</th>\
            <th scope="col">\(t("col.onTime"))</th></tr></thead>
            <tbody>\(body)</tbody>
            </table>
            """
        return wrap(id, label: caption, table)
    }

    // MARK: - Inbox and access log

    /// The inbox table; `actions` gives a row's steps (a last column, when given).
    static func inbox(
        _ items: [InboxItem], institution: String, now: Date, _ t: Localizer,
        actions: ((InboxItem) -> HTML)? = nil
    ) -> HTML {
        let columns = actions == nil ? 7 : 8
        let body: [HTML] =
            items.isEmpty
            ? ["<tr><td colspan=\"\(columns)\" class=\"empty\">\(t("inbox.empty"))</td></tr>"]
            : items.map { r in
                """
                <tr><th scope="row">\(DashboardLayout.caseLink(r.caseId))</th><td>\(r.referralId)</td>\
                <td>\(DashboardLayout.institutionName(r.from, t))</td><td>\(t.code("purpose", r.purpose))</td>\
                <td><span class="urgency \(r.urgency)">\(t.code("urgency", r.urgency))</span></td>\
                <td>\(t.code("referral.status", r.status))</td><td>\(DashboardLayout.time(r.issuedAt, t))\
                <span class="sub">\(t.relative(r.issuedAt, now: now))</span></td>\
                \(actions.map { "<td>\($0(r))</td>" } ?? HTML.empty)</tr>
                """
            }
        let caption = t(
            "inbox.caption", ["name": DashboardLayout.institutionName(institution, t), "n": String(items.count)])
        let table: HTML = """
            <table>
            <caption>\(caption)</caption>
            <thead><tr><th scope="col">\(t("col.case"))</th><th scope="col">\(t("col.referral"))</th>\
            <th scope="col">\(t("col.from"))</th><th scope="col">\(t("col.purpose"))</th>\
            <th scope="col">\(t("col.urgency"))</th><th scope="col">\(t("col.status"))</th>\
            <th scope="col">\(t("col.issued"))</th>\
            \(actions == nil ? HTML.empty : "<th scope=\"col\">\(t("form.col.steps"))</th>")</tr></thead>
            <tbody>\(body)</tbody>
            </table>
            """
        return wrap("inbox", label: t("inbox.heading"), table)
    }

    static func accessLog(_ entries: [AccessLog.Entry], caption: String, id: String, _ t: Localizer) -> HTML {
        let body: [HTML] =
            entries.isEmpty
            ? ["<tr><td colspan=\"6\" class=\"empty\">\(t("access.empty"))</td></tr>"]
            : entries.map { e in
                """
                <tr><td>\(DashboardLayout.time(stored: e.at, t))</td><td>\(e.user)</td>\
                <td>\(t.code("roleName", e.role))\(e.institution.map { " · " + $0 } ?? "")</td>\
                <th scope="row">\(DashboardLayout.caseLink(e.caseId))</th><td><code>\(e.endpoint)</code></td>\
                <td class="outcome \(e.outcome)">\(t(e.outcome == "denied" ? "access.refused" : "access.answered"))</td></tr>
                """
            }
        let table: HTML = """
            <table>
            <caption>\(caption)</caption>
            <thead><tr><th scope="col">\(t("col.when"))</th><th scope="col">\(t("col.user"))</th>\
            <th scope="col">\(t("col.role"))</th><th scope="col">\(t("col.case"))</th>\
            <th scope="col">\(t("col.endpoint"))</th><th scope="col">\(t("col.outcome"))</th></tr></thead>
            <tbody>\(body)</tbody>
            </table>
            """
        return wrap(id, label: caption, table)
    }

    /// Referrals issued without the consent their purpose needs (by override reason) and
    /// referrals whose consent was withdrawn while open: findings for the coordinator
    /// (docs/time-of-record.md). With `suppress`, counts under 5 read `<5`.
    static func consentFindings(_ counts: [String: [String: Int]], suppress: Bool, _ t: Localizer) -> HTML {
        func shown(_ n: Int) -> String { suppress && n > 0 && n < 5 ? "<5" : String(n) }
        let overrides = counts["consentOverride"] ?? [:]
        let rows: [HTML] =
            ConsentOverrideReason.allCases.map { reason in
                let label = t("consent.override", ["reason": t.code("consentOverride", reason.rawValue)])
                return "<tr><th scope=\"row\">\(label)</th><td>\(shown(overrides[reason.rawValue] ?? 0))</td></tr>"
            } + [
                "<tr><th scope=\"row\">\(t("consent.withdrawn"))</th>"
                    + "<td>\(shown(counts["consentWithdrawn"]?["openReferrals"] ?? 0))</td></tr>"
            ]
        let caption = t("consent.caption") + (suppress ? " " + t("compliance.suppressed") : "")
        return wrap(
            "consent-findings", label: t("consent.heading"),
            """
            <table><caption>\(caption)</caption>
            <thead><tr><th scope="col">\(t("consent.finding"))</th><th scope="col">\(t("consent.referrals"))</th></tr></thead>
            <tbody>\(HTML(joining: rows))</tbody></table>
            """)
    }
}
