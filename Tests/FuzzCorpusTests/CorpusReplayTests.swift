import Foundation
import FuzzChecks
import Testing

/// Replays the checked-in fuzz corpora (`Fuzz/corpus/`) through the fuzzers' checks, so an
/// input that once crashed or broke an invariant keeps being tested in the normal `swift test`.
@Suite struct CorpusReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus")

    static func replay(_ folder: String, _ check: ([UInt8]) throws(InvariantViolation) -> Void) throws {
        let files = try CorpusReplay.files(at: corpus.appendingPathComponent(folder).path)
        #expect(!files.isEmpty, "no corpus files in Fuzz/corpus/\(folder)")
        for file in files {
            let input = try [UInt8](Data(contentsOf: file))
            #expect(throws: Never.self, "\(folder)/\(file.lastPathComponent)") { try check(input) }
        }
    }

    @Test func httpParserCorpus() throws {
        try Self.replay("http", HTTPParserFuzzing.check)
    }

    @Test func eventValidationCorpus() throws {
        try Self.replay("event", EventValidationFuzzing.check)
    }

    @Test func rulesetCorpus() throws {
        try Self.replay("ruleset", RulesetFuzzing.check)
    }
}
