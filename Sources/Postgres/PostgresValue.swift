import Foundation

/// A bind parameter, sent in PostgreSQL's text format.
public enum PostgresValue: Sendable, Equatable {
    case null
    case text(String)
}

/// A Swift value that can be bound as a query parameter.
public protocol PostgresEncodable: Sendable {
    var postgresValue: PostgresValue { get }
}

/// A Swift value that can be read from a column in text format.
public protocol PostgresDecodable {
    /// Decodes the column's text; returns nil when the text is not a valid value of this type.
    init?(postgresText: String)
    /// Decodes the column's text given as its UTF-8 bytes. The default makes a `String` and calls
    /// `init?(postgresText:)`; the common types parse the bytes directly.
    init?(postgresBytes: UnsafeBufferPointer<UInt8>)
}

extension PostgresDecodable {
    public init?(postgresBytes: UnsafeBufferPointer<UInt8>) {
        self.init(postgresText: String(decoding: postgresBytes, as: UTF8.self))
    }

    /// `init?(postgresBytes:)` over the text's UTF-8 bytes: the `init?(postgresText:)` of a type
    /// whose byte decoder is the real one.
    public static func decoding(utf8Of text: String) -> Self? {
        var text = text
        return text.withUTF8 { Self(postgresBytes: $0) }
    }
}

extension String: PostgresEncodable, PostgresDecodable {
    public var postgresValue: PostgresValue { .text(self) }
    public init?(postgresText: String) { self = postgresText }
    public init?(postgresBytes: UnsafeBufferPointer<UInt8>) { self = String(decoding: postgresBytes, as: UTF8.self) }
}

/// Parses an optional '-' and decimal digits into any fixed-width integer; nil on anything else
/// or on overflow (the same answers as `T(String)` for the text PostgreSQL sends).
@inline(__always)
func parseInteger<T: FixedWidthInteger>(_ bytes: UnsafeBufferPointer<UInt8>, as: T.Type) -> T? {
    var i = 0
    let negative = bytes.first == UInt8(ascii: "-")
    if negative || bytes.first == UInt8(ascii: "+") { i = 1 }
    guard i < bytes.count else { return nil }
    var value: T = 0
    while i < bytes.count {
        let digit = bytes[i] &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
        let (next, o2) =
            negative ? times10.subtractingReportingOverflow(T(digit)) : times10.addingReportingOverflow(T(digit))
        guard !o1, !o2 else { return nil }
        value = next
        i += 1
    }
    return value
}

extension Int: PostgresEncodable, PostgresDecodable {
    public var postgresValue: PostgresValue { .text(String(self)) }
    public init?(postgresText: String) { self.init(postgresText) }
    public init?(postgresBytes: UnsafeBufferPointer<UInt8>) {
        guard let v = parseInteger(postgresBytes, as: Int.self) else { return nil }
        self = v
    }
}

extension Int64: PostgresEncodable, PostgresDecodable {
    public var postgresValue: PostgresValue { .text(String(self)) }
    public init?(postgresText: String) { self.init(postgresText) }
    public init?(postgresBytes: UnsafeBufferPointer<UInt8>) {
        guard let v = parseInteger(postgresBytes, as: Int64.self) else { return nil }
        self = v
    }
}

extension UInt64: PostgresEncodable, PostgresDecodable {
    public var postgresValue: PostgresValue { .text(String(self)) }
    public init?(postgresText: String) { self.init(postgresText) }
    public init?(postgresBytes: UnsafeBufferPointer<UInt8>) {
        guard postgresBytes.first != UInt8(ascii: "-"), let v = parseInteger(postgresBytes, as: UInt64.self) else {
            return nil
        }
        self = v
    }
}

extension Int32: PostgresEncodable, PostgresDecodable {
    public var postgresValue: PostgresValue { .text(String(self)) }
    public init?(postgresText: String) { self.init(postgresText) }
    public init?(postgresBytes: UnsafeBufferPointer<UInt8>) {
        guard let v = parseInteger(postgresBytes, as: Int32.self) else { return nil }
        self = v
    }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public var postgresValue: PostgresValue { .text(String(self)) }
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Bool: PostgresEncodable, PostgresDecodable {
    public var postgresValue: PostgresValue { .text(self ? "t" : "f") }
    public init?(postgresText: String) {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: return nil
        }
    }
}

