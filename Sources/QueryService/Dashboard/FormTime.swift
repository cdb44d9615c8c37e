import Foundation

/// Times as a person types them into a dashboard form: a wall-clock time in the deployment's
/// zone (`2026-12-06T14:02`, as `<input type="datetime-local">` sends it), never a UTC offset
/// they would have to work out.
enum FormTime {
    /// The value of a `datetime-local` control for `date` in `zone`, to the second
    /// (`2026-12-06T14:02:05`).
    static func format(_ date: Date, in zone: TimeZone) -> String {
        let c = calendar(zone).dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// The instant a person meant by `text` in `zone`: `YYYY-MM-DDTHH:MM` with optional `:SS`
    /// (a space instead of the `T` too, as typed into a browser without a date picker). Nil for
    /// anything else, for a date that does not exist (31 April), and for a wall-clock time that
    /// does not exist in the zone (skipped when the clocks go forward). A time the zone shows
    /// twice (the hour repeated when the clocks go back) is the later of the two instants.
    static func parse(_ text: String, in zone: TimeZone) -> Date? {
        let u = Array(text.trimmingCharacters(in: .whitespaces).utf8)
        guard u.count == 16 || u.count == 19 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            guard range.allSatisfy({ u[$0] >= 48 && u[$0] <= 57 }) else { return nil }
            return range.reduce(0) { $0 * 10 + Int(u[$1] - 48) }
        }
        guard u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"), u[10] == UInt8(ascii: "T") || u[10] == 32,
            u[13] == UInt8(ascii: ":"), u.count == 16 || u[16] == UInt8(ascii: ":"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16)
        else { return nil }
        let second = u.count == 19 ? number(17..<19) : 0
        guard let second, (1...9999).contains(year), (1...12).contains(month), (1...31).contains(day),
            (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else { return nil }
        // The typed wall-clock time read as UTC, then shifted by each offset the zone has around
        // it; a candidate counts only if the zone shows it as typed. The calendar would roll
        // 31 April over to 1 May and a skipped hour forward: such a time matches no offset and
        // was not one the person could have meant. A repeated hour (the clocks going back)
        // matches two: the later is taken, so an ambiguous time never dates an event earlier.
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let wanted = DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        guard let naive = utc.date(from: wanted) else { return nil }
        let offsets = Set([-86_400.0, 0, 86_400].map { zone.secondsFromGMT(for: naive.addingTimeInterval($0)) })
        let cal = calendar(zone)
        let shown = { (date: Date) -> Bool in
            let back = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            return back.year == year && back.month == month && back.day == day && back.hour == hour
                && back.minute == minute && back.second == second
        }
        return offsets.map { naive.addingTimeInterval(-TimeInterval($0)) }.filter(shown).max()
    }

    private static func calendar(_ zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }
}
