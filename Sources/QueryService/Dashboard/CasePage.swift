import Crypto
import EventStore
import Foundation
import HTTP
import Referrals
import ServiceStore

/// The case page: summary, handoffs, the timeline with both times of every event and the
/// hash-chain status, and the case's deadlines.
enum CasePage {
    /// One timeline line: a stored event and, for a referral's events, the handoff it belongs to.
    struct Line: Sendable {
        var event: RecordedEvent
        var actor: String
        var handoff: (from: String, to: String)?
        var referralId: String?
        /// The SOP rule a notice is about.
        var ruleId: String?
    }

    static func lines(_ events: [RecordedEvent], state: CaseState?) -> [Line] {
        events.map { e in
            let data = try? JSONValue.parse(e.data)
            let metadata = try? JSONValue.parse(e.metadata)
            let actor = metadata?["actor"]?["institution"]?.stringValue ?? "—"
            let referralId = data?["referralId"]?.stringValue
            var handoff: (String, String)?
            if let referralId, let referral = state?.referrals[referralId] {
                handoff = (referral.from, referral.to)
            } else if e.type == "ReferralIssued", let to = data?["to"]?.stringValue {
                handoff = (actor, to)
            }
            return Line(
                event: e, actor: actor, handoff: handoff, referralId: referralId,
                ruleId: e.stream.hasPrefix("sop-") ? data?["ruleId"]?.stringValue : nil)
        }
    }

    static func render(
        caseId: String, state: CaseState, lines: [Line], chain: VerificationReport?, deadlines: [DeadlineRow],
        access: AccessLog.Page?, accessPaged: Bool = false, accessRecord: AccessLogReport? = nil,
        forms: HTML = .empty, now: Date, _ t: Localizer
    ) -> HTML {
        let openedBy = DashboardLayout.institutionName(state.openedBy, t)
        let opened = t.html(
            "case.openedBy", ["time": DashboardLayout.time(state.openedAt, t), "institution": "\(openedBy)"])
        let parties = state.parties.map { DashboardLayout.institutionName($0, t) }.joined(separator: ", ")
        let summary: HTML = """
            <dl class="facts">
            <div><dt>\(t("case.status"))</dt><dd>\(t.code("caseStatus", state.status.rawValue))</dd></div>
            <div><dt>\(t("case.identification"))</dt><dd>\(t.code("identification", state.identificationStatus.rawValue))</dd></div>
            <div><dt>\(t("case.risk"))</dt><dd>\(state.riskLevel.map { t.code("risk", $0.rawValue) } ?? t("case.notAssessed"))</dd></div>
            <div><dt>\(t("case.opened"))</dt><dd>\(opened)</dd></div>
            <div><dt>\(t("case.parties"))</dt><dd>\(parties)</dd></div>
            <div><dt>\(t("case.events"))</dt><dd>\(state.version)</dd></div>
            </dl>
            """
        return """
            <p class="crumbs"><a href="/">\(t("case.crumbDashboard"))</a> › \(t("case.crumbCase"))</p>
            <h1>\(t("case.title", ["id": caseId]))</h1>
            \(summary)
            \(forms)
            <section aria-labelledby="chain-h"><h2 id="chain-h">\(t("case.chain"))</h2>\(chainStatus(chain, t))</section>
            <section aria-labelledby="handoffs-h"><h2 id="handoffs-h">\(t("case.handoffs"))</h2>\(handoffs(state, t))</section>
            <section aria-labelledby="timeline-h"><h2 id="timeline-h">\(t("case.timeline"))</h2>\(timeline(lines, t))</section>
            <section aria-labelledby="case-deadlines-h"><h2 id="case-deadlines-h">\(t("case.deadlines"))</h2>\
            \(caseDeadlines(deadlines, now: now, duplicateClosedBy: state.duplicateClosedBy, t))</section>
            \(access.map { page in
                HTML("""
                <section aria-labelledby="case-access-h"><h2 id="case-access-h">\(t("case.whoRead"))</h2>\
                \(accessRecordStatus(accessRecord, t))\
                \(DashboardTables.accessLog(page.entries, caption: t(accessPaged ? "case.earlierAccessCaption" : "case.accessCaption", ["n": String(page.entries.count)]), id: "case-access", t))\
                \(accessPaging(caseId: caseId, next: page.next, paged: accessPaged, t))</section>
                """)
            } ?? .empty)
            """
    }

