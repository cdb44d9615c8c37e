/// Encodes Swift arrays as PostgreSQL array literals for a bind parameter (`$1::text[]`).
public enum PostgresArray {
    /// `{"a","b"}` with every element quoted and escaped, so any text is safe.
    public static func text(_ values: [String]) -> String {
        optionalText(values)
    }

    /// Like `text`, with nil elements as SQL NULL.
    public static func optionalText(_ values: [String?]) -> String {
        var out = "{"
        for (i, value) in values.enumerated() {
            if i > 0 { out += "," }
            guard let v = value else {
                out += "NULL"
                continue
            }
            out += "\""
            for ch in v.unicodeScalars {
                if ch == "\"" || ch == "\\" { out += "\\" }
                out.unicodeScalars.append(ch)
            }
            out += "\""
        }
        return out + "}"
    }
}
