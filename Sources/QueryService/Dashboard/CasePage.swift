import Crypto
import EventStore
import Foundation
import HTTP
import Referrals

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
        access: [AccessLog.Entry]?, accessRecord: AccessLogReport? = nil, now: Date
    ) -> HTML {
        let summary: HTML = """
            <dl class="facts">
            <div><dt>Status</dt><dd>\(state.status.rawValue)</dd></div>
            <div><dt>Identification</dt><dd>\(state.identificationStatus.rawValue)</dd></div>
            <div><dt>Risk</dt><dd>\(state.riskLevel?.rawValue ?? "not assessed")</dd></div>
            <div><dt>Opened</dt><dd>\(DashboardLayout.time(state.openedAt)) by \(DashboardLayout.institutionName(state.openedBy))</dd></div>
            <div><dt>Parties</dt><dd>\(state.parties.map(DashboardLayout.institutionName).joined(separator: ", "))</dd></div>
            <div><dt>Events</dt><dd>\(state.version)</dd></div>
            </dl>
            """
        return """
            <p class="crumbs"><a href="/">Dashboard</a> › Case</p>
            <h1>Case \(caseId)</h1>
            \(summary)
            <section aria-labelledby="chain-h"><h2 id="chain-h">Hash chain</h2>\(chainStatus(chain))</section>
            <section aria-labelledby="handoffs-h"><h2 id="handoffs-h">Handoffs</h2>\(handoffs(state))</section>
            <section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2>\(timeline(lines))</section>
            <section aria-labelledby="case-deadlines-h"><h2 id="case-deadlines-h">Deadlines</h2>\
            \(caseDeadlines(deadlines, now: now))</section>
            \(access.map { entries in
                HTML("""
                <section aria-labelledby="case-access-h"><h2 id="case-access-h">Who read this case</h2>\
                \(accessRecordStatus(accessRecord))\
                \(DashboardTables.accessLog(entries, caption: "The \(entries.count) newest reads of this case, newest first, refused attempts included.", id: "case-access"))</section>
                """)
            } ?? .empty)
            """
    }

    /// Whether the case's read record (its rows of the chained access log) is intact.
    static func accessRecordStatus(_ report: AccessLogReport?) -> HTML {
        guard let report else { return .empty }
        if let problem = report.problem {
            return """
                <p class="chain broken" role="alert" id="access-record"><strong>Read record broken</strong> at \
                \(problem.seq.map { "access log row \($0)" } ?? "its end"): \(problem.reason)</p>
                """
        }
        return """
            <p class="chain valid" id="access-record"><strong>Read record intact</strong>: \(report.rows) entries, \
            each chained to the one before.</p>
            """
    }

    static func chainStatus(_ report: VerificationReport?) -> HTML {
        guard let report else {
            return "<p>Chain verification is shown to coordinators and auditors.</p>"
        }
        if let problem = report.problem {
            return """
                <p class="chain broken" role="alert"><strong>Chain broken</strong> at \
                \(problem.version.map { "version \($0)" } ?? "the stream head"): \(problem.reason)</p>
                """
        }
        let head = report.headHash.map { String($0.hexString.prefix(16)) } ?? "—"
        return """
            <p class="chain valid"><strong>Chain valid</strong>: \(Int(report.events)) events recomputed, \
            head hash <code>\(head)…</code></p>
            """
    }

    static func handoffs(_ state: CaseState) -> HTML {
        let referrals = state.referralOrder.compactMap { state.referrals[$0] }
        let body: [HTML] =
            referrals.isEmpty
            ? ["<tr><td colspan=\"6\" class=\"empty\">No referrals yet.</td></tr>"]
            : referrals.map { r in
                """
                <tr><th scope="row">\(r.id)</th><td>\(DashboardLayout.institutionName(r.from)) → \
                \(DashboardLayout.institutionName(r.to))</td><td>\(r.purpose.rawValue)</td><td>\(r.urgency.rawValue)</td>\
                <td>\(r.status.rawValue)\(consentFindings(r))</td><td>\(DashboardLayout.time(r.issuedAt))</td></tr>
                """
            }
        return DashboardTables.wrap(
            "handoffs", label: "Handoffs",
            """
            <table><caption>Referrals of this case, from one institution to another.</caption>
            <thead><tr><th scope="col">Referral</th><th scope="col">From → to</th><th scope="col">Purpose</th>\
            <th scope="col">Urgency</th><th scope="col">Status</th><th scope="col">Issued</th></tr></thead>
            <tbody>\(body)</tbody></table>
            """)
    }

    /// A referral's consent findings (docs/time-of-record.md): issued under an override, or a
    /// consent it relied on withdrawn while it was open.
    static func consentFindings(_ r: Referral) -> HTML {
        var notes: [HTML] = []
        if let reason = r.consentOverride {
            notes.append("<span class=\"sub finding\">issued without consent: override \(reason.rawValue)</span>")
        }
        if let withdrawn = r.consentWithdrawnAt {
            notes.append("<span class=\"sub finding\">consent withdrawn \(DashboardLayout.time(withdrawn))</span>")
        }
        return HTML(joining: notes)
    }

    /// "recorded 3 d after it occurred" for an event entered later than the default late-entry
    /// grace (the time of record then decides how it counts); nothing otherwise.
    static func lateEntry(_ e: RecordedEvent) -> HTML {
        let late = e.recordedDate.timeIntervalSince(e.occurredDate)
        guard late > Ruleset.defaultLateEntryGrace.fixedSeconds else { return "" }
        let text = late >= 2 * 86_400 ? "\(Int(late / 86_400)) d" : "\(Int(late / 3600)) h"
        return "<span class=\"sub late-entry\">recorded \(text) after it occurred</span>"
    }

    static func timeline(_ lines: [Line]) -> HTML {
        let body: [HTML] = lines.map { line in
            let e = line.event
            let handoff: HTML =
                line.handoff.map { "\($0.from) → \($0.to)" + (line.referralId.map { " (\($0))" } ?? "") }
                ?? line.ruleId.map { "<span class=\"sub\">rule \($0)</span>" } ?? "—"
            let stream: HTML = e.stream.hasPrefix("sop-") ? "<span class=\"sub\">SOP notice</span>" : ""
            return """
                <tr><td>\(e.stream.hasPrefix("sop-") ? "—" : String(e.version))</td>\
                <th scope="row">\(e.type)\(stream)</th><td>\(handoff)</td><td>\(line.actor)</td>\
                <td>\(DashboardLayout.time(e.occurredDate))</td>\
                <td>\(DashboardLayout.time(e.recordedDate))\(lateEntry(e))</td>\
                <td><code>\(String(e.hash.hexString.prefix(12)))</code></td></tr>
                """
        }
        return DashboardTables.wrap(
            "timeline", label: "Timeline",
            """
            <table class="timeline"><caption>Every event of the case and its SOP notices, in recorded order. \
            Occurred is when it happened, recorded when the log received it.</caption>
            <thead><tr><th scope="col">Version</th><th scope="col">Event</th><th scope="col">Handoff</th>\
            <th scope="col">By</th><th scope="col">Occurred</th><th scope="col">Recorded</th>\
            <th scope="col">Hash</th></tr></thead>
            <tbody>\(body)</tbody></table>
            """)
    }

    static func caseDeadlines(_ rows: [DeadlineRow], now: Date) -> HTML {
        let body: [HTML] =
            rows.isEmpty
            ? ["<tr><td colspan=\"4\" class=\"empty\">No deadlines (yet) for this case.</td></tr>"]
            : rows.sorted { ($0.dueAt, $0.ruleId) < ($1.dueAt, $1.ruleId) }.map { d in
                let detail: HTML =
                    d.satisfiedAt.map { "met \(DashboardLayout.time($0))" }
                    ?? "\(DashboardLayout.relative(d.dueAt, now: now))"
                return """
                    <tr class="\(d.status.rawValue)"><th scope="row">\(d.title)<span class="sub">\(d.ruleId)</span></th>\
                    <td>\(DashboardLayout.institutionName(d.responsible))</td>\
                    <td>\(DashboardLayout.time(d.dueAt))<span class="sub">\(detail)</span></td>\
                    <td>\(DashboardLayout.badge(d.status))</td></tr>
                    """
            }
        return DashboardTables.wrap(
            "case-deadlines", label: "Deadlines of this case",
            """
            <table><caption>SOP deadlines of this case, soonest first.</caption>
            <thead><tr><th scope="col">Rule</th><th scope="col">Responsible</th><th scope="col">Due</th>\
            <th scope="col">Status</th></tr></thead>
            <tbody>\(body)</tbody></table>
            """)
    }
}
