import Foundation
import Referrals
import Testing

@testable import Projections

/// Disclosure control: an attacker who knows the published totals, that `<5` cells hold 0–4 and
/// that no count is negative tries every value of every withheld cell; each must keep at least
/// two values consistent with everything published.
@Suite("Disclosure control")
struct DisclosureControlTests {
    /// Every value each withheld cell can take given what is published (exact, by search).
    static func feasibleValues(_ cells: [Int], withheld: [Bool], lines: [DisclosureControl.Line]) -> [Int: Set<Int>] {
        let hidden = cells.indices.filter { withheld[$0] }
        let ceiling = (cells.max() ?? 0)  // more than an attacker knows: makes the attack stronger
        var domain: [Int: ClosedRange<Int>] = [:]
        for i in hidden {
            domain[i] = DisclosureControl.isSmall(cells[i]) ? 0...(DisclosureControl.threshold - 1) : 0...ceiling
        }
        var value = cells.indices.map { withheld[$0] ? nil : Optional(cells[$0]) }
        var seen: [Int: Set<Int>] = [:]
        func consistent() -> Bool {
            for line in lines {
                var known = 0
                var lo = 0
                var hi = 0
                var open = false
                var totalKnown: Int? = nil
                for p in line.parts {
                    if let v = value[p] {
                        known += v
                    } else {
                        open = true; lo += domain[p]!.lowerBound; hi += domain[p]!.upperBound
                    }
                }
                totalKnown = value[line.total]
                if let t = totalKnown {
                    if !open {
                        if t != known { return false }
                    } else if t < known + lo || t > known + hi {
                        return false
                    }
                } else {
                    let r = domain[line.total]!
                    if known + lo > r.upperBound || (!open && !r.contains(known)) { return false }
                }
            }
            return true
        }
        var visited = 0
        func search(_ k: Int) {
            visited += 1
            if visited > 200_000 { return }
            if k == hidden.count {
                for i in hidden { seen[i, default: []].insert(value[i]!) }
                return
            }
            let i = hidden[k]
            for v in domain[i]! {
                value[i] = v
                if consistent() { search(k + 1) }
                if hidden.allSatisfy({ (seen[$0]?.count ?? 0) >= 2 }) { break }
            }
            value[i] = nil
        }
        search(0)
        return seen
    }

    @Test func noWithheldCellCanBeRecoveredFromTheTotals() {
        var rng = SplitMix64(seed: 15)
        var tables = 0
        for _ in 0..<120 {
            let rows = Int(rng.next() % 3) + 2
            let columns = Int(rng.next() % 2) + 2
            let rowTotals = rng.next() % 4 != 0
            let columnTotals = rng.next() % 4 != 0 || !rowTotals
            var grid: [[Int]] = (0..<rows).map { _ in
                (0..<columns).map { _ in
                    switch rng.next() % 6 {
                    case 0: 0
                    case 1, 2: Int(rng.next() % 5)
                    default: Int(rng.next() % 10) + 5
                    }
                }
            }
            if rowTotals { grid = grid.map { $0 + [$0.reduce(0, +)] } }
            if columnTotals { grid.append((0..<grid[0].count).map { c in grid.reduce(0) { $0 + $1[c] } }) }
            let cells = grid.flatMap { $0 }
            let lines = DisclosureControl.gridLines(
                rows: grid.count, columns: grid[0].count, rowTotals: rowTotals, columnTotals: columnTotals)
            let withheld = DisclosureControl.protect(cells, lines: lines)
            for i in cells.indices where DisclosureControl.isSmall(cells[i]) {
                #expect(withheld[i], "every small cell")
            }
            guard withheld.contains(true) else { continue }
            tables += 1
            let feasible = Self.feasibleValues(cells, withheld: withheld, lines: lines)
            for i in cells.indices where withheld[i] {
                #expect(
                    feasible[i, default: []].count >= 2,
                    "cell \(i) of \(grid) (withheld \(withheld)) is recovered as \(feasible[i, default: []])")
            }
        }
        #expect(tables > 40)
    }

    @Test func aLoneSmallCellInALineTakesTheNextSmallestWithIt() {
        // Column: 12, 3, 40, 9 → total 64. Only "3" is small; with the total published it would
        // be 64 − 12 − 40 − 9. The next smallest (9) is withheld too, and the total stays.
        let cells = [12, 3, 40, 9, 64]
        let withheld = DisclosureControl.protect(cells, lines: [.init(total: 4, parts: [0, 1, 2, 3])])
        #expect(withheld == [false, true, false, true, false])
    }

    @Test func twoSmallCellsPinnedByTheirSumAreProtectedToo() {
        // 0 and 0 with a total of 20 from 20: the two <5 cells sum to 0, so both are 0 — recoverable.
        let cells = [0, 0, 20, 20]
        let withheld = DisclosureControl.protect(cells, lines: [.init(total: 3, parts: [0, 1, 2])])
        #expect(withheld == [true, true, true, false])
        let feasible = Self.feasibleValues(cells, withheld: withheld, lines: [.init(total: 3, parts: [0, 1, 2])])
        #expect(feasible.values.allSatisfy { $0.count >= 2 })
    }

    @Test func aChangeIsShownOnlyWhenBothYearsAre() {
        #expect(PublishedCell(current: .count(9), previous: .small).change == nil)
        #expect(PublishedCell(current: .withheld, previous: .count(9)).change == nil)
        #expect(PublishedCell(current: .count(9), previous: .count(12)).change == -3)
    }

    @Test func theStatsRuleIsTheSameRule() {
        #expect(StatCount(4, suppress: true) == .suppressed)
        #expect(StatCount(0, suppress: true) == .suppressed)
        #expect(StatCount(5, suppress: true) == .count(5))
        #expect(StatCount(3, suppress: false) == .count(3))
    }
}
