/// The rows a statement returned, copied out of libpq into Swift values (text format).
public struct QueryResult: Sendable {
    /// Column names in order.
    public let columns: [String]
    /// Each row's values; nil for SQL NULL.
    public let rows: [[String?]]
    /// The number of rows a command affected (`INSERT`, `UPDATE`, …), when the server says.
    public let affectedRows: Int

    public init(columns: [String], rows: [[String?]], affectedRows: Int) {
        self.columns = columns
        self.rows = rows
        self.affectedRows = affectedRows
    }

    public var count: Int { rows.count }
    public var isEmpty: Bool { rows.isEmpty }

    /// Row views with typed access by position or column name.
    public var all: [Row] { rows.indices.map { Row(result: self, index: $0) } }
    public var first: Row? { rows.isEmpty ? nil : Row(result: self, index: 0) }

    func columnIndex(_ name: String) -> Int? { columns.firstIndex(of: name) }
}

/// One row of a `QueryResult`.
public struct Row: Sendable {
    let result: QueryResult
    let index: Int

    /// The raw text of a column, nil for NULL.
    public func raw(_ column: Int) -> String? { result.rows[index][column] }

    /// Decodes a non-NULL column. Throws `PostgresError(kind: .decoding)` for NULL or bad text.
    public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T {
        guard column < result.columns.count, let text = result.rows[index][column] else {
            throw PostgresError(kind: .decoding, serverMessage: "column \(column) is NULL or missing")
        }
        guard let value = T(postgresText: text) else {
            throw PostgresError(kind: .decoding, serverMessage: "column \(result.columns[column]) is not a \(T.self)")
        }
        return value
    }

    /// Decodes a column that may be NULL.
    public func decodeOptional<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T? {
        guard column < result.columns.count else {
            throw PostgresError(kind: .decoding, serverMessage: "column \(column) missing")
        }
        guard result.rows[index][column] != nil else { return nil }
        return try decode(column, as: T.self)
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
