import Foundation

/// The figures of the National Authority's annual report for one year, with the year before,
/// before disclosure control: what ``ReadModels/annualReport(year:timeZone:now:)`` computes from
/// the read models. ``published(suppressSmallCells:)`` applies ``DisclosureControl``.
public struct AnnualReport: Sendable, Hashable {
    /// The report year.
    public var year: Int
    /// The zone whose calendar years bound the periods (the deployment's, `Europe/Belgrade`).
    public var timeZone: String
    /// `[start, end)` of the year, and of the year before.
    public var period: DateInterval
    public var previousPeriod: DateInterval
    /// Deadline statuses (met, missed, running) are as of this time.
    public var asOf: Date
    /// Count tables, in report order.
    public var tables: [ReportTable]
    /// Time to acknowledge and to accept referrals, per purpose.
    public var timing: [ReferralTiming]
    /// Ruleset versions in force during the year.
    public var rulesets: [RulesetInForce]
    /// Rules whose figure the ruleset marks unconfirmed (placeholders), among the year's deadlines.
    public var unconfirmedRules: [String]

    /// The report's sections in the order they are presented, each with its count tables in
    /// order: the one list of which table goes where (the page renders by it; a test holds it to
    /// the tables ``ReadModels/annualReport(year:timeZone:now:)`` computes). `timing` has no count
    /// table: it presents ``timing``.
    public static let sections: [(key: String, tables: [String])] = [
        ("cases", ["cases-by-identification", "closures-by-reason"]),
        (
            "victims",
            [
                "victims-by-sex", "victims-by-age", "victims-by-child", "victims-by-citizenship",
                "victims-by-nationality", "victims-by-exploitation",
            ]
        ),
        (
            "referrals",
            ["referrals-by-purpose", "referrals-by-recipient", "referrals-by-recipient-kind", "declines-by-reason"]
        ),
        ("timing", []),
        ("compliance", ["compliance-by-institution", "compliance-by-rule"]),
        ("consent", ["consent-overrides-by-reason", "consent-withdrawn"]),
        ("reflection", ["reflection-lengths", "reflection-outcomes"]),
    ]

    /// A published ruleset version in force during the year.
    public struct RulesetInForce: Sendable, Hashable, Codable {
        public var rulesetId: String
        public var version: Int
        public var title: String
        /// `YYYY-MM-DD`.
        public var effectiveFrom: String
    }
}

/// A table of counts: rows × columns for the year and the same for the year before. Where
/// `columnTotals` is set its last row is the sum of the others ("total"); where `rowTotals` is
/// set its last column is the sum of the others.
public struct ReportTable: Sendable, Hashable {
    /// Stable id (`cases-by-identification`), also the CSV file's name.
    public var id: String
    /// Message key of the row heading's dimension (`dimension.sex`).
    public var rowDimension: String
    /// Row codes (`female`, `XK`, `kp-dthb`, `total`).
    public var rows: [String]
    /// Column codes (`identified`, `met`, `total`).
    public var columns: [String]
    public var rowTotals: Bool
    public var columnTotals: Bool
    /// `current[row][column]`: the year; `previous[row][column]`: the year before.
    public var current: [[Int]]
    public var previous: [[Int]]

