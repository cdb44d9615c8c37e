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
