import Foundation
import HTTP
import Projections
import Referrals

/// Checks of the annual report's parameters, shared by the dashboard route and the CLI.
public enum AnnualReportParameters {
    /// The languages a `lang` may name (API.md); those without a catalogue yet are shown in English.
    public static let acceptedLanguages = ["en", "sq", "sr-Latn"]

    /// A four-digit year from 1900 to 9999, or nil.
    public static func year(_ text: String) -> Int? {
        guard text.utf8.count == 4, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let y = Int(text),
            (1900...9999).contains(y)
        else { return nil }
        return y
    }

    /// One of ``acceptedLanguages``, or nil.
    public static func language(_ text: String) -> String? { acceptedLanguages.contains(text) ? text : nil }
}

extension QueryService {
    /// `GET /reports/annual?year=Y[&lang=]`: the annual report as an HTML page, for coordinators
    /// (counts under 5 withheld, with secondary suppression) and auditors (every count). Other
    /// roles: 403. A missing or malformed `year`, or an unknown `lang`: 400.
    func annualReportPage(_ request: HTTPRequest, _ principal: Principal) async throws -> HTTPResponse {
        guard principal.role == .coordinator || principal.role == .auditor else {
            throw ServiceError.forbidden("The annual report is for coordinators and auditors.")
        }
        guard let text = request.query["year"], let year = AnnualReportParameters.year(text) else {
            throw ServiceError.badRequest("year is a four-digit year.", field: "year")
        }
        var language = "en"
        if let lang = request.query["lang"] {
            guard let l = AnnualReportParameters.language(lang) else {
                throw ServiceError.badRequest("lang is one of en, sq, sr-Latn.", field: "lang")
            }
            language = l
        }
        let zone = TimeZone(identifier: configuration.timeZone) ?? TimeZone(identifier: "Europe/Belgrade")!
        let report: AnnualReport
        do {
            report = try await withReads(request) {
                try await $0.readSide.annualReport(year: year, timeZone: zone)
            }
        } catch { throw ServiceError.from(error) }
        let published = report.published(suppressSmallCells: principal.role != .auditor)
        let html = AnnualReportPage.html(published, messages: ReportMessages(language: language), stylesheet: .linked)
        return HTTPResponse(status: .ok, headers: DashboardLayout.pageHeaders(), bytes: Array(html.utf8))
    }
}
