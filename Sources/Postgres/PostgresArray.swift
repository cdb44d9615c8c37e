/// Encodes Swift arrays as PostgreSQL array literals for a bind parameter (`$1::text[]`).
public enum PostgresArray {
    /// `{"a","b"}` with every element quoted and escaped, so any text is safe.
    public static func text(_ values: [String]) -> String {
        optionalText(values)
    }

    /// Like `text`, with nil elements as SQL NULL.
    public static func optionalText(_ values: [String?]) -> String {
        // Works on UTF-8 bytes: `"` and `\` are single bytes that never occur inside a multi-byte
        // sequence, so escaping byte-wise is exact (and much cheaper than appending scalars).
        var out: [UInt8] = []
        out.reserveCapacity(values.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        out.append(UInt8(ascii: "{"))
        for (i, value) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            guard var v = value else {
                out += "NULL".utf8
                continue
            }
            v.withUTF8 { appendQuoted($0, to: &out) }
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `bytes` (UTF-8) as one quoted element of an array literal: `"` and `\` escaped with
    /// a backslash. `"` and `\` are single bytes that never occur inside a multi-byte sequence, so
    /// escaping byte-wise is exact; the runs between them are copied whole.
    public static func appendQuoted(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        out.append(quote)
        var start = 0
        for i in 0..<bytes.count where bytes[i] == quote || bytes[i] == backslash {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
            out.append(backslash)
            start = i
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]))
        out.append(quote)
    }
}
