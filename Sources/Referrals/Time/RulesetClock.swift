import Foundation

/// Time as a ruleset counts it (docs/rulesets.md "Time"): days, weeks, months and years are
/// calendar units in the ruleset's time zone (a day is 23 or 25 hours across a DST change, and
/// the deadline keeps its local time of day); hours, minutes and seconds are elapsed time; working
/// days skip weekends and the ruleset's holidays and end at local midnight.
///
/// Without a zone (rulesets written before `timeZone`), everything is counted in UTC exactly as
/// before: days are 86,400 seconds.
public struct RulesetClock: Sendable, Hashable {
    /// nil: UTC, the behaviour before rulesets named a zone.
    public let timeZone: TimeZone?
    public let holidays: HolidayCalendar?
    private let calendar: Calendar?

    public init(timeZone: TimeZone?, holidays: HolidayCalendar?) {
        self.timeZone = timeZone
        self.holidays = holidays
        calendar = timeZone.map { zone in
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            return calendar
        }
    }

    /// The clock of rulesets without a zone or holidays.
    public static let utc = RulesetClock(timeZone: nil, holidays: nil)

    /// `date` moved forward by `duration`.
    public func add(_ duration: ISODuration, to date: Date) -> Date {
        guard let calendar, duration.hasCalendarPart else { return duration.added(to: date) }
        let days = DateComponents(year: duration.years, month: duration.months, day: duration.weeks * 7 + duration.days)
        guard let moved = calendar.date(byAdding: days, to: date) else { return duration.added(to: date) }
        return moved.addingTimeInterval(duration.elapsedSeconds)
    }

    /// `date` moved back by `duration` (elapsed part first, then the calendar part).
    public func subtract(_ duration: ISODuration, from date: Date) -> Date {
        guard let calendar, duration.hasCalendarPart else { return duration.subtracted(from: date) }
        let back = date.addingTimeInterval(-duration.elapsedSeconds)
        return calendar.date(
            byAdding: DateComponents(
                year: -duration.years, month: -duration.months, day: -(duration.weeks * 7 + duration.days)),
            to: back) ?? duration.subtracted(from: date)
    }

    /// The end of the `count`-th working day after the local day of `date` (that day itself does
    /// not count): local midnight at the start of the following day. Working days are Monday to
    /// Friday and not a holiday; without holidays only weekends are skipped (the loader refuses
    /// a working-day rule in a ruleset without holidays).
    public func addWorkingDays(_ count: Int, to date: Date) -> Date {
        let calendar = calendar ?? Self.utcCalendar
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        var day = Timestamp.daysFromCivil(year: parts.year ?? 1970, month: parts.month ?? 1, day: parts.day ?? 1)
        var counted = 0
        while counted < max(0, count) {
            day += 1
            if holidays?.isWorkingDay(day) ?? Self.isWeekday(day) { counted += 1 }
        }
        let (y, m, d) = Timestamp.civilFromDays(day + 1)
        return calendar.date(from: DateComponents(year: y, month: m, day: d))
            ?? Date(timeIntervalSince1970: Double((day + 1) * 86_400))
    }

    /// Local midnight at the start of the civil date in the clock's zone (UTC without one).
    public func startOfDay(year: Int, month: Int, day: Int) -> Date {
        let calendar = calendar ?? Self.utcCalendar
        return calendar.date(from: DateComponents(year: year, month: month, day: day))
            ?? Date(timeIntervalSince1970: Double(Timestamp.daysFromCivil(year: year, month: month, day: day) * 86_400))
    }

    static func isWeekday(_ dayNumber: Int) -> Bool { ((dayNumber + 3) % 7 + 7) % 7 < 5 }

    private static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}

extension ISODuration {
    /// Whether the duration has years, months, weeks or days (calendar units in a zone).
    var hasCalendarPart: Bool { years != 0 || months != 0 || weeks != 0 || days != 0 }

    /// The hours, minutes and seconds: elapsed time in any zone.
    var elapsedSeconds: TimeInterval { TimeInterval(hours * 3600 + minutes * 60 + seconds) }
}
