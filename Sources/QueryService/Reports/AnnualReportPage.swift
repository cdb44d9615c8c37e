import Foundation
import Projections
import Referrals

/// The annual report as one HTML document: tables with the year before and the change, three
/// SVG charts drawn on the server (no script, no external asset, black and white, each with a
/// `<title>`, a `<desc>` and a table as its text alternative), a generated methods section, and a
/// stylesheet with print rules. Made from the same ``PublishedReport`` as the JSON document.
public enum AnnualReportPage {
    /// How the page gets its stylesheet: linked from `/assets/report.css` (the dashboard, whose
    /// CSP forbids inline style) or inlined (a file written by the CLI, to print or send as it is).
    public enum Stylesheet: Sendable {
        case linked
        case inline
    }

    /// The HTML document.
    public static func html(_ report: PublishedReport, messages m: ReportMessages, stylesheet: Stylesheet) -> String {
        let r = report.report
        let y = r.year
        let style: HTML =
            switch stylesheet {
            case .linked: "<link rel=\"stylesheet\" href=\"/assets/report.css\">"
            case .inline: "<style>\(HTML(rawCSS: css))</style>"
            }
        let tables = Dictionary(report.tables.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func section(_ key: String, _ ids: [String], extra: HTML = .empty) -> HTML {
            let body = HTML(joining: ids.compactMap { tables[$0] }.map { table($0, year: y, m: m) })
            return """
                <section id="\(key)"><h2>\(m["section.\(key)"])</h2>
                \(extra)\(body)</section>

                """
        }
        // Each section's tables in the report's one order; the charts that go before them.
        let sections: [(String, [String], HTML)] = AnnualReport.sections.map { key, ids in
            let extra: HTML =
                switch key {
                case "victims": exploitationChart(tables["victims-by-exploitation"], year: y, m: m)
                case "timing": timingChart(report.timing, m: m) + timingTable(report.timing, year: y, m: m)
                case "compliance": complianceChart(tables["compliance-by-institution"], year: y, m: m)
                default: .empty
                }
            return (key, ids, extra)
        }
        let contents = HTML(
            joining: (sections.map(\.0) + ["methods"]).map { "<li><a href=\"#\($0)\">\(m["section.\($0)"])</a></li>" })
        let methods = HTML(joining: AnnualReportDocument.methods(report, messages: m).map { "<p>\($0)</p>\n" })
        let page: HTML = """
            <!doctype html>
            <html lang="\(m.language.tag)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(m["report.title"]) \(y)</title>
            \(style)
            </head>
            <body class="report">
            <header>
            <p class="synthetic">\(m["report.synthetic"])</p>
            \(unreviewedNote(m))
            <h1>\(m["report.title"]) \(y)</h1>
            <p class="lede">\(m["report.subtitle"]). \(m.format("report.lede", ["year": String(y), "previous": String(y - 1)]))</p>
            <p class="screen-only">\(m["report.print"])</p>
            \(languageLinks(year: y, current: m.language, m: m))
            </header>
            <nav aria-label="\(m["report.contents"])"><h2>\(m["report.contents"])</h2><ol>\(contents)</ol></nav>
            <main>
            \(HTML(joining: sections.map { section($0.0, $0.1, extra: $0.2) }))
            <section id="methods"><h2>\(m["section.methods"])</h2>
            \(methods)</section>
            </main>
            </body>
            </html>

            """
        return page.description
    }

    // MARK: - Tables

    static func count(_ p: PublishedCount, _ m: ReportMessages) -> String { p.value.map(m.integer) ?? p.text }

    static func change(_ n: Int?, _ m: ReportMessages) -> String { n.map(m.change) ?? m["report.notApplicable"] }

    static func percent(_ r: Double?, _ m: ReportMessages) -> String { r.map(m.percent) ?? m["report.notApplicable"] }

    /// The note that the language's translation is not yet reviewed by a native-speaker
    /// practitioner (printed too: a reader of the paper copy must know).
    static func unreviewedNote(_ m: ReportMessages) -> HTML {
        m.t.catalogue.reviewed
            ? .empty : "<p class=\"note unreviewed\" id=\"unreviewed\">\(m.t("layout.unreviewed"))</p>"
    }

    /// Links to the report in the other languages (screen only: a printed copy is in one).
    static func languageLinks(year: Int, current: Language, m: ReportMessages) -> HTML {
        let links = HTML(
            joining: ReportMessages.languages.map { language in
                let marker: HTML = language == current ? " aria-current=\"true\"" : ""
                return """
                    <li><a href="?year=\(year)&amp;lang=\(language.tag)" lang="\(language.tag)" \
                    hreflang="\(language.tag)"\(marker)>\(language.nativeName)</a></li>
                    """
            })
        return "<nav class=\"languages screen-only\" aria-label=\"\(m["report.language"])\"><ul>\(links)</ul></nav>"
    }

    static func table(_ t: PublishedTable, year y: Int, m: ReportMessages) -> HTML {
        let groups = HTML(
            joining: t.columns.map { "<th scope=\"colgroup\" colspan=\"3\">\(m.label($0, in: t.rowDimension))</th>" })
        let years = HTML(
            joining: t.columns.map { _ in
                "<th scope=\"col\">\(y)</th><th scope=\"col\">\(y - 1)</th><th scope=\"col\">\(m["report.change"])</th>"
            })
        let rateHead: HTML =
            t.onTimeRate == nil
            ? .empty
            : "<th scope=\"colgroup\" colspan=\"2\">\(m["report.onTimeRate"])</th>"
        let rateYears: HTML =
            t.onTimeRate == nil ? .empty : "<th scope=\"col\">\(y)</th><th scope=\"col\">\(y - 1)</th>"
        let rows = HTML(
            joining: t.rows.indices.map { r in
                let cells = HTML(
                    joining: t.cells[r].map { c in
                        let cls: HTML = c.current.value == nil ? " class=\"withheld\"" : ""
                        let pcls: HTML = c.previous.value == nil ? " class=\"withheld prev\"" : " class=\"prev\""
                        return
                            "<td\(cls)>\(count(c.current, m))</td><td\(pcls)>\(count(c.previous, m))</td><td class=\"chg\">\(change(c.change, m))</td>"
                    })
                let rate: HTML =
                    t.onTimeRate.map {
                        "<td>\(percent($0[r].current, m))</td><td class=\"prev\">\(percent($0[r].previous, m))</td>"
                    } ?? .empty
                let total: HTML = t.rows[r] == "total" ? " class=\"total\"" : ""
                return
                    "<tr\(total)><th scope=\"row\">\(m.label(t.rows[r], in: t.rowDimension))</th>\(cells)\(rate)</tr>\n"
            })
        return """
            <div class="table-wrap"><table id="table-\(t.id)">
            <caption>\(m["table.\(t.id)"])</caption>
            <thead><tr><th scope="col" rowspan="2">\(m[t.rowDimension])</th>\(groups)\(rateHead)</tr>
            <tr>\(years)\(rateYears)</tr></thead>
            <tbody>
            \(rows)</tbody></table></div>

            """
    }

    static func timingTable(_ timing: [ReferralTiming], year y: Int, m: ReportMessages) -> HTML {
        func hours(_ d: Double?) -> String { d.map { m.decimal($0) } ?? m["report.notApplicable"] }
        func cells(_ h: ReferralTiming.Hours, prev: Bool) -> HTML {
            let cls: HTML = prev ? " class=\"prev\"" : ""
            return
                "<td\(cls)>\(h.count.map(m.integer) ?? h.withheldAs)</td><td\(cls)>\(hours(h.median))</td><td\(cls)>\(hours(h.p90))</td>"
        }
        let head3: HTML =
            "<th scope=\"col\">\(m["timing.count"])</th><th scope=\"col\">\(m["timing.median"])</th><th scope=\"col\">\(m["timing.p90"])</th>"
        let rows = HTML(
            joining: timing.map { t in
                """
                <tr><th scope="row">\(m.label(t.purpose, in: "purpose"))</th>\(cells(t.acknowledge, prev: false))\
                \(cells(t.previousAcknowledge, prev: true))\(cells(t.accept, prev: false))\(cells(t.previousAccept, prev: true))</tr>

                """
            })
        return """
            <div class="table-wrap"><table id="table-timing">
            <caption>\(m["table.timing"])</caption>
            <thead><tr><th scope="col" rowspan="3">\(m["dimension.purpose"])</th>\
            <th scope="colgroup" colspan="6">\(m["timing.acknowledge"])</th><th scope="colgroup" colspan="6">\(m["timing.accept"])</th></tr>
            <tr><th scope="colgroup" colspan="3">\(y)</th><th scope="colgroup" colspan="3">\(y - 1)</th>\
            <th scope="colgroup" colspan="3">\(y)</th><th scope="colgroup" colspan="3">\(y - 1)</th></tr>
            <tr>\(head3)\(head3)\(head3)\(head3)</tr></thead>
            <tbody>
            \(rows)</tbody></table></div>

            """
    }

    // MARK: - Charts

    /// One bar of a chart: its value (nil when withheld or not applicable) and its printed label.
    struct Bar {
        var value: Double?
        var label: String
    }

    /// A horizontal bar chart in SVG: one group per row, up to two bars per group (solid black,
    /// then white with a black outline), each labelled with its figure, so it reads in black and
    /// white. Presentation attributes only (no `style`), so the page's CSP holds.
    static func barChart(
        id: String, title: String, rows: [(label: String, bars: [Bar])], legend: [String], maximum: Double
    ) -> HTML {
        let labelWidth = 190.0
        let plotWidth = 380.0
        let barHeight = 14.0
        let barsPerRow = max(1, rows.map(\.bars.count).max() ?? 1)
        let rowHeight = Double(barsPerRow) * barHeight + 10
        let legendHeight = legend.isEmpty ? 0.0 : 22
        let height = Double(rows.count) * rowHeight + legendHeight + 10
        let width = labelWidth + plotWidth + 70
        let scale = maximum > 0 ? plotWidth / maximum : 0
        func n(_ d: Double) -> String { String(format: "%.1f", d) }
        var parts: [HTML] = []
        for (i, row) in rows.enumerated() {
            let top = legendHeight + Double(i) * rowHeight
            parts.append(
                "<text x=\"\(n(labelWidth - 6))\" y=\"\(n(top + rowHeight / 2 + 2))\" text-anchor=\"end\">\(row.label)</text>"
            )
            for (j, bar) in row.bars.enumerated() {
                let y = top + 4 + Double(j) * barHeight
                let w = (bar.value ?? 0) * scale
                let fill: HTML = j == 0 ? "#000000" : "#ffffff"
                if bar.value != nil {
                    parts.append(
                        "<rect x=\"\(n(labelWidth))\" y=\"\(n(y))\" width=\"\(n(max(w, 0.5)))\" height=\"\(n(barHeight - 3))\" fill=\"\(fill)\" stroke=\"#000000\" stroke-width=\"1\"/>"
                    )
                }
                parts.append(
                    "<text x=\"\(n(labelWidth + w + 4))\" y=\"\(n(y + barHeight - 4))\">\(bar.label)</text>")
            }
        }
        for (j, name) in legend.enumerated() {
            let x = labelWidth + Double(j) * 170
            let fill: HTML = j == 0 ? "#000000" : "#ffffff"
            parts.append(
                "<rect x=\"\(n(x))\" y=\"4\" width=\"12\" height=\"12\" fill=\"\(fill)\" stroke=\"#000000\" stroke-width=\"1\"/><text x=\"\(n(x + 16))\" y=\"14\">\(name)</text>"
            )
        }
        parts.append(
            "<line x1=\"\(n(labelWidth))\" y1=\"\(n(legendHeight))\" x2=\"\(n(labelWidth))\" y2=\"\(n(height - 4))\" stroke=\"#000000\" stroke-width=\"1\"/>"
        )
        let desc = rows.map { row in row.label + ": " + row.bars.map(\.label).joined(separator: ", ") }
            .joined(separator: "; ")
        let legendText = legend.isEmpty ? "" : " (" + legend.joined(separator: ", ") + ")"
        return """
            <figure class="chart" id="chart-\(id)">
            <svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 \(n(width)) \(n(height))" \
            width="\(n(width))" height="\(n(height))" aria-labelledby="chart-\(id)-title chart-\(id)-desc" \
            font-family="sans-serif" font-size="11" fill="#000000">
            <title id="chart-\(id)-title">\(title)</title>
            <desc id="chart-\(id)-desc">\(desc + legendText)</desc>
            \(HTML(joining: parts))
            </svg>
            <figcaption>\(title). <span class="alt">\(desc + legendText).</span></figcaption>
            </figure>

            """
    }

    static func exploitationChart(_ t: PublishedTable?, year: Int, m: ReportMessages) -> HTML {
        guard let t, let ci = t.columns.firstIndex(of: "identified"), let cp = t.columns.firstIndex(of: "presumed")
        else { return .empty }
        let rows = t.rows.indices.map { r -> (label: String, bars: [Bar]) in
            let i = t.cells[r][ci].current
            let p = t.cells[r][cp].current
            return (
                m.label(t.rows[r], in: t.rowDimension),
                [
                    Bar(value: i.value.map(Double.init), label: count(i, m)),
                    Bar(value: p.value.map(Double.init), label: count(p, m)),
                ]
            )
        }
        let maximum = rows.flatMap { $0.bars.compactMap(\.value) }.max() ?? 0
        return barChart(
            id: "exploitation", title: "\(m["chart.exploitation"]), \(year)", rows: rows,
            legend: [m.label("identified", in: t.rowDimension), m.label("presumed", in: t.rowDimension)],
            maximum: maximum)
    }

    static func complianceChart(_ t: PublishedTable?, year: Int, m: ReportMessages) -> HTML {
        guard let t, let rates = t.onTimeRate else { return .empty }
        let rows = t.rows.indices.map { r -> (label: String, bars: [Bar]) in
            let rate = rates[r].current
            return (
                m.label(t.rows[r], in: t.rowDimension), [Bar(value: rate.map { $0 * 100 }, label: percent(rate, m))]
            )
        }
        return barChart(
            id: "compliance", title: "\(m["chart.compliance"]), \(year)", rows: rows, legend: [], maximum: 100)
    }

    static func timingChart(_ timing: [ReferralTiming], m: ReportMessages) -> HTML {
        func hours(_ d: Double?) -> String {
            d.map { m.t("unit.hours", ["n": m.decimal($0)]) } ?? m["report.notApplicable"]
        }
        let rows = timing.map { t -> (label: String, bars: [Bar]) in
            (
                m.label(t.purpose, in: "purpose"),
                [
                    Bar(value: t.acknowledge.median, label: hours(t.acknowledge.median)),
                    Bar(value: t.acknowledge.p90, label: hours(t.acknowledge.p90)),
                ]
            )
        }
        let maximum = rows.flatMap { $0.bars.compactMap(\.value) }.max() ?? 0
        return barChart(
            id: "acknowledge", title: m["chart.acknowledge"], rows: rows,
            legend: [m["timing.median"], m["timing.p90"]],
            maximum: maximum)
    }

    // MARK: - Style

    /// The report's stylesheet, screen and print (served as `/assets/report.css`).
    public static let css = """
        body.report { margin: 0 auto; max-width: 60rem; padding: 1rem 1.5rem 3rem; color: #000; background: #fff;
          font: 0.95rem/1.45 system-ui, "Noto Sans", "DejaVu Sans", sans-serif; }
        .report h1 { font-size: 1.6rem; margin: .25rem 0; }
        .report h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; border-bottom: 2px solid #000; }
        .report .lede { margin-top: 0; }
        .report .synthetic { display: inline-block; border: 1px solid #000; padding: 0 .5rem; font-size: .85rem; }
        .report .table-wrap { overflow-x: auto; margin: .75rem 0 1.25rem; }
        .report table { border-collapse: collapse; font-size: .85rem; font-variant-numeric: tabular-nums; }
        .report caption { text-align: left; font-weight: 600; padding: .25rem 0; }
        .report th, .report td { border: 1px solid #777; padding: .15rem .4rem; }
        .report td { text-align: right; }
        .report th[scope="row"] { text-align: left; font-weight: normal; }
        .report thead th { background: #eee; }
        .report tr.total th, .report tr.total td { font-weight: 700; border-top: 2px solid #000; }
        .report td.prev { color: #333; }
        .report td.withheld { font-style: italic; }
        .report td.chg { color: #333; }
        .report .unreviewed { font-style: italic; }
        .report nav.languages ul { list-style: none; padding: 0; display: flex; gap: 1rem; flex-wrap: wrap; }
        .report nav.languages a[aria-current] { font-weight: 700; }
        .report figure.chart { margin: 1rem 0; }
        .report figure.chart svg { max-width: 100%; height: auto; }
        .report figcaption { font-size: .85rem; }
        .report figcaption .alt { display: block; color: #333; }
        @media print {
          @page { size: A4; margin: 15mm 12mm; }
          body.report { max-width: none; padding: 0; font-size: 9pt; }
          .report .screen-only, .report nav { display: none; }
          .report h2 { break-after: avoid; }
          .report table, .report figure.chart { break-inside: avoid; }
          .report table { font-size: 7.5pt; }
          .report .table-wrap { overflow: visible; }
          .report thead th { background: none; }
          .report a { color: #000; text-decoration: none; }
        }
        """
}

extension HTML {
    /// A trusted stylesheet (our own constant) inside `<style>`: no escaping, but it must not
    /// close the element.
    init(rawCSS css: String) {
        precondition(!css.contains("</"), "a stylesheet must not contain </")
        self.init(stringLiteral: css)
    }
}
