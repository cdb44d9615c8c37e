import Foundation

/// Every text of the annual report, by message key, so that a catalogue per language can replace
/// the English one: `ReportMessages(language:)` looks a key up in the language's table and falls
/// back to English, then to the key's last part (codes such as institution ids and country codes
/// are shown as they are).
public struct ReportMessages: Sendable {
    /// The languages with a catalogue (`en` now; `sq` and `sr-Latn` when their catalogues exist).
    public static let languages = ["en"]

    /// The language used (a `lang` without a catalogue falls back to English).
    public let language: String
    private let table: [String: String]

    public init(language: String = "en") {
        self.language = Self.languages.contains(language) ? language : "en"
        table = Self.english
    }

    /// The text of `key`.
    public subscript(_ key: String) -> String {
        if let text = table[key] ?? Self.english[key] { return text }
        return String(key.split(separator: ".").last ?? Substring(key))
    }

    /// The text of `key` with each `{name}` replaced by `values[name]`.
    public func format(_ key: String, _ values: [String: String]) -> String {
        var text = self[key]
        for (name, value) in values { text = text.replacingOccurrences(of: "{\(name)}", with: value) }
        return text
    }

    /// The label of a row or column code in a dimension (`value.sex.female`), or the code itself.
    public func label(_ code: String, in dimension: String) -> String {
        if code == "total" { return self["value.total"] }
        let dim = dimension.hasPrefix("dimension.") ? String(dimension.dropFirst("dimension.".count)) : dimension
        return table["value.\(dim).\(code)"] ?? Self.english["value.\(dim).\(code)"]
            ?? table["value.\(code)"] ?? Self.english["value.\(code)"] ?? code
    }

