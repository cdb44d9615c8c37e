/// How much a log line matters, from the chattiest to the most severe (swift-log's levels).
///
/// A logger drops every line below its level before the message or metadata is built.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case trace
    case debug
    case info
    case notice
    case warning
    case error
    case critical

    /// The level's name as written in log lines and given to `--log-level`: `info`, `warning`, …
    public var description: String {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        }
    }

    /// The level named `name` (`warn` is accepted for `warning`), or nil.
    public init?(name: String) {
        if name == "warn" {
            self = .warning
            return
        }
        guard let level = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = level
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}
