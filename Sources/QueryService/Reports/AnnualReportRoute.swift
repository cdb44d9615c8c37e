import Foundation
import HTTP
import Projections
import Referrals
import ServiceStore

/// Checks of the annual report's parameters, shared by the dashboard route and the CLI.
public enum AnnualReportParameters {
    /// The tags a `lang` may name: every ``Language`` (`en`, `sq`, `sr-Latn`, `sr-Cyrl`).
    public static let acceptedLanguages = Language.allCases.map(\.tag)

    /// A four-digit year from 1900 to 9999, or nil.
    public static func year(_ text: String) -> Int? {
        guard text.utf8.count == 4, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let y = Int(text),
            (1900...9999).contains(y)
        else { return nil }
        return y
    }

    /// The language a `lang` names (compared without regard to case, as the dashboard's switch
    /// does), or nil for anything else.
    public static func language(_ text: String) -> Language? { Language(tag: text) }
}

extension QueryService {
    /// `GET /reports/annual?year=Y[&lang=]`: the annual report as an HTML page, for coordinators
    /// (counts under 5 withheld, with secondary suppression) and auditors (every count). Other
    /// roles: 403. Without `lang`, the dashboard's choice (cookie, `Accept-Language`, the
    /// deployment's default). A missing or malformed `year`, or a `lang` that is not one of
    /// ``AnnualReportParameters/acceptedLanguages``: 400, with a page that says which.
    func annualReportPage(_ request: HTTPRequest, _ session: SessionStore.Session, _ locale: PageLocale) async throws
        -> HTTPResponse
    {
        let principal = session.principal
        guard principal.role == .coordinator || principal.role == .auditor else {
            throw ServiceError.forbidden("The annual report is for coordinators and auditors.")
        }
        func refuse(_ key: String, _ arguments: KeyValuePairs<String, String> = [:]) -> HTTPResponse {
            let t = locale.t
            let title = t("error.title.400")
            let main: HTML = """
                <h1>\(title)</h1>
                <p role="alert" id="report-error">\(t(key, arguments))</p>
                <p><a href="/">\(t("error.back"))</a></p>
                """
            return DashboardLayout.response(
                .badRequest, DashboardLayout.document(locale, title: title, session: session, main: main))
        }
        var language = locale.t.language
        if let lang = request.query["lang"] {
            guard let chosen = AnnualReportParameters.language(lang) else {
                return refuse(
                    "annual.error.lang",
                    ["languages": AnnualReportParameters.acceptedLanguages.joined(separator: ", ")])
            }
            language = chosen
        }
        guard let text = request.query["year"], let year = AnnualReportParameters.year(text) else {
            return refuse("annual.error.year", ["example": "?year=2026"])
        }
        let zone = TimeZone(identifier: configuration.timeZone) ?? TimeZone(identifier: "Europe/Belgrade")!
        let report: AnnualReport
        let titles: RulesetTitles
        do {
            report = try await withReads(request) {
                try await $0.readSide.annualReport(year: year, timeZone: zone)
            }
            titles = RulesetTitles(try await rulesets.current())
        } catch { throw ServiceError.from(error) }
        let published = report.published(suppressSmallCells: principal.role != .auditor)
        let messages = ReportMessages(language: language, timeZone: configuration.timeZone, titles: titles)
        let html = AnnualReportPage.html(published, messages: messages, stylesheet: .linked)
        return HTTPResponse(status: .ok, headers: DashboardLayout.pageHeaders(), bytes: Array(html.utf8))
    }
}
