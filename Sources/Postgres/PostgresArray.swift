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
            guard let v = value else {
                out += "NULL".utf8
                continue
            }
            out.append(UInt8(ascii: "\""))
            for byte in v.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
