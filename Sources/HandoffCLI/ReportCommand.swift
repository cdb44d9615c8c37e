import EventStore
import Foundation
import Postgres
import Projections
import QueryService
import Referrals

/// `handoff report annual --year Y [--format html|csv|json] [--lang en|sq|sr-Latn|sr-Cyrl] [--out FILE]
/// [--unsuppressed]`: the annual report from the read models of DATABASE_URL, in one language
/// (English by default). An unknown language is a usage error (exit 2).
enum ReportCommand {
    static func annual(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let year = args.int("--year")!
        let format = args.string("--format") ?? "html"
        let zoneName = args.string("--time-zone") ?? "Europe/Belgrade"
        guard let zone = TimeZone(identifier: zoneName) else { throw CLIError.usage("unknown time zone \(zoneName)") }
        let lang = args.string("--lang") ?? "en"
        guard let language = AnnualReportParameters.language(lang) else {
            throw CLIError.usage(
                "unknown language \(lang): --lang is one of \(AnnualReportParameters.acceptedLanguages.joined(separator: ", "))"
            )
        }
        let out = args.string("--out")
        if format == "csv" && out == nil { throw CLIError.usage("--format csv needs --out DIR (one file per table)") }
        let pool = ConnectionPool(url: try context.databaseURL(), maximumConnections: 4)
        let report: AnnualReport
        let titles: RulesetTitles
        do {
            report = try await ReadModels(pool: pool).annualReport(year: year, timeZone: zone)
            titles = try await RulesetTitles.published(in: EventStore(pool: pool))
            await pool.close()
        } catch {
            await pool.close()
            throw error
        }
        let published = report.published(suppressSmallCells: !args.flag("--unsuppressed"))
        let messages = ReportMessages(language: language, timeZone: zone.identifier, titles: titles)
        switch format {
        case "csv":
            let directory = URL(fileURLWithPath: out!, isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for file in AnnualReportDocument.csv(published, messages: messages) {
                try Data(file.contents.utf8).write(to: directory.appendingPathComponent(file.name))
            }
        default:
            let text =
                format == "json"
                ? AnnualReportDocument.json(published, messages: messages).serializedString() + "\n"
                : AnnualReportPage.html(published, messages: messages, stylesheet: .inline)
            if let out {
                try Data(text.utf8).write(to: URL(fileURLWithPath: out))
            } else {
                context.standardOutput(text)
            }
        }
    }
}
