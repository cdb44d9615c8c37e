/// A position in the gap-free global order: the writing transaction's id and the event's position.
///
/// Clients see it as an opaque string (`"<xid>-<position>"`, both decimal) and only echo it back.
/// Events are read in (xid, position) order and only from transactions older than every running
/// one, so a transaction that commits late is never skipped.
public struct Cursor: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var xid: UInt64
    public var position: Int64

    /// Before the first event.
    public static let start = Cursor(xid: 0, position: 0)

    public init(xid: UInt64, position: Int64) {
        self.xid = xid
        self.position = position
    }

    /// Parses the opaque form; nil when it is not one this store made.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 20 && $0.allSatisfy(\.isASCII) }),
            let xid = UInt64(parts[0]), let position = Int64(parts[1]), position >= 0
        else { return nil }
        self.init(xid: xid, position: position)
    }

    public var description: String { "\(xid)-\(position)" }

    public static func < (a: Cursor, b: Cursor) -> Bool { (a.xid, a.position) < (b.xid, b.position) }
}
