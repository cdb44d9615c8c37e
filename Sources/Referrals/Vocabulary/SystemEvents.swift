import Foundation

/// The typed `data` of a system event.
public enum SystemEventBody: Sendable, Hashable {
    /// `{ruleId, rulesetId, dueAt, triggerEventId, responsible}` in `sop-<caseId>`, appended by the
    /// deadline watcher. `rulesetId` names the ruleset series of the deadline (two series may share a
    /// rule id); notices written before it was recorded have none (nil).
    case sopDeadlineMissed(
        ruleId: String, dueAt: Date, triggerEventId: UUID, responsible: String, rulesetId: String? = nil)
    /// `{id, name, kind, caseIdPrefix?}` in `institutions`. `kind` is one kind or a non-empty array of kinds
    /// (primary first), e.g. `["ngo", "shelter"]`. `name` is the institution's name, never a
    /// person's.
    case institutionRegistered(Institution)
    /// The ruleset document itself is the `data`, in `sop-rulesets`.
    case sopRulesetPublished(Ruleset)

    /// Decodes and validates the `data` of a system event.
    /// - Throws: `invalid_event` with the field path (a malformed ruleset: its path under `data`).
    public static func decode(type: String, data: JSONValue) throws(ReferralsError) -> SystemEventBody {
        guard let eventType = SystemEventType(rawValue: type) else {
            throw .invalidEvent("type", "is not a known system event type")
        }
        switch eventType {
        case .sopDeadlineMissed:
            var r = try FieldReader(data, path: "data")
            let ruleId = try r.string("ruleId", maxLength: 64)
            guard Identifiers.isValidInstitutionId(ruleId) else { throw r.error("ruleId", "must be a rule id") }
            guard let dueAt = Timestamp.parse(try r.string("dueAt", maxLength: 40)) else {
                throw r.error("dueAt", "must be an RFC 3339 time")
            }
            guard let trigger = UUID(uuidString: try r.string("triggerEventId", maxLength: 36)) else {
                throw r.error("triggerEventId", "must be a UUID")
            }
            let responsible = try r.string("responsible", maxLength: 80)
            let bare = responsible.hasPrefix("role:") ? String(responsible.dropFirst(5)) : responsible
            guard Identifiers.isValidInstitutionId(bare) else {
                throw r.error("responsible", "must be an institution id or role:<kind>")
            }
            let rulesetId = try r.optionalString("rulesetId", maxLength: 64)
            if let rulesetId, !Identifiers.isValidInstitutionId(rulesetId) {
                throw r.error("rulesetId", "must be a ruleset id")
            }
            try r.finish()
            return .sopDeadlineMissed(
                ruleId: ruleId, dueAt: dueAt, triggerEventId: trigger, responsible: responsible, rulesetId: rulesetId)
        case .institutionRegistered:
            var r = try FieldReader(data, path: "data")
            let id = try r.string("id", maxLength: 64)
            guard Identifiers.isValidInstitutionId(id) else {
                throw r.error("id", "must be 1-64 characters of a-z, 0-9 and -")
            }
            let name = try r.string("name", maxLength: 200)
            let kinds: [InstitutionKind]
            if r.object["kind"]?.stringValue != nil {
                kinds = [try r.code("kind", InstitutionKind.self)]
            } else if r.object["kind"]?.arrayValue != nil {
                kinds = try r.codeList("kind", InstitutionKind.self, allowEmpty: false)
            } else {
                _ = try r.value("kind")
                throw r.error("kind", "must be a kind or an array of kinds")
            }
            let prefix = try r.optionalString("caseIdPrefix", maxLength: 8)
            if let prefix, !Institution.isValidCaseIdPrefix(prefix) {
                throw r.error("caseIdPrefix", "must be 2-8 characters: an upper-case letter, then A-Z and 0-9")
            }
            try r.finish()
            return .institutionRegistered(Institution(id: id, name: name, kinds: kinds, caseIdPrefix: prefix))
        case .sopRulesetPublished:
            do {
                return .sopRulesetPublished(try Ruleset.load(data))
            } catch {
                throw .invalidEvent(error.field.map { "data." + $0 } ?? "data", error.message)
            }
        }
    }

    /// The `data` object of this body.
    public var data: JSONValue {
        switch self {
        case .sopDeadlineMissed(let ruleId, let dueAt, let trigger, let responsible, let rulesetId):
            if let rulesetId {
                [
                    "ruleId": .string(ruleId), "rulesetId": .string(rulesetId),
                    "dueAt": .string(Timestamp.format(dueAt)),
                    "triggerEventId": .string(trigger.uuidString.lowercased()), "responsible": .string(responsible),
                ]
            } else {
                [
                    "ruleId": .string(ruleId), "dueAt": .string(Timestamp.format(dueAt)),
                    "triggerEventId": .string(trigger.uuidString.lowercased()), "responsible": .string(responsible),
                ]
            }
        case .institutionRegistered(let institution):
            .object(
                JSONObject(
                    [
                        ("id", .string(institution.id)), ("name", .string(institution.name)),
                        (
                            "kind",
                            institution.kinds.count == 1
                                ? .string(institution.kinds[0].rawValue)
                                : .array(institution.kinds.map { .string($0.rawValue) })
                        ),
                    ] + (institution.caseIdPrefix.map { [("caseIdPrefix", JSONValue.string($0))] } ?? [])))
        case .sopRulesetPublished(let ruleset):
            ruleset.document
        }
    }
}

extension Deadline {
    /// The `SopDeadlineMissed` notice for this deadline.
    public var missedNotice: SystemEventBody {
        .sopDeadlineMissed(
            ruleId: ruleId, dueAt: dueAt, triggerEventId: triggerEventId, responsible: responsible,
            rulesetId: rulesetId)
    }

    /// Whether `notice`, a system event of this deadline's case, is this deadline's
    /// `SopDeadlineMissed`: the same rule, trigger and ruleset series. A notice that names no
    /// series (written before notices recorded it) stands for the rule and trigger in every series.
    /// The one definition of "already notified" (docs/system-events.md).
    public func isNoticed(by notice: SystemEventBody) -> Bool {
        guard case .sopDeadlineMissed(let rule, _, let trigger, _, let series) = notice else { return false }
        return isNoticed(by: NoticeKey(ruleId: rule, triggerEventId: trigger, rulesetId: series))
    }
}

/// Who may append system events through the API: the coordinator registers institutions and
/// publishes rulesets; `SopDeadlineMissed` is the deadline watcher's alone (not via the API).
extension CasePolicy {
    /// - Throws: `forbidden`.
    public static func authorizeSystemAppend(_ principal: Principal, type: SystemEventType) throws(ReferralsError) {
        switch type {
        case .institutionRegistered, .sopRulesetPublished:
            guard principal.role == .coordinator else {
                throw ReferralsError(.forbidden, "only the coordinator may append \(type.rawValue)")
            }
        case .sopDeadlineMissed:
            throw ReferralsError(.forbidden, "SopDeadlineMissed is appended by the deadline watcher only")
        }
    }
}
