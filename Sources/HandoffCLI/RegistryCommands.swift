import EventStore
import Foundation
import QueryService
import Referrals

/// `institution add` and `sop publish`: system events, validated by the domain before they are appended.
enum RegistryCommands {
    static let operatorActor = EventActor(institution: "natc", user: "operator")

    /// Registers an institution with an `InstitutionRegistered` event in `institutions`.
    static func addInstitution(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let id = args.positional(0)!
        let kinds = (args.string("--kind") ?? "").split(separator: ",").map { JSONValue.string(String($0)) }
        var object = JSONObject([
            ("id", .string(id)), ("name", .string(args.string("--name") ?? "")),
            ("kind", kinds.count == 1 ? kinds[0] : .array(kinds)),
        ])
        if let prefix = args.string("--case-id-prefix") { object["caseIdPrefix"] = .string(prefix) }
        let data = JSONValue.object(object)
        let institution: Institution
        do {
            guard
                case .institutionRegistered(let i) = try SystemEventBody.decode(
                    type: "InstitutionRegistered", data: data)
            else { throw CLIError(message: "not an institution") }
            institution = i
        } catch let error as ReferralsError {
            throw CLIError.usage("\(error.field ?? "institution"): \(error.message)")
        }
        let store = try StoreCommands.store(context)
        let written = try await register(institution, store: store)
        alarms(written, context)
        context.out(written.result.json)
    }

    /// Appends the registration unless the institution exists; the same registration again is a no-op.
    ///
    /// "Exists" means an `InstitutionRegistered` for this id in `institutions`, found by its content;
    /// the event's id is derived with the server's key (docs/system-events.md), so no client can
    /// take it first.
    static func register(_ institution: Institution, store: EventStore) async throws -> SystemEventWriter.Written {
        let type = SystemEventType.institutionRegistered.rawValue
        let text = SystemEventBody.institutionRegistered(institution).data.serializedString(sortedKeys: true)
        let written = try await writer(store).appendOnce(
            type: type, identity: [institution.id], to: .institutions,
            event: { NewEvent(id: $0, type: type, data: text, metadata: EventMetadata(actor: operatorActor)) },
            isSame: { event in
                guard event.type == type, let data = try? JSONValue.parse(event.data),
                    case .institutionRegistered(let registered)? = try? SystemEventBody.decode(type: type, data: data)
                else { return false }
                return registered.id == institution.id
            })
        guard written.sameData else {
            throw CLIError(message: "institution \(institution.id) is already registered with other details")
        }
        return written
    }

    /// Refuses a credential (`token create`, `user add`) for an institution the registry does not
    /// know, and an institution-role one for an institution that does not work on cases (the
    /// coordinator's, the auditor's): its events would be refused, or worse, recorded for a body
    /// that only monitors cases.
    static func checkCredentialInstitution(_ id: String?, actsOnCases: Bool, _ context: CLIContext) async throws {
        guard let id else { return }
        let registry = InstitutionRegistry(store: try StoreCommands.store(context))
        guard let institution = try await registry.institution(id, fresh: true) else {
            throw CLIError.usage("institution \(id) is not registered (handoff institution add \(id) …)")
        }
        if actsOnCases, !institution.worksOnCases {
            throw CLIError.usage(
                "institution \(id) monitors cases and never acts in them: give its people --role coordinator or auditor"
            )
        }
    }

    /// Prints each id found taken on the way (an alarm, docs/system-events.md) on stderr.
    static func alarms(_ written: SystemEventWriter.Written, _ context: CLIContext) {
        for conflict in written.conflicts { context.err("handoff: \(conflict)") }
    }

    /// A writer of system events under the current key.
    static func writer(_ store: EventStore) async throws -> SystemEventWriter {
        SystemEventWriter(store: store, key: try await SystemEventKey.current(of: store))
    }

    /// Publishes a ruleset version as a `SopRulesetPublished` event in `sop-rulesets`.
    static func publishRuleset(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let path = args.positional(0)!
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw CLIError(message: "cannot read \(path)")
        }
        let store = try StoreCommands.store(context)
        let written = try await publish(Array(bytes), store: store)
        alarms(written, context)
        context.out(written.result.json)
    }

    /// Validates and appends a ruleset document; the same version twice is a no-op, a changed
    /// document under a published version is an error (publish a new version instead) — or, with
    /// `keepingPublished`, leaves the published one as it is.
    static func publish(_ bytes: [UInt8], store: EventStore, keepingPublished: Bool = false) async throws
        -> SystemEventWriter.Written
    {
        let ruleset: Ruleset
        do {
            let document = try JSONValue.parse(bytes)
            guard
                case .sopRulesetPublished(let r) = try SystemEventBody.decode(
                    type: "SopRulesetPublished", data: document)
            else { throw CLIError(message: "not a ruleset") }
            ruleset = r
        } catch let error as ReferralsError {
            throw CLIError(message: "the ruleset is not valid: \(error.field ?? "ruleset"): \(error.message)")
        }
        let type = SystemEventType.sopRulesetPublished.rawValue
        let text = ruleset.document.serializedString(sortedKeys: true)
        let written = try await writer(store).appendOnce(
            type: type, identity: [ruleset.id, String(ruleset.version)], to: .sopRulesets,
            event: { NewEvent(id: $0, type: type, data: text, metadata: EventMetadata(actor: operatorActor)) },
            isSame: { event in
                guard event.type == type, let data = try? JSONValue.parse(event.data),
                    case .sopRulesetPublished(let published)? = try? SystemEventBody.decode(type: type, data: data)
                else { return false }
                return published.id == ruleset.id && published.version == ruleset.version
            })
        guard written.sameData || keepingPublished else {
            throw CLIError(
                message:
                    "ruleset \(ruleset.id) version \(ruleset.version) was already published with different content; publish a new version"
            )
        }
        return written
    }
}