    /// Builds a table from counts keyed by (row, column), rows in `rowOrder` then any others
    /// sorted, totals added as the flags say.
    public static func make(
        id: String, rowDimension: String, rowOrder: [String], columns dataColumns: [String],
        current: [String: [String: Int]], previous: [String: [String: Int]], rowTotals: Bool, columnTotals: Bool,
        keepEmptyRows: Bool = true
    ) -> ReportTable {
        var rows = rowOrder
        let extra = Set(current.keys).union(previous.keys).subtracting(rowOrder).sorted()
        rows += extra
        if !keepEmptyRows {
            rows = rows.filter { r in
                dataColumns.contains { (current[r]?[$0] ?? 0) + (previous[r]?[$0] ?? 0) > 0 }
            }
        }
        func grid(_ counts: [String: [String: Int]]) -> [[Int]] {
            var g = rows.map { r in dataColumns.map { counts[r]?[$0] ?? 0 } }
            if rowTotals { g = g.map { $0 + [$0.reduce(0, +)] } }
            if columnTotals {
                let width = g.first?.count ?? (dataColumns.count + (rowTotals ? 1 : 0))
                g.append((0..<width).map { c in g.reduce(0) { $0 + $1[c] } })
            }
            return g
        }
        return ReportTable(
            id: id, rowDimension: rowDimension,
            rows: rows + (columnTotals ? ["total"] : []), columns: dataColumns + (rowTotals ? ["total"] : []),
            rowTotals: rowTotals, columnTotals: columnTotals, current: grid(current), previous: grid(previous))
    }
}

/// Time from issue to first response (acknowledged, accepted or declined) and to acceptance, for
/// the referrals of one purpose issued in the year and in the year before.
public struct ReferralTiming: Sendable, Hashable {
    /// Hours: how many referrals had the step, their median and 90th percentile.
    public struct Hours: Sendable, Hashable {
        /// nil where withheld (fewer than `DisclosureControl.threshold` referrals, or the count of
        /// referrals it repeats is withheld; not for auditors).
        public var count: Int?
        public var median: Double?
        public var p90: Double?
        public init(count: Int?, median: Double?, p90: Double?) {
            self.count = count
            self.median = median
            self.p90 = p90
        }

        /// How a withheld count reads: `x` when the count of referrals it repeats is withheld only
        /// to protect another (it may be any size), else `<5`.
        public var withheldAs = DisclosureControl.marker

        /// The count as published: the number, or how it reads withheld.
        public var text: String { count.map(String.init) ?? withheldAs }
    }
    public var purpose: String
    public var acknowledge: Hours
    public var accept: Hours
    public var previousAcknowledge: Hours
    public var previousAccept: Hours
}

// MARK: - Published

/// A published count: shown, withheld because it is small (`<5`), or withheld so that a small
/// one cannot be worked out from the totals (`x`).
public enum PublishedCount: Sendable, Hashable {
    case count(Int)
    case small
    case withheld

    /// The count when shown.
    public var value: Int? {
        if case .count(let n) = self { return n }
        return nil
    }

    /// `12`, `<5` or `x`.
    public var text: String {
        switch self {
        case .count(let n): String(n)
        case .small: DisclosureControl.marker
        case .withheld: DisclosureControl.secondaryMarker
        }
    }
}

/// One published cell: the year, the year before and the change.
public struct PublishedCell: Sendable, Hashable {
    public var current: PublishedCount
    public var previous: PublishedCount
    /// Shown only when both years are (else it would give away the withheld one).
    public var change: Int? {
        guard let c = current.value, let p = previous.value else { return nil }
        return c - p
    }
}

/// A ``ReportTable`` after disclosure control.
public struct PublishedTable: Sendable {
    public var id: String
    public var rowDimension: String
    public var rows: [String]
    public var columns: [String]
    public var cells: [[PublishedCell]]
    /// For compliance tables: the on-time rate (met ÷ (met + met late + missed)) per row, this year
    /// and the year before, shown only when none of its counts is withheld.
    public var onTimeRate: [(current: Double?, previous: Double?)]?
}

/// The report as published to a role: withheld cells are nil.
public struct PublishedReport: Sendable {
    public var report: AnnualReport
    /// Whether disclosure control was applied (every role but auditor).
    public var suppressed: Bool
    public var tables: [PublishedTable]
    public var timing: [ReferralTiming]
}

extension AnnualReport {
    /// Columns whose counts make up a compliance table's on-time rate.
    static let rateColumns = ("met", "met-late", "missed")

