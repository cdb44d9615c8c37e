/// The id that ties a request's log line to its response: the `X-Request-Id` header.
///
/// A client's (or proxy's) id is kept when it is sane — 1 to ``maximumLength`` characters of
/// `A-Z a-z 0-9 - _ . :`, holding no credential's prefix — so that a request can be followed
/// across systems; anything else (too long, empty, spaces, slashes, control characters, quotes,
/// non-ASCII, `token:hnd_…`) is replaced by a fresh random id, so that nothing a client sends
/// lands unfiltered in a log line or a header, and a client that put its credential there does
/// not get it logged.
public enum RequestID {
    /// The header that carries the id, in requests and in every response.
    public static let header = "X-Request-Id"
    /// The longest id accepted from a client.
    public static let maximumLength = 64
    /// How the service's credentials begin — API tokens (`hnd_`) and dashboard session ids
    /// (`hds_`): an id holding one anywhere, in any case, is replaced.
    public static let credentialPrefixes = ["hnd_", "hds_"]

    /// The request's own id when sane, else a new one.
    public static func of(_ request: HTTPRequest) -> String {
        accepting(request.headers[header])
    }

    /// `candidate` when sane, else a new id.
    public static func accepting(_ candidate: String?) -> String {
        if let candidate, isSane(candidate) { return candidate }
        return generate()
    }

    /// Whether a client's id may be used as it is.
    public static func isSane(_ candidate: String) -> Bool {
        let bytes = candidate.utf8
        guard (1...maximumLength).contains(bytes.count) else { return false }
        let allowed = bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: ":"):
                true
            default: false
            }
        }
        guard allowed else { return false }
        let folded = candidate.lowercased()
        return !credentialPrefixes.contains { folded.contains($0) }
    }

    /// A new id: 128 random bits as 32 lowercase hex digits.
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for _ in 0..<2 {
            let word = rng.next()
            for shift in stride(from: 60, through: 0, by: -4) {
                out.append(digits[Int((word >> UInt64(shift)) & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
