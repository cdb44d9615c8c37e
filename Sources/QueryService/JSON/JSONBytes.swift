import Foundation

/// Writes compact JSON straight into bytes, for the hot read routes: no `JSONValue` tree (one
/// dictionary per object) is built only to be serialized once.
///
/// Commas are placed by the writer; the caller only opens, names and closes:
/// ```swift
/// var w = JSONBytes()
/// w.beginObject()
/// w.key("deadlines"); w.beginArray(); …; w.endArray()
/// w.key("next"); w.string(cursor)   // or w.null()
/// w.endObject()
/// ```
struct JSONBytes {
    private(set) var bytes: [UInt8] = []
    /// One entry per open container: whether it already holds a member.
    private var filled: [Bool] = []
    /// A key was written and its value is next (no comma before it).
    private var afterKey = false

    init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

    private mutating func valueStarts() {
        if afterKey {
            afterKey = false
            return
        }
        if let last = filled.last {
            if last { bytes.append(UInt8(ascii: ",")) }
            filled[filled.count - 1] = true
        }
    }

    mutating func beginObject() {
        valueStarts()
        bytes.append(UInt8(ascii: "{"))
        filled.append(false)
    }

    mutating func endObject() {
        filled.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    mutating func beginArray() {
        valueStarts()
        bytes.append(UInt8(ascii: "["))
        filled.append(false)
    }

    mutating func endArray() {
        filled.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    /// A member name; the next value written is its value.
    mutating func key(_ name: String) {
        valueStarts()
        Self.appendQuoted(name, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    mutating func string(_ value: String) {
        valueStarts()
        Self.appendQuoted(value, to: &bytes)
    }

    /// A string, or `null` for nil.
    mutating func string(_ value: String?) {
        if let value { string(value) } else { null() }
    }

    mutating func null() {
        valueStarts()
        bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])  // null
    }

    mutating func bool(_ value: Bool) {
        valueStarts()
        if value {
            bytes.append(contentsOf: [0x74, 0x72, 0x75, 0x65])  // true
        } else {
            bytes.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])  // false
        }
    }

    mutating func number(_ value: Int) {
        valueStarts()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// `"name": value` for a string.
    mutating func member(_ name: String, _ value: String?) {
        key(name)
        string(value)
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// `"…"` with `"`, `\` and control characters escaped; everything else (UTF-8 included) as is.
    static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var start = 0
            for (i, byte) in utf8.enumerated() where byte < 0x20 || byte == 0x22 || byte == 0x5C {
                out.append(contentsOf: utf8[start..<i])
                start = i + 1
                switch byte {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
                case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
                case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                default:
                    out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            out.append(contentsOf: utf8[start...])
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension UUID {
    /// Parses PostgreSQL's text of a `uuid` (`8-4-4-4-12` hex digits) without going through
    /// `UUID(uuidString:)`, which scans with `sscanf` and showed up in deadline-page profiles.
    /// Nil for anything else.
    init?(postgresText text: String) {
        var text = text
        let parsed: uuid_t? = text.withUTF8 { u -> uuid_t? in
            guard u.count == 36, u[8] == 45, u[13] == 45, u[18] == 45, u[23] == 45 else { return nil }
            var bytes = [UInt8](repeating: 0, count: 16)
            var k = 0
            var i = 0
            while i < 36 {
                if i == 8 || i == 13 || i == 18 || i == 23 {
                    i += 1
                    continue
                }
                guard let hi = Self.nibble(u[i]), let lo = Self.nibble(u[i + 1]) else { return nil }
                bytes[k] = hi << 4 | lo
                k += 1
                i += 2
            }
            return (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9],
                bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        }
        guard let parsed else { return nil }
        self.init(uuid: parsed)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
