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
    /// The streams it reads: registrations and published rulesets.
    static let registryStreams = ["institutions", "sop-rulesets"]
    public var streams: [String]? { Self.registryStreams }

    public init() {}

    public func apply(
        _ events: [RecordedEvent], through cursor: Cursor, on connection: Connection, tables: ProjectionTables
    )
        async throws
    {
        var institutions: [String: (Institution, RecordedEvent)] = [:]
        var rulesets: [String: (Ruleset, RecordedEvent)] = [:]
        for event in events where Self.registryStreams.contains(event.stream) {
            guard let data = try? JSONValue.parse(event.data),
                let body = try? SystemEventBody.decode(type: event.type, data: data)
            else { continue }
            switch body {
            case .institutionRegistered(let i): institutions[i.id] = (i, event)
            case .sopRulesetPublished(let r): rulesets["\(r.id)/\(r.version)"] = (r, event)
            case .sopDeadlineMissed: break
            }
        }
        var institutionRows = Self.institutions.rows()
        for key in institutions.keys.sorted() {
            let (i, event) = institutions[key]!
            institutionRows.text(i.id)
            institutionRows.text(i.name)
            institutionRows.textArray(i.kinds.map(\.rawValue))
            institutionRows.text(event.occurredAt)
            institutionRows.uuid(event.id)
            institutionRows.endRow()
        }
        var rulesetRows = Self.rulesets.rows()
        for key in rulesets.keys.sorted() {
            let (r, event) = rulesets[key]!
            rulesetRows.text(r.id)
            rulesetRows.int(r.version)
            rulesetRows.text(r.title)
            rulesetRows.text(r.effectiveDate)
            rulesetRows.int(r.rules.count)
            rulesetRows.text(event.recordedAt)
            rulesetRows.uuid(event.id)
            rulesetRows.endRow()
        }
        try await Self.institutions.delete(
            key: "institution_id", institutions.keys.sorted(), on: connection, tables: tables)
        try await Self.institutions.insert(institutionRows, on: connection, tables: tables)
        try await Self.rulesets.delete(
            key: "ruleset_id || '/' || version", rulesets.keys.sorted(), on: connection, tables: tables)
        try await Self.rulesets.insert(rulesetRows, on: connection, tables: tables)
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
