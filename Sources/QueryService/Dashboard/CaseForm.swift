import Foundation
import HTTP
import Referrals

/// The dashboard's forms for case events, without I/O: the controls of each event type's form,
/// how a submitted form becomes the request the API would have received (the event's `data`,
/// `occurredAt`, the expected version, the event id), which forms a principal is offered, and
/// how a refusal maps back to a control and a catalogue message.
///
/// Nothing here decides whether an event is admitted: the form route hands the request to
/// ``CaseWriter`` (or the open-case path), exactly as the API does, and the vocabulary's own
/// checks report a missing or wrong field.
enum CaseForm {
    /// One control of a form, bound to a member of the event's `data`.
    struct Field: Sendable {
        enum Kind: Sendable {
            /// One code from a closed list; its label is the catalogue's `<labels>.<code>`.
            case choice(labels: String, codes: [String])
            /// Several codes from a closed list (checkboxes).
            case choices(labels: String, codes: [String])
            /// One registered institution other than the principal's own.
            case institution
            /// Several registered institutions (checkboxes).
            case institutions
            /// Yes or no, as two radio buttons.
            case yesNo
            /// A checkbox: ticked is `true`, unticked `false`.
            case checkbox
            /// An optional whole number (the vocabulary checks the range).
            case number(ClosedRange<Int>)
            /// An ISO 3166-1 alpha-2 code, typed.
            case countryCode
            /// A value the page fills in (the referral acted on, a new referral's id).
            case hidden
            /// The consent override's checkbox; with ``overrideReason`` it becomes
            /// `consentOverride: {reason}`.
            case overrideFlag
            case overrideReason
        }

        /// The control's name in the form (the last member of `path`).
        var name: String
        /// Where the value goes in `data`.
        var path: [String]
        var kind: Kind
        /// Whether the vocabulary requires a value (the control is marked `required`).
        var required: Bool

        init(_ path: String..., kind: Kind, required: Bool = true) {
            self.path = path
            self.name = path.last!
            self.kind = kind
            self.required = required
        }

        /// A control the person sees (and an error can be shown beside).
        var isVisible: Bool {
            if case .hidden = kind { return false }
            return true
        }
    }

    /// The event types that have a form: all but `RecordCorrected` (a correction names the
    /// stored event and a partial record; it stays with the API).
    static let types: [CaseEventType] = CaseEventType.allCases.filter { $0 != .recordCorrected }

    /// The controls of `type`'s form, in the order they are shown.
    static func fields(_ type: CaseEventType) -> [Field] {
        func codes<C: CaseIterable & RawRepresentable>(_: C.Type) -> [String] where C.RawValue == String {
            C.allCases.map(\.rawValue)
        }
        let referral = Field("referralId", kind: .hidden)
        switch type {
        case .caseOpened:
            return [
                Field(
                    "identificationStatus",
                    kind: .choice(
                        labels: "identification",
                        codes: codes(IdentificationStatus.self).filter { $0 != "not-a-victim" })),
                Field("profile", "sex", kind: .choice(labels: "form.sex", codes: codes(Sex.self))),
                Field("profile", "ageBand", kind: .choice(labels: "form.age", codes: codes(AgeBand.self))),
                Field("profile", "child", kind: .checkbox, required: false),
                Field("profile", "nationality", kind: .countryCode),
                Field(
                    "profile", "exploitation",
                    kind: .choices(labels: "form.exploitation", codes: codes(Exploitation.self)),
                    required: false),
            ]
        case .referralIssued:
            return [
                Field("referralId", kind: .hidden), Field("to", kind: .institution),
                Field("purpose", kind: .choice(labels: "purpose", codes: codes(ReferralPurpose.self))),
                Field("urgency", kind: .choice(labels: "urgency", codes: codes(Urgency.self))),
                Field("consentOverride", kind: .overrideFlag, required: false),
                Field(
                    "consentOverrideReason",
                    kind: .overrideReason, required: false),
            ]
        case .referralAcknowledged, .referralAccepted:
            return [referral]
        case .referralDeclined:
            return [referral, Field("reason", kind: .choice(labels: "decline", codes: codes(DeclineReason.self)))]
        case .referralCompleted:
            return [
                referral, Field("outcome", kind: .choice(labels: "completion", codes: codes(CompletionOutcome.self))),
            ]
        case .referralWithdrawn:
            return [
                referral,
                Field("reason", kind: .choice(labels: "form.withdrawal", codes: codes(WithdrawalReason.self))),
            ]
        case .riskAssessed:
            return [Field("level", kind: .choice(labels: "risk", codes: codes(RiskLevel.self)))]
        case .identificationStatusChanged:
            return [Field("status", kind: .choice(labels: "identification", codes: codes(IdentificationStatus.self)))]
        case .consentRecorded:
            return [
                Field("purpose", kind: .choice(labels: "purpose", codes: codes(ConsentPurpose.self))),
                Field("recipients", kind: .institutions), Field("given", kind: .yesNo),
            ]
        case .guardianAppointed, .caseReviewed, .recordCorrected:
            return []
        case .reflectionPeriodStarted:
            return [Field("days", kind: .number(1...365), required: false)]
        case .reflectionPeriodEnded:
            return [Field("outcome", kind: .choice(labels: "reflection", codes: codes(ReflectionOutcome.self)))]
        case .caseClosed:
            return [Field("reason", kind: .choice(labels: "closure", codes: codes(ClosureReason.self)))]
        case .caseReopened:
            return [Field("reason", kind: .choice(labels: "reopen", codes: codes(ReopenReason.self)))]
        }
    }

