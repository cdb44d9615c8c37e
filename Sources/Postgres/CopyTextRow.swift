/// A row as `Row` and `CopyTextRow` both give it: columns decoded by position.
public protocol PostgresRow {
    /// Decodes a non-NULL column. Throws `PostgresError(kind: .decoding)` for NULL or bad text.
    func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type) throws -> T
}

extension Row: PostgresRow {}

/// One row of `COPY … TO STDOUT` in the text format (PostgreSQL's default): the columns' text
/// separated by tabs, `\N` for NULL, and backslash escapes for the backslash and control
/// characters, the line ending in a newline. The columns are decoded as a query's are
/// (`PostgresDecodable`), from their unescaped bytes.
///
/// Undone: `\b \f \n \r \t \v`, `\\`, `\` before any other character (that character), an octal
/// escape (`\` and one to three digits 0–7) and a hex escape (`\x` and one or two hex digits),
/// as `COPY FROM` reads them. The server writes only the first two kinds.
public struct CopyTextRow: PostgresRow, Sendable {
    /// The unescaped bytes of every non-NULL column, one after another.
    private var bytes: [UInt8]
    /// Each column's range in `bytes`; nil for NULL.
    private var columns: [Range<Int>?]

    /// Splits and unescapes one line as `PQgetCopyData` returns it (a trailing newline is dropped).
    /// - Throws: `PostgresError(kind: .decoding)` for a backslash at the end of the line.
    public init(line: UnsafeRawBufferPointer) throws {
        var end = line.count
        if end > 0 && line[end - 1] == 0x0A { end -= 1 }
        bytes = []
        bytes.reserveCapacity(end)
        columns = []
        var start = 0
        var i = 0
        var isNull = false
        func finish() {
            columns.append(isNull ? nil : start..<bytes.count)
            start = bytes.count
            isNull = false
        }
        while i < end {
            // The run of plain bytes up to the next backslash or tab, copied at once.
            var run = i
            while run < end && line[run] != 0x5C && line[run] != 0x09 { run += 1 }
            if run > i { bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[i..<run])) }
            i = run
            guard i < end else { break }
            if line[i] == 0x09 {
                finish()
                i += 1
                continue
            }
            // A backslash.
            guard i + 1 < end else { throw Self.malformed }
            let next = line[i + 1]
            i += 2
            switch next {
            case UInt8(ascii: "N") where bytes.count == start && (i == end || line[i] == 0x09):
                isNull = true
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "v"): bytes.append(0x0B)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = Int(next - 48)
                var digits = 1
                while digits < 3, i < end, line[i] >= 48, line[i] <= 55 {
                    value = value * 8 + Int(line[i] - 48)
                    i += 1
                    digits += 1
                }
                bytes.append(UInt8(truncatingIfNeeded: value))
            case UInt8(ascii: "x") where i < end && hexValue(line[i]) != 0xFF:
                var value = hexValue(line[i])
                i += 1
                if i < end, hexValue(line[i]) != 0xFF {
                    value = value &* 16 &+ hexValue(line[i])
                    i += 1
                }
                bytes.append(value)
            default:
                bytes.append(next)
            }
        }
        finish()
    }

    /// How many columns the row has.
    public var count: Int { columns.count }

    /// Whether the column is NULL.
    public func isNull(_ column: Int) -> Bool { column >= 0 && column < columns.count && columns[column] == nil }

    public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T {
        guard column >= 0, column < columns.count else { throw Row.missing(column) }
        guard let range = columns[column] else { throw Row.null(column) }
        let value = bytes.withUnsafeBufferPointer { all in
            T(postgresBytes: UnsafeBufferPointer(rebasing: all[range]))
        }
        guard let value else { throw Row.notA(T.self, column: String(column)) }
        return value
    }

    private static let malformed = PostgresError(kind: .decoding, serverMessage: "a COPY line ends in a backslash")
}
