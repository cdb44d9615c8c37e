import Foundation
import Testing

@testable import Referrals

/// Time as rulesets count it: the zone, DST, working days and holidays (docs/rulesets.md "Time").
@Suite struct RulesetTimeTests {
    static let clock = Ruleset.kosovoDefault.clock

    static func utc(_ text: String) -> Date { Timestamp.parse(text)! }

    @Test(arguments: [
        (2000, HolidayCalendar.Computus.gregorian, 4, 23), (2024, .gregorian, 3, 31), (2025, .gregorian, 4, 20),
        (2026, .gregorian, 4, 5), (2027, .gregorian, 3, 28), (2038, .gregorian, 4, 25), (2000, .julian, 4, 30),
        (2024, .julian, 5, 5), (2025, .julian, 4, 20), (2026, .julian, 4, 12), (2027, .julian, 5, 2),
    ])
    func easterDates(year: Int, computus: HolidayCalendar.Computus, month: Int, day: Int) {
        let easter = HolidayCalendar.easterSunday(year: year, computus)
        #expect(easter.month == month && easter.day == day, "\(year) \(computus)")
    }

    /// `P1D` is a calendar day in Europe/Belgrade (23 or 25 hours across the DST changes, the same
    /// local time); `PT24H` is 24 elapsed hours.
    @Test(arguments: [
        // March: 2026-03-29 02:00 → 03:00. 10:00 local on the 28th is 09:00Z; 10:00 on the 29th is 08:00Z.
        ("2026-03-28T09:00:00Z", "P1D", "2026-03-29T08:00:00Z"),
        ("2026-03-28T09:00:00Z", "PT24H", "2026-03-29T09:00:00Z"),
        ("2026-03-01T09:00:00Z", "P30D", "2026-03-31T08:00:00Z"),
        // October: 2026-10-25 03:00 → 02:00. 10:00 local on the 24th is 08:00Z; on the 25th 09:00Z.
        ("2026-10-24T08:00:00Z", "P1D", "2026-10-25T09:00:00Z"),
        ("2026-10-24T08:00:00Z", "PT24H", "2026-10-25T08:00:00Z"),
        ("2026-10-24T08:00:00Z", "P1DT2H", "2026-10-25T11:00:00Z"),
        // A year boundary, and a month clamped: 31 January + P1M is the last day of February.
        ("2026-12-31T22:30:00Z", "P1D", "2027-01-01T22:30:00Z"),
        ("2024-01-31T09:00:00Z", "P1M", "2024-02-29T09:00:00Z"),
    ])
    func calendarDaysInTheZone(start: String, duration: String, due: String) {
        let d = ISODuration(duration)!
        #expect(Self.clock.add(d, to: Self.utc(start)) == Self.utc(due), "\(start) + \(duration)")
        if d.months == 0 {  // a clamped month has no inverse
            #expect(Self.clock.subtract(d, from: Self.utc(due)) == Self.utc(start), "\(due) - \(duration)")
        }
    }

