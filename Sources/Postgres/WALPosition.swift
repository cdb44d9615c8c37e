/// A position in PostgreSQL's write-ahead log (an LSN, `pg_lsn`): how far a server has written,
/// or a standby has replayed.
///
/// Its text form is PostgreSQL's: two hexadecimal numbers of at most 8 digits, `high/low`
/// (`16/B374D848`), which is what `pg_lsn` prints and accepts. Positions only grow, across
/// failovers too (a promoted standby continues the log where it stopped replaying), so two of
/// them compare meaningfully whichever server of a replicated cluster gave them.
public struct WALPosition: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The position as one 64-bit number (`high << 32 | low`).
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    /// Parses the `high/low` text form strictly (1–8 hex digits each, nothing else); nil otherwise.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2,
            parts.allSatisfy({ part in
                (1...8).contains(part.utf8.count) && part.utf8.allSatisfy { hexValue($0) != 0xFF }
            }),
            let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16)
        else { return nil }
        self.value = high << 32 | low
    }

    /// `high/low` in upper-case hex, as PostgreSQL prints a `pg_lsn`.
    public var description: String {
        String(value >> 32, radix: 16, uppercase: true) + "/" + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    /// Bytes of WAL from `other` up to this position (0 when `other` is ahead).
    public func bytes(after other: WALPosition) -> UInt64 { value > other.value ? value - other.value : 0 }

    public static func < (a: WALPosition, b: WALPosition) -> Bool { a.value < b.value }
}
