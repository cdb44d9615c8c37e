import Foundation
import Referrals
import Testing

@testable import Projections

/// Disclosure control across tables: an attacker holds every table of a published report, knows
/// which totals two tables share (written out here independently of the code under test), that
/// `<5` cells hold 0–4 and that no count is negative. They solve all the tables' sums together as
/// one linear system (exact rational elimination) and narrow every withheld cell's bounds by
/// interval propagation over all of them; neither may pin a withheld cell to one value.
@Suite("Disclosure control across tables")
struct CrossTableDisclosureTests {
    // MARK: - The attacker

    /// An exact fraction, enough for elimination over small systems of ±1 sums.
    struct Fraction: Equatable {
        var n: Int
        var d: Int
        init(_ n: Int, _ d: Int = 1) {
            func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? abs(a) : gcd(b, a % b) }
            let g = max(1, gcd(n, d)) * (d < 0 ? -1 : 1)
            self.n = n / g
            self.d = d / g
        }
        static func - (a: Fraction, b: Fraction) -> Fraction { Fraction(a.n * b.d - b.n * a.d, a.d * b.d) }
        static func * (a: Fraction, b: Fraction) -> Fraction { Fraction(a.n * b.n, a.d * b.d) }
        static func / (a: Fraction, b: Fraction) -> Fraction { Fraction(a.n * b.d, a.d * b.n) }
        var isZero: Bool { n == 0 }
    }

    /// One published sum over the report's cells: `Σ coefficient · cell = 0`.
    typealias Equation = [(cell: Int, coefficient: Int)]

    /// The withheld cells the linear system pins (Gauss–Jordan over the rationals, shown cells
    /// moved to the right-hand side).
    static func solvedByElimination(_ values: [Int], withheld: [Bool], equations: [Equation]) -> Set<Int> {
        let hidden = values.indices.filter { withheld[$0] }
        let column = Dictionary(uniqueKeysWithValues: hidden.enumerated().map { ($1, $0) })
        var rows: [[Fraction]] = []
        for equation in equations {
            var row = [Fraction](repeating: Fraction(0), count: hidden.count + 1)
            var any = false
            for (cell, k) in equation {
                if let c = column[cell] {
                    row[c] = Fraction(row[c].n * 1 + k * row[c].d, row[c].d)
                    any = true
                } else {
                    row[hidden.count] = row[hidden.count] - Fraction(k * values[cell])
                }
            }
            if any { rows.append(row) }
        }
        var pivots: [Int: Int] = [:]
        var r = 0
        for c in 0..<hidden.count where r < rows.count {
            guard let found = (r..<rows.count).first(where: { !rows[$0][c].isZero }) else { continue }
            rows.swapAt(r, found)
            let p = rows[r][c]
            rows[r] = rows[r].map { $0 / p }
            for o in rows.indices where o != r && !rows[o][c].isZero {
                let f = rows[o][c]
                rows[o] = zip(rows[o], rows[r]).map { $0 - f * $1 }
            }
            pivots[c] = r
            r += 1
        }
        var solved: Set<Int> = []
        for (c, row) in pivots where (0..<hidden.count).allSatisfy({ $0 == c || rows[row][$0].isZero }) {
            #expect(rows[row][hidden.count] == Fraction(values[hidden[c]]), "the attack's algebra is right")
            solved.insert(hidden[c])
        }
        return solved
    }

    /// The withheld cells whose bounds interval propagation over all equations narrows to one value.
    static func solvedByBounds(_ values: [Int], withheld: [Bool], equations: [Equation]) -> Set<Int> {
        let big = values.reduce(0, +) + 100
        var lo = values.indices.map { withheld[$0] ? 0 : values[$0] }
        var hi = values.indices.map { withheld[$0] ? (values[$0] < 5 ? 4 : big) : values[$0] }
        var changed = true
        var rounds = 0
        while changed && rounds < 500 {
            changed = false
            rounds += 1
            for equation in equations {
                // Σ k·x = 0 → k_i·x_i = −Σ_{j≠i} k_j·x_j.
                for (i, ki) in equation {
                    var restLo = 0
                    var restHi = 0
                    for (j, kj) in equation where j != i {
                        restLo += kj > 0 ? kj * lo[j] : kj * hi[j]
                        restHi += kj > 0 ? kj * hi[j] : kj * lo[j]
                    }
                    // k_i·x_i ∈ [−restHi, −restLo]; k_i is ±1 here.
                    let (a, b) = ki > 0 ? (-restHi, -restLo) : (restLo, restHi)
                    if a > lo[i] {
                        lo[i] = a
                        changed = true
                    }
                    if b < hi[i] {
                        hi[i] = b
                        changed = true
                    }
                }
            }
        }
        return Set(values.indices.filter { withheld[$0] && lo[$0] >= hi[$0] })
    }

    // MARK: - Reports

    /// One synthetic victim (or not-a-victim case) opened in the year.
    struct Person {
        var status: String
        var sex: String
        var age: String
        var child: Bool
        var nationality: String
    }

    /// The victim tables and the cases table as the report's query builds them, from `people`.
    static func victimTables(_ current: [Person], _ previous: [Person]) -> [ReportTable] {
        typealias Counts = [String: [String: Int]]
        func count(_ people: [Person], _ key: (Person) -> String) -> Counts {
            var c: Counts = [:]
            for p in people {
                guard let column = ReportGroupings.victimColumn(p.status) else { continue }
                c[key(p), default: [:]][column, default: 0] += 1
            }
            return c
        }
        func cases(_ people: [Person]) -> Counts {
            var c: Counts = [:]
            for p in people { c[p.status, default: [:]]["open", default: 0] += 1 }
            return c
        }
        var tables: [ReportTable] = [
            .make(
                id: "cases-by-identification", rowDimension: "dimension.identificationStatus",
                rowOrder: IdentificationStatus.allCases.map(\.rawValue), columns: ["open", "closed"],
                current: cases(current), previous: cases(previous), rowTotals: true, columnTotals: true)
        ]
        let breakdowns: [(String, [String], (Person) -> String)] = [
            ("victims-by-sex", Sex.allCases.map(\.rawValue), \.sex),
            ("victims-by-age", ReportGroupings.ageGroups, { ReportGroupings.ageGroup($0.age) }),
            ("victims-by-child", ReportGroupings.childAdult, { $0.child ? "child" : "adult" }),
            (
                "victims-by-citizenship", ReportGroupings.citizenshipGroups,
                { ReportGroupings.citizenship($0.nationality) }
            ),
            ("victims-by-nationality", [ReportGroupings.reportingCountry], \.nationality),
        ]
        for (id, order, key) in breakdowns {
            tables.append(
                .make(
                    id: id, rowDimension: "dimension.x", rowOrder: order, columns: ["identified", "presumed"],
                    current: count(current, key), previous: count(previous, key), rowTotals: true,
                    columnTotals: true))
        }
        return tables
    }

    /// Referral tables by purpose, recipient and kind, and declines by reason.
    static func referralTables(_ rng: inout SplitMix64) -> [ReportTable] {
        typealias Counts = [String: [String: Int]]
        let steps = ["issued", "acknowledged", "accepted", "declined", "withdrawn", "completed"]
        var purpose: [Counts] = [[:], [:]]
        var recipient: [Counts] = [[:], [:]]
        var kind: [Counts] = [[:], [:]]
        var declines: [Counts] = [[:], [:]]
        let purposes = ["shelter", "medical", "legal-aid", "investigation"]
        let recipients = [("isf", "shelter"), ("pvpt", "ngo"), ("kp-dthb", "police"), ("opav", "victim-advocate")]
        for p in 0..<2 {
            for _ in 0..<(Int(rng.next() % 40) + 5) {
                let pu = purposes[Int(rng.next() % UInt64(purposes.count))]
                let (to, k) = recipients[Int(rng.next() % UInt64(recipients.count))]
                var done = ["issued"]
                if rng.next() % 3 != 0 { done.append("acknowledged") }
                if rng.next() % 2 == 0 {
                    done.append("accepted")
                    if rng.next() % 2 == 0 { done.append("completed") }
                } else if rng.next() % 3 == 0 {
                    done.append("declined")
                    declines[p][["no-capacity", "not-eligible"][Int(rng.next() % 2)], default: [:]][
                        "referrals", default: 0] += 1
                } else if rng.next() % 4 == 0 {
                    done.append("withdrawn")
                }
                for s in done {
                    purpose[p][pu, default: [:]][s, default: 0] += 1
                    recipient[p][to, default: [:]][s, default: 0] += 1
                    kind[p][k, default: [:]][s, default: 0] += 1
                }
            }
        }
        return [
            .make(
                id: "referrals-by-purpose", rowDimension: "dimension.purpose", rowOrder: purposes, columns: steps,
                current: purpose[1], previous: purpose[0], rowTotals: false, columnTotals: true),
            .make(
                id: "referrals-by-recipient", rowDimension: "dimension.institution", rowOrder: [], columns: steps,
                current: recipient[1], previous: recipient[0], rowTotals: false, columnTotals: true),
            .make(
                id: "referrals-by-recipient-kind", rowDimension: "dimension.institutionKind", rowOrder: [],
                columns: steps, current: kind[1], previous: kind[0], rowTotals: false, columnTotals: true),
            .make(
                id: "declines-by-reason", rowDimension: "dimension.declineReason",
                rowOrder: ["no-capacity", "not-eligible"],
                columns: ["referrals"], current: declines[1], previous: declines[0], rowTotals: false,
                columnTotals: true),
        ]
    }

    static func people(_ rng: inout SplitMix64, count: Int) -> [Person] {
        let statuses = ["identified", "identified", "presumed", "potential", "not-a-victim"]
        let sexes = ["female", "female", "male", "other"]
        let ages = ["0-11", "12-14", "15-17", "18-24", "25-34", "35-49", "50+"]
        let nationalities = ["XK", "XK", "XK", "AL", "RS", "MD", "DE", "UA"]
        return (0..<count).map { _ in
            let age = ages[Int(rng.next() % UInt64(ages.count))]
            return Person(
                status: statuses[Int(rng.next() % UInt64(statuses.count))],
                sex: sexes[Int(rng.next() % UInt64(sexes.count))], age: age,
                child: ["0-11", "12-14", "15-17"].contains(age),
                nationality: nationalities[Int(rng.next() % UInt64(nationalities.count))])
        }
    }

    /// What the attacker knows of a report: each table's own sums, and the totals tables share.
    static func equations(_ tables: [ReportTable]) -> (offsets: [String: Int], equations: [Equation]) {
        var offsets: [String: Int] = [:]
        var equations: [Equation] = []
        var size = 0
        for t in tables {
            offsets[t.id] = size
            let w = t.columns.count
            let dataRows = t.columnTotals ? t.rows.count - 1 : t.rows.count
            let dataColumns = t.rowTotals ? w - 1 : w
            if t.rowTotals {
                for r in 0..<t.rows.count {
                    equations.append(
                        [(size + r * w + w - 1, 1)] + (0..<dataColumns).map { (size + r * w + $0, -1) })
                }
            }
            if t.columnTotals {
                for c in 0..<w {
                    equations.append(
                        [(size + (t.rows.count - 1) * w + c, 1)] + (0..<dataRows).map { (size + $0 * w + c, -1) })
                }
            }
            size += t.rows.count * w
        }
        func cell(_ table: String, _ row: String, _ column: String) -> Int? {
            guard let t = tables.first(where: { $0.id == table }), let o = offsets[table],
                let r = t.rows.firstIndex(of: row), let c = t.columns.firstIndex(of: column)
            else { return nil }
            return o + r * t.columns.count + c
        }
        func equal(_ a: Int?, _ bs: [Int?]) {
            guard let a, bs.allSatisfy({ $0 != nil }) else { return }
            equations.append([(a, 1)] + bs.map { ($0!, -1) })
        }
        let victims = [
            "victims-by-sex", "victims-by-age", "victims-by-child", "victims-by-citizenship", "victims-by-nationality",
        ]
        for a in victims {
            for b in victims where a < b {
                for c in ["identified", "presumed", "total"] { equal(cell(a, "total", c), [cell(b, "total", c)]) }
            }
            equal(cell(a, "total", "identified"), [cell("cases-by-identification", "identified", "total")])
            equal(
                cell(a, "total", "presumed"),
                [
                    cell("cases-by-identification", "presumed", "total"),
                    cell("cases-by-identification", "potential", "total"),
                ])
        }
        let referrals = ["referrals-by-purpose", "referrals-by-recipient", "referrals-by-recipient-kind"]
        for a in referrals {
            for b in referrals where a < b {
                for c in ["issued", "acknowledged", "accepted", "declined", "withdrawn", "completed"] {
                    equal(cell(a, "total", c), [cell(b, "total", c)])
                }
            }
            equal(cell(a, "total", "declined"), [cell("declines-by-reason", "total", "referrals")])
        }
        return (offsets, equations)
    }

    /// Every withheld cell of `report`, per year, attacked with all its tables at once; returns
    /// the cells recovered, as `table row column year`.
    static func attack(_ report: AnnualReport) -> [String] {
        let published = report.published(suppressSmallCells: true)
        let (offsets, equations) = Self.equations(report.tables)
        var recovered: [String] = []
        for year in [true, false] {
            var values: [Int] = []
            var withheld: [Bool] = []
            var names: [String] = []
            for (t, p) in zip(report.tables, published.tables) {
                #expect(offsets[t.id] == values.count)
                for r in t.rows.indices {
                    for c in t.columns.indices {
                        values.append(year ? t.current[r][c] : t.previous[r][c])
                        let shown = year ? p.cells[r][c].current : p.cells[r][c].previous
                        withheld.append(shown.value == nil)
                        if let v = shown.value { #expect(v == values.last!) }
                        names.append("\(t.id) \(t.rows[r]) \(t.columns[c]) \(year ? "year" : "year before")")
                    }
                }
            }
            for i in values.indices where values[i] < DisclosureControl.threshold {
                #expect(withheld[i], "every small cell is withheld: \(names[i])")
            }
            let pinned = solvedByElimination(values, withheld: withheld, equations: equations)
                .union(solvedByBounds(values, withheld: withheld, equations: equations))
            recovered += pinned.sorted().map { "\(names[$0]) = \(values[$0])" }
        }
        return recovered
    }

    static func report(tables: [ReportTable]) -> AnnualReport {
        let zone = TimeZone(identifier: "Europe/Belgrade")!
        return AnnualReport(
            year: 2025, timeZone: zone.identifier, period: ReportGroupings.yearInterval(2025, timeZone: zone),
            previousPeriod: ReportGroupings.yearInterval(2024, timeZone: zone), asOf: Date(), tables: tables,
            timing: [], rulesets: [], unconfirmedRules: [])
    }

    // MARK: - Tests

    /// The attack on a case the per-table rule let through: victims by sex withhold their
    /// identified total to protect a small cell, but victims by age group publish the same total.
    @Test func aTotalWithheldInOneTableIsWithheldInTheTablesThatShareIt() {
        // Identified victims: by sex 3 female + 9 male; by age 6 + 6. Sex needs its total withheld
        // (3 is small, and the next smallest shown cell of its column is the 9 or the total).
        var people: [Person] = []
        for i in 0..<12 {
            people.append(
                Person(
                    status: "identified", sex: i < 3 ? "female" : "male", age: i < 6 ? "18-24" : "25-34", child: false,
                    nationality: "XK"))
        }
        for i in 0..<20 {
            people.append(
                Person(
                    status: "presumed", sex: i < 10 ? "female" : "male", age: "18-24", child: false, nationality: "XK"))
        }
        let report = Self.report(tables: Self.victimTables(people, people))
        #expect(Self.attack(report).isEmpty, "\(Self.attack(report))")
    }

    @Test func noWithheldCellCanBeRecoveredByCombiningTables() {
        var rng = SplitMix64(seed: 1515)
        var attacked = 0
        for round in 0..<60 {
            let current = Self.people(&rng, count: Int(rng.next() % 60) + 8)
            let previous = Self.people(&rng, count: Int(rng.next() % 60) + 8)
            var tables = Self.victimTables(current, previous)
            if round % 2 == 0 { tables += Self.referralTables(&rng) }
            let recovered = Self.attack(Self.report(tables: tables))
            #expect(recovered.isEmpty, "round \(round): \(recovered)")
            attacked += 1
        }
        #expect(attacked == 60)
    }

    /// A timing row's count is the purpose's count of responded referrals: withheld where that
    /// count is withheld, whatever its size.
    @Test func aTimingCountNeverShowsACountTheTablesWithhold() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<20 {
            let tables = Self.referralTables(&rng)
            let purpose = tables[0]
            let timing = purpose.rows.dropLast().enumerated().map { r, code in
                ReferralTiming(
                    purpose: code,
                    acknowledge: .init(count: purpose.current[r][1], median: 1, p90: 2),
                    accept: .init(count: purpose.current[r][2], median: 1, p90: 2),
                    previousAcknowledge: .init(count: purpose.previous[r][1], median: 1, p90: 2),
                    previousAccept: .init(count: purpose.previous[r][2], median: 1, p90: 2))
            }
            var report = Self.report(tables: tables)
            report.timing = timing
            let published = report.published(suppressSmallCells: true)
            let cells = published.tables[0].cells
            for (r, t) in published.timing.enumerated() {
                #expect(t.acknowledge.count == cells[r][1].current.value, "\(t.purpose)")
                #expect(t.accept.count == cells[r][2].current.value, "\(t.purpose)")
                #expect(t.previousAcknowledge.count == cells[r][1].previous.value, "\(t.purpose)")
                #expect(t.previousAccept.count == cells[r][2].previous.value, "\(t.purpose)")
                if t.acknowledge.count == nil { #expect(t.acknowledge.median == nil && t.acknowledge.p90 == nil) }
                // It reads as the count it repeats does: `x` for one withheld to protect another.
                #expect(t.acknowledge.text == cells[r][1].current.text, "\(t.purpose)")
                #expect(t.accept.text == cells[r][2].current.text, "\(t.purpose)")
                #expect(t.previousAccept.text == cells[r][2].previous.text, "\(t.purpose)")
            }
        }
    }
}
