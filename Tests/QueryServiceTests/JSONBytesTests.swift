import Foundation
import Referrals
import Testing

@testable import QueryService

@Suite("JSONBytes")
struct JSONBytesTests {
    @Test func writesNestedContainersWithCommasAndEscapes() throws {
        let hostile = "a\"b\\c\n\r\t\u{08}\u{0C}\u{01}\u{1F}é 🚀 </script>"
        var w = JSONBytes()
        w.beginObject()
        w.member("s", hostile)
        w.member("none", nil)
        w.key("list")
        w.beginArray()
        w.number(-3)
        w.bool(true)
        w.bool(false)
        w.null()
        w.beginObject()
        w.endObject()
        w.beginArray()
        w.endArray()
        w.string("")
        w.endArray()
        w.key("empty")
        w.beginObject()
        w.endObject()
        w.endObject()
        let parsed = try JSONValue.parse(w.bytes)
        let expected: JSONValue = [
            "s": .string(hostile), "none": nil, "list": [-3, true, false, nil, [:], [], ""], "empty": [:],
        ]
        #expect(parsed == expected)
        let text = String(decoding: w.bytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"s":"a\"b\\c\n\r\t\b\f\u0001\u001f"#))
        #expect(!text.contains("\n"))
    }
}

@Suite("UUID from PostgreSQL text")
struct PostgresUUIDTests {
    @Test func parsesTheCanonicalFormOnly() {
        for _ in 0..<100 {
            let id = UUID()
            #expect(UUID(postgresText: id.uuidString.lowercased()) == id)
            #expect(UUID(postgresText: id.uuidString) == id)
        }
        let good = "c03fbaef-a884-42fd-88bb-c08ddd596fe7"
        #expect(UUID(postgresText: good) == UUID(uuidString: good))
        for bad in [
            "", "c03fbaef-a884-42fd-88bb-c08ddd596fe", "c03fbaefa88442fd88bbc08ddd596fe7",
            "g03fbaef-a884-42fd-88bb-c08ddd596fe7",
            "c03fbaef-a884-42fd-88bb_c08ddd596fe7", "{03fbaef-a884-42fd-88bb-c08ddd596fe7",
        ] {
            #expect(UUID(postgresText: bad) == nil, "\(bad)")
        }
    }
}
