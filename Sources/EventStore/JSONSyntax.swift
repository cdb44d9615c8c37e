/// A strict check of JSON text (RFC 8259) as PostgreSQL's `jsonb` input accepts it, without
/// building anything.
///
/// Why here: appends travel to the database in groups (``GroupCommitter``), as one array of
/// `jsonb` values, and one element that PostgreSQL cannot parse fails the whole statement. Text
/// this check refuses is refused before it joins a group. It also refuses what `jsonb` refuses
/// beyond the grammar: the escape `\u0000`, a lone UTF-16 surrogate, and an exponent beyond
/// ±1000 (PostgreSQL's `numeric` input limit). Anything it lets through that the database still
/// refuses (nesting past the server's stack, a number of more than 131,072 digits) only sends
/// that group's appends to the database one by one, with their outcomes unchanged.
enum JSONSyntax {
    /// Whether `text` is one JSON value, with optional whitespace around it.
    static func isValid(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var scanner = Scanner(bytes: bytes)
            scanner.skipWhitespace()
            guard scanner.value(depth: 0) else { return false }
            scanner.skipWhitespace()
            return scanner.index == bytes.count
        }
    }

    /// Deeper nesting is refused before the recursion could exhaust a task's stack (the API's own
    /// parser allows 64 levels).
    static let maximumDepth = 512

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { index += 1 }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard index + n <= bytes.count else { return false }
            let w = word.utf8Start
            for k in 0..<n where bytes[index + k] != w[k] { return false }
            index += n
            return true
        }

        mutating func value(depth: Int) -> Bool {
            guard depth < JSONSyntax.maximumDepth, let c = current else { return false }
            switch c {
            case UInt8(ascii: "{"): return object(depth: depth + 1)
            case UInt8(ascii: "["): return array(depth: depth + 1)
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number()
            }
        }

        mutating func object(depth: Int) -> Bool {
            members(closedBy: UInt8(ascii: "}")) { scanner in
                guard scanner.current == UInt8(ascii: "\""), scanner.string() else { return false }
                scanner.skipWhitespace()
                guard scanner.current == UInt8(ascii: ":") else { return false }
                scanner.index += 1
                scanner.skipWhitespace()
                return scanner.value(depth: depth)
            }
        }

        mutating func array(depth: Int) -> Bool {
            members(closedBy: UInt8(ascii: "]")) { scanner in scanner.value(depth: depth) }
        }

        /// The members of an object or array after its opening byte: none, or `member`s separated
        /// by commas, then `close`.
        mutating func members(closedBy close: UInt8, _ member: (inout Scanner) -> Bool) -> Bool {
            index += 1
            skipWhitespace()
            if current == close {
                index += 1
                return true
            }
            while true {
                guard member(&self) else { return false }
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","):
                    index += 1
                    skipWhitespace()
                case close:
                    index += 1
                    return true
                default: return false
                }
            }
        }

        mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count else { return nil }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[index]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: return nil
                }
                v = v * 16 + d
                index += 1
            }
            return v
        }

        /// A string; the text is valid UTF-8 already (a Swift `String`).
        mutating func string() -> Bool {
            index += 1
            while let c = current {
                index += 1
                switch c {
                case UInt8(ascii: "\""): return true
                case 0..<0x20: return false
                case UInt8(ascii: "\\"):
                    guard let e = current else { return false }
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        continue
                    case UInt8(ascii: "u"):
                        guard let unit = hex4(), unit != 0 else { return false }
                        if (0xDC00...0xDFFF).contains(unit) { return false }
                        if (0xD800...0xDBFF).contains(unit) {
                            guard literal("\\u"), let low = hex4(), (0xDC00...0xDFFF).contains(low) else {
                                return false
                            }
                        }
                    default: return false
                    }
                default: continue
                }
            }
            return false
        }

        mutating func digits() -> Int {
            let start = index
            while let c = current, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }

        mutating func number() -> Bool {
            if current == UInt8(ascii: "-") { index += 1 }
            guard let first = current, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return false }
            if first == UInt8(ascii: "0") {
                index += 1
            } else {
                _ = digits()
            }
            if current == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { return false }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                let start = index
                let n = digits()
                guard n > 0 else { return false }
                // PostgreSQL's numeric input refuses an exponent beyond ±1000.
                var exponent = 0
                for k in start..<(start + n) {
                    exponent = exponent * 10 + Int(bytes[k] - UInt8(ascii: "0"))
                    if exponent > 1000 { return false }
                }
            }
            return true
        }
    }
}