    /// Links through the case's reads, 50 at a time: to the earlier ones, and back to the newest.
    static func accessPaging(caseId: String, next: AccessCursor?, paged: Bool, _ t: Localizer) -> HTML {
        let page = "/cases/\(HTML.queryValue(caseId))"
        var links: [HTML] = []
        if paged { links.append("<a href=\"\(page)#case-access-h\">\(t.html("case.newestReads"))</a>") }
        if let next {
            let earlier = "\(page)?reads=\(HTML.queryValue(next.encoded))#case-access-h"
            if !links.isEmpty { links.append(" · ") }
            links.append("<a id=\"earlier-reads\" href=\"\(earlier)\">\(t.html("case.earlierReads"))</a>")
        }
        guard !links.isEmpty else { return .empty }
        return "<p class=\"paging\">\(links)</p>"
    }

    /// Whether the case's read record (its rows of the chained access log) is intact. The
    /// reason of a break is the verifier's own (technical, English) text.
    static func accessRecordStatus(_ report: AccessLogReport?, _ t: Localizer) -> HTML {
        guard let report else { return .empty }
        if let problem = report.problem {
            let place = problem.seq.map { t("record.atRow", ["n": String($0)]) } ?? t("record.atEnd")
            return """
                <p class="chain broken" role="alert" id="access-record">\(t.html("record.brokenAt", [
                    "label": "<strong>\(t("record.broken"))</strong>", "where": "\(place)", "reason": "\(problem.reason)",
                ]))</p>
                """
        }
        return """
            <p class="chain valid" id="access-record">\(t.html("record.intactDetail", [
                "label": "<strong>\(t("record.intact"))</strong>", "n": "\(report.rows)",
            ]))</p>
            """
    }

    static func chainStatus(_ report: VerificationReport?, _ t: Localizer) -> HTML {
        guard let report else {
            return "<p>\(t("chain.hidden"))</p>"
        }
        if let problem = report.problem {
            // The stream named too: the case's own, or the stream of its notices.
            let place =
                (problem.version.map { t("chain.atVersion", ["n": String($0)]) } ?? t("chain.atHead"))
                + " (<code>\(HTML.escape(problem.stream))</code>)"
            return """
                <p class="chain broken" role="alert">\(t.html("chain.brokenAt", [
                    "label": "<strong>\(t("chain.broken"))</strong>", "where": "\(place)", "reason": "\(problem.reason)",
                ]))</p>
                """
        }
        let head = report.headHash.map { String($0.hexString.prefix(16)) } ?? "—"
        return """
            <p class="chain valid">\(t.html("chain.validDetail", [
                "label": "<strong>\(t("chain.valid"))</strong>", "n": "\(Int(report.events))", "hash": "<code>\(head)…</code>",
            ]))</p>
            """
    }

    static func handoffs(_ state: CaseState, _ t: Localizer) -> HTML {
        let referrals = state.referralOrder.compactMap { state.referrals[$0] }
        let body: [HTML] =
            referrals.isEmpty
            ? ["<tr><td colspan=\"6\" class=\"empty\">\(t("handoffs.empty"))</td></tr>"]
            : referrals.map { r in
                """
                <tr><th scope="row">\(r.id)</th><td>\(DashboardLayout.institutionName(r.from, t)) → \
                \(DashboardLayout.institutionName(r.to, t))</td><td>\(t.code("purpose", r.purpose.rawValue))</td>\
                <td>\(t.code("urgency", r.urgency.rawValue))</td>\
                <td>\(t.code("referral.status", r.status.rawValue))\(consentFindings(r, t))</td><td>\(DashboardLayout.time(r.issuedAt, t))</td></tr>
                """
            }
        return DashboardTables.wrap(
            "handoffs", label: t("case.handoffs"),
            """
            <table><caption>\(t("handoffs.caption"))</caption>
            <thead><tr><th scope="col">\(t("col.referral"))</th><th scope="col">\(t("col.fromTo"))</th>\
            <th scope="col">\(t("col.purpose"))</th><th scope="col">\(t("col.urgency"))</th>\
            <th scope="col">\(t("col.status"))</th><th scope="col">\(t("col.issued"))</th></tr></thead>
            <tbody>\(body)</tbody></table>
            """)
    }

    /// A referral's consent findings (docs/time-of-record.md): issued under an override, or a
    /// consent it relied on withdrawn while it was open.
    static func consentFindings(_ r: Referral, _ t: Localizer) -> HTML {
        var notes: [HTML] = []
        if let reason = r.consentOverride {
            let text = t("case.consentOverride", ["reason": t.code("consentOverride", reason.rawValue)])
            notes.append("<span class=\"sub finding\">\(text)</span>")
        }
        if let withdrawn = r.consentWithdrawnAt {
            let when = DashboardLayout.time(withdrawn, t)
            notes.append("<span class=\"sub finding\">\(t.html("case.consentWithdrawn", ["time": when]))</span>")
        }
        return HTML(joining: notes)
    }