    /// English, the reference catalogue.
    public static let english: [String: String] = [
        "report.title": "Annual report on trafficking in human beings",
        "report.subtitle": "Referrals, victims and compliance with the Standard Operating Procedures",
        "report.synthetic": "Synthetic data: nothing in this report describes a real person.",
        "report.contents": "Contents",
        "report.year": "Year",
        "report.previousYear": "Year before",
        "report.change": "Change",
        "report.withheld": "<5",
        "report.notApplicable": "–",
        "report.chartAlt": "Text alternative",
        "report.onTimeRate": "On time",
        "report.print": "Print this page or save it as PDF from the browser's print dialog.",
        "report.downloads": "Machine-readable: `handoff report annual --year {year} --format csv|json`.",

        "section.cases": "Cases",
        "section.victims": "Victims",
        "section.referrals": "Referrals",
        "section.timing": "Time to respond to referrals",
        "section.compliance": "Compliance with the SOP deadlines",
        "section.consent": "Consent",
        "section.reflection": "Reflection and recovery periods",
        "section.methods": "Methods",

        "table.cases-by-identification": "Cases opened, by identification status and by how the year ended for them",
        "table.closures-by-reason": "Cases closed, by reason",
        "table.victims-by-sex": "Victims by sex",
        "table.victims-by-age": "Victims by age group",
        "table.victims-by-child": "Victims: children and adults",
        "table.victims-by-citizenship": "Victims by citizenship",
        "table.victims-by-nationality": "Victims by country of citizenship",
        "table.victims-by-exploitation": "Victims by form of exploitation (a victim may count under several forms)",
        "table.referrals-by-purpose": "Referrals issued, by purpose, and what became of them",
        "table.referrals-by-recipient": "Referrals issued, by recipient institution",
        "table.referrals-by-recipient-kind": "Referrals issued, by kind of recipient institution",
        "table.declines-by-reason": "Referrals declined, by reason",
        "table.consent-overrides-by-reason": "Referrals issued without the consent their purpose requires, by reason",
        "table.consent-withdrawn": "Referrals whose consent was withdrawn after they were issued",
        "table.compliance-by-institution": "SOP deadlines by responsible institution",
        "table.compliance-by-rule": "SOP deadlines by rule",
        "table.reflection-lengths": "Reflection periods granted, by length",
        "table.reflection-outcomes": "Reflection periods granted, by outcome",
        "table.timing": "Hours from issue to first response and to acceptance, by purpose",

        "chart.exploitation": "Victims by form of exploitation",
        "chart.compliance": "Share of SOP deadlines met on time, by responsible institution",
        "chart.acknowledge": "Median and 90th-percentile hours to first response, by purpose",

        "dimension.identificationStatus": "Identification status",
        "dimension.closureReason": "Reason",
        "dimension.sex": "Sex",
        "dimension.ageGroup": "Age group",
        "dimension.childAdult": "Child or adult",
        "dimension.citizenship": "Citizenship",
        "dimension.nationality": "Country",
        "dimension.exploitation": "Form of exploitation",
        "dimension.purpose": "Purpose",
        "dimension.institution": "Institution",
        "dimension.institutionKind": "Kind of institution",
        "dimension.declineReason": "Reason",
        "dimension.overrideReason": "Reason",
        "dimension.consent": "Consent",
        "dimension.responsible": "Responsible",
        "dimension.rule": "Rule",
        "dimension.reflectionDays": "Length (days)",
        "dimension.reflectionOutcome": "Outcome",

        "value.total": "Total",
        "value.open": "Open at the end of the year",
        "value.closed": "Closed by the end of the year",
        "value.closures": "Cases",
        "value.identified": "Identified",
        "value.presumed": "Presumed",
        "value.identificationStatus.potential": "Potential",
        "value.identificationStatus.not-a-victim": "Not a victim",
        "value.female": "Female",
        "value.male": "Male",
        "value.other": "Other",
        "value.unknown": "Unknown",
        "value.child": "Child (under 18)",
        "value.adult": "Adult",
        "value.reporting-country": "Kosovo (reporting country)",
        "value.eu": "EU citizens",
        "value.non-eu": "Non-EU citizens",
        "value.sexual": "Sexual exploitation",
        "value.labour": "Labour exploitation",
        "value.exploitation.other": "Other forms",
        "value.issued": "Issued",
        "value.acknowledged": "Responded",
        "value.accepted": "Accepted",
        "value.declined": "Declined",
        "value.withdrawn": "Withdrawn",
        "value.completed": "Completed",
        "value.referrals": "Referrals",
        "value.periods": "Periods",
        "value.met": "Met",
        "value.met-late": "Met late",
        "value.missed": "Missed",
        "value.running": "Running",
        "value.cancelled": "Cancelled",
        "value.consent-withdrawn": "Consent withdrawn",

        "timing.count": "Referrals",
        "timing.median": "Median h",
        "timing.p90": "90th pct. h",
        "timing.acknowledge": "First response",
        "timing.accept": "Acceptance",

        "methods.period":
            "Period: {start} to {end} (calendar years in the {zone} time zone, via the Gregorian calendar; the year before is shown beside each figure with the change). Deadline outcomes are as of {asOf}.",
        "methods.cases":
            "A case is one pseudonymous record opened by an institution (CaseOpened), counted in the year of the opening's occurredAt. How the year ended: closed if its latest closure happened before the year's end, else open. Closures are counted by the time of a case's latest closure.",
        "methods.victims":
            "Victims are the cases opened in the year whose identification status, as recorded now (corrections applied), is identified (\"Identified\") or presumed or potential (\"Presumed\"); cases found not to be victims are not counted. Groupings follow Eurostat's crim_thb tables: sex; age group (0–11, 12–17, 18–24, 25–34, 35–49, 50+); child or adult; citizenship (the reporting country, EU, non-EU); form of exploitation (sexual, labour, other forms — forced begging, forced criminality, forced marriage, organ removal and other).",
        "methods.referrals":
            "Referrals are counted in the year they were issued. Responded: acknowledged, accepted or declined by the recipient. Time to first response and to acceptance is measured from issue, in hours; percentiles are interpolated.",
        "methods.compliance":
            "SOP deadlines are counted in the year they were triggered: met (on time), met late, missed (past due and unmet), running (not yet due) and cancelled. On time = met ÷ (met + met late + missed).",
        "methods.rulesets": "Ruleset versions in force during the year:",
        "methods.unconfirmed":
            "The timings of these rules are marked unconfirmed in the ruleset: they are configurable placeholders, not confirmed from the SOP text, and the compliance figures that use them are provisional:",
        "methods.noUnconfirmed": "No deadline of the year uses a rule whose timing is marked unconfirmed.",
        "methods.suppression":
            "Disclosure control: counts under 5 (including 0) are shown as <5. So that such a count cannot be worked out from the totals, the next smallest count of its row or column is withheld too (shown as x) wherever a row or column would otherwise have only one withheld count, or a withheld count could be narrowed to one value from the totals and the knowledge that withheld counts are between 0 and 4. Each year is protected on its own; a change is shown only when both years are. Medians and percentiles are shown only for 5 referrals or more, and an on-time rate only when none of its counts is withheld.",
        "methods.unsuppressed": "This copy is for auditors: no count is withheld.",
        "methods.source":
            "Source: Handoff's read models (the projection of the append-only event log) at the time of the report.",
    ]
}
