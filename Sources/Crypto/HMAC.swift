// HMAC-SHA-256 as specified in RFC 2104 (test vectors: RFC 4231), on this module's SHA256.
//
//     let mac = HMACSHA256.authenticationCode(for: message, key: key)    // 32 bytes
//
// or incremental: `var h = HMACSHA256(key: key); h.update(part1); h.update(part2); h.finalize()`.
// Handoff derives the ids of system events with it (docs/system-events.md).

/// HMAC with SHA-256: `H((K' ⊕ opad) ‖ H((K' ⊕ ipad) ‖ message))`, where `K'` is the key padded
/// with zeros to SHA-256's 64-byte block, or the SHA-256 digest of the key when the key is longer
/// than a block (RFC 2104 §2).
public struct HMACSHA256: Sendable {
    /// Length of an authentication code in bytes.
    public static let byteCount = SHA256.digestByteCount

    private var inner = SHA256()
    private var outer = SHA256()

    /// Starts an authentication code under `key` (any length; a key longer than 64 bytes is
    /// hashed first, as RFC 2104 says; RFC 2104 recommends at least 32 bytes).
    public init(key: [UInt8]) {
        var block = key.count > SHA256.blockByteCount ? SHA256.hash(key) : key
        block += [UInt8](repeating: 0, count: SHA256.blockByteCount - block.count)
        inner.update(block.map { $0 ^ 0x36 })
        outer.update(block.map { $0 ^ 0x5c })
    }

    /// Feeds message bytes.
    public mutating func update(_ bytes: [UInt8]) { inner.update(bytes) }

    /// Feeds the UTF-8 encoding of a string.
    public mutating func update(utf8 string: String) { inner.update(utf8: string) }

    /// Feeds any sequence of bytes.
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 { inner.update(bytes) }

    /// The 32-byte authentication code of everything fed so far. Does not change `self`.
    public func finalize() -> [UInt8] {
        var o = outer
        o.update(inner.finalize())
        return o.finalize()
    }

    /// One-shot authentication code of `message` under `key`.
    public static func authenticationCode(for message: [UInt8], key: [UInt8]) -> [UInt8] {
        var h = HMACSHA256(key: key)
        h.update(message)
        return h.finalize()
    }

    /// Whether `code` is the authentication code of `message` under `key`, compared in time that
    /// does not depend on where the bytes differ. A truncated code (at least 16 bytes, RFC 4231
    /// §4.6) is checked against the same number of leading bytes.
    public static func isValid(_ code: [UInt8], for message: [UInt8], key: [UInt8]) -> Bool {
        guard code.count >= 16, code.count <= byteCount else { return false }
        return constantTimeEquals(code, Array(authenticationCode(for: message, key: key).prefix(code.count)))
    }
}

/// Whether two byte strings are equal, in time that depends only on their lengths (for comparing
/// secrets and authentication codes; `==` stops at the first difference).
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in a.indices { difference |= a[i] ^ b[i] }
    return difference == 0
}