    /// The report with ``DisclosureControl`` applied when `suppressSmallCells` is set: small
    /// cells and the cells that would give them away are withheld per year; a change is shown
    /// only when both years are; percentiles only for at least `threshold` referrals.
    public func published(suppressSmallCells: Bool) -> PublishedReport {
        // All tables of a year are protected together, with their shared margins as lines.
        var offsets: [Int] = []
        var lines: [DisclosureControl.Line] = []
        var size = 0
        for t in self.tables {
            offsets.append(size)
            let shift = size
            lines += DisclosureControl.gridLines(
                rows: t.rows.count, columns: t.columns.count, rowTotals: t.rowTotals, columnTotals: t.columnTotals
            ).map { DisclosureControl.Line(total: $0.total + shift, parts: $0.parts.map { $0 + shift }) }
            size += t.rows.count * t.columns.count
        }
        let index = Dictionary(uniqueKeysWithValues: self.tables.indices.map { (self.tables[$0].id, $0) })
        func flat(_ cell: SharedMargin.Cell) -> Int? {
            guard let k = index[cell.table], let r = self.tables[k].rows.firstIndex(of: cell.row),
                let c = self.tables[k].columns.firstIndex(of: cell.column)
            else { return nil }
            return offsets[k] + r * self.tables[k].columns.count + c
        }
        for margin in SharedMargin.all(self.tables) {
            guard let total = flat(margin.total) else { continue }
            let parts = margin.parts.compactMap(flat)
            if parts.count == margin.parts.count { lines.append(DisclosureControl.Line(total: total, parts: parts)) }
        }
        func masks(_ grid: (ReportTable) -> [[Int]]) -> [Bool] {
            let cells = self.tables.flatMap { grid($0).flatMap { $0 } }
            return suppressSmallCells
                ? DisclosureControl.protect(cells, lines: lines) : Array(repeating: false, count: cells.count)
        }
        let currentMask = masks(\.current)
        let previousMask = masks(\.previous)
        let tables = self.tables.enumerated().map { k, t -> PublishedTable in
            let w = t.columns.count
            let mc = Array(currentMask[offsets[k]..<(offsets[k] + t.rows.count * w)])
            let mp = Array(previousMask[offsets[k]..<(offsets[k] + t.rows.count * w)])
            func published(_ n: Int, _ withheld: Bool) -> PublishedCount {
                !withheld ? .count(n) : DisclosureControl.isSmall(n) ? .small : .withheld
            }
            let cells = t.rows.indices.map { r in
                t.columns.indices.map { c in
                    PublishedCell(
                        current: published(t.current[r][c], mc[r * w + c]),
                        previous: published(t.previous[r][c], mp[r * w + c]))
                }
            }
            var rates: [(current: Double?, previous: Double?)]?
            if let met = t.columns.firstIndex(of: Self.rateColumns.0),
                let late = t.columns.firstIndex(of: Self.rateColumns.1),
                let missed = t.columns.firstIndex(of: Self.rateColumns.2)
            {
                rates = cells.map { row in
                    func rate(_ v: (PublishedCell) -> Int?) -> Double? {
                        guard let a = v(row[met]), let b = v(row[late]), let m = v(row[missed]), a + b + m > 0 else {
                            return nil
                        }
                        return Double(a) / Double(a + b + m)
                    }
                    return (rate { $0.current.value }, rate { $0.previous.value })
                }
            }
            return PublishedTable(
                id: t.id, rowDimension: t.rowDimension, rows: t.rows, columns: t.columns, cells: cells,
                onTimeRate: rates)
        }
        // A timing's count is the purpose's count of responded (accepted) referrals: shown only
        // where that count is, so that it cannot give a withheld one away.
        let byPurpose = tables.first { $0.id == "referrals-by-purpose" }
        let timing = timing.map { t -> ReferralTiming in
            guard suppressSmallCells else { return t }
            func hide(_ h: ReferralTiming.Hours, _ column: String, previous: Bool) -> ReferralTiming.Hours {
                let hidden = ReferralTiming.Hours(count: nil, median: nil, p90: nil)
                guard (h.count ?? 0) >= DisclosureControl.threshold, let table = byPurpose,
                    let r = table.rows.firstIndex(of: t.purpose), let c = table.columns.firstIndex(of: column)
                else { return hidden }
                let shown = previous ? table.cells[r][c].previous : table.cells[r][c].current
                guard shown.value == h.count else {
                    var withheld = hidden
                    withheld.withheldAs = shown.value == nil ? shown.text : DisclosureControl.secondaryMarker
                    return withheld
                }
                return h
            }
            var t = t
            t.acknowledge = hide(t.acknowledge, "acknowledged", previous: false)
            t.accept = hide(t.accept, "accepted", previous: false)
            t.previousAcknowledge = hide(t.previousAcknowledge, "acknowledged", previous: true)
            t.previousAccept = hide(t.previousAccept, "accepted", previous: true)
            return t
        }
        return PublishedReport(report: self, suppressed: suppressSmallCells, tables: tables, timing: timing)
    }
}

