import Foundation
import Projections
import Referrals

/// The annual report as data: the JSON document the HTML page is made from, and one CSV per
/// table for the statistics office. Both carry only what ``PublishedReport`` publishes: withheld
/// cells are the string `"<5"` (small) or `"x"` (withheld to protect a small one).
public enum AnnualReportDocument {
    /// The report as JSON: `year`, `timeZone`, `period`, `previousPeriod`, `asOf`, `suppressed`,
    /// `language`, `tables` (each with `id`, `title`, `rowDimension`, `columns`, `rows` of
    /// `{code, label, cells: [{column, year, previousYear, change}], onTimeRate?}`), `timing`,
    /// `rulesets`, `unconfirmedRules` and `methods` (the paragraphs of the methods section).
    public static func json(_ report: PublishedReport, messages: ReportMessages) -> JSONValue {
        func published(_ p: PublishedCount) -> JSONValue { p.value.map { .number(JSONNumber($0)) } ?? .string(p.text) }
        func optional(_ d: Double?) -> JSONValue { d.flatMap(JSONNumber.init).map(JSONValue.number) ?? .null }
        func interval(_ i: DateInterval) -> JSONValue {
            .object(
                JSONObject([("start", .string(Timestamp.format(i.start))), ("end", .string(Timestamp.format(i.end)))]))
        }
        let tables: [JSONValue] = report.tables.map { t in
            let rows: [JSONValue] = t.rows.indices.map { r in
                var row: [(String, JSONValue)] = [
                    ("code", .string(t.rows[r])), ("label", .string(messages.label(t.rows[r], in: t.rowDimension))),
                    (
                        "cells",
                        .array(
                            t.columns.indices.map { c in
                                let cell = t.cells[r][c]
                                return .object(
                                    JSONObject([
                                        ("column", .string(t.columns[c])), ("year", published(cell.current)),
                                        ("previousYear", published(cell.previous)),
                                        ("change", cell.change.map { .number(JSONNumber($0)) } ?? .null),
                                    ]))
                            })
                    ),
                ]
                if let rates = t.onTimeRate {
                    row.append(
                        (
                            "onTimeRate",
                            .object(
                                JSONObject([
                                    ("year", optional(rates[r].current)), ("previousYear", optional(rates[r].previous)),
                                ]))
                        ))
                }
                return .object(JSONObject(row))
            }
            return .object(
                JSONObject([
                    ("id", .string(t.id)), ("title", .string(messages["table.\(t.id)"])),
                    ("rowDimension", .string(messages[t.rowDimension])),
                    ("columns", .array(t.columns.map { .string($0) })),
                    ("columnLabels", .array(t.columns.map { .string(messages.label($0, in: t.rowDimension)) })),
                    ("rows", .array(rows)),
                ]))
        }
        func hours(_ h: ReferralTiming.Hours) -> JSONValue {
            .object(
                JSONObject([
                    ("count", h.count.map { .number(JSONNumber($0)) } ?? .string(h.withheldAs)),
                    ("medianHours", optional(h.median)), ("p90Hours", optional(h.p90)),
                ]))
        }
        let timing: [JSONValue] = report.timing.map { t in
            .object(
                JSONObject([
                    ("purpose", .string(t.purpose)), ("label", .string(messages.label(t.purpose, in: "purpose"))),
                    ("acknowledge", hours(t.acknowledge)), ("accept", hours(t.accept)),
                    ("previousAcknowledge", hours(t.previousAcknowledge)), ("previousAccept", hours(t.previousAccept)),
                ]))
        }
        let r = report.report
        return .object(
            JSONObject([
                ("year", .number(JSONNumber(r.year))), ("timeZone", .string(r.timeZone)),
                ("period", interval(r.period)), ("previousPeriod", interval(r.previousPeriod)),
                ("asOf", .string(Timestamp.format(r.asOf))), ("suppressed", .bool(report.suppressed)),
                ("language", .string(messages.language.tag)), ("title", .string(messages["report.title"])),
                ("tables", .array(tables)), ("timing", .array(timing)),
                (
                    "rulesets",
                    .array(
                        r.rulesets.map {
                            .object(
                                JSONObject([
                                    ("rulesetId", .string($0.rulesetId)), ("version", .number(JSONNumber($0.version))),
                                    ("title", .string(messages.rulesetTitle($0))),
                                    ("effectiveFrom", .string($0.effectiveFrom)),
                                ]))
                        })
                ),
                ("unconfirmedRules", .array(r.unconfirmedRules.map { .string($0) })),
                ("methods", .array(methods(report, messages: messages).map { .string($0) })),
            ]))
    }

