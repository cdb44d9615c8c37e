/// The rows a statement returned, copied out of libpq (text format) into one byte buffer: one
/// allocation per result instead of a `String` per value. Values are decoded when asked for.
public struct QueryResult: Sendable {
    /// Column names in order.
    public let columns: [String]
    /// The number of rows a command affected (`INSERT`, `UPDATE`, …), when the server says.
    public let affectedRows: Int
    /// Every non-NULL value's bytes, back to back, row by row.
    @usableFromInline let bytes: [UInt8]
    /// Per cell (row-major): where its bytes start in `bytes`, and how many; -1 for SQL NULL.
    @usableFromInline let starts: [Int]
    @usableFromInline let lengths: [Int]
    /// The number of rows.
    public let count: Int

    init(columns: [String], bytes: [UInt8], starts: [Int], lengths: [Int], affectedRows: Int) {
        self.columns = columns
        self.bytes = bytes
        self.starts = starts
        self.lengths = lengths
        self.affectedRows = affectedRows
        self.count = columns.isEmpty ? 0 : starts.count / columns.count
    }

    /// A result made of values given as text (nil for NULL); every row has one value per column.
    public init(columns: [String], rows: [[String?]], affectedRows: Int) {
        var bytes: [UInt8] = [], starts: [Int] = [], lengths: [Int] = []
        for row in rows {
            precondition(row.count == columns.count, "a row needs one value per column")
            for value in row {
                starts.append(bytes.count)
                if let value {
                    lengths.append(value.utf8.count)
                    bytes += value.utf8
                } else {
                    lengths.append(-1)
                }
            }
        }
        self.init(columns: columns, bytes: bytes, starts: starts, lengths: lengths, affectedRows: affectedRows)
    }

    /// Each row's values as text; nil for SQL NULL. (Builds strings: prefer `all` and `decode`.)
    public var rows: [[String?]] { all.map { row in columns.indices.map { row.raw($0) } } }
    public var isEmpty: Bool { count == 0 }

    /// Row views with typed access by position or column name.
    public var all: [Row] { (0..<count).map { Row(result: self, index: $0) } }
    public var first: Row? { count == 0 ? nil : Row(result: self, index: 0) }
    public var last: Row? { count == 0 ? nil : Row(result: self, index: count - 1) }

    func columnIndex(_ name: String) -> Int? { columns.firstIndex(of: name) }

    /// Calls `body` with a cell's bytes, or nil for NULL.
    @inlinable
    func withCell<R>(_ row: Int, _ column: Int, _ body: (UnsafeBufferPointer<UInt8>?) throws -> R) rethrows -> R {
        let cell = row * columns.count + column
        let length = lengths[cell]
        guard length >= 0 else { return try body(nil) }
        return try bytes.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[starts[cell]..<(starts[cell] + length)]))
        }
    }
}

/// One row of a `QueryResult`.
///
/// `decode` is inlinable so that it is specialized for the decoded type in the calling module:
/// a result of a million rows is decoded without a generic metadata lookup per value.
public struct Row: Sendable {
    @usableFromInline let result: QueryResult
    @usableFromInline let index: Int

    init(result: QueryResult, index: Int) {
        self.result = result
        self.index = index
    }

    /// The raw text of a column, nil for NULL.
    public func raw(_ column: Int) -> String? {
        result.withCell(index, column) { $0.map { String(decoding: $0, as: UTF8.self) } }
    }

    /// Decodes a non-NULL column. Throws `PostgresError(kind: .decoding)` for NULL or bad text.
    @inlinable
    public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T {
        guard column >= 0, column < result.columns.count else { throw Self.missing(column) }
        let value = try result.withCell(index, column) { cell -> T? in
            guard let cell else { throw Self.null(column) }
            return T(postgresBytes: cell)
        }
        guard let value else { throw Self.notA(T.self, column: result.columns[column]) }
        return value
    }

    /// Decodes a column that may be NULL.
    @inlinable
    public func decodeOptional<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T? {
        guard column >= 0, column < result.columns.count else { throw Self.missing(column) }
        guard result.withCell(index, column, { $0 != nil }) else { return nil }
        return try decode(column, as: T.self)
    }

    @usableFromInline static func missing(_ column: Int) -> PostgresError {
        PostgresError(kind: .decoding, serverMessage: "column \(column) is missing")
    }

    @usableFromInline static func null(_ column: Int) -> PostgresError {
        PostgresError(kind: .decoding, serverMessage: "column \(column) is NULL")
    }

    @usableFromInline static func notA(_ type: Any.Type, column: String) -> PostgresError {
        PostgresError(kind: .decoding, serverMessage: "column \(column) is not a \(type)")
    }

    /// Decodes a named non-NULL column.
    public func decode<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let column = result.columnIndex(name) else {
            throw PostgresError(kind: .decoding, serverMessage: "no column \(name)")
        }
        return try decode(column, as: T.self)
    }

    /// Decodes a named column that may be NULL.
    public func decodeOptional<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T? {
        guard let column = result.columnIndex(name) else {
            throw PostgresError(kind: .decoding, serverMessage: "no column \(name)")
        }
        return try decodeOptional(column, as: T.self)
    }
}