    /// A clock remembers what it computed (Foundation's calendar is slow in a named zone, and an
    /// evaluation asks the same again and again): remembered or not, the answer is the calendar's,
    /// across DST changes, month ends and working days, and a full memory starts again.
    @Test func aClockRemembersExactlyWhatTheCalendarSays() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Belgrade")!
        var rng = SplitMix64(seed: 17)
        let durations = ["P1D", "P3D", "P30D", "P1M", "P1Y", "P2W", "P1DT2H", "PT24H"].map { ISODuration($0)! }
        let start = Self.utc("2024-01-01T00:00:00Z").timeIntervalSince1970
        let fresh = RulesetClock(timeZone: calendar.timeZone, holidays: Self.clock.holidays)
        for _ in 0..<3_000 {
            let date = Date(timeIntervalSince1970: start + Double(rng.next() % (3 * 365 * 86_400)))
            let d = durations[Int(rng.next() % UInt64(durations.count))]
            var expected = calendar.date(
                byAdding: DateComponents(year: d.years, month: d.months, day: d.weeks * 7 + d.days), to: date)!
            expected = expected.addingTimeInterval(TimeInterval(d.hours * 3600 + d.minutes * 60 + d.seconds))
            if !d.hasCalendarPart { expected = date.addingTimeInterval(d.elapsedSeconds) }
            #expect(Self.clock.add(d, to: date) == expected)
            #expect(Self.clock.add(d, to: date) == expected)  // remembered
            #expect(Self.clock.subtract(d, from: date) == fresh.subtract(d, from: date))
            #expect(Self.clock.addWorkingDays(2, to: date) == fresh.addWorkingDays(2, to: date))
        }
        // Bounded: past its limit it forgets everything and goes on answering right.
        let memo = RulesetClock.Memo()
        for i in 0...RulesetClock.Memo.limit {
            _ = memo.value(.add, Date(timeIntervalSince1970: Double(i)), ISODuration(days: 1)) {
                Date(timeIntervalSince1970: 7)
            }
        }
        #expect(memo.value(.add, Date(timeIntervalSince1970: 0), ISODuration(days: 1)) { .distantPast } == .distantPast)
    }

    /// Without a zone, durations are what they always were: days of 86,400 seconds in UTC.
    @Test func rulesetsWithoutAZoneCountInUTC() {
        let start = Self.utc("2026-03-28T09:00:00Z")
        #expect(RulesetClock.utc.add(ISODuration("P1D")!, to: start) == Self.utc("2026-03-29T09:00:00Z"))
    }

    /// Working days end at local midnight after the n-th working day (the trigger's day not
    /// counted), skipping weekends and the default ruleset's Kosovo holidays.
    @Test(arguments: [
        // Year boundary: 1 and 2 January are holidays, then a weekend.
        ("2026-12-31T09:00:00Z", 2, "2027-01-05T23:00:00Z"),
        // Catholic Easter Monday 2026-04-06 (CEST: local midnight is 22:00Z).
        ("2026-04-02T08:00:00Z", 2, "2026-04-07T22:00:00Z"),
        // Orthodox Easter Monday 2026-04-13.
        ("2026-04-10T08:00:00Z", 1, "2026-04-14T22:00:00Z"),
        // Eid al-Fitr 2026-03-20 (a Friday), a date given for that year.
        ("2026-03-19T08:00:00Z", 1, "2026-03-23T23:00:00Z"),
        // Across the March DST change: Friday 27th + 1 = Monday 30th, ends 22:00Z (CEST).
        ("2026-03-27T08:00:00Z", 1, "2026-03-30T22:00:00Z"),
        // A trigger late on a Friday evening local time (already Saturday in no zone): Monday.
        ("2026-10-23T21:30:00Z", 1, "2026-10-26T23:00:00Z"),
    ])
    func workingDays(start: String, count: Int, due: String) {
        #expect(Self.clock.addWorkingDays(count, to: Self.utc(start)) == Self.utc(due), "\(start) + \(count)")
    }

    static func ruleset(top: JSONValue = [:], within: JSONValue = ["workingDays": 3]) -> JSONValue {
        let rule: JSONValue = [
            "id": "r", "title": "T", "source": ["document": "D"], "confirmed": false,
            "trigger": ["events": ["CaseOpened"]], "satisfiedBy": ["events": ["RiskAssessed"]], "within": within,
            "responsible": ["kind": "case-opener"],
        ]
        let holidays: JSONValue = [
            "fixed": [["date": "01-01", "name": "New Year", "confirmed": false]],
            "easter": [["computus": "gregorian", "offsetDays": 1, "name": "Easter Monday", "confirmed": false]],
            "dates": [["date": "2026-03-20", "name": "Eid al-Fitr", "confirmed": false]],
        ]
        return
            ([
                "id": "t", "version": 1, "title": "T", "effectiveFrom": "2020-01-01", "timeZone": "Europe/Belgrade",
                "holidays": holidays, "rules": [rule],
            ] as JSONValue).merging(top)
    }

    /// A working-day rule through the evaluator: opened Thursday 2 April 2026 in the evening;
    /// Friday 3rd counts (not a Kosovo holiday), Easter Monday does not.
    @Test func workingDayRuleThroughTheEvaluator() throws {
        let ruleset = try Ruleset.load(Self.ruleset())
        var s = CaseScript()
        try s.append("kp-dthb", "CaseOpened", adultOpening, at: Self.utc("2026-04-02T17:00:00Z"))
        let d = try #require(
            DeadlineEvaluator.evaluate(
                caseId: s.caseId, events: s.events, rulesets: [ruleset], now: Self.utc("2026-04-03T00:00:00Z")
            ).first)
        // Fri 3 (1), Mon 6 Easter Monday (holiday), Tue 7 (2), Wed 8 (3): ends at midnight into Thu 9 (CEST).
        #expect(d.dueAt == Self.utc("2026-04-08T22:00:00Z"))
        #expect(d.status == .pending)
    }

    @Test func effectiveFromIsALocalDate() throws {
        let ruleset = try Ruleset.load(Self.ruleset())
        #expect(ruleset.effectiveFrom == Self.utc("2019-12-31T23:00:00Z"))
    }

    static let refused: [(String, JSONValue, String)] = [
        ("unknown zone", ruleset(top: ["timeZone": "Europe/Prishtina-Old"]), "timeZone"),
        ("abbreviation", ruleset(top: ["timeZone": "CET"]), "timeZone"),
        ("offset", ruleset(top: ["timeZone": "GMT+1"]), "timeZone"),
        ("zone not a string", ruleset(top: ["timeZone": 1]), "timeZone"),
        (
            "impossible fixed date",
            ruleset(top: ["holidays": ["fixed": [["date": "02-30", "name": "x", "confirmed": false]]]]),
            "holidays.fixed[0].date"
        ),
        (
            "fixed date with a year",
            ruleset(top: ["holidays": ["fixed": [["date": "2026-01-01", "name": "x", "confirmed": false]]]]),
            "holidays.fixed[0].date"
        ),
        (
            "impossible lunar date",
            ruleset(top: ["holidays": ["dates": [["date": "2026-13-01", "name": "x", "confirmed": false]]]]),
            "holidays.dates[0].date"
        ),
        (
            "unknown computus",
            ruleset(top: [
                "holidays": ["easter": [["computus": "coptic", "offsetDays": 1, "name": "x", "confirmed": false]]]
            ]), "holidays.easter[0].computus"
        ),
        (
            "holiday without confirmed",
            ruleset(top: ["holidays": ["fixed": [["date": "01-01", "name": "x"]]]]), "holidays.fixed[0].confirmed"
        ),
        ("unknown holiday kind", ruleset(top: ["holidays": ["weekly": []]]), "holidays.weekly"),
        ("working days without holidays", without(ruleset(), "holidays"), "rules[0].within"),
        ("zero working days", ruleset(within: ["workingDays": 0]), "rules[0].within.workingDays"),
        ("working days and more", ruleset(within: ["workingDays": 2, "hours": 3]), "rules[0].within.hours"),
    ]

    static func without(_ value: JSONValue, _ key: String) -> JSONValue {
        var object = value.objectValue!
        object[key] = nil
        return .object(object)
    }

    @Test(arguments: refused)
    func refusesBadTime(name: String, document: JSONValue, field: String) {
        do {
            _ = try Ruleset.load(document)
            Issue.record("accepted: \(name)")
        } catch {
            #expect(error.code == .invalidRuleset && error.field == field, "\(name): \(error)")
        }
    }
}
