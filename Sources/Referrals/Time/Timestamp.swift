import Foundation

/// RFC 3339 timestamps and calendar dates in UTC, by pure arithmetic (no time-zone database,
/// no clock): the parser and formatter behind `occurredAt`, `dueAt` and `effectiveFrom`.
public enum Timestamp {
    /// Parses an RFC 3339 date-time with a zone (`Z` or `±hh:mm`) and optional fraction, e.g.
    /// `2026-11-22T10:00:00Z` or `2026-11-22T12:00:00.250+02:00`. Returns `nil` for anything else,
    /// including dates that do not exist and leap seconds.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count >= 20, b.count <= 40 else { return nil }
        guard let year = digits(b, 0, 4), b[4] == 0x2D, let month = digits(b, 5, 2), b[7] == 0x2D,
            let day = digits(b, 8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
            let hour = digits(b, 11, 2), b[13] == 0x3A, let minute = digits(b, 14, 2), b[16] == 0x3A,
            let second = digits(b, 17, 2)
        else { return nil }
        guard isValidDate(year: year, month: month, day: day), hour < 24, minute < 60, second < 60 else { return nil }
        var i = 19
        var fraction = 0.0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                fraction += Double(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
            guard i > start, i - start <= 9 else { return nil }
        }
        guard i < b.count else { return nil }
        var offsetSeconds = 0
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard b.count - i == 6, let oh = digits(b, i + 1, 2), b[i + 3] == 0x3A, let om = digits(b, i + 4, 2),
                oh < 24, om < 60
            else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// Parses a calendar date `YYYY-MM-DD` as midnight UTC.
    public static func parseDate(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 10, let year = digits(b, 0, 4), b[4] == 0x2D, let month = digits(b, 5, 2), b[7] == 0x2D,
            let day = digits(b, 8, 2), isValidDate(year: year, month: month, day: day)
        else { return nil }
        return Date(timeIntervalSince1970: Double(daysFromCivil(year: year, month: month, day: day) * 86_400))
    }

    /// Formats as RFC 3339 in UTC: `2026-11-22T10:00:00Z`, with milliseconds only when non-zero
    /// (`2026-11-22T10:00:00.250Z`); sub-millisecond digits are dropped (after rounding to the
    /// microsecond, the store's resolution).
    public static func format(_ date: Date) -> String {
        // To the nearest microsecond first, then down to the millisecond: a time parsed from
        // `…:57.391Z` may be a hair under .391 as a Double, and must still print .391.
        let totalMillis = floorDiv(Int64((date.timeIntervalSince1970 * 1_000_000).rounded()), 1000)
        var seconds = totalMillis.quotientAndRemainder(dividingBy: 1000)
        if seconds.remainder < 0 { seconds = (seconds.quotient - 1, seconds.remainder + 1000) }
        let days = Int(floorDiv(seconds.quotient, 86_400))
        let secondOfDay = Int(seconds.quotient - Int64(days) * 86_400)
        let (y, m, d) = civilFromDays(days)
        let millis = Int(seconds.remainder)
        guard (0...9999).contains(y) else {
            // Years of more than four digits, or before year 0: the general path.
            var text =
                pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T" + pad(secondOfDay / 3600, 2) + ":"
                + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
            if millis != 0 { text += "." + pad(millis, 3) }
            return text + "Z"
        }
        // Written into 24 bytes on the stack: case documents and pages format many times each.
        var out: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let length = millis != 0 ? 24 : 20
        withUnsafeMutableBytes(of: &out) { o in
            func put(_ value: Int, _ width: Int, at index: Int, then separator: UInt8) {
                var v = value
                for k in stride(from: index + width - 1, through: index, by: -1) {
                    o[k] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
                o[index + width] = separator
            }
            put(y, 4, at: 0, then: UInt8(ascii: "-"))
            put(m, 2, at: 5, then: UInt8(ascii: "-"))
            put(d, 2, at: 8, then: UInt8(ascii: "T"))
            put(secondOfDay / 3600, 2, at: 11, then: UInt8(ascii: ":"))
            put(secondOfDay / 60 % 60, 2, at: 14, then: UInt8(ascii: ":"))
            if millis != 0 {
                put(secondOfDay % 60, 2, at: 17, then: UInt8(ascii: "."))
                put(millis, 3, at: 20, then: UInt8(ascii: "Z"))
            } else {
                put(secondOfDay % 60, 2, at: 17, then: UInt8(ascii: "Z"))
            }
        }
        return withUnsafeBytes(of: &out) { String(decoding: $0[0..<length], as: UTF8.self) }
    }

    /// Formats the UTC calendar date `YYYY-MM-DD`.
    public static func formatDate(_ date: Date) -> String {
        let (y, m, d) = civil(date)
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }

    /// The UTC (year, month, day) of a date.
    /// The calendar year of `date` in the IANA zone `timeZone` (UTC if the zone is unknown).
    public static func year(of date: Date, timeZone: String) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")!
        return calendar.component(.year, from: date)
    }

    public static func civil(_ date: Date) -> (year: Int, month: Int, day: Int) {
        civilFromDays(Int(floorDiv(Int64(date.timeIntervalSince1970.rounded(.down)), 86_400)))
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func digits(_ b: [UInt8], _ start: Int, _ count: Int) -> Int? {
        guard start + count <= b.count else { return nil }
        var value = 0
        for i in start..<(start + count) {
            guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
            value = value * 10 + Int(b[i] - 0x30)
        }
        return value
    }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func isValidDate(year: Int, month: Int, day: Int) -> Bool {
        (1...12).contains(month) && day >= 1 && day <= daysInMonth(year: year, month: month)
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
