import Foundation

/// A jurisdiction's public holidays, as a ruleset states them (docs/rulesets.md): fixed dates
/// every year, days relative to Easter (Western or Orthodox), and explicit dates (the lunar
/// holidays, announced year by year). Each holiday says where it comes from and whether that is
/// confirmed. Working days are Monday to Friday minus these holidays.
public struct HolidayCalendar: Sendable, Hashable {
    /// How a holiday's date is found.
    public enum Rule: Sendable, Hashable {
        /// The same month and day every year.
        case fixed(month: Int, day: Int)
        /// `offsetDays` after Easter Sunday by `computus` (Easter Monday: 1).
        case easter(Computus, offsetDays: Int)
        /// One date (a lunar holiday in one year).
        case date(year: Int, month: Int, day: Int)
    }

    /// Which Easter.
    public enum Computus: String, Sendable, Hashable, CaseIterable {
        /// Western (Catholic, Protestant) Easter: the Gregorian computus.
        case gregorian
        /// Orthodox Easter: the Julian computus, as a Gregorian date.
        case julian
    }

    /// One holiday.
    public struct Holiday: Sendable, Hashable {
        public var name: String
        public var rule: Rule
        public var source: SopRule.Source?
        /// Whether the date is confirmed from its source.
        public var confirmed: Bool
    }

    public var holidays: [Holiday]

    public init(holidays: [Holiday]) { self.holidays = holidays }

    /// Whether the civil date is one of the holidays.
    public func isHoliday(year: Int, month: Int, day: Int) -> Bool {
        holidays.contains { holiday in
            switch holiday.rule {
            case .fixed(let m, let d): return m == month && d == day
            case .date(let y, let m, let d): return y == year && m == month && d == day
            case .easter(let computus, let offset):
                let sunday = Self.easterSunday(year: year, computus)
                let days = Timestamp.daysFromCivil(year: year, month: sunday.month, day: sunday.day) + offset
                let (y, m, d) = Timestamp.civilFromDays(days)
                return y == year && m == month && d == day
            }
        }
    }

    /// Whether the day (days since 1970-01-01) is Monday to Friday and not a holiday.
    public func isWorkingDay(_ dayNumber: Int) -> Bool {
        // 1970-01-01 was a Thursday: (dayNumber + 3) mod 7 is 0 on Mondays.
        let weekday = ((dayNumber + 3) % 7 + 7) % 7
        guard weekday < 5 else { return false }
        let (y, m, d) = Timestamp.civilFromDays(dayNumber)
        return !isHoliday(year: y, month: m, day: d)
    }

    /// Easter Sunday of `year` as a Gregorian (civil) date.
    ///
    /// Gregorian: the anonymous Gregorian algorithm (Meeus/Jones/Butcher). Julian: Meeus's Julian
    /// algorithm, moved to the Gregorian calendar by the centuries' difference (13 days in
    /// 1900–2099).
    public static func easterSunday(year: Int, _ computus: Computus) -> (month: Int, day: Int) {
        switch computus {
        case .gregorian:
            let a = year % 19
            let b = year / 100
            let c = year % 100
            let d = b / 4
            let e = b % 4
            let f = (b + 8) / 25
            let g = (b - f + 1) / 3
            let h = (19 * a + b - d - g + 15) % 30
            let i = c / 4
            let k = c % 4
            let l = (32 + 2 * e + 2 * i - h - k) % 7
            let m = (a + 11 * h + 22 * l) / 451
            let month = (h + l - 7 * m + 114) / 31
            let day = (h + l - 7 * m + 114) % 31 + 1
            return (month, day)
        case .julian:
            let a = year % 4
            let b = year % 7
            let c = year % 19
            let d = (19 * c + 15) % 30
            let e = (2 * a + 4 * b - d + 34) % 7
            let month = (d + e + 114) / 31
            let day = (d + e + 114) % 31 + 1
            let shift = year / 100 - year / 400 - 2
            let days = Timestamp.daysFromCivil(year: year, month: month, day: day) + shift
            let (_, m, dd) = Timestamp.civilFromDays(days)
            return (m, dd)
        }
    }
}