extension UUID: PostgresEncodable, PostgresDecodable {
    public var postgresValue: PostgresValue { .text(uuidString.lowercased()) }
    /// Through the byte parser below: `UUID(uuidString:)` scans with `sscanf`, which showed up in
    /// profiles of reads that decode many ids.
    public init?(postgresText: String) {
        guard let value = Self.decoding(utf8Of: postgresText) else { return nil }
        self = value
    }
    /// PostgreSQL sends `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lower case; upper case is accepted too.
    public init?(postgresBytes b: UnsafeBufferPointer<UInt8>) {
        guard b.count == 36 else { return nil }
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &value) { out -> Bool in
            var i = 0, k = 0
            while i < 36 {
                if i == 8 || i == 13 || i == 18 || i == 23 {
                    guard b[i] == UInt8(ascii: "-") else { return false }
                    i += 1
                    continue
                }
                let hi = hexValue(b[i]), lo = hexValue(b[i + 1])
                guard (hi | lo) & 0xF0 == 0 else { return false }
                out[k] = hi << 4 | lo
                k += 1
                i += 2
            }
            return true
        }
        guard ok else { return nil }
        self.init(uuid: value)
    }
}

/// Raw bytes for a `bytea` column or parameter (hex format, `\x…`).
public struct ByteA: Sendable, Hashable, PostgresEncodable, PostgresDecodable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var postgresValue: PostgresValue {
        var s = "\\x"
        s.reserveCapacity(2 + bytes.count * 2)
        for b in bytes { s += hexByte(b) }
        return .text(s)
    }

    public init?(postgresText: String) {
        guard let value = Self.decoding(utf8Of: postgresText) else { return nil }
        self = value
    }

    public init?(postgresBytes utf8: UnsafeBufferPointer<UInt8>) {
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else {
            return nil
        }
        // Written in place (no per-byte append): event reads decode two 32-byte hashes per row.
        let count = (utf8.count - 2) / 2
        var valid = true
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var pair: UInt8 = 0
            for k in 0..<count {
                let hi = hexValue(utf8[2 + 2 * k]), lo = hexValue(utf8[3 + 2 * k])
                pair |= hi | lo
                buffer[k] = hi << 4 | lo
            }
            valid = pair & 0xF0 == 0
            initialized = count
        }
        guard valid else { return nil }
        bytes = out
    }
}

/// A hex digit's value (either case), or 0xFF for any other byte: branch-light, for loops that
/// check a whole run at once (a value ORed with 0xFF has its high bits set).
@inline(__always) func hexValue(_ c: UInt8) -> UInt8 {
    let digit = c &- UInt8(ascii: "0")
    if digit < 10 { return digit }
    let letter = (c | 0x20) &- UInt8(ascii: "a")
    return letter < 6 ? letter + 10 : 0xFF
}

private let hexDigits = Array("0123456789abcdef".utf8)
@inline(__always) func hexByte(_ b: UInt8) -> String {
    String(decoding: [hexDigits[Int(b >> 4)], hexDigits[Int(b & 0xF)]], as: UTF8.self)
}

/// A point in time, bound and read as `timestamptz`. Sessions run with `TimeZone=UTC`, and text is
/// `YYYY-MM-DD HH:MM:SS[.ffffff]+00`.
extension Date: PostgresEncodable, PostgresDecodable {
    public var postgresValue: PostgresValue { .text(PostgresTimestamp.format(self)) }
    public init?(postgresText: String) {
        guard let date = PostgresTimestamp.parse(postgresText) else { return nil }
        self = date
    }
}

