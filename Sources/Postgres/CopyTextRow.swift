import Foundation

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
    @usableFromInline var bytes: [UInt8]
    /// Each column's range in `bytes`; nil for NULL.
    @usableFromInline var columns: [Range<Int>?]

    /// A row of no columns, to ``read(_:)`` lines into.
    public init() {
        bytes = []
        columns = []
    }

    /// Splits and unescapes one line as `PQgetCopyData` returns it (a trailing newline is dropped).
    /// - Throws: `PostgresError(kind: .decoding)` for a backslash at the end of the line.
    public init(line: UnsafeRawBufferPointer) throws {
        self.init()
        try read(line)
    }

    /// Makes this row the line's, as `init(line:)` does, keeping the storage it had: a bulk read
    /// that decodes row after row into one `CopyTextRow` allocates nothing per row for it.
    /// - Throws: `PostgresError(kind: .decoding)` for a backslash at the end of the line (the row
    ///   is then not to be decoded).
    public mutating func read(_ line: UnsafeRawBufferPointer) throws {
        var end = line.count
        if end > 0 && line[end - 1] == 0x0A { end -= 1 }
        bytes.removeAll(keepingCapacity: true)
        bytes.reserveCapacity(end)
        columns.removeAll(keepingCapacity: true)
        columns.reserveCapacity(16)
        var start = 0
        var i = 0
        var isNull = false
        func finish() {
            columns.append(isNull ? nil : start..<bytes.count)
            start = bytes.count
            isNull = false
        }
        guard let base = line.baseAddress else {
            finish()
            return
        }
        // Where byte `byte` next occurs in `from..<to` (`to` when it does not): memchr, which
        // looks at a word at a time, where a byte loop looked at each byte twice.
        func find(_ byte: Int32, from: Int, to: Int) -> Int {
            guard from < to, let found = memchr(base + from, byte, to - from) else { return to }
            return base.distance(to: UnsafeRawPointer(found))
        }
        while i < end {
            // The plain bytes up to the next backslash, copied a column's run at a time.
            let backslash = find(0x5C, from: i, to: end)
            while i < backslash {
                let tab = find(0x09, from: i, to: backslash)
                if tab > i { bytes.append(contentsOf: UnsafeRawBufferPointer(start: base + i, count: tab - i)) }
                i = tab
                if tab < backslash {
                    finish()
                    i += 1
                }
            }
            guard i < end else { break }
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

    /// Decodes a non-NULL column. Inlinable, as `Row.decode` is: specialized for the decoded type
    /// in the calling module, a bulk read decodes without a generic metadata lookup per value.
    @inlinable
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
