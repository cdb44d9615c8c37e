/// A metadata value of a log line: a string, an integer, a number or a flag.
///
/// Literals and interpolations build values directly:
/// ```swift
/// logger.info("request", metadata: ["status": 200, "route": "/v1/cases/{caseId}", "slow": false])
/// ```
public enum LogValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)

    public var description: String {
        switch self {
        case .string(let s): s
        case .int(let n): String(n)
        case .double(let d): String(d)
        case .bool(let b): b ? "true" : "false"
        }
    }
}

extension LogValue: ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension LogValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .int(value) }
}

extension LogValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension LogValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

/// A log line's metadata: key to value. Lines write keys in sorted order.
public typealias LogMetadata = [String: LogValue]
