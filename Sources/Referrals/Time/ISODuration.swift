import Foundation

/// An ISO 8601 duration such as `PT24H`, `P30D`, `P1Y2M10DT2H30M` or `P2W`.
///
/// Accepted grammar: `P[nY][nM][nW][nD][T[nH][nM][nS]]` with non-negative integer amounts, at
/// least one component, and at least one time component after `T`. Fractions and negative
/// durations are rejected. Years and months are calendar units, added in UTC with the day of
/// month clamped (2024-01-31 + P1M = 2024-02-29); the rest are exact seconds.
public struct ISODuration: Sendable, Hashable, CustomStringConvertible {
    public var years = 0
    public var months = 0
    public var weeks = 0
    public var days = 0
    public var hours = 0
    public var minutes = 0
    public var seconds = 0

    public init(
        years: Int = 0, months: Int = 0, weeks: Int = 0, days: Int = 0, hours: Int = 0, minutes: Int = 0,
        seconds: Int = 0
    ) {
        self.years = years
        self.months = months
        self.weeks = weeks
        self.days = days
        self.hours = hours
        self.minutes = minutes
        self.seconds = seconds
    }

    /// Parses the text; `nil` when it is not a duration of the accepted grammar or an amount
    /// exceeds 1,000,000.
    public init?(_ text: String) {
        var chars = Array(text.utf8)[...]
        guard chars.popFirst() == UInt8(ascii: "P"), !chars.isEmpty else { return nil }
        var inTime = false
        var sawComponent = false
        var sawTimeComponent = false
        var lastRank = -1
        while let first = chars.first {
            if first == UInt8(ascii: "T") {
                guard !inTime else { return nil }
                inTime = true
                chars.removeFirst()
                continue
            }
            var amount = 0
            var digitCount = 0
            while let c = chars.first, c >= 0x30, c <= 0x39 {
                amount = amount * 10 + Int(c - 0x30)
                digitCount += 1
                chars.removeFirst()
                guard amount <= 1_000_000 else { return nil }
            }
            guard digitCount > 0, let designator = chars.popFirst() else { return nil }
            let rank: Int
            switch (inTime, designator) {
            case (false, UInt8(ascii: "Y")): rank = 0; years = amount
            case (false, UInt8(ascii: "M")): rank = 1; months = amount
            case (false, UInt8(ascii: "W")): rank = 2; weeks = amount
            case (false, UInt8(ascii: "D")): rank = 3; days = amount
            case (true, UInt8(ascii: "H")): rank = 4; hours = amount
            case (true, UInt8(ascii: "M")): rank = 5; minutes = amount
            case (true, UInt8(ascii: "S")): rank = 6; seconds = amount
            default: return nil
            }
            guard rank > lastRank else { return nil }
            lastRank = rank
            sawComponent = true
            if inTime { sawTimeComponent = true }
        }
        guard sawComponent, !inTime || sawTimeComponent else { return nil }
    }

    /// The exact seconds of the week/day/time part (years and months excluded).
    public var fixedSeconds: TimeInterval {
        TimeInterval(((weeks * 7 + days) * 24 + hours) * 3600 + minutes * 60 + seconds)
    }

    /// `date` moved forward by this duration.
    public func added(to date: Date) -> Date {
        var result = date
        if years != 0 || months != 0 {
            let t = date.timeIntervalSince1970
            let dayNumber = Int(Timestamp.floorDiv(Int64(t.rounded(.down)), 86_400))
            let timeOfDay = t - Double(dayNumber * 86_400)
            let (y, m, d) = Timestamp.civilFromDays(dayNumber)
            let monthIndex = y * 12 + (m - 1) + years * 12 + months
            let newYear = monthIndex / 12
            let newMonth = monthIndex % 12 + 1
            let newDay = min(d, Timestamp.daysInMonth(year: newYear, month: newMonth))
            let newDays = Timestamp.daysFromCivil(year: newYear, month: newMonth, day: newDay)
            result = Date(timeIntervalSince1970: Double(newDays * 86_400) + timeOfDay)
        }
        return result.addingTimeInterval(fixedSeconds)
    }

    /// `date` moved back by this duration (the inverse of ``added(to:)`` for fixed durations).
    public func subtracted(from date: Date) -> Date {
        var result = date.addingTimeInterval(-fixedSeconds)
        if years != 0 || months != 0 {
            let back = ISODuration(years: -years, months: -months)
            result = back.added(to: result)
        }
        return result
    }

    /// The canonical text, e.g. `P1DT2H`; `PT0S` for zero.
    public var description: String {
        var text = "P"
        if years > 0 { text += "\(years)Y" }
        if months > 0 { text += "\(months)M" }
        if weeks > 0 { text += "\(weeks)W" }
        if days > 0 { text += "\(days)D" }
        if hours > 0 || minutes > 0 || seconds > 0 {
            text += "T"
            if hours > 0 { text += "\(hours)H" }
            if minutes > 0 { text += "\(minutes)M" }
            if seconds > 0 { text += "\(seconds)S" }
        }
        return text == "P" ? "PT0S" : text
    }
}
