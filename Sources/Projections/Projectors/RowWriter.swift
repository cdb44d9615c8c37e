import Foundation
import Postgres
import Referrals

/// Writes many read-model rows in one statement: each column travels as one array parameter
/// (PostgreSQL's text form of an array) and `unnest` turns the arrays back into rows, so a batch
/// costs one round trip per table instead of one per row, and neither side builds or parses JSON.
struct RowWriter {
    /// Column names and their SQL types, in table order; fixed in the source.
    let table: String
    let columns: [(name: String, type: String)]

    /// An empty batch of rows for this table.
    func rows() -> RowBatch { RowBatch(columns: columns.count) }

    /// The `INSERT` for the table as `tables` names it: one `unnest` of an array parameter per
    /// column, in the select list, where they run in lockstep without materialising each column
    /// (cheaper than `FROM unnest(…, …)`). An array-typed column (`text[]`) travels as a `text[]`
    /// of array literals and is cast back.
    func insertText(tables: ProjectionTables) -> String {
        let names = columns.map(\.name).joined(separator: ", ")
        var values: [String] = []
        for (i, column) in columns.enumerated() {
            if column.type.hasSuffix("[]") {
                values.append("unnest($\(i + 1)::text[])::\(column.type)")
            } else {
                values.append("unnest($\(i + 1)::\(column.type)[])")
            }
        }
        return "INSERT INTO \(tables.qualified(table)) (\(names)) SELECT \(values.joined(separator: ", "))"
    }

    /// Inserts `rows` into the table as `tables` names it.
    func insert(_ rows: RowBatch, on connection: Connection, tables: ProjectionTables) async throws {
        guard rows.count > 0 else { return }
        precondition(rows.isComplete, "a row of \(table) has a missing column")
        try await connection.query(SQL(text: insertText(tables: tables), parameters: rows.parameters()))
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

/// Rows of one table, kept column by column as PostgreSQL array literals (`{"a",NULL,"c"}`) that
/// grow as rows are added. Values are written in the text form PostgreSQL's input functions read;
/// each is quoted and escaped, so any text is safe.
///
/// Add a row by calling one value method per column, in the writer's column order, then ``endRow()``.
struct RowBatch {
    private var buffers: [[UInt8]]
    private var column = 0
    /// Complete rows added so far.
    private(set) var count = 0

    init(columns: Int) {
        buffers = Array(repeating: [UInt8(ascii: "{")], count: columns)
    }

    /// True when every row got a value for every column.
    var isComplete: Bool { column == 0 }

    /// One `text` parameter per column: the finished array literals.
    func parameters() -> [PostgresValue] {
        buffers.map { buffer in
            var b = buffer
            b.append(UInt8(ascii: "}"))
            return .text(String(decoding: b, as: UTF8.self))
        }
    }

    /// Ends the current row.
    mutating func endRow() {
        precondition(column == buffers.count, "row ended after \(column) of \(buffers.count) columns")
        column = 0
        count += 1
    }

    // MARK: - Values

    mutating func text(_ value: String?) {
        guard var bytes = value else { return null() }
        bytes.withUTF8 { quoted($0) }
    }

    /// A `timestamptz`, as ``PostgresTimestamp/format(_:)`` writes it (microseconds, UTC).
    mutating func time(_ value: Date?) {
        guard let value else { return null() }
        PostgresTimestamp.withUTF8(value) { bytes in
            // The usual 27 bytes need no quotes; a year of more than four digits goes quoted.
            if bytes.count == 27 { bare(bytes) } else { text(String(decoding: bytes, as: UTF8.self)) }
        }
    }

    mutating func uuid(_ value: UUID?) {
        guard let value else { return null() }
        let digits = Self.hexDigits
        var out: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)  // 36 of 40 bytes used
        withUnsafeMutableBytes(of: &out) { o in
            withUnsafeBytes(of: value.uuid) { u in
                var k = 0
                for i in 0..<16 {
                    if i == 4 || i == 6 || i == 8 || i == 10 {
                        o[k] = UInt8(ascii: "-")
                        k += 1
                    }
                    o[k] = digits[Int(u[i] >> 4)]
                    o[k + 1] = digits[Int(u[i] & 0xF)]
                    k += 2
                }
            }
        }
        withUnsafeBytes(of: out) { bare(UnsafeRawBufferPointer(rebasing: $0[0..<36])) }
    }

    mutating func int(_ value: Int?) {
        guard let value else { return null() }
        var digits = String(value)
        digits.withUTF8 { bare(UnsafeRawBufferPointer($0)) }
    }

    mutating func bool(_ value: Bool) {
        let letter = value ? UInt8(ascii: "t") : UInt8(ascii: "f")
        withUnsafeBytes(of: letter) { bare($0) }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A `text[]` value: its own array literal, carried as one quoted element.
    mutating func textArray(_ values: [String]) { text(PostgresArray.text(values)) }

    private mutating func null() {
        separator()
        buffers[column].append(contentsOf: "NULL".utf8)
        column += 1
    }

    private mutating func separator() {
        precondition(column < buffers.count, "more values than columns")
        if count > 0 { buffers[column].append(UInt8(ascii: ",")) }
    }

    /// A value that needs no quotes in an array literal (digits, letters, `-:.`; never `NULL`),
    /// up to its first zero byte.
    private mutating func bare(_ bytes: UnsafeRawBufferPointer) {
        separator()
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        buffers[column].append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<end]))
        column += 1
    }

    private mutating func quoted(_ bytes: UnsafeBufferPointer<UInt8>) {
        separator()
        PostgresArray.appendQuoted(bytes, to: &buffers[column])
        column += 1
    }
}
