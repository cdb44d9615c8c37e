import Foundation

/// Statistical disclosure control for published counts: the one definition of which cells are
/// withheld, used by `GET /v1/stats`, the dashboard and the annual report.
///
/// **Primary suppression.** A count under `threshold` (0–4) is shown as `<5`, as `GET /v1/stats`
/// has always shown it (a published 0 would tell that nobody of a group was seen); counts of 5 or
/// more are shown. Auditors see every count.
///
/// **Secondary suppression** (``protect(_:lines:)``). A table publishes totals: each *line* says
/// that one cell (a row or column total) is the sum of others. A line with exactly one withheld
/// cell would give it away, and so would lines whose withheld cells are pinned by what a reader
/// knows (every `<5` cell is between 0 and 4, no count is negative), and lines that together fix a
/// withheld cell as a linear system (a cell on a "bridge" between two groups of withheld cells is
/// the alternating sum of the lines on one side, though each line has two withheld cells). So,
/// until no withheld cell can be pinned: in each line with one withheld cell, the next smallest
/// shown cell is withheld too; and each withheld cell whose value interval propagation over all
/// lines narrows to one value, or that Gaussian elimination of the lines determines, gets the next
/// smallest shown cell of one of its lines withheld.
///
/// **Across tables.** Tables that share a margin (victims by sex and by age group have the same
/// total row) are protected as one: their cells go into one ``protect(_:lines:)`` with a line per
/// shared total saying the two are equal, so a total withheld in one table is withheld in the
/// others and no combination of tables narrows a withheld cell (``AnnualReport/published(suppressSmallCells:)``).
public enum DisclosureControl {
    /// Counts below this (and above 0) are not shown to anyone but auditors.
    public static let threshold = 5

    /// The text shown in place of a small count.
    public static let marker = "<5"

    /// The text shown in place of a count withheld only to protect a small one (secondary
    /// suppression): it may be any size, so it is not marked `<5`.
    public static let secondaryMarker = "x"

    /// Whether `n` is small enough to withhold (under `threshold`).
    public static func isSmall(_ n: Int) -> Bool { n < threshold }

    /// One published sum: `cells[total] == Σ cells[parts]`.
    public struct Line: Sendable, Hashable {
        public var total: Int
        public var parts: [Int]
        public init(total: Int, parts: [Int]) {
            self.total = total
            self.parts = parts
        }
        var members: [Int] { parts + [total] }
    }

    /// The cells to withhold (true = withheld) of a table given as flat `cells` and the sums it
    /// publishes, primary and secondary suppression together.
    public static func protect(_ cells: [Int], lines: [Line]) -> [Bool] {
        var withheld = cells.map(isSmall)
        guard withheld.contains(true) else { return withheld }
        func withholdSmallestShown(in line: Line) -> Bool {
            // Interior cells before the total, then the smallest.
            let candidates = line.members.filter { !withheld[$0] }
            guard
                let pick = candidates.min(by: { a, b in
                    (a == line.total ? 1 : 0, cells[a], a) < (b == line.total ? 1 : 0, cells[b], b)
                })
            else { return false }
            withheld[pick] = true
            return true
        }
        /// Withholds the next smallest shown cell of the lines nearest `cell`: its own lines, else
        /// (when every cell of those is withheld already) the lines those withheld cells lie on,
        /// and so on outwards. False when nothing connected to `cell` is shown.
        func withholdNearest(to cell: Int) -> Bool {
            var seenCells: Set<Int> = [cell]
            var seenLines: Set<Int> = []
            var frontier = [cell]
            while !frontier.isEmpty {
                let ring = lines.indices.filter {
                    !seenLines.contains($0) && frontier.contains(where: lines[$0].members.contains)
                }
                for l in ring where withholdSmallestShown(in: lines[l]) { return true }
                seenLines.formUnion(ring)
                frontier = ring.flatMap { lines[$0].members }.filter { seenCells.insert($0).inserted }
            }
            return false
        }
        var changed = true
        while changed {
            changed = false
            for line in lines where line.members.filter({ withheld[$0] }).count == 1 {
                if withholdSmallestShown(in: line) { changed = true }
            }
            if changed { continue }
            var pinned = pinnedCells(cells, withheld: withheld, lines: lines)
            if pinned.isEmpty { pinned = determinedCells(withheld: withheld, lines: lines) }
            for cell in pinned where withholdNearest(to: cell) {
                changed = true
                break
            }
        }
        return withheld
    }

