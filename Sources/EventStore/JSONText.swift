import Postgres
import Foundation

/// The few JSON text operations the store needs; the full JSON model lives above the store.
enum JSONText {
    /// A JSON string literal for `s`, escaping quotes, backslashes and control characters.
    static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

enum PostgresTimestampText {
    /// Parses the store's fixed timestamp format; the store wrote it, so it always parses.
    static func date(_ text: String) -> Date { PostgresTimestamp.parse(text) ?? Date(timeIntervalSince1970: 0) }
}

/// A `timestamptz` column read as PostgreSQL's ISO text in a UTC session
/// (`2026-11-22 10:00:00.5+00`), turned into the store's canonical form
/// (`2026-11-22T10:00:00.500000Z`, what `to_char(t AT TIME ZONE 'UTC',
/// 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` gives — docs/hash-chain.md). Done here rather than with
/// `to_char` in every read: formatting was a quarter of the server's time per page.
/// Anything else (another time zone, a BC date) is refused, so a read fails loudly instead of
/// yielding bytes the chain was not computed over.
struct CanonicalTimestamp: PostgresDecodable {
    let text: String

    init?(postgresText: String) {
        guard let value = Self.decoding(utf8Of: postgresText) else { return nil }
        self = value
    }

    init?(postgresBytes b: UnsafeBufferPointer<UInt8>) {
        // Year (4 or more digits), then "-MM-DD HH:MM:SS" (15 bytes), then an optional fraction, then "+00".
        var yearEnd = 0
        while yearEnd < b.count, b[yearEnd] &- UInt8(ascii: "0") < 10 { yearEnd += 1 }
        let secondsEnd = yearEnd + 15
        guard yearEnd >= 4, b.count >= secondsEnd + 3 else { return nil }
        func digits(_ range: Range<Int>) -> Bool { range.allSatisfy { b[$0] &- UInt8(ascii: "0") < 10 } }
        let y = yearEnd
        guard b[y] == UInt8(ascii: "-"), digits(y + 1..<y + 3), b[y + 3] == UInt8(ascii: "-"), digits(y + 4..<y + 6),
            b[y + 6] == UInt8(ascii: " "), digits(y + 7..<y + 9), b[y + 9] == UInt8(ascii: ":"),
            digits(y + 10..<y + 12),
            b[y + 12] == UInt8(ascii: ":"), digits(y + 13..<y + 15)
        else { return nil }
        var fraction = secondsEnd..<secondsEnd
        var i = secondsEnd
        if b[i] == UInt8(ascii: ".") {
            i += 1
            while i < b.count, b[i] &- UInt8(ascii: "0") < 10 { i += 1 }
            fraction = secondsEnd + 1..<i
            guard (1...6).contains(fraction.count) else { return nil }
        }
        guard i + 3 == b.count, b[i] == UInt8(ascii: "+"), b[i + 1] == UInt8(ascii: "0"), b[i + 2] == UInt8(ascii: "0")
        else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(secondsEnd + 8)
        out += b[0..<y + 6]
        out.append(UInt8(ascii: "T"))
        out += b[y + 7..<secondsEnd]
        out.append(UInt8(ascii: "."))
        out += b[fraction]
        for _ in fraction.count..<6 { out.append(UInt8(ascii: "0")) }
        out.append(UInt8(ascii: "Z"))
        text = String(decoding: out, as: UTF8.self)
    }
}
