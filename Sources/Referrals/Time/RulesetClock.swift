import Foundation
import Synchronization

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
    /// What this clock (and every copy of it) has already computed in its zone.
    private let memo = Memo()

    public init(timeZone: TimeZone?, holidays: HolidayCalendar?) {
        self.timeZone = timeZone
        self.holidays = holidays
        calendar = timeZone.map { zone in
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            return calendar
        }
    }

    /// Two clocks are the same clock when their zones and holidays are the same.
    public static func == (a: RulesetClock, b: RulesetClock) -> Bool {
        a.timeZone == b.timeZone && a.holidays == b.holidays
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(timeZone)
        hasher.combine(holidays)
    }

    /// The clock of rulesets without a zone or holidays.
    public static let utc = RulesetClock(timeZone: nil, holidays: nil)

    /// `date` moved forward by `duration`.
    public func add(_ duration: ISODuration, to date: Date) -> Date {
        guard let calendar, duration.hasCalendarPart else { return duration.added(to: date) }
        return memo.value(.add, date, duration) {
            let days = DateComponents(
                year: duration.years, month: duration.months, day: duration.weeks * 7 + duration.days)
            guard let moved = calendar.date(byAdding: days, to: date) else { return duration.added(to: date) }
            return moved.addingTimeInterval(duration.elapsedSeconds)
        }
    }

    /// `date` moved back by `duration` (elapsed part first, then the calendar part).
    public func subtract(_ duration: ISODuration, from date: Date) -> Date {
        guard let calendar, duration.hasCalendarPart else { return duration.subtracted(from: date) }
        return memo.value(.subtract, date, duration) {
            let back = date.addingTimeInterval(-duration.elapsedSeconds)
            return calendar.date(
                byAdding: DateComponents(
                    year: -duration.years, month: -duration.months, day: -(duration.weeks * 7 + duration.days)),
                to: back) ?? duration.subtracted(from: date)
        }
    }

    /// The end of the `count`-th working day after the local day of `date` (that day itself does
    /// not count): local midnight at the start of the following day. Working days are Monday to
    /// Friday and not a holiday; without holidays only weekends are skipped (the loader refuses
    /// a working-day rule in a ruleset without holidays).
    public func addWorkingDays(_ count: Int, to date: Date) -> Date {
        memo.value(.workingDays, date, ISODuration(days: count)) { countWorkingDays(count, from: date) }
    }

    private func countWorkingDays(_ count: Int, from date: Date) -> Date {
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

    /// The results of the calendar arithmetic done so far. Foundation's calendar takes
    /// microseconds a call in a named zone, and an evaluation asks the same questions again and
    /// again (a pass for each correction, over the same triggers): a case with a thousand events
    /// and a hundred corrections spent a fifth of its two seconds here. Bounded: emptied when full.
    final class Memo: Sendable {
        enum Operation: UInt8 { case add, subtract, workingDays }

        struct Key: Hashable {
            var operation: Operation
            var date: UInt64
            var duration: ISODuration
        }

        static let limit = 1 << 16
        private let table = Mutex<[Key: Date]>([:])

        func value(_ operation: Operation, _ date: Date, _ duration: ISODuration, _ compute: () -> Date) -> Date {
            let key = Key(
                operation: operation, date: date.timeIntervalSinceReferenceDate.bitPattern, duration: duration)
            if let known = table.withLock({ $0[key] }) { return known }
            let value = compute()
            table.withLock { table in
                if table.count >= Self.limit { table.removeAll(keepingCapacity: true) }
                table[key] = value
            }
            return value
        }
    }

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
