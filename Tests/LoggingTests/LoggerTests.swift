import Logging
import Testing

@Suite("Logger")
struct LoggerTests {
    @Test func aLineBelowTheLevelIsNeverBuilt() {
        let capture = LogCapture()
        let logger = Logger(label: "test", sink: capture, logLevel: .warning)
        nonisolated(unsafe) var built = 0
        func expensive() -> String {
            built += 1
            return "expensive"
        }
        logger.debug("\(expensive())", metadata: ["n": .string(expensive())])
        logger.info("\(expensive())")
        #expect(built == 0)
        logger.warning("\(expensive())")
        #expect(built == 1)
        #expect(capture.records.map(\.message) == ["expensive"])
        #expect(capture.records.first?.level == .warning)
    }

    @Test func metadataOfTheLineWinsOverTheLoggers() {
        let capture = LogCapture()
        var logger = Logger(label: "projector", sink: capture, logLevel: .trace)
        logger[metadataKey: "projector"] = "cases"
        logger[metadataKey: "phase"] = "live"
        logger.info("batch", metadata: ["phase": "catch-up", "events": 12])
        let record = capture.records[0]
        #expect(record.metadata == ["projector": "cases", "phase": "catch-up", "events": 12])
        #expect(record.label == "projector")
    }

    @Test func jsonLinesAreOneObjectWithSortedKeysAndEscapedValues() {
        let record = LogRecord(
            timestamp: (1_764_417_600, 123_456_789), level: .error, label: "http", message: "line\nbreak \"q\"",
            metadata: ["z": 1, "a": "x\u{1}y", "msg": "shadow", "ok": true, "ms": 1.5])
        let line = LogFormat.json.line(record)
        #expect(
            line
                == #"{"ts":"2025-11-29T12:00:00.123Z","level":"error","logger":"http","msg":"line\nbreak \"q\"","#
                + #""a":"x\u0001y","ms":1.5,"_msg":"shadow","ok":true,"z":1}"# + "\n")
        #expect(line.filter { $0 == "\n" }.count == 1)
    }

    @Test func textLinesQuoteSpacesAndEscapeControlCharacters() {
        let record = LogRecord(
            timestamp: (0, 0), level: .info, label: "service", message: "request\nforged line",
            metadata: ["route": "/v1/cases/{caseId}", "user": "a b", "bad": "x\r\ny=1"])
        let line = LogFormat.text.line(record)
        #expect(
            line
                == #"1970-01-01T00:00:00.000Z info    service: request\nforged line bad="x\r\ny=1" route=/v1/cases/{caseId} user="a b""#
                + "\n")
        #expect(line.filter { $0 == "\n" }.count == 1)
    }

    @Test func levelsAreNamedAsTheCommandLineTakesThem() {
        #expect(LogLevel(name: "debug") == .debug)
        #expect(LogLevel(name: "warn") == .warning)
        #expect(LogLevel(name: "loud") == nil)
        #expect(LogLevel.allCases.allSatisfy { LogLevel(name: $0.description) == $0 })
        #expect(LogLevel.debug < LogLevel.info)
    }

    @Test func theCauseOfAnUnknownErrorIsItsTypeOnly() {
        struct Secretive: Error, CustomStringConvertible {
            var description: String { "hnd_secret-token-value" }
        }
        struct Coded: LoggableError {
            var logMetadata: LogMetadata { ["sqlstate": "57014"] }
        }
        let plain = LogMetadata.cause(Secretive())
        #expect(plain.count == 1)
        #expect(plain["error_type"]?.description.hasSuffix("Secretive") == true)
        #expect(!plain.values.contains { $0.description.contains("hnd_") })
        #expect(LogMetadata.cause(Coded())["sqlstate"] == "57014")
    }
}
