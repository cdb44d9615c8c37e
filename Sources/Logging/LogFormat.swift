#if canImport(Glibc)
    import Glibc
#endif

/// How a line is written: one JSON object per line for machines, or `key=value` text for people.
///
/// Either way a line is exactly one line: every control character in a message, key or value is
/// escaped, so no logged value can forge a line of its own.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `{"ts":"2026-12-06T10:00:00.123Z","level":"info","logger":"http","msg":"request","status":200}`
    case json
    /// `2026-12-06T10:00:00.123Z info  http: request status=200 route=/v1/inbox`
    case text

    /// The line for `record`, ending in a newline. Metadata keys come in sorted order; a key that
    /// would shadow one of the line's own fields (`ts`, `level`, `logger`, `msg`) is written with
    /// a leading `_`.
    public func line(_ record: LogRecord) -> String {
        let time = Self.timestamp(record.timestamp)
        let keys = record.metadata.keys.sorted()
        switch self {
        case .json:
            var out = "{\"ts\":\"\(time)\",\"level\":\"\(record.level)\",\"logger\":"
            Self.appendJSONString(record.label, to: &out)
            out += ",\"msg\":"
            Self.appendJSONString(record.message, to: &out)
            for key in keys {
                out += ","
                Self.appendJSONString(Self.reserved.contains(key) ? "_" + key : key, to: &out)
                out += ":"
                switch record.metadata[key]! {
                case .string(let s): Self.appendJSONString(s, to: &out)
                case .int(let n): out += String(n)
                case .double(let d): out += d.isFinite ? String(d) : "null"
                case .bool(let b): out += b ? "true" : "false"
                }
            }
            return out + "}\n"
        case .text:
            let level = record.level.description
            var out = time + " " + level + String(repeating: " ", count: max(0, 8 - level.count))
            out += Self.textEscaped(record.label, quoteSpaces: true) + ": " + Self.textEscaped(record.message)
            for key in keys {
                let shown = Self.reserved.contains(key) ? "_" + key : key
                out += " " + Self.textEscaped(shown, quoteSpaces: true) + "="
                out += Self.textEscaped(record.metadata[key]!.description, quoteSpaces: true)
            }
            return out + "\n"
        }
    }

    private static let reserved: Set<String> = ["ts", "level", "logger", "msg"]

    /// RFC 3339 UTC with milliseconds: `2026-12-06T10:00:00.123Z`.
    static func timestamp(_ time: (seconds: Int, nanoseconds: Int)) -> String {
        var seconds = time_t(time.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ n: Int32, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(time.nanoseconds / 1_000_000), 3))Z"
    }

    static func appendJSONString(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{2028}" || scalar == "\u{2029}":
                out += unicodeEscape(scalar)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// A value for the text format: control characters escaped; quoted when it holds a space, a
    /// quote or `=` (and `quoteSpaces`), or is empty.
    static func textEscaped(_ string: String, quoteSpaces: Bool = false) -> String {
        var out = ""
        var needsQuotes = string.isEmpty && quoteSpaces
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            case "\"":
                out += "\\\""
                needsQuotes = needsQuotes || quoteSpaces
            case " ", "=":
                out.unicodeScalars.append(scalar)
                needsQuotes = needsQuotes || quoteSpaces
            case _
            where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x85
                || scalar == "\u{2028}" || scalar == "\u{2029}":
                out += unicodeEscape(scalar)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return needsQuotes ? "\"" + out + "\"" : out
    }

    private static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