/// Formats and parses timestamps with microsecond precision, without locale-dependent formatters.
public enum PostgresTimestamp {
    /// RFC 3339 in UTC with exactly six fraction digits: `2026-11-22T10:00:00.000000Z`.
    public static func format(_ date: Date) -> String {
        withUTF8(date) { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with the UTF-8 bytes of `format(date)`, written without allocating for years
    /// 0…9999 (for writers that copy them straight into a buffer).
    public static func withUTF8<R>(_ date: Date, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let (total, fraction) = wholeMicroseconds(date)
        var days = total / 86_400
        var secs = total % 86_400
        if secs < 0 {
            secs += 86_400
            days -= 1
        }
        let (y, m, d) = civil(fromDays: days)
        guard (0...9999).contains(y) else {
            // Rare: years of more than four digits (or before year 0) take the general path.
            func pad(_ v: Int64, _ w: Int) -> String {
                let s = String(v)
                return s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
            }
            var text =
                "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secs / 3600, 2)):\(pad(secs / 60 % 60, 2)):"
                + "\(pad(secs % 60, 2)).\(pad(fraction, 6))Z"
            return try text.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
        }
        var out: (UInt64, UInt64, UInt64, UInt32, UInt16, UInt8) = (0, 0, 0, 0, 0, 0)  // 27 bytes used
        withUnsafeMutableBytes(of: &out) { o in
            func put(_ value: Int64, _ width: Int, at index: Int, then separator: UInt8?) {
                var v = value
                for k in stride(from: index + width - 1, through: index, by: -1) {
                    o[k] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
                if let separator { o[index + width] = separator }
            }
            put(y, 4, at: 0, then: UInt8(ascii: "-"))
            put(m, 2, at: 5, then: UInt8(ascii: "-"))
            put(d, 2, at: 8, then: UInt8(ascii: "T"))
            put(secs / 3600, 2, at: 11, then: UInt8(ascii: ":"))
            put(secs / 60 % 60, 2, at: 14, then: UInt8(ascii: ":"))
            put(secs % 60, 2, at: 17, then: UInt8(ascii: "."))
            put(fraction, 6, at: 20, then: UInt8(ascii: "Z"))
        }
        return try withUnsafeBytes(of: &out) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<27])) }
    }

    /// Parses PostgreSQL's and RFC 3339's forms: `YYYY-MM-DD[T ]HH:MM:SS[.f+]` then `Z`, `±HH`, `±HH:MM`
    /// or `±HHMM`. Returns nil for anything else (no zone is an error: a time without a zone is ambiguous).
    public static func parse(_ text: String) -> Date? {
        let s = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int64? {
            guard i + n <= s.count else { return nil }
            var v: Int64 = 0
            for k in 0..<n {
                let c = s[i + k]
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int64(c - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < s.count, s[i] == c else { return false }
            i += 1
            return true
        }
        guard let y = digits(4), expect(45), let mo = digits(2), expect(45), let d = digits(2) else { return nil }
        guard i < s.count, s[i] == 84 || s[i] == 116 || s[i] == 32 else { return nil }
        i += 1
        guard let h = digits(2), expect(58), let mi = digits(2), expect(58), let sec = digits(2) else { return nil }
        guard (1...12).contains(mo), d >= 1, d <= daysIn(month: mo, year: y), h <= 23, mi <= 59, sec <= 59 else {
            return nil
        }
        var micros: Int64 = 0
        if i < s.count, s[i] == 46 {
            i += 1
            var n = 0
            while i < s.count, s[i] >= 48, s[i] <= 57 {
                if n < 6 { micros = micros * 10 + Int64(s[i] - 48) }
                n += 1
                i += 1
            }
            guard n > 0, n <= 9 else { return nil }
            for _ in min(n, 6)..<6 { micros *= 10 }
        }
        guard i < s.count else { return nil }
        var offset: Int64 = 0
        if s[i] == 90 || s[i] == 122 {
            i += 1
        } else if s[i] == 43 || s[i] == 45 {
            let sign: Int64 = s[i] == 45 ? -1 : 1
            i += 1
            guard let oh = digits(2), oh <= 23 else { return nil }
            var om: Int64 = 0
            if i < s.count {
                _ = expect(58)
                guard let m = digits(2), m <= 59 else { return nil }
                om = m
            }
            offset = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard i == s.count else { return nil }
        let days = daysFromCivil(y, mo, d)
        return date(seconds: days * 86_400 + h * 3600 + mi * 60 + sec - offset, micros: micros)
    }

    /// `date` as a `timestamptz` keeps it (whole microseconds, rounded as ``format(_:)`` rounds)
    /// and ``parse(_:)`` reads it back: the same `Date` a read of the stored value gives, without
    /// the round trip through text.
    public static func stored(_ date: Date) -> Date {
        let (seconds, micros) = wholeMicroseconds(date)
        return Self.date(seconds: seconds, micros: micros)
    }

    /// `date` to the nearest microsecond, as whole seconds since 1970 and the microseconds past
    /// them (0…999,999): what a `timestamptz` holds.
    private static func wholeMicroseconds(_ date: Date) -> (seconds: Int64, micros: Int64) {
        let total = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        var seconds = total / 1_000_000
        var micros = total % 1_000_000
        if micros < 0 {
            micros += 1_000_000
            seconds -= 1
        }
        return (seconds, micros)
    }

    /// The one conversion from whole seconds and microseconds to a `Date`.
    private static func date(seconds: Int64, micros: Int64) -> Date {
        Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's days-from-civil algorithms (proleptic Gregorian calendar).
    private static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
