import EventStore
import Foundation
import Postgres
import Referrals

/// Projector `registry`: registered institutions (`InstitutionRegistered` in `institutions`) and
/// published SOP ruleset versions (`SopRulesetPublished` in `sop-rulesets`, whose `data` is the
/// ruleset document itself, as `Ruleset.load` reads it). A later registration of the same
/// institution id, or a re-publication of the same ruleset id and version, replaces the row.
public struct RegistryProjector: Projector {
    public let name = "registry"
    public let tables = ["institutions", "sop_rulesets"]

    public init() {}

    public func apply(
        _ events: [RecordedEvent], through cursor: Cursor, on connection: Connection, tables: ProjectionTables
    )
        async throws
    {
        var institutions: [String: JSONValue] = [:]
        var rulesets: [String: JSONValue] = [:]
        for event in events where event.stream == "institutions" || event.stream == "sop-rulesets" {
            guard let data = try? JSONValue.parse(event.data),
                let body = try? SystemEventBody.decode(type: event.type, data: data)
            else { continue }
            switch body {
            case .institutionRegistered(let i):
                institutions[i.id] = [
                    "institution_id": .string(i.id), "name": .string(i.name),
                    "kinds": .array(i.kinds.map { .string($0.rawValue) }),
                    "registered_at": .string(event.occurredAt), "event_id": Cell.uuid(event.id),
                ]
            case .sopRulesetPublished(let r):
                rulesets["\(r.id)/\(r.version)"] = [
                    "ruleset_id": .string(r.id), "version": .int(r.version), "title": .string(r.title),
                    "effective_from": .string(Timestamp.formatDate(r.effectiveFrom)), "rule_count": .int(r.rules.count),
                    "published_at": .string(event.recordedAt), "event_id": Cell.uuid(event.id),
                ]
            case .sopDeadlineMissed:
                break
            }
        }
        try await Self.institutions.delete(
            key: "institution_id", institutions.keys.sorted(), on: connection, tables: tables)
        try await Self.institutions.insert(
            institutions.keys.sorted().map { institutions[$0]! }, on: connection, tables: tables)
        try await Self.rulesets.delete(
            key: "ruleset_id || '/' || version", rulesets.keys.sorted(), on: connection, tables: tables)
        try await Self.rulesets.insert(rulesets.keys.sorted().map { rulesets[$0]! }, on: connection, tables: tables)
    }

    static let institutions = RowWriter(
        table: "institutions",
        columns: [
            ("institution_id", "text"), ("name", "text"), ("kinds", "text[]"), ("registered_at", "timestamptz"),
            ("event_id", "uuid"),
        ])
    static let rulesets = RowWriter(
        table: "sop_rulesets",
        columns: [
            ("ruleset_id", "text"), ("version", "int"), ("title", "text"), ("effective_from", "date"),
            ("rule_count", "int"), ("published_at", "timestamptz"), ("event_id", "uuid"),
        ])
}
