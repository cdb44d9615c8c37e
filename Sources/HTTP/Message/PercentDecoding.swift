/// Percent-decoding (RFC 3986 §2.1) of path segments and query components.
enum PercentDecoding {
    /// Decodes `%XX` escapes (and, for query components, `+` as a space).
    /// Returns `nil` for a malformed escape or a result that is not valid UTF-8.
    static func decode(_ bytes: some Collection<UInt8>, plusIsSpace: Bool) -> String? {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(ASCII.hexValue),
                    let low = iterator.next().flatMap(ASCII.hexValue)
                else { return nil }
                output.append(high << 4 | low)
            case UInt8(ascii: "+") where plusIsSpace:
                output.append(ASCII.space)
            default:
                output.append(byte)
            }
        }
        return String(validating: output, as: UTF8.self)
    }
}
