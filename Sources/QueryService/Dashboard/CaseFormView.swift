import Foundation
import HTTP
import Referrals

/// The dashboard's forms as HTML (``CaseForm`` says which controls each has): plain forms that
/// POST and are answered with a redirect, usable without JavaScript and by keyboard alone. Each
/// form sits in a `<details>` (a keyboard-operable disclosure), every control has a `<label>` (or
/// a `<legend>` for a group), and a refusal is shown beside its control (`aria-invalid`,
/// `aria-describedby`) and summed up at the top of the form (`role="alert"`).
///
/// Every form carries the session's CSRF token, the case's version when the page was rendered
/// (so that a change made meanwhile is reported, not overwritten), a new event id (so that sending
/// it twice records it once) and the time it filled in (kept: the event happened now).
struct CaseFormView {
    /// Where the forms post: `/cases/{caseId}/events`, or `/cases` to open one.
    var action: String
    var csrf: String
    /// The case's stream version when the page was rendered.
    var expectedVersion: Int64?
    var now: Date
    /// The registered institutions and their kinds: the recipient choices, and who may take which step.
    var kinds: [String: [InstitutionKind]]
    /// The registered institutions, in order, for the recipient choices.
    var institutions: [String] { kinds.keys.sorted() }
    /// The principal's institution (never offered as a recipient).
    var own: String
    /// The refusal of the form sent last, shown in that form.
    var feedback: CaseForm.Feedback?
    var t: Localizer

    /// The form for `type` (acting on `referral` for a referral's steps) in a closed
    /// `<details>`, open when it holds feedback.
    func form(_ type: CaseEventType, referral: Referral? = nil, newReferralId: String? = nil) -> HTML {
        let key = CaseForm.key(type, referralId: referral?.id)
        let mine = feedback?.form == key ? feedback : nil
        var hidden: [HTML] = [
            "<input type=\"hidden\" name=\"csrf\" value=\"\(csrf)\">",
            "<input type=\"hidden\" name=\"type\" value=\"\(type.rawValue)\">",
            "<input type=\"hidden\" name=\"id\" value=\"\(UUID().uuidString.lowercased())\">",
        ]
        if let expectedVersion {
            hidden.append("<input type=\"hidden\" name=\"expectedVersion\" value=\"\(expectedVersion)\">")
        }
        var controls: [HTML] = []
        for field in CaseForm.fields(type) {
            switch field.kind {
            case .hidden:
                let value = field.name == "referralId" ? (referral?.id ?? newReferralId ?? "") : ""
                hidden.append("<input type=\"hidden\" name=\"\(field.name)\" value=\"\(value)\">")
            case .overrideReason:
                continue  // rendered with the flag
            default:
                controls.append(control(field, key: key, feedback: mine))
            }
        }
        controls.append(occurredAt(key: key, feedback: mine))
        var summary: HTML = .empty
        if let mine {
            let text = mine.field == nil ? mine.message(t) : t("form.notSaved")
            summary = "<p class=\"problem\" role=\"alert\" id=\"e-\(key)\">\(text)</p>"
        }
        return """
            <details class="act" id="form-\(key)"\(mine == nil ? HTML.empty : " open")>
            <summary>\(t("form.title." + type.rawValue))</summary>
            <form method="post" action="\(action)" class="act-form">
            \(hidden)
            \(summary)
            \(controls)
            <div class="field actions"><button type="submit">\(t("form.submit"))</button></div>
            </form>
            </details>
            """
    }

    // MARK: - Controls

    private func id(_ key: String, _ name: String) -> String { "f-\(key)-\(name)" }

    /// The attributes that tie a control to its hint and its error (`aria-describedby`, and
    /// `aria-invalid` unless `group`: a group's controls carry that themselves), and the error.
    private func error(
        _ key: String, _ name: String, _ feedback: CaseForm.Feedback?, hint: String? = nil, group: Bool = false
    ) -> (HTML, HTML) {
        let failed = feedback?.field == name
        let errorId = "e-\(key)-\(name)"
        let ids = [hint, failed ? errorId : nil].compactMap { $0 }
        var attributes: HTML = ids.isEmpty ? .empty : " aria-describedby=\"\(ids.joined(separator: " "))\""
        if failed && !group { attributes = " aria-invalid=\"true\"" + attributes }
        guard failed, let feedback else { return (attributes, .empty) }
        return (attributes, "<p class=\"field-error\" id=\"\(errorId)\">\(feedback.message(t))</p>")
    }

