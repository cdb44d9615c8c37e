// SHA-1 as specified in FIPS 180-4 (and RFC 3174), in pure Swift.
//
// SHA-1 is broken for collision resistance and is used here for one thing only: HMAC-SHA-1
// under TOTP (RFC 6238), the algorithm every authenticator app supports. HMAC's security does not
// rest on collision resistance (RFC 2104, RFC 6194 §3). Never use it for chains or ids.
//
//     var h = SHA1()
//     h.update(utf8: "abc")
//     h.finalize()          // 20 bytes: a9993e36…

/// SHA-1 (FIPS 180-4 §6.1), incremental. For HMAC-SHA-1 under TOTP only (see the file's note).
public struct SHA1: HMACHash {
    /// Length of a digest in bytes.
    public static let digestByteCount = 20
    /// Length of a message block in bytes.
    public static let blockByteCount = 64

    private var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0
    )
    private var buffer: [UInt8] = []
    private var byteCount: UInt64 = 0

    public init() { buffer.reserveCapacity(SHA1.blockByteCount) }

    /// Feeds any sequence of bytes.
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes {
            buffer.append(byte)
            byteCount &+= 1
            if buffer.count == SHA1.blockByteCount {
                compress(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Feeds a byte array.
    public mutating func update(_ bytes: [UInt8]) { update(bytes[...]) }

    /// Feeds the UTF-8 encoding of a string.
    public mutating func update(utf8 string: String) { update(string.utf8) }

    /// The 20-byte digest of everything fed so far. Does not change `self`.
    public func finalize() -> [UInt8] {
        var copy = self
        let bitLength = byteCount &* 8
        let count = buffer.count
        var padding = [UInt8](repeating: 0, count: count < 56 ? 56 - count : 120 - count)
        padding[0] = 0x80
        for shift in stride(from: 56, through: 0, by: -8) {
            padding.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }
        copy.update(padding)
        precondition(copy.buffer.isEmpty)
        var out: [UInt8] = []
        out.reserveCapacity(SHA1.digestByteCount)
        for word in [copy.h.0, copy.h.1, copy.h.2, copy.h.3, copy.h.4] {
            for shift in stride(from: 24, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: word >> UInt32(shift)))
            }
        }
        return out
    }

    /// One-shot digest.
    public static func hash<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var h = SHA1()
        h.update(bytes)
        return h.finalize()
    }

    @inline(__always)
    private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 &- n)) }

    /// Processes one 64-byte block (FIPS 180-4 §6.1.2).
    private mutating func compress(_ block: [UInt8]) {
        var w = [UInt32](repeating: 0, count: 80)
        for t in 0..<16 {
            w[t] =
                UInt32(block[t * 4]) << 24 | UInt32(block[t * 4 + 1]) << 16 | UInt32(block[t * 4 + 2]) << 8
                | UInt32(block[t * 4 + 3])
        }
        for t in 16..<80 { w[t] = SHA1.rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1) }
        var (a, b, c, d, e) = h
        for t in 0..<80 {
            let f: UInt32
            let k: UInt32
            switch t {
            case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
            case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
            case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
            default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
            }
            let temp = SHA1.rotl(a, 5) &+ f &+ e &+ k &+ w[t]
            e = d
            d = c
            c = SHA1.rotl(b, 30)
            b = a
            a = temp
        }
        h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
    }
}

/// HMAC with SHA-1 (RFC 2104; test vectors: RFC 2202): the MAC under TOTP (RFC 6238), nothing else.
public typealias HMACSHA1 = HMAC<SHA1>