    // MARK: - What is offered

    /// The forms `principal` is offered on a case in `state`: nothing for coordinators and
    /// auditors (only institutions append case events), and for an institution the event types
    /// the write policy allows now (``CasePolicy/authorizeAppend(_:type:to:kinds:)``: after closing only
    /// a reopening) and, per referral, the steps ``ReferralLifecycle`` gives this institution in
    /// the referral's status. An offer is a convenience: every POST is admitted by the server as
    /// the API admits it, whatever the page offered.
    static func offered(_ principal: Principal, _ state: CaseState, kinds: [String: [InstitutionKind]]) -> (
        caseEvents: [CaseEventType], referralSteps: [(referral: Referral, steps: [CaseEventType])]
    ) {
        guard principal.role == .institution, let institution = principal.institution else { return ([], []) }
        func allowed(_ type: CaseEventType) -> Bool {
            (try? CasePolicy.authorizeAppend(principal, type: type, to: state, kinds: kinds)) != nil
        }
        let running = state.reflectionPeriod?.isRunning == true
        let caseEvents: [CaseEventType] = [
            .consentRecorded, .referralIssued, .riskAssessed, .guardianAppointed, .reflectionPeriodStarted,
            .reflectionPeriodEnded, .caseReviewed, .identificationStatusChanged, .caseClosed, .caseReopened,
        ].filter { type in
            guard allowed(type) else { return false }
            switch type {
            case .reflectionPeriodStarted: return !running
            case .reflectionPeriodEnded: return running
            default: return true
            }
        }
        let steps: [CaseEventType] = [
            .referralAcknowledged, .referralAccepted, .referralDeclined, .referralCompleted, .referralWithdrawn,
        ]
        let referralSteps = state.referralOrder.compactMap { id -> (Referral, [CaseEventType])? in
            guard let referral = state.referrals[id] else { return nil }
            let mine = steps.filter {
                allowed($0) && ReferralLifecycle.allows($0, on: referral, by: institution)
                    && ($0 != .referralDeclined || CasePolicy.mayDecline(referral, state))
            }
            return mine.isEmpty ? nil : (referral, mine)
        }
        return (caseEvents, referralSteps)
    }

    /// A referral id not yet used in the case, for a new referral's form (`R-3`).
    static func newReferralId(_ state: CaseState) -> String {
        var n = state.referrals.count + 1
        while state.referrals["R-\(n)"] != nil { n += 1 }
        return "R-\(n)"
    }

    // MARK: - A submitted form

