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

    /// An empty batch of rows for this table: as array parameters of one `INSERT` (one round trip;
    /// the live projector's small batches), or as `COPY` input (`copy`: two round trips, but no
    /// array to parse and no executor per row on the server; a rebuild's large ones).
    func rows(copy: Bool = false) -> RowBatch { RowBatch(columns: columns.count, copy: copy) }

    /// The `COPY … FROM STDIN` of the table as `tables` names it.
    func copyText(tables: ProjectionTables) -> String {
        "COPY \(tables.qualified(table)) (\(columns.map(\.name).joined(separator: ", "))) FROM STDIN"
    }

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
        if let input = rows.copyInput {
            try await connection.copyIn(copyText(tables: tables), input)
        } else {
            try await connection.query(SQL(text: insertText(tables: tables), parameters: rows.parameters()))
        }
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
/// grow as rows are added, or (`copy`) row by row as `COPY` text input (tab-separated, `\N` for
/// NULL, one line a row). Values are written in the text form PostgreSQL's input functions read;
/// each is quoted and escaped as its form needs, so any text is safe.
///
/// Add a row by calling one value method per column, in the writer's column order, then ``endRow()``.
struct RowBatch {
    /// Array literals, one per column; unused for `COPY` input.
    private var buffers: [[UInt8]]
    /// The `COPY` input, when the batch is one.
    private var lines: [UInt8]?
    private let columns: Int
    private var column = 0
    /// Complete rows added so far.
    private(set) var count = 0

    init(columns: Int, copy: Bool = false) {
        self.columns = columns
        if copy {
            buffers = []
            lines = []
        } else {
            buffers = Array(repeating: [UInt8(ascii: "{")], count: columns)
        }
    }

    /// The `COPY` input, or nil for a batch of array parameters.
    var copyInput: [UInt8]? { lines }

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
        precondition(column == columns, "row ended after \(column) of \(columns) columns")
        lines?.append(UInt8(ascii: "\n"))
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
            if bytes.count == 27 || lines != nil { bare(bytes) } else { text(String(decoding: bytes, as: UTF8.self)) }
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
        if lines != nil {
            lines!.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
        } else {
            buffers[column].append(contentsOf: "NULL".utf8)
        }
        column += 1
    }

    private mutating func separator() {
        precondition(column < columns, "more values than columns")
        if lines != nil {
            if column > 0 { lines!.append(UInt8(ascii: "\t")) }
        } else if count > 0 {
            buffers[column].append(UInt8(ascii: ","))
        }
    }

    /// A value that needs no quotes in an array literal nor escapes in `COPY` input (digits,
    /// letters, `-:.+ `; never `NULL`), up to its first zero byte.
    private mutating func bare(_ bytes: UnsafeRawBufferPointer) {
        separator()
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        let value = UnsafeRawBufferPointer(rebasing: bytes[0..<end])
        if lines != nil { lines!.append(contentsOf: value) } else { buffers[column].append(contentsOf: value) }
        column += 1
    }

    private mutating func quoted(_ bytes: UnsafeBufferPointer<UInt8>) {
        separator()
        if lines != nil {
            PostgresCopy.appendEscaped(bytes, to: &lines!)
        } else {
            PostgresArray.appendQuoted(bytes, to: &buffers[column])
        }
        column += 1
    }
}
