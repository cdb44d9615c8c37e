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
