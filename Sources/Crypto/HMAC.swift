// HMAC as specified in RFC 2104, over this module's SHA256 (test vectors: RFC 4231) or SHA1 (RFC 2202).
//
//     let mac = HMACSHA256.authenticationCode(for: message, key: key)    // 32 bytes
//
// or incremental: `var h = HMACSHA256(key: key); h.update(part1); h.update(part2); h.finalize()`.
// Handoff derives the ids of system events with it (docs/system-events.md).

/// A hash function HMAC can be built on: incremental, with a 64-byte-or-so block (``SHA256``, ``SHA1``).
public protocol HMACHash: Sendable {
    /// Length of a digest in bytes.
    static var digestByteCount: Int { get }
    /// Length of a message block in bytes: HMAC pads its key to it.
    static var blockByteCount: Int { get }
    init()
    /// Feeds message bytes.
    mutating func update(_ bytes: [UInt8])
    /// The digest of everything fed so far, without changing the hash.
    func finalize() -> [UInt8]
}

extension SHA256: HMACHash {}

/// HMAC over `Hash` (RFC 2104): `H((K' ⊕ opad) ‖ H((K' ⊕ ipad) ‖ message))`, where `K'` is the key
/// padded with zeros to the hash's block, or the hash of the key when the key is longer than a block.
/// Use it as ``HMACSHA256`` or ``HMACSHA1``.
public struct HMAC<Hash: HMACHash>: Sendable {
    /// Length of an authentication code in bytes.
    public static var byteCount: Int { Hash.digestByteCount }

    private var inner = Hash()
    private var outer = Hash()

    /// Starts an authentication code under `key` (any length; a key longer than a block is hashed
    /// first, as RFC 2104 says; RFC 2104 recommends at least the digest's length).
    public init(key: [UInt8]) {
        var block = key
        if key.count > Hash.blockByteCount {
            var h = Hash()
            h.update(key)
            block = h.finalize()
        }
        block += [UInt8](repeating: 0, count: Hash.blockByteCount - block.count)
        inner.update(block.map { $0 ^ 0x36 })
        outer.update(block.map { $0 ^ 0x5c })
    }

    /// Feeds message bytes.
    public mutating func update(_ bytes: [UInt8]) { inner.update(bytes) }

    /// Feeds the UTF-8 encoding of a string.
    public mutating func update(utf8 string: String) { inner.update(Array(string.utf8)) }

    /// Feeds any sequence of bytes.
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        inner.update(Array(bytes))
    }

    /// The authentication code of everything fed so far. Does not change `self`.
    public func finalize() -> [UInt8] {
        var o = outer
        o.update(inner.finalize())
        return o.finalize()
    }

    /// One-shot authentication code of `message` under `key`.
    public static func authenticationCode(for message: [UInt8], key: [UInt8]) -> [UInt8] {
        var h = Self(key: key)
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

/// HMAC with SHA-256 (test vectors: RFC 4231): system event ids, sealed keys.
public typealias HMACSHA256 = HMAC<SHA256>

/// Whether two byte strings are equal, in time that depends only on their lengths (for comparing
/// secrets and authentication codes; `==` stops at the first difference).
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in a.indices { difference |= a[i] ^ b[i] }
    return difference == 0
}
