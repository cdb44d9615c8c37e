import EventStore
import Foundation
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
        let result = try await register(institution, store: store)
        context.out(result.json)
    }

    /// Appends the registration unless the institution exists; the same registration again is a no-op.
    static func register(_ institution: Institution, store: EventStore) async throws -> AppendResult {
        let body = SystemEventBody.institutionRegistered(institution).data
        let text = body.serializedString(sortedKeys: true)
        let id = UUID.derived(namespace: "institution", name: institution.id)
        do {
            return try await store.append(
                to: .institutions,
                events: [
                    NewEvent(
                        id: id, type: "InstitutionRegistered", data: text, metadata: EventMetadata(actor: operatorActor)
                    )
                ])
        } catch EventStoreError.duplicateEventId {
            throw CLIError(message: "institution \(institution.id) is already registered with other details")
        }
    }

    /// Publishes a ruleset version as a `SopRulesetPublished` event in `sop-rulesets`.
    static func publishRuleset(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let path = args.positional(0)!
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw CLIError(message: "cannot read \(path)")
        }
        let store = try StoreCommands.store(context)
        let result = try await publish(Array(bytes), store: store)
        context.out(result.json)
    }

    /// Validates and appends a ruleset document; the same version twice is a no-op, a changed
    /// document under a published version is an error (publish a new version instead).
    static func publish(_ bytes: [UInt8], store: EventStore) async throws -> AppendResult {
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
        let id = UUID.derived(namespace: "sop-ruleset", name: "\(ruleset.id)@\(ruleset.version)")
        do {
            return try await store.append(
                to: .sopRulesets,
                events: [
                    NewEvent(
                        id: id, type: "SopRulesetPublished", data: ruleset.document.serializedString(sortedKeys: true),
                        metadata: EventMetadata(actor: operatorActor))
                ])
        } catch EventStoreError.duplicateEventId {
            throw CLIError(
                message:
                    "ruleset \(ruleset.id) version \(ruleset.version) was already published with different content; publish a new version"
            )
        }
    }
}