    private func options(_ codes: [String], labels: String, selected: String?) -> HTML {
        let list: [HTML] = codes.map { code in
            let chosen: HTML = code == selected ? " selected" : .empty
            return "<option value=\"\(code)\"\(chosen)>\(t.code(labels, code))</option>"
        }
        return "<option value=\"\">\(t("form.choose"))</option>" + HTML(joining: list)
    }

    private func label(_ type: String, _ name: String) -> String {
        t.optional("form.field.\(type).\(name)") ?? t("form.field.\(name)")
    }

    private func control(_ field: CaseForm.Field, key: String, feedback: CaseForm.Feedback?) -> HTML {
        let name = field.name
        let controlId = id(key, name)
        let sent = feedback?.values
        let hintId = "h-\(key)-\(name)"
        var hint: String? = nil
        switch field.kind {
        case .number, .countryCode: hint = hintId
        default: break
        }
        var isGroup = false
        switch field.kind {
        case .choices, .institutions, .yesNo: isGroup = true
        default: break
        }
        let (attributes, message) = error(key, name, feedback, hint: hint, group: isGroup)
        let invalid = feedback?.field == name
        let required: HTML = field.required ? " required" : .empty
        let type = String(key.prefix { $0 != "-" })
        let text = label(type, name)
        switch field.kind {
        case .choice(let labels, let codes):
            let selected = sent?[name] ?? (name == "urgency" ? "routine" : nil)
            return """
                <div class="field"><label for="\(controlId)">\(text)</label>
                <select id="\(controlId)" name="\(name)"\(required)\(attributes)>\(options(codes, labels: labels, selected: selected))</select>\(message)</div>
                """
        case .institution:
            let codes = institutions.filter { $0 != own }
            let list: [HTML] = codes.map { code in
                let chosen: HTML = code == sent?[name] ? " selected" : .empty
                return "<option value=\"\(code)\"\(chosen)>\(DashboardLayout.institutionName(code, t))</option>"
            }
            return """
                <div class="field"><label for="\(controlId)">\(text)</label>
                <select id="\(controlId)" name="\(name)"\(required)\(attributes)><option value="">\(t("form.choose"))</option>\(list)</select>\(message)</div>
                """
        case .choices(let labels, let codes):
            return group(
                name: name, key: key, legend: text, values: codes.map { ($0, t.code(labels, $0)) },
                checked: Set(sent?.values(for: name) ?? []), type: "checkbox", attributes: attributes, invalid: invalid,
                message: message)
        case .institutions:
            return group(
                name: name, key: key, legend: text,
                values: institutions.filter { $0 != own }.map { ($0, DashboardLayout.institutionName($0, t)) },
                checked: Set(sent?.values(for: name) ?? []), type: "checkbox", attributes: attributes, invalid: invalid,
                message: message)
        case .yesNo:
            return group(
                name: name, key: key, legend: text, values: [("yes", t("form.yes")), ("no", t("form.no"))],
                checked: Set(sent?[name].map { [$0] } ?? []), type: "radio", attributes: attributes, invalid: invalid,
                message: message)
        case .checkbox:
            let checked: HTML = sent?[name] == "yes" ? " checked" : .empty
            return """
                <div class="field check"><input type="checkbox" id="\(controlId)" name="\(name)" value="yes"\(checked)\(attributes)>\
                <label for="\(controlId)">\(text)</label>\(message)</div>
                """
        case .number(let range):
            return """
                <div class="field"><label for="\(controlId)">\(text)</label>
                <input type="number" id="\(controlId)" name="\(name)" min="\(range.lowerBound)" max="\(range.upperBound)" \
                inputmode="numeric" value="\(sent?[name] ?? "")"\(attributes)>
                <p class="hint" id="\(hintId)">\(t("form.hint.\(name)"))</p>\(message)</div>
                """
        case .countryCode:
            return """
                <div class="field"><label for="\(controlId)">\(text)</label>
                <input type="text" id="\(controlId)" name="\(name)" maxlength="2" size="3" autocomplete="off" \
                spellcheck="false" value="\(sent?[name] ?? "")"\(required)\(attributes)>
                <p class="hint" id="\(hintId)">\(t("form.hint.\(name)"))</p>\(message)</div>
                """
        case .overrideFlag:
            return override(key: key, feedback: feedback)
        case .hidden, .overrideReason:
            return .empty
        }
    }