    /// The methods section's paragraphs, generated with the figures.
    public static func methods(_ report: PublishedReport, messages m: ReportMessages) -> [String] {
        let r = report.report
        let rulesets =
            r.rulesets.isEmpty
            ? m["report.notApplicable"]
            : r.rulesets.map {
                m.format(
                    "methods.rulesetEntry",
                    [
                        "id": $0.rulesetId, "version": String($0.version), "title": m.rulesetTitle($0),
                        "date": m.date(iso: $0.effectiveFrom),
                    ])
            }
            .joined(separator: "; ")
        return [
            m.format(
                "methods.period",
                [
                    "start": m.dateTime(r.period.start), "end": m.dateTime(r.period.end), "zone": r.timeZone,
                    "asOf": m.dateTime(r.asOf),
                ]),
            m.format("methods.cases", ["event": "CaseOpened", "time": "occurredAt"]),
            m.format("methods.victims", ["tables": "crim_thb"]), m["methods.referrals"], m["methods.compliance"],
            m["methods.rulesets"] + " " + rulesets + ".",
            r.unconfirmedRules.isEmpty
                ? m["methods.noUnconfirmed"]
                : m["methods.unconfirmed"] + " "
                    + r.unconfirmedRules.map { "\(m.ruleTitle($0)) (\($0))" }.joined(separator: "; ") + ".",
            report.suppressed
                ? m.format(
                    "methods.suppression",
                    ["small": DisclosureControl.marker, "withheld": DisclosureControl.secondaryMarker])
                : m["methods.unsuppressed"],
            m.format("methods.source", ["system": "Handoff"]),
        ]
    }

    /// One CSV per table (UTF-8, a header row, CRLF line ends as RFC 4180 has them): file name →
    /// contents. Columns: the row's code and label, then per column its value for the year, the
    /// year before and the change; a withheld count is `<5` (or `x`), a change that would give one
    /// away is empty. `timing.csv` holds the hours per purpose. The header row and the codes are
    /// stable machine names in English whatever the language, so that an import does not depend on
    /// it; only the `label` column is in `messages`' language. Numbers are plain (`1234`, `12.5`).
    public static func csv(_ report: PublishedReport, messages: ReportMessages) -> [(name: String, contents: String)] {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        func line(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\r\n" }
        let y = report.report.year
        var files: [(String, String)] = report.tables.map { t in
            var header = ["code", "label"]
            for c in t.columns { header += ["\(c) \(y)", "\(c) \(y - 1)", "\(c) change"] }
            if t.onTimeRate != nil { header += ["on-time rate \(y)", "on-time rate \(y - 1)"] }
            var text = line(header)
            for r in t.rows.indices {
                var fields = [t.rows[r], messages.label(t.rows[r], in: t.rowDimension)]
                for cell in t.cells[r] {
                    fields += [cell.current.text, cell.previous.text, cell.change.map(String.init) ?? ""]
                }
                if let rates = t.onTimeRate {
                    fields += [rates[r].current.map(rate) ?? "", rates[r].previous.map(rate) ?? ""]
                }
                text += line(fields)
            }
            return ("\(t.id).csv", text)
        }
        var timing = line([
            "purpose", "label", "responded \(y)", "median hours to respond \(y)", "p90 hours to respond \(y)",
            "accepted \(y)", "median hours to accept \(y)", "p90 hours to accept \(y)", "responded \(y - 1)",
            "median hours to respond \(y - 1)", "p90 hours to respond \(y - 1)", "accepted \(y - 1)",
            "median hours to accept \(y - 1)", "p90 hours to accept \(y - 1)",
        ])
        func hours(_ h: ReferralTiming.Hours) -> [String] {
            [h.text, h.median.map(decimal) ?? "", h.p90.map(decimal) ?? ""]
        }
        for t in report.timing {
            timing += line(
                [t.purpose, messages.label(t.purpose, in: "purpose")] + hours(t.acknowledge) + hours(t.accept)
                    + hours(t.previousAcknowledge) + hours(t.previousAccept))
        }
        files.append(("timing.csv", timing))
        return files
    }

    /// A rate as a decimal fraction with four digits (`0.8125`).
    static func rate(_ r: Double) -> String { String(format: "%.4f", r) }
    /// Hours with one decimal (`12.5`).
    static func decimal(_ h: Double) -> String { String(format: "%.1f", h) }
}
