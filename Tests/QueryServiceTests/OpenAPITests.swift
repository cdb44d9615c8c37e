import Foundation
import Testing

@Suite("docs/openapi.yaml")
struct OpenAPITests {
    /// Every route the service registers is described (the document itself is checked with
    /// `openapi-spec-validator`).
    @Test func describesEveryRoute() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        #expect(text.hasPrefix("openapi: 3.1"))
        let routes: [(String, String)] = [
            ("get", "/livez"), ("get", "/readyz"), ("get", "/health"), ("get", "/metrics"),
            ("post", "/v1/cases/{caseId}/events"),
            ("get", "/v1/cases/{caseId}"),
            ("get", "/v1/cases/{caseId}/history"), ("get", "/v1/cases/{caseId}/verify"), ("get", "/v1/deadlines"),
            ("get", "/v1/inbox"), ("get", "/v1/stats"), ("get", "/v1/events"), ("get", "/v1/events/stream"),
            ("put", "/v1/subscriptions/{name}"), ("delete", "/v1/subscriptions/{name}"),
            ("get", "/v1/subscriptions/{name}/events"),
            ("post", "/v1/subscriptions/{name}/ack"), ("get", "/v1/audit/access"),
        ]
        for (method, path) in routes {
            guard let range = text.range(of: "\n  \(path):\n") else {
                Issue.record("\(path) is missing")
                continue
            }
            let rest = text[range.upperBound...]
            let block = rest.prefix { _ in true }.components(separatedBy: "\n  /").first ?? ""
            #expect(block.contains("    \(method):"), "\(method) \(path)")
        }
        for code in [
            "unauthorized", "forbidden", "not_found", "invalid_json", "invalid_event", "wrong_expected_version",
            "duplicate_event_id", "payload_too_large", "unsupported_media_type", "bad_request", "unavailable",
        ] {
            #expect(text.contains("- \(code)\n"), "\(code)")
        }
    }
}
