import Foundation
import HTTP
import HandoffTestSupport
import Referrals
import Testing

@testable import QueryService

/// `GET /reports/annual` on the dashboard: who may read it, what it refuses, and that the page
/// keeps the dashboard's CSP (no script, no inline style, charts as inline SVG).
@Suite("Annual report route", .serialized)
struct AnnualReportRouteTests {
    @Test func coordinatorsAndAuditorsGetThePrintableReportOthersAreRefused() async throws {
        let h = try await DashboardTests.projectedHarness()
        defer { Task { await h.stop() } }
        try await DashboardTests.seedCases(h)
        let year = Timestamp.year(of: Date().addingTimeInterval(-21 * 86_400), timeZone: "Europe/Belgrade")

        let page = try await DashboardTests.page(h.api, "/reports/annual?year=\(year)", token: h.token("natc"))
        #expect(page.status == 200)
        #expect(page.header("Content-Security-Policy") == DashboardLayout.contentSecurityPolicy)
        #expect(page.header("Content-Type") == "text/html; charset=utf-8")
        #expect(!page.text.contains("<script"))
        #expect(!page.text.contains("style="))
        #expect(!page.text.contains("<style"))
        #expect(!page.text.contains("http://") || !page.text.contains("src=\"http"))
        #expect(page.text.contains("<link rel=\"stylesheet\" href=\"/assets/report.css\">"))
        for chart in ["exploitation", "compliance", "acknowledge"] {
            #expect(page.text.contains("id=\"chart-\(chart)\""), "chart \(chart)")
            #expect(page.text.contains("<title id=\"chart-\(chart)-title\">"), "chart \(chart) has a title")
            #expect(page.text.contains("<desc id=\"chart-\(chart)-desc\">"), "chart \(chart) has a text alternative")
        }
        #expect(page.text.contains("id=\"table-cases-by-identification\""))
        #expect(page.text.contains("Europe/Belgrade"))
        // Two cases: every count is small, so the coordinator sees <5 and no figure of 1 or 2.
        #expect(page.text.contains("<td class=\"withheld\">&lt;5</td>"))

        let audit = try await DashboardTests.page(h.api, "/reports/annual?year=\(year)", token: h.token("audit"))
        #expect(audit.status == 200)
        #expect(!audit.text.contains("&lt;5"), "auditors see every count")
        #expect(audit.text.contains("<td>2</td>"))

        let institution = try await DashboardTests.page(
            h.api, "/reports/annual?year=\(year)", token: h.token("kp-dthb"))
        #expect(institution.status == 403)
        #expect(!institution.text.contains("table-cases-by-identification"))

        let anonymous = try await DashboardTests.page(h.api, "/reports/annual?year=\(year)", token: nil)
        #expect(anonymous.status == 303)
        #expect(anonymous.header("Location") == "/login")

        for bad in [
            "", "?year=abc", "?year=+123", "?year=20255", "?year=0999", "?year=\(year)&lang=de",
            "?year=\(year)&lang=%3Cscript%3E",
        ] {
            let reply = try await DashboardTests.page(h.api, "/reports/annual\(bad)", token: h.token("natc"))
            #expect(reply.status == 400, "\(bad)")
            #expect(!reply.text.contains("<script>"))
        }
        let css = try await h.api.request("GET", "/assets/report.css", headers: [])
        #expect(css.status == 200)
        #expect(css.header("Content-Type") == "text/css; charset=utf-8")
        #expect(css.text.contains("@media print"))
    }
}