    /// A submitted form as the request the API would have received.
    /// What a form's meaning depends on in the case `state`: when it is the same now as when the
    /// page was rendered, what others recorded meanwhile does not concern the form, and admission
    /// decides against the case as it is now (one party appending every few seconds made every
    /// other party's forms fail as "the case changed", an attack pass). A form this does not name
    /// depends on the whole case.
    static func subject(of submission: Submission, in state: CaseState) -> String {
        let status = "\(state.status)"
        switch submission.type {
        case .referralAcknowledged, .referralAccepted, .referralDeclined, .referralCompleted, .referralWithdrawn:
            let id = submission.data["referralId"]?.stringValue ?? ""
            let referral = state.referrals[id].map {
                "\($0.status) \($0.from) \($0.to) \($0.purpose) \($0.urgency) \($0.issuedAt.timeIntervalSince1970)"
            }
            return status + " " + (referral ?? "none")
        case .identificationStatusChanged: return status + " \(state.identificationStatus)"
        case .reflectionPeriodStarted, .reflectionPeriodEnded:
            return status + " " + String(describing: state.reflectionPeriod)
        case .guardianAppointed: return status + " " + String(describing: state.guardianAppointedAt)
        case .caseReviewed: return status
        case .riskAssessed: return status + " " + String(describing: state.riskLevel)
        case .caseClosed, .caseReopened:
            return status + " \(state.reopenCount) \(state.identificationStatus) " + String(describing: state.riskLevel)
                + " \(state.openReferrals.map(\.id)) " + String(describing: state.reflectionPeriod)
        case .consentRecorded, .referralIssued:
            // The victim's word in force for this purpose and these recipients (a record repeating
            // it changes nothing), and the referrals open to them.
            let purpose = submission.data["purpose"]?.stringValue ?? ""
            let recipients =
                (submission.data["recipients"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                + [submission.data["to"]?.stringValue].compactMap { $0 }
            let consent = recipients.map { recipient in
                state.consents.last { $0.purpose.rawValue == purpose && $0.recipients.contains(recipient) }?.given
            }
            let open = state.openReferrals.filter { recipients.contains($0.to) }.map(\.id)
            return status + " \(state.identificationStatus) \(consent) \(open)"
        default: return "version \(state.version)"
        }
    }

    struct Submission: Sendable {
        var type: CaseEventType
        /// The event id: the page's, so that sending the same form twice records it once.
        var id: UUID
        var idGiven: Bool
        var data: JSONObject
        /// Nil: now (the person kept the time the page filled in).
        var occurredAt: Date?
        /// The case's version when the page was rendered (nil when opening a case).
        var expectedVersion: Int64?
        /// The form's name on its page (`ReferralAccepted-R-1`).
        var key: String
        /// What the person sent, to show the form again as they left it.
        var values: QueryItems
    }

    /// Why a submitted form was not recorded, shown in the form: the control (nil: the whole
    /// form), and what to say (``message(_:)``).
    struct Feedback: Error, Sendable {
        /// The form's name on its page.
        var form: String
        /// The control's name, when it is one the person sees.
        var field: String?
        /// The refusal's code (`invalid_event`, `consent_required`, `required`, `format`).
        var code: String
        /// The name of the member the refusal concerns, shown or not (`referralId`, `type`).
        var subject: String?
        var status: HTTPStatus
        var values: QueryItems

        /// The catalogue's message: `form.error.<code>.<subject>` where there is one, else
        /// `form.error.<code>`. Never the service's own (English) message.
        func message(_ t: Localizer) -> String {
            subject.flatMap { t.optional("form.error.\(code).\($0)") } ?? t("form.error.\(code)")
        }
    }

    /// The form's name on a page: its type, and the referral it acts on.
    static func key(_ type: CaseEventType, referralId: String?) -> String {
        type.rawValue + (referralId.map { "-" + $0 } ?? "")
    }

    /// The names a form may send more than once: the groups of checkboxes (``Field/Kind/choices``,
    /// ``Field/Kind/institutions``) of every form.
    static let multiValued: Set<String> = Set(
        CaseEventType.allCases.flatMap { type in
            fields(type).compactMap { field -> String? in
                switch field.kind {
                case .choices, .institutions: return field.name
                default: return nil
                }
            }
        })

    /// Reads a submitted form. `opening`: the open-case form (type `CaseOpened`, no expected
    /// version); otherwise any other type with a form, and the expected version is required.
    ///
    /// - Throws: ``ServiceError`` 400 `bad_request` for a form no page makes (an unknown type,
    ///   no expected version, an event id that is not a UUID, a field other than a group of
    ///   checkboxes sent twice); ``Feedback`` for a time that is not one (`format` on `occurredAt`).
    static func submission(_ form: QueryItems, zone: TimeZone, opening: Bool) throws -> Submission {
        // A page sends each control once, but for the groups of checkboxes: a name sent twice
        // would leave the first value to win silently (the type, the referral, the recipient,
        // the time), so such a form is refused whole.
        var seen = Set<String>()
        for item in form where !multiValued.contains(item.name) && !seen.insert(item.name).inserted {
            throw ServiceError.badRequest(
                "A field is sent twice: the form is not one the dashboard makes.", field: item.name)
        }
        guard let typeName = form["type"], let type = CaseEventType(rawValue: typeName), types.contains(type),
            (type == .caseOpened) == opening
        else { throw ServiceError.badRequest("This form is not one the dashboard makes.", field: "type") }
        var expected: Int64?
        if !opening {
            guard let text = form["expectedVersion"], let n = Int64(text), n >= 0 else {
                throw ServiceError.badRequest("The form has no expected version.", field: "expectedVersion")
            }
            expected = n
        }
        // A page always sends its UUID; anything else is refused as the API refuses it, never
        // replaced by a fresh id (a resent form would then be recorded twice).
        var givenId: UUID?
        if let text = form["id"], !text.isEmpty {
            guard let id = UUID(uuidString: text) else {
                throw ServiceError.badRequest("The form's event id is not a UUID.", field: "id")
            }
            givenId = id
        }
        var data = JSONObject()
        for field in fields(type) {
            if let value = value(of: field, in: form) { set(&data, field.path, value) }
        }
        let referralId = type.refersToExistingReferral ? form["referralId"] : nil
        let key = key(type, referralId: referralId)
        var occurredAt: Date?
        let typed = (form["occurredAt"] ?? "").trimmingCharacters(in: .whitespaces)
        if !typed.isEmpty, typed != form["occurredAtShown"] {
            guard let date = FormTime.parse(typed, in: zone) else {
                throw Feedback(
                    form: key, field: "occurredAt", code: "format", subject: "occurredAt", status: .badRequest,
                    values: form)
            }
            occurredAt = date
        }
        return Submission(
            type: type, id: givenId ?? UUID(), idGiven: givenId != nil, data: data, occurredAt: occurredAt,
            expectedVersion: expected, key: key, values: form)
    }

    /// The JSON a control's submitted value stands for; nil when it sends nothing (the
    /// vocabulary then reports a required member as missing). A value the vocabulary would
    /// refuse is passed on as it is, so that the refusal names the field.
    private static func value(of field: Field, in form: QueryItems) -> JSONValue? {
        let text = form[field.name].map { $0.trimmingCharacters(in: .whitespaces) }
        switch field.kind {
        case .choice, .institution, .hidden:
            return text.flatMap { $0.isEmpty ? nil : .string($0) }
        case .countryCode:
            return text.flatMap { $0.isEmpty ? nil : .string($0.uppercased()) }
        case .choices, .institutions:
            return .array(form.values(for: field.name).filter { !$0.isEmpty }.map(JSONValue.string))
        case .yesNo:
            switch text {
            case "yes": return .bool(true)
            case "no": return .bool(false)
            case nil, "": return nil
            default: return .string(text!)
            }
        case .checkbox:
            return .bool(text == "yes")
        case .number:
            guard let text, !text.isEmpty else { return nil }
            return Int(text).map { .int($0) } ?? .string(text)
        case .overrideFlag:
            guard text == "yes" else { return nil }
            let reason = (form["consentOverrideReason"] ?? "").trimmingCharacters(in: .whitespaces)
            return .object(reason.isEmpty ? JSONObject() : JSONObject([("reason", .string(reason))]))
        case .overrideReason:
            return nil  // part of the override's object
        }
    }

    private static func set(_ object: inout JSONObject, _ path: [String], _ value: JSONValue) {
        guard let first = path.first else { return }
        if path.count == 1 {
            object[first] = value
        } else {
            var inner = object[first]?.objectValue ?? JSONObject()
            set(&inner, Array(path.dropFirst()), value)
            object[first] = .object(inner)
        }
    }

    /// The request's body for `POST /v1/cases` (the opening's data with the envelope members).
    static func openingBody(_ s: Submission) -> JSONObject {
        var body = s.data
        if s.idGiven { body["id"] = .string(s.id.uuidString.lowercased()) }
        if let at = s.occurredAt { body["occurredAt"] = .string(Timestamp.format(at)) }
        return body
    }

    // MARK: - Refusals

    /// The control a refusal's `field` (`data.profile.nationality`, `data.recipients[1]`,
    /// `data.consentOverride.reason`, `occurredAt`) concerns, by its name in the form.
    static func controlName(_ apiField: String) -> String {
        var name = Substring(apiField)
        if name.hasPrefix("data.") { name = name.dropFirst(5) }
        if name.hasPrefix("profile.") { name = name.dropFirst(8) }
        if let bracket = name.firstIndex(of: "[") { name = name[..<bracket] }
        if name == "consentOverride.reason" { return "consentOverrideReason" }
        return String(name)
    }

    /// A refusal as feedback in the form, for the refusals that concern what was typed
    /// (`invalid_event`, 422 `consent_required`); nil for those that are a page of their own
    /// (403, 404, a conflict, an outage).
    static func feedback(for error: ServiceError, _ s: Submission) -> Feedback? {
        guard error.code == "invalid_event" || error.code == "consent_required" else { return nil }
        let apiField = error.details.first { $0.0 == "field" }?.1.stringValue
        let name = apiField.map(controlName)
        let control = fields(s.type).first { $0.name == name && $0.isVisible }
        let shown = control != nil || name == "occurredAt"
        var code = error.code
        if let control, code == "invalid_event", control.required, s.values[control.name] ?? "" == "" {
            code = "required"
        }
        if name == "consentOverrideReason", s.values["consentOverrideReason"] ?? "" == "" { code = "required" }
        return Feedback(
            form: s.key, field: shown ? name : nil, code: code, subject: name, status: error.status, values: s.values)
    }
}