/// A margin two tables of the report share: `total` equals the sum of `parts` (one part: the same
/// count). The reader can add up tables as well as rows, so disclosure control takes these as
/// lines too (``DisclosureControl``).
struct SharedMargin: Sendable, Hashable {
    struct Cell: Sendable, Hashable {
        var table: String
        var row: String
        var column: String
    }
    var total: Cell
    var parts: [Cell]

    /// The margins the report's tables share (those of `tables` that exist):
    /// - the victim breakdowns' total rows are the same counts, and the identified (presumed)
    ///   victims are the identified (presumed plus potential) cases opened;
    /// - the referral tables by purpose, recipient and kind of recipient have the same total row,
    ///   and the declines by reason add up to its declined referrals;
    /// - compliance by institution and by rule have the same total row;
    /// - reflection periods by length and by outcome have the same total.
    static func all(_ tables: [ReportTable]) -> [SharedMargin] {
        let present = Set(tables.map(\.id))
        var margins: [SharedMargin] = []
        func same(_ a: String, _ b: String, columns: [String]) {
            guard present.contains(a), present.contains(b) else { return }
            for c in columns {
                margins.append(
                    SharedMargin(
                        total: Cell(table: a, row: "total", column: c), parts: [Cell(table: b, row: "total", column: c)]
                    ))
            }
        }
        let victims = [
            "victims-by-sex", "victims-by-age", "victims-by-child", "victims-by-citizenship", "victims-by-nationality",
        ]
        for other in victims.dropFirst() { same(victims[0], other, columns: ["identified", "presumed", "total"]) }
        let cases = "cases-by-identification"
        if present.contains(cases), present.contains(victims[0]) {
            func opened(_ status: String) -> Cell { Cell(table: cases, row: status, column: "total") }
            margins.append(
                SharedMargin(
                    total: Cell(table: victims[0], row: "total", column: "identified"), parts: [opened("identified")]))
            margins.append(
                SharedMargin(
                    total: Cell(table: victims[0], row: "total", column: "presumed"),
                    parts: [opened("presumed"), opened("potential")]))
        }
        let steps = ["issued", "acknowledged", "accepted", "declined", "withdrawn", "completed"]
        same("referrals-by-purpose", "referrals-by-recipient", columns: steps)
        same("referrals-by-purpose", "referrals-by-recipient-kind", columns: steps)
        if present.contains("referrals-by-purpose"), present.contains("declines-by-reason") {
            margins.append(
                SharedMargin(
                    total: Cell(table: "referrals-by-purpose", row: "total", column: "declined"),
                    parts: [Cell(table: "declines-by-reason", row: "total", column: "referrals")]))
        }
        same(
            "compliance-by-institution", "compliance-by-rule",
            columns: ["met", "met-late", "missed", "running", "cancelled", "total"])
        same("reflection-lengths", "reflection-outcomes", columns: ["periods"])
        return margins
    }
}