    /// "recorded 3 d after it occurred" for an event entered later than the default late-entry
    /// grace (the time of record then decides how it counts); nothing otherwise.
    static func lateEntry(_ e: RecordedEvent, _ t: Localizer) -> HTML {
        let late = e.recordedDate.timeIntervalSince(e.occurredDate)
        guard late > Ruleset.defaultLateEntryGrace.fixedSeconds else { return "" }
        let span =
            late >= 2 * 86_400
            ? t("unit.days", ["n": String(Int(late / 86_400))])
            : t("unit.hours", ["n": String(Int(late / 3600))])
        return "<span class=\"sub late-entry\">\(t("case.lateEntry", ["span": span]))</span>"
    }

    /// The timeline. An event's type is shown in words, with its code (as the API names it) beneath.
    static func timeline(_ lines: [Line], _ t: Localizer) -> HTML {
        let body: [HTML] = lines.map { line in
            let e = line.event
            let handoff: HTML =
                line.handoff.map { "\($0.from) → \($0.to)" + (line.referralId.map { " (\($0))" } ?? "") }
                ?? line.ruleId.map { "<span class=\"sub\">\(t("timeline.rule", ["id": $0]))</span>" } ?? "—"
            let stream: HTML = e.stream.hasPrefix("sop-") ? "<span class=\"sub\">\(t("timeline.sopNotice"))</span>" : ""
            return """
                <tr><td>\(e.stream.hasPrefix("sop-") ? "—" : String(e.version))</td>\
                <th scope="row">\(t.code("event", e.type))<span class="sub"><code>\(e.type)</code></span>\(stream)</th>\
                <td>\(handoff)</td><td>\(line.actor)</td>\
                <td>\(DashboardLayout.time(e.occurredDate, t))</td><td>\(DashboardLayout.time(e.recordedDate, t))\(lateEntry(e, t))</td>\
                <td><code>\(String(e.hash.hexString.prefix(12)))</code></td></tr>
                """
        }
        return DashboardTables.wrap(
            "timeline", label: t("case.timeline"),
            """
            <table class="timeline"><caption>\(t("timeline.caption"))</caption>
            <thead><tr><th scope="col">\(t("col.version"))</th><th scope="col">\(t("col.event"))</th>\
            <th scope="col">\(t("col.fromTo"))</th><th scope="col">\(t("col.by"))</th>\
            <th scope="col">\(t("col.occurred"))</th><th scope="col">\(t("col.recorded"))</th>\
            <th scope="col">\(t("col.hash"))</th></tr></thead>
            <tbody>\(body)</tbody></table>
            """)
    }

    static func caseDeadlines(_ rows: [DeadlineRow], now: Date, duplicateClosedBy: String?, _ t: Localizer) -> HTML {
        let body: [HTML] =
            rows.isEmpty
            ? ["<tr><td colspan=\"4\" class=\"empty\">\(t("caseDeadlines.empty"))</td></tr>"]
            : rows.sorted { ($0.dueAt, $0.ruleId) < ($1.dueAt, $1.ruleId) }.map { d in
                var detail: HTML =
                    d.satisfiedAt.map { t.html("deadlines.met", ["time": DashboardLayout.time($0, t)]) }
                    ?? "\(t.relative(d.dueAt, now: now))"
                // A term left out of the figures (Deadline.counted) says why: met by the institution
                // that closed the case as a duplicate, or a recurring term met within an earlier one.
                if !d.counted {
                    let why =
                        d.responsible == duplicateClosedBy ? "deadlines.notCountedDuplicate" : "deadlines.notCounted"
                    detail = "\(detail) · \(t(why))"
                }
                return """
                    <tr class="\(d.status.rawValue)"><th scope="row">\(DashboardLayout.ruleTitle(d.ruleId, fallback: d.title, t))\
                    <span class="sub">\(d.ruleId)</span></th>\
                    <td>\(DashboardLayout.institutionName(d.responsible, t))</td>\
                    <td>\(DashboardLayout.time(d.dueAt, t))<span class="sub">\(detail)</span></td>\
                    <td>\(DashboardLayout.badge(d.status, t))</td></tr>
                    """
            }
        return DashboardTables.wrap(
            "case-deadlines", label: t("caseDeadlines.label"),
            """
            <table><caption>\(t("caseDeadlines.caption"))</caption>
            <thead><tr><th scope="col">\(t("col.rule"))</th><th scope="col">\(t("col.responsible"))</th>\
            <th scope="col">\(t("col.due"))</th><th scope="col">\(t("col.status"))</th></tr></thead>
            <tbody>\(body)</tbody></table>
            """)
    }
}
