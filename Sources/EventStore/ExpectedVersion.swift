/// What a writer expects of a stream before its append.
public enum ExpectedVersion: Hashable, Sendable, CustomStringConvertible {
    /// No check.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream must have at least one event.
    case exists
    /// The stream's current version must be exactly this (0 means: no events yet).
    case exactly(Int64)

    /// Parses `any`, `no-stream`, `exists` or a non-negative integer; nil for anything else.
    public init?(_ text: String) {
        switch text {
        case "any": self = .any
        case "no-stream": self = .noStream
        case "exists": self = .exists
        default:
            guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let n = Int64(text)
            else { return nil }
            self = .exactly(n)
        }
    }

    /// Whether a stream at `version` is what this expects (as the database function decides).
    public func isMet(byVersion version: Int64) -> Bool {
        switch self {
        case .any: true
        case .noStream: version == 0
        case .exists: version > 0
        case .exactly(let n): n == version
        }
    }

    /// The form the database function and the API use.
    public var description: String {
        switch self {
        case .any: return "any"
        case .noStream: return "no-stream"
        case .exists: return "exists"
        case .exactly(let n): return String(n)
        }
    }
}
