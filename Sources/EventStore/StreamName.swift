/// A validated stream name.
///
/// Known streams: `case-<caseId>` and `sop-<caseId>` (caseId: 1–64 of `A-Z a-z 0-9 -`),
/// `institutions`, `sop-rulesets` (a `sop-` name by shape) and `checkpoints`. Anything else is
/// rejected before it reaches the database, which enforces the same rule in a CHECK constraint.
public struct StreamName: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let rawValue: String

    /// The fixed streams of the system.
    public static let institutions = StreamName(unchecked: "institutions")
    public static let sopRulesets = StreamName(unchecked: "sop-rulesets")
    public static let checkpoints = StreamName(unchecked: "checkpoints")

    private init(unchecked: String) { rawValue = unchecked }

    /// Validates a stream name; nil when it matches no known pattern.
    public init?(_ text: String) {
        if text == "institutions" || text == "checkpoints" || text == "sop-rulesets" {
            rawValue = text
            return
        }
        for prefix in ["case-", "sop-"] where text.hasPrefix(prefix) {
            guard Self.isValidCaseId(String(text.dropFirst(prefix.count))) else { return nil }
            rawValue = text
            return
        }
        return nil
    }

    /// The stream of a case's own events.
    public static func `case`(_ caseId: String) -> StreamName? {
        isValidCaseId(caseId) ? StreamName(unchecked: "case-" + caseId) : nil
    }

    /// The stream of system notices about a case (missed deadlines).
    public static func sop(_ caseId: String) -> StreamName? {
        isValidCaseId(caseId) ? StreamName(unchecked: "sop-" + caseId) : nil
    }

    /// The case id of a `case-` or `sop-` stream (`sop-rulesets` has none).
    public var caseId: String? {
        if rawValue.hasPrefix("case-") { return String(rawValue.dropFirst(5)) }
        if rawValue.hasPrefix("sop-"), self != .sopRulesets { return String(rawValue.dropFirst(4)) }
        return nil
    }

    /// 1–64 characters of `A-Z a-z 0-9 -`. `rulesets` is reserved: `sop-rulesets` is a system stream.
    public static func isValidCaseId(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard (1...64).contains(utf8.count), id != "rulesets" else { return false }
        return utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45
        }
    }

    public var description: String { rawValue }
    public static func < (a: StreamName, b: StreamName) -> Bool {
        Array(a.rawValue.utf8).lexicographicallyPrecedes(Array(b.rawValue.utf8))
    }
}