    /// The withheld cells whose value a reader can narrow to one number by interval propagation
    /// over the published sums, knowing that withheld small cells lie in 0…4 and others are ≥ 0.
    static func pinnedCells(_ cells: [Int], withheld: [Bool], lines: [Line]) -> [Int] {
        let unbounded = cells.reduce(0, +) * 2 + threshold
        var lo = cells.indices.map { withheld[$0] ? 0 : cells[$0] }
        var hi = cells.indices.map { withheld[$0] ? (isSmall(cells[$0]) ? threshold - 1 : unbounded) : cells[$0] }
        var changed = true
        var rounds = 0
        while changed && rounds < 100 {
            changed = false
            rounds += 1
            for line in lines {
                // total − Σ parts = 0: each member's bounds from the others'.
                let partsLo = line.parts.reduce(0) { $0 + lo[$1] }
                let partsHi = line.parts.reduce(0) { $0 + hi[$1] }
                let t = line.total
                let newTLo = max(lo[t], partsLo)
                let newTHi = min(hi[t], partsHi)
                if newTLo != lo[t] || newTHi != hi[t] {
                    lo[t] = newTLo
                    hi[t] = newTHi
                    changed = true
                }
                for p in line.parts {
                    let otherLo = partsLo - lo[p]
                    let otherHi = partsHi - hi[p]
                    let newLo = max(lo[p], lo[t] - otherHi)
                    let newHi = min(hi[p], hi[t] - otherLo)
                    if newLo != lo[p] || newHi != hi[p] {
                        lo[p] = newLo
                        hi[p] = newHi
                        changed = true
                    }
                }
            }
        }
        return cells.indices.filter { withheld[$0] && lo[$0] >= hi[$0] }
    }

    /// The withheld cells that the published sums determine exactly: some combination of the
    /// lines (each `total − Σ parts = 0`) leaves that cell alone beside shown ones. Found by
    /// Gaussian elimination of the lines over the withheld cells modulo a prime near 2³¹ (the same
    /// ranks as over the rationals except for systems whose minors the prime divides, which sums of
    /// ±1 the size of a report's tables do not produce): a cell is determined when its column is a
    /// pivot whose row has no other withheld cell left.
    static func determinedCells(withheld: [Bool], lines: [Line]) -> [Int] {
        let hidden = withheld.indices.filter { withheld[$0] }
        guard !hidden.isEmpty else { return [] }
        let column = Dictionary(uniqueKeysWithValues: hidden.enumerated().map { ($1, $0) })
        let prime: Int64 = 2_147_483_647
        var rows: [[Int64]] = []
        for line in lines {
            var row = [Int64](repeating: 0, count: hidden.count)
            var any = false
            if let c = column[line.total] {
                row[c] = 1
                any = true
            }
            for p in line.parts {
                if let c = column[p] {
                    row[c] = (row[c] - 1 + prime) % prime
                    any = true
                }
            }
            if any { rows.append(row) }
        }
        func inverse(_ a: Int64) -> Int64 {
            var (result, base, exponent) = (Int64(1), a % prime, prime - 2)
            while exponent > 0 {
                if exponent & 1 == 1 { result = result * base % prime }
                base = base * base % prime
                exponent >>= 1
            }
            return result
        }
        var pivotRow: [Int: Int] = [:]  // column → row
        var r = 0
        for c in 0..<hidden.count where r < rows.count {
            guard let found = (r..<rows.count).first(where: { rows[$0][c] != 0 }) else { continue }
            rows.swapAt(r, found)
            let scale = inverse(rows[r][c])
            for k in c..<hidden.count where rows[r][k] != 0 { rows[r][k] = rows[r][k] * scale % prime }
            for other in 0..<rows.count where other != r && rows[other][c] != 0 {
                let factor = rows[other][c]
                for k in c..<hidden.count where rows[r][k] != 0 {
                    rows[other][k] = ((rows[other][k] - factor * rows[r][k]) % prime + prime) % prime
                }
            }
            pivotRow[c] = r
            r += 1
        }
        return pivotRow.compactMap { c, row in
            rows[row].indices.allSatisfy { $0 == c || rows[row][$0] == 0 } ? hidden[c] : nil
        }
        .sorted()
    }

    /// The lines of a `rows × columns` grid stored row-major, whose last row and/or last column
    /// (as `columnTotals` / `rowTotals` say) hold the totals of the others.
    public static func gridLines(rows: Int, columns: Int, rowTotals: Bool, columnTotals: Bool) -> [Line] {
        var lines: [Line] = []
        let dataColumns = rowTotals ? columns - 1 : columns
        let dataRows = columnTotals ? rows - 1 : rows
        if rowTotals {
            for r in 0..<rows {
                lines.append(Line(total: r * columns + columns - 1, parts: (0..<dataColumns).map { r * columns + $0 }))
            }
        }
        if columnTotals {
            for c in 0..<columns {
                lines.append(Line(total: (rows - 1) * columns + c, parts: (0..<dataRows).map { $0 * columns + c }))
            }
        }
        return lines
    }
}
