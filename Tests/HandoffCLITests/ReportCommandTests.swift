import Foundation
import HandoffTestSupport
import Testing

/// `handoff report annual`: the three formats, and its usage errors.
@Suite struct ReportCommandTests {
    @Test func theAnnualReportInEachFormat() async throws {
        let db = try await TestDatabase.make()
        let cli = CapturedCLI(databaseURL: db.url)
        var r = await cli.run("report", "annual", "--year", "2026")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.hasPrefix("<!doctype html>"))
        #expect(r.out.contains("<style>"), "a file to print stands alone")
        #expect(r.out.contains("@media print"))
        #expect(!r.out.contains("<script"))
        #expect(r.out.contains("Europe/Belgrade"))

        r = await cli.run("report", "annual", "--year", "2026", "--format", "json")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains(#""year":2026"#))
        #expect(r.out.contains(#""period":{"start":"2025-12-31T23:00:00Z","end":"2026-12-31T23:00:00Z"}"#))
        #expect(r.out.contains(#""suppressed":true"#))
        r = await cli.run("report", "annual", "--year", "2026", "--format", "json", "--unsuppressed")
        #expect(r.out.contains(#""suppressed":false"#))

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        r = await cli.run("report", "annual", "--year", "2026", "--format", "csv", "--out", dir.path)
        #expect(r.status == 0, "\(r.err)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(files.contains("victims-by-sex.csv"))
        #expect(files.contains("timing.csv"))
        let csv = try String(contentsOf: dir.appendingPathComponent("victims-by-sex.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("code,label,identified 2026,identified 2025,identified change,"))
        #expect(csv.contains("\r\nfemale,Female,<5,<5,,"))

        r = await cli.run("report", "annual", "--year", "2026", "--format", "csv")
        #expect(r.status == 2, "csv needs --out")
        r = await cli.run("report", "annual", "--year", "26")
        #expect(r.status == 2)
        r = await cli.run("report", "annual", "--year", "2026", "--lang", "de")
        #expect(r.status == 2)
        #expect(r.err.contains("en, sq, sr-Latn, sr-Cyrl") || r.err.contains("sq, sr-Latn, sr-Cyrl, en"), "\(r.err)")
        r = await cli.run("report", "annual", "--year", "2026", "--time-zone", "Mars/Olympus")
        #expect(r.status == 2)
    }

    /// `--lang`: the whole report in that language; the CSV keeps its machine header (stable for
    /// the statistics office in every language) and translates only the label column.
    @Test func theAnnualReportInEachLanguage() async throws {
        let db = try await TestDatabase.make()
        let cli = CapturedCLI(databaseURL: db.url)
        var r = await cli.run("report", "annual", "--year", "2026", "--lang", "sq")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("<html lang=\"sq\">"))
        #expect(r.out.contains("Raporti vjetor për trafikimin me njerëz"))
        #expect(r.out.contains("1.1.2026 00:00 CET"), "dates as Albanian writes them")
        #expect(!r.out.contains("Annual report on trafficking"))
        r = await cli.run("report", "annual", "--year", "2026", "--lang", "sr-Cyrl", "--format", "json")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains(#""language":"sr-Cyrl""#))
        #expect(r.out.contains("Годишњи извештај о трговини људима"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        r = await cli.run(
            "report", "annual", "--year", "2026", "--format", "csv", "--out", dir.path, "--lang", "sr-Latn")
        #expect(r.status == 0, "\(r.err)")
        let csv = try String(contentsOf: dir.appendingPathComponent("victims-by-sex.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("code,label,identified 2026,identified 2025,identified change,"))
        #expect(csv.contains("\r\nfemale,Ženski,<5,<5,,"))
    }
}
