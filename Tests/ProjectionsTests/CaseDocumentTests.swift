import Testing

@testable import Projections

/// Filling a stored case document's left-out statuses (`CaseDocument.filled`).
@Suite struct CaseDocumentTests {
    let body = Array(#"{"a":[{"status":},{"status":"met"},{"status":}]}"#.utf8)

    @Test func statusesGoWhereTheCutsAre() throws {
        let first = try #require(body.firstIndex(of: UInt8(ascii: "}")))
        let last = try #require(body.lastIndex(of: UInt8(ascii: "}")).map { $0 - 2 })
        let json = try #require(
            CaseDocument.filled(body: body, cuts: [first, last], statuses: ["pending", "overdue"]))
        #expect(
            String(decoding: json, as: UTF8.self)
                == #"{"a":[{"status":"pending"},{"status":"met"},{"status":"overdue"}]}"#)
        #expect(CaseDocument.filled(body: Array("{}".utf8), cuts: [], statuses: []) == Array("{}".utf8))
    }

    @Test func cutsThatDoNotFitAreRefused() {
        #expect(CaseDocument.filled(body: body, cuts: [3], statuses: []) == nil)
        #expect(CaseDocument.filled(body: body, cuts: [], statuses: ["pending"]) == nil)
        #expect(CaseDocument.filled(body: body, cuts: [10, 5], statuses: ["pending", "pending"]) == nil)
        #expect(CaseDocument.filled(body: body, cuts: [body.count + 1], statuses: ["pending"]) == nil)
        #expect(CaseDocument.filled(body: body, cuts: [-1], statuses: ["pending"]) == nil)
    }
}