    /// Checkboxes or radio buttons under a legend.
    private func group(
        name: String, key: String, legend: String, values: [(String, String)], checked: Set<String>, type: String,
        attributes: HTML, invalid: Bool, message: HTML
    ) -> HTML {
        let marked: HTML = invalid ? " aria-invalid=\"true\"" : .empty
        let items: [HTML] = values.map { value, text in
            let itemId = id(key, name) + "-" + value
            let on: HTML = checked.contains(value) ? " checked" : .empty
            return """
                <span class="option"><input type="\(type)" id="\(itemId)" name="\(name)" value="\(value)"\(on)\(marked)>\
                <label for="\(itemId)">\(text)</label></span>
                """
        }
        return """
            <fieldset class="field group"\(attributes)><legend>\(legend)</legend>
            <div class="options">\(items)</div>\(message)</fieldset>
            """
    }

    /// The consent override: a checkbox and the reason; the script shows the reason only while
    /// the box is ticked (without it, both are always shown and work the same).
    private func override(key: String, feedback: CaseForm.Feedback?) -> HTML {
        let sent = feedback?.values
        let flagId = id(key, "consentOverride")
        let reasonId = id(key, "consentOverrideReason")
        let (flagAttributes, flagMessage) = error(key, "consentOverride", feedback, hint: "h-\(key)-override")
        let (reasonAttributes, reasonMessage) = error(key, "consentOverrideReason", feedback)
        let checked: HTML = sent?["consentOverride"] == "yes" ? " checked" : .empty
        let codes = ConsentOverrideReason.allCases.map(\.rawValue)
        return """
            <fieldset class="field group override" data-override><legend>\(t("form.override.legend"))</legend>
            <p class="hint" id="h-\(key)-override">\(t("form.override.hint"))</p>
            <div class="check"><input type="checkbox" id="\(flagId)" name="consentOverride" value="yes" \
            data-override-flag\(checked)\(flagAttributes)>\
            <label for="\(flagId)">\(t("form.override.flag"))</label></div>\(flagMessage)
            <div class="field" data-override-reason><label for="\(reasonId)">\(t("form.override.reason"))</label>
            <select id="\(reasonId)" name="consentOverrideReason"\(reasonAttributes)>\
            \(options(codes, labels: "consentOverride", selected: sent?["consentOverrideReason"]))</select>\(reasonMessage)</div>
            </fieldset>
            """
    }

    /// When it happened, in the deployment's zone, filled in with now. Kept as filled in, the
    /// event is recorded as happening when the form is sent.
    private func occurredAt(key: String, feedback: CaseForm.Feedback?) -> HTML {
        let controlId = id(key, "occurredAt")
        let hintId = "h-\(key)-occurredAt"
        let shown = feedback?.values["occurredAtShown"] ?? FormTime.format(now, in: t.timeZone)
        let value = feedback?.values["occurredAt"] ?? shown
        let (described, message) = error(key, "occurredAt", feedback, hint: hintId)
        return """
            <div class="field"><label for="\(controlId)">\(t("form.occurredAt", ["zone": t.zoneLabel(now)]))</label>
            <input type="hidden" name="occurredAtShown" value="\(shown)">
            <input type="datetime-local" step="1" id="\(controlId)" name="occurredAt" value="\(value)"\(described)>
            <p class="hint" id="\(hintId)">\(t("form.hint.occurredAt"))</p>\(message)</div>
            """
    }

    // MARK: - Sections

