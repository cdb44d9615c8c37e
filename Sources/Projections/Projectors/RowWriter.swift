import Foundation
import Postgres
import Referrals

/// Writes many read-model rows in one statement: the rows travel as one JSON array bound as a
/// parameter and `jsonb_to_recordset` turns them into a relation, so a batch costs one round trip
/// per table instead of one per row.
struct RowWriter {
    /// Column names and their SQL types, in table order; fixed in the source.
    let table: String
    let columns: [(name: String, type: String)]

    /// Inserts `rows` (objects keyed by column name) into the table as `tables` names it.
    func insert(_ rows: [JSONValue], on connection: Connection, tables: ProjectionTables) async throws {
        guard !rows.isEmpty else { return }
        let names = columns.map(\.name).joined(separator: ", ")
        let definitions = columns.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
        let text =
            "INSERT INTO \(tables.qualified(table)) (\(names)) SELECT \(names) FROM jsonb_to_recordset($1::jsonb) AS x(\(definitions))"
        try await connection.query(SQL(text: text, parameters: [.text(JSONValue.array(rows).serializedString())]))
    }

    /// Deletes the rows whose `key` column (a fixed name) is one of `values`.
    func delete(key: String = "case_id", _ values: [String], on connection: Connection, tables: ProjectionTables)
        async throws
    {
        guard !values.isEmpty else { return }
        let text = "DELETE FROM \(tables.qualified(table)) WHERE \(key)::text = ANY($1::text[])"
        try await connection.query(SQL(text: text, parameters: [.text(PostgresArray.text(values))]))
    }
}

/// JSON values for row objects.
enum Cell {
    static func time(_ date: Date?) -> JSONValue { date.map { .string(PostgresTimestamp.format($0)) } ?? .null }
    static func text(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
    static func uuid(_ u: UUID?) -> JSONValue { u.map { .string($0.uuidString.lowercased()) } ?? .null }
    static func int(_ n: Int?) -> JSONValue { n.map(JSONValue.int) ?? .null }
}
