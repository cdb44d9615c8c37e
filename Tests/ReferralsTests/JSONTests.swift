import Foundation
import Testing

@testable import Referrals

@Suite struct JSONTests {
    static let valid: [(String, JSONValue)] = [
        ("null", JSONValue.null),
        ("true", .bool(true)),
        (
            " [1, -0, 2.5e-3, \"a\"] ",
            [1, .number(JSONNumber(validatedLiteral: "-0")), .number(JSONNumber(validatedLiteral: "2.5e-3")), "a"]
        ),
        (#"{"a":{"b":[]},"c":"\u00e9\ud83d\ude00"}"#, ["a": ["b": []], "c": "é😀"]),
        ("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", .string("\"\\/\u{8}\u{c}\n\r\t")),
    ]

    @Test(arguments: valid)
    func parsesValidJSON(text: String, expected: JSONValue) throws {
        #expect(try JSONValue.parse(text) == expected)
    }

    @Test func integersRoundTripExactly() throws {
        let text = #"{"version":12345678901234567,"days":90,"x":-1.50E+10}"#
        let value = try JSONValue.parse(text)
        #expect(value.serializedString() == text)
        #expect(value["days"]?.numberValue?.intValue == 90)
        #expect(value["version"]?.numberValue?.intValue == 12_345_678_901_234_567)
        #expect(value["x"]?.numberValue?.intValue == nil)
        #expect(value["x"]?.numberValue?.doubleValue == -1.5e10)
    }

    @Test func keepsKeyOrderAndSortsOnRequest() throws {
        let value = try JSONValue.parse(#"{"b":1,"a":{"d":2,"c":3},"é":0,"Z":4}"#)
        #expect(value.serializedString() == #"{"b":1,"a":{"d":2,"c":3},"é":0,"Z":4}"#)
        #expect(value.serializedString(sortedKeys: true) == #"{"Z":4,"a":{"c":3,"d":2},"b":1,"é":0}"#)
    }

    @Test func serializerEscapes() throws {
        let value: JSONValue = .string("a\"b\\c\n\u{1}\u{7f}é")
        #expect(value.serializedString() == "\"a\\\"b\\\\c\\n\\u0001\u{7f}é\"")
        #expect(try JSONValue.parse(value.serializedString()) == value)
    }

    static let hostile: [(String, [UInt8])] = [
        ("empty", []),
        ("whitespace only", Array("  \n".utf8)),
        ("trailing garbage", Array("{} x".utf8)),
        ("two values", Array("1 2".utf8)),
        ("leading zero", Array("01".utf8)),
        ("negative leading zero", Array("-01".utf8)),
        ("bare minus", Array("-".utf8)),
        ("dot without digits", Array("1.".utf8)),
        ("leading dot", Array(".5".utf8)),
        ("plus sign", Array("+1".utf8)),
        ("empty exponent", Array("1e".utf8)),
        ("exponent sign only", Array("1e+".utf8)),
        ("overflow", Array("1e400".utf8)),
        ("NaN", Array("NaN".utf8)),
        ("Infinity", Array("Infinity".utf8)),
        ("hex", Array("0x10".utf8)),
        ("single quotes", Array("'a'".utf8)),
        ("unterminated string", Array("\"abc".utf8)),
        ("control character", Array("\"a\u{1}b\"".utf8)),
        ("raw newline in string", Array("\"a\nb\"".utf8)),
        ("unknown escape", Array(#""\x41""#.utf8)),
        ("short unicode escape", Array(#""\u12""#.utf8)),
        ("bad hex", Array(#""\u12G4""#.utf8)),
        ("lone high surrogate", Array(#""\ud800""#.utf8)),
        ("high surrogate then text", Array(#""\ud800abc""#.utf8)),
        ("high surrogate with non-low", Array(#""\ud800\u0041""#.utf8)),
        ("lone low surrogate", Array(#""\udc00""#.utf8)),
        ("invalid UTF-8 byte", [0x22, 0xFF, 0x22]),
        ("overlong slash", [0x22, 0xC0, 0xAF, 0x22]),
        ("overlong 3-byte", [0x22, 0xE0, 0x80, 0xAF, 0x22]),
        ("UTF-8 surrogate", [0x22, 0xED, 0xA0, 0x80, 0x22]),
        ("beyond U+10FFFF", [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]),
        ("truncated sequence", [0x22, 0xE2, 0x82]),
        ("bad continuation", [0x22, 0xE2, 0x28, 0xA1, 0x22]),
        ("BOM", [0xEF, 0xBB, 0xBF] + Array("{}".utf8)),
        ("duplicate key", Array(#"{"a":1,"a":2}"#.utf8)),
        ("duplicate escaped key", Array(#"{"a":1,"\u0061":2}"#.utf8)),
        ("trailing comma object", Array(#"{"a":1,}"#.utf8)),
        ("trailing comma array", Array("[1,]".utf8)),
        ("missing colon", Array(#"{"a" 1}"#.utf8)),
        ("unquoted key", Array("{a:1}".utf8)),
        ("unclosed array", Array("[1".utf8)),
        ("unclosed object", Array("{".utf8)),
        ("truncated literal", Array("tru".utf8)),
        ("capital literal", Array("True".utf8)),
        ("comment", Array("[1 /* c */]".utf8)),
        ("NUL byte", [0x00]),
        ("vertical tab whitespace", Array("\u{b}1".utf8)),
        ("too deep", Array(String(repeating: "[", count: 65).utf8) + Array(String(repeating: "]", count: 65).utf8)),
        ("very deep", Array(String(repeating: "[", count: 100_000).utf8)),
        (
            "deep objects",
            Array(String(repeating: #"{"a":"#, count: 70).utf8) + [0x31] + Array(String(repeating: "}", count: 70).utf8)
        ),
    ]

    @Test(arguments: hostile)
    func rejectsHostileInput(name: String, bytes: [UInt8]) {
        do {
            _ = try JSONValue.parse(bytes)
            Issue.record("accepted \(name)")
        } catch {
            #expect(error.code == .invalidJSON)
            #expect(error.message.contains("at byte"))
        }
    }

    @Test func depthLimitIsExact() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSONValue.parse(ok) }
        #expect(throws: ReferralsError.self) { try JSONValue.parse(ok, maxDepth: 63) }
    }

    @Test func acceptsLargeFlatInput() throws {
        let big = "[" + Array(repeating: "1", count: 200_000).joined(separator: ",") + "]"
        #expect(try JSONValue.parse(big).arrayValue?.count == 200_000)
    }

    /// Random bytes and mutations of valid documents: the parser must never trap, and whatever it
    /// accepts must survive a serialize/parse round trip.
    @Test func survivesRandomAndMutatedInput() throws {
        var rng = SplitMix64(seed: 42)
        let seeds = [
            Array(
                #"{"type":"ReferralIssued","data":{"referralId":"R-1","to":"opav"},"n":[1,2.5,-3e2,true,null,"\u00e9"]}"#
                    .utf8),
            Array("[[[[{}]]]]".utf8),
        ]
        let alphabet =
            Array(#"{}[]:,"\ u0123456789abcdefEe+-.tfnrl"#.utf8) + [
                0x00, 0x1F, 0x7F, 0x80, 0xBF, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xFF,
            ]
        for i in 0..<20_000 {
            var bytes: [UInt8]
            if i % 3 == 0 {
                bytes = (0..<Int.random(in: 0..<40, using: &rng)).map { _ in rng.pick(alphabet) }
            } else {
                bytes = rng.pick(seeds)
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let position = Int.random(in: 0...bytes.count, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: bytes.insert(rng.pick(alphabet), at: position)
                    case 1 where position < bytes.count: bytes.remove(at: position)
                    default: if position < bytes.count { bytes[position] = rng.pick(alphabet) }
                    }
                }
            }
            if let value = try? JSONValue.parse(bytes) {
                #expect(try JSONValue.parse(value.serialized()) == value)
            }
        }
    }

    @Test func mergePatchesObjects() {
        let base: JSONValue = ["a": 1, "p": ["x": 1, "y": 2]]
        #expect(base.merging(["p": ["y": 3], "b": true]) == ["a": 1, "p": ["x": 1, "y": 3], "b": true])
    }
}

@Suite struct TimeTests {
    @Test func parsesAndFormatsTimestamps() throws {
        let date = try #require(Timestamp.parse("2026-11-22T10:00:00Z"))
        #expect(Timestamp.format(date) == "2026-11-22T10:00:00Z")
        #expect(Timestamp.parse("2026-11-22T12:00:00+02:00") == date)
        #expect(Timestamp.format(Timestamp.parse("2026-11-22T10:00:00.25Z")!) == "2026-11-22T10:00:00.250Z")
        #expect(Timestamp.parse("2024-02-29T00:00:00Z") != nil)
        for bad in [
            "2023-02-29T00:00:00Z", "2026-11-22T10:00:00", "2026-11-22 10:00:00Z", "2026-13-01T00:00:00Z",
            "2026-11-22T24:00:00Z", "2026-11-22T10:00:60Z", "2026-11-22T10:00:00.Z", "", "x",
        ] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
        #expect(Timestamp.parseDate("2014-01-01").map(Timestamp.format) == "2014-01-01T00:00:00Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -62_167_219_200)) == "0000-01-01T00:00:00Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 253_402_300_800)) == "10000-01-01T00:00:00Z")
    }

    /// The formatter writes what the calendar arithmetic says, digit for digit, at random instants
    /// with and without milliseconds (an instant given in milliseconds prints those milliseconds,
    /// though a Double holds it a hair under), and round-trips through the parser.
    @Test func formatsEveryFieldOfRandomInstants() throws {
        var generator = SystemRandomNumberGenerator()
        for k in 0..<20_000 {
            // Whole seconds across years 1–9999; milliseconds in 1900–2100, where a Double holds
            // an instant to well under a microsecond (in year 9000 its step is 30 µs).
            let whole: Int64
            if k % 3 == 0 {
                let millis = Int64.random(in: -62_135_596_800_000...253_402_300_799_999, using: &generator)
                whole = millis - ((millis % 1000) + 1000) % 1000
            } else {
                whole = Int64.random(in: -2_208_988_800_000...4_102_444_799_999, using: &generator)
            }
            let date = Date(timeIntervalSince1970: Double(whole) / 1000)
            let text = Timestamp.format(date)
            let fraction = (whole % 1000 + 1000) % 1000
            let seconds = (whole - fraction) / 1000
            let days = Int(Timestamp.floorDiv(seconds, 86_400))
            let secondOfDay = Int(seconds - Int64(days) * 86_400)
            let (y, m, d) = Timestamp.civilFromDays(days)
            var expected = String(
                format: "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, secondOfDay / 3600, secondOfDay / 60 % 60,
                secondOfDay % 60)
            if fraction != 0 { expected += String(format: ".%03d", Int(fraction)) }
            #expect(text == expected + "Z")
            #expect(Timestamp.parse(text).map(Timestamp.format) == text)
        }
    }

    static let durations: [(String, Double)] = [
        ("PT24H", 86_400.0), ("PT2H", 7200), ("P30D", 2_592_000), ("P2W", 1_209_600), ("P1DT2H3M4S", 93_784),
        ("PT90M", 5400),
    ]

    @Test(arguments: durations)
    func parsesDurations(text: String, seconds: Double) throws {
        let duration = try #require(ISODuration(text))
        #expect(duration.fixedSeconds == seconds)
        #expect(ISODuration(duration.description) == duration)
    }

    @Test(arguments: [
        "", "P", "PT", "P1", "PT1D", "P1H", "P-1D", "P1.5D", "P1D2H", "P1M1Y", "PT1S1M", "p1d", "P1DT", "P1D ",
        "P99999999D", "P1DT1H1H",
    ])
    func rejectsBadDurations(text: String) {
        #expect(ISODuration(text) == nil)
    }

    @Test func calendarDurationsClampTheDay() throws {
        let jan31 = try #require(Timestamp.parse("2024-01-31T10:00:00Z"))
        #expect(Timestamp.format(ISODuration("P1M")!.added(to: jan31)) == "2024-02-29T10:00:00Z")
        #expect(Timestamp.format(ISODuration("P1Y1D")!.added(to: jan31)) == "2025-02-01T10:00:00Z")
    }
}
