/// A SQL statement whose interpolated values become bind parameters.
///
/// ```swift
/// let sql: SQL = "SELECT version FROM handoff.streams WHERE stream = \(name)"
/// // text: "SELECT version FROM handoff.streams WHERE stream = $1", parameters: [name]
/// ```
/// There is deliberately no way to splice a value into the text except `unescaped:`, which takes
/// only a `StaticString` (a literal written in the source), so SQL injection cannot be written by
/// accident.
public struct SQL: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public private(set) var text: String
    public private(set) var parameters: [PostgresValue]

    public init(stringLiteral value: String) {
        text = value
        parameters = []
    }

    public init(stringInterpolation: StringInterpolation) {
        text = stringInterpolation.text
        parameters = stringInterpolation.parameters
    }

    /// Builds a statement from text with `$n` placeholders and their values, for SQL assembled from
    /// fixed fragments (e.g. a list of columns chosen by code, never by input).
    public init(text: String, parameters: [PostgresValue]) {
        self.text = text
        self.parameters = parameters
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var text = ""
        var parameters: [PostgresValue] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + interpolationCount * 3)
        }

        public mutating func appendLiteral(_ literal: String) { text += literal }

        /// Appends `$n` and binds the value.
        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            parameters.append(value.postgresValue)
            text += "$\(parameters.count)"
        }

        /// Appends `$n` bound to NULL when the value is nil.
        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            parameters.append(value?.postgresValue ?? .null)
            text += "$\(parameters.count)"
        }

        /// Appends literal SQL text written in the source (identifiers, keywords).
        public mutating func appendInterpolation(unescaped fragment: StaticString) {
            text += fragment.description
        }
    }

    /// The text only: parameters are never part of a description, so a statement can be logged.
    public var description: String { text }
}