    /// The case page's section of forms for `principal`: the steps it may take on each referral,
    /// then the events it may record on the case. Empty for coordinators and auditors.
    static func caseSection(
        _ principal: Principal, state: CaseState, view: CaseFormView
    ) -> HTML {
        let offered = CaseForm.offered(principal, state, kinds: view.kinds)
        guard !offered.caseEvents.isEmpty || !offered.referralSteps.isEmpty else { return .empty }
        let t = view.t
        var keys: Set<String> = []
        var parts: [HTML] = []
        for (referral, steps) in offered.referralSteps {
            let heading = t(
                "form.referralHeading",
                [
                    "id": referral.id, "from": DashboardLayout.institutionName(referral.from, t),
                    "to": DashboardLayout.institutionName(referral.to, t),
                    "purpose": t.code("purpose", referral.purpose.rawValue),
                    "status": t.code("referral.status", referral.status.rawValue),
                ])
            parts.append("<h3 id=\"act-\(referral.id)-h\">\(heading)</h3>")
            for step in steps {
                keys.insert(CaseForm.key(step, referralId: referral.id))
                parts.append(view.form(step, referral: referral))
            }
        }
        if !offered.caseEvents.isEmpty {
            parts.append("<h3 id=\"act-case-h\">\(t("form.caseHeading"))</h3>")
            for type in offered.caseEvents {
                keys.insert(CaseForm.key(type, referralId: nil))
                let id = type == .referralIssued ? CaseForm.newReferralId(state) : nil
                parts.append(view.form(type, newReferralId: id))
            }
        }
        var orphan: HTML = .empty
        if let feedback = view.feedback, !keys.contains(feedback.form) {
            // The form that was sent is no longer offered (the case moved on): say why here.
            orphan = "<p class=\"problem\" role=\"alert\" id=\"act-problem\">\(feedback.message(t))</p>"
        }
        return """
            <section aria-labelledby="act-h" class="acts"><h2 id="act-h">\(t("form.heading"))</h2>
            <p class="lede">\(t("form.lede"))</p>
            \(orphan)
            \(parts)
            </section>
            """
    }

    /// The institution home's section with the open-case form.
    static func openingSection(_ view: CaseFormView) -> HTML {
        """
        <section aria-labelledby="open-h" class="acts"><h2 id="open-h">\(view.t("form.openHeading"))</h2>
        <p class="lede">\(view.t("form.openLede"))</p>
        \(view.form(.caseOpened))
        </section>
        """
    }

    /// The inbox's one-click steps for a referral addressed to the institution (acknowledge,
    /// accept), recorded as happening now; declining needs a reason, on the case page.
    static func inboxActions(_ item: InboxItem, version: Int64?, csrf: String, _ t: Localizer) -> HTML {
        guard let version, let status = ReferralStatus(rawValue: item.status) else { return .empty }
        let steps: [CaseEventType] = [.referralAcknowledged, .referralAccepted].filter {
            ReferralLifecycle.step($0).map { $0.by == .recipient && $0.from.contains(status) } ?? false
        }
        let forms: [HTML] = steps.map { step in
            """
            <form method="post" action="/cases/\(HTML.queryValue(item.caseId))/events" class="inline">\
            <input type="hidden" name="csrf" value="\(csrf)"><input type="hidden" name="type" value="\(step.rawValue)">\
            <input type="hidden" name="id" value="\(UUID().uuidString.lowercased())">\
            <input type="hidden" name="expectedVersion" value="\(version)">\
            <input type="hidden" name="referralId" value="\(item.referralId)">\
            <button type="submit">\(t("form.title." + step.rawValue))<span class="vh"> \
            \(t("form.inboxWhich", ["referral": item.referralId, "case": item.caseId]))</span></button></form>
            """
        }
        let link: HTML =
            "<a href=\"/cases/\(HTML.queryValue(item.caseId))#act-\(item.referralId)-h\">\(t("form.inboxMore"))<span class=\"vh\"> \(t("form.inboxWhich", ["referral": item.referralId, "case": item.caseId]))</span></a>"
        return "<div class=\"inline-actions\">\(forms)\(link)</div>"
    }
}
