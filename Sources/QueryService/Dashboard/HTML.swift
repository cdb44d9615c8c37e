/// A fragment of HTML whose interpolations are escaped unless they are HTML themselves.
///
/// Like a bind parameter in SQL, an interpolated `String` can never become markup: `"<td>\(name)</td>"`
/// escapes `name`; only another `HTML` value (built the same way) is inserted as it is. So an
/// unescaped value cannot be written by accident, and ``escape(_:)`` is the one escaping function.
///
/// ```swift
/// let cell: HTML = "<td>\(caseId)</td>"          // caseId escaped
/// let row: HTML = "<tr>\(cell)</tr>"             // cell inserted as markup
/// ```
struct HTML: Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    private(set) var text: String

    init(stringLiteral value: String) { text = value }

    init(stringInterpolation: StringInterpolation) { text = stringInterpolation.text }

    /// Markup from a trusted constant (never from data).
    init(trusted markup: StaticString) { text = "\(markup)" }

    var description: String { text }

    static let empty: HTML = ""

    /// The fragments one after the other.
    init(joining parts: some Sequence<HTML>) {
        text = parts.map(\.text).joined()
    }

    static func + (a: HTML, b: HTML) -> HTML { HTML(joining: [a, b]) }

    struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var text = ""

        init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        mutating func appendLiteral(_ literal: String) { text += literal }
        /// Text: escaped.
        mutating func appendInterpolation(_ value: String) { text += HTML.escape(value) }
        mutating func appendInterpolation(_ value: Substring) { text += HTML.escape(String(value)) }
        mutating func appendInterpolation(_ value: Int) { text += String(value) }
        mutating func appendInterpolation(_ value: Int64) { text += String(value) }
        /// Markup: inserted as it is.
        mutating func appendInterpolation(_ html: HTML) { text += html.text }
        mutating func appendInterpolation(_ parts: [HTML]) { for part in parts { text += part.text } }
    }

    /// Escapes text for element content and for quoted attribute values: `& < > " '` become
    /// entities, and control characters other than tab and newline (which have no business in
    /// a page, and NUL breaks parsers) become U+FFFD.
    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value):
                out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Percent-encodes a value for a URL query (everything but unreserved characters), so it
    /// can be placed in an `href` (which is then HTML-escaped as well).
    static func queryValue(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
