// SHA-256 as specified in FIPS 180-4, in pure Swift (no Foundation, no dependencies).
//
// Used for the per-stream hash chain and the checkpoint heads digest (docs/hash-chain.md), token
// hashes, migration checksums, and under HMAC-SHA-256 (HMAC.swift) for system event ids.
// Incremental:
//
//     var h = SHA256()
//     h.update(prevHash)
//     h.update(canonicalBytes)
//     let digest = h.finalize()          // 32 bytes
//
// or one-shot: `SHA256.hash(bytes)`. `SHA256.hex(digest)` / `digest.hexString` give lowercase hex;
// `SHA256.bytes(fromHex:)` / `[UInt8](hexString:)` decode hex and return nil on bad input.

public struct SHA256: Sendable {
    /// Length of a digest in bytes.
    public static let digestByteCount = 32
    /// Length of a message block in bytes.
    public static let blockByteCount = 64

    /// The eight working hash words H0…H7.
    @usableFromInline
    struct State: Sendable {
        var h0: UInt32 = 0x6a09_e667
        var h1: UInt32 = 0xbb67_ae85
        var h2: UInt32 = 0x3c6e_f372
        var h3: UInt32 = 0xa54f_f53a
        var h4: UInt32 = 0x510e_527f
        var h5: UInt32 = 0x9b05_688c
        var h6: UInt32 = 0x1f83_d9ab
        var h7: UInt32 = 0x5be0_cd19
    }

    private var state = State()
    /// Holds a partial block (fewer than 64 bytes) between updates.
    private var buffer: [UInt8]
    private var bufferCount = 0
    /// Total message length so far, in bytes.
    private var byteCount: UInt64 = 0

    public init() {
        buffer = [UInt8](repeating: 0, count: SHA256.blockByteCount)
    }

    // MARK: - Feeding bytes

    /// Feeds raw bytes; the fast path every other `update` ends in.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var remaining = bytes.count
        var p = base
        byteCount &+= UInt64(remaining)

        // Top up a partial block first.
        if bufferCount > 0 {
            let take = min(SHA256.blockByteCount - bufferCount, remaining)
            buffer.withUnsafeMutableBytes { buf in
                (buf.baseAddress! + bufferCount).copyMemory(from: p, byteCount: take)
            }
            bufferCount += take
            p += take
            remaining -= take
            if bufferCount == SHA256.blockByteCount {
                compressBuffer()
            } else {
                return
            }
        }
        // Whole blocks straight from the caller's memory.
        if remaining >= SHA256.blockByteCount {
            var s = state
            while remaining >= SHA256.blockByteCount {
                SHA256.compress(&s, p)
                p += SHA256.blockByteCount
                remaining -= SHA256.blockByteCount
            }
            state = s
        }
        // Keep the tail.
        if remaining > 0 {
            buffer.withUnsafeMutableBytes { buf in
                buf.baseAddress!.copyMemory(from: p, byteCount: remaining)
            }
            bufferCount = remaining
        }
    }

    /// Feeds a byte array.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Feeds the UTF-8 encoding of a string.
    public mutating func update(utf8 string: String) {
        var string = string
        string.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    /// Feeds any sequence of bytes. Contiguous collections (arrays, slices, `Data`-like
    /// buffers, native string UTF-8 views) take the fast path.
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let handled: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if handled != nil { return }
        for byte in bytes {
            buffer[bufferCount] = byte
            bufferCount += 1
            byteCount &+= 1
            if bufferCount == SHA256.blockByteCount { compressBuffer() }
        }
    }

    // MARK: - Result

    /// The 32-byte digest of everything fed so far. Does not change `self`: more bytes may be
    /// fed afterwards, and the digest then covers all of them.
    public func finalize() -> [UInt8] {
        var copy = self
        let bitLength = byteCount &* 8
        // Padding: 0x80, zeros up to 56 mod 64, then the bit length as a 64-bit big-endian number.
        var padding = [UInt8](repeating: 0, count: bufferCount < 56 ? 56 - bufferCount : 120 - bufferCount)
        padding[0] = 0x80
        for shift in stride(from: 56, through: 0, by: -8) {
            padding.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }
        copy.update(padding)
        precondition(copy.bufferCount == 0)
        let s = copy.state
        var out = [UInt8]()
        out.reserveCapacity(SHA256.digestByteCount)
        for word in [s.h0, s.h1, s.h2, s.h3, s.h4, s.h5, s.h6, s.h7] {
            out.append(UInt8(truncatingIfNeeded: word >> 24))
            out.append(UInt8(truncatingIfNeeded: word >> 16))
            out.append(UInt8(truncatingIfNeeded: word >> 8))
            out.append(UInt8(truncatingIfNeeded: word))
        }
        return out
    }

    /// One-shot digest of a byte array.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(bytes)
        return h.finalize()
    }

    /// One-shot digest of the UTF-8 encoding of a string.
    public static func hash(utf8 string: String) -> [UInt8] {
        var h = SHA256()
        h.update(utf8: string)
        return h.finalize()
    }

    // MARK: - Compression

    private mutating func compressBuffer() {
        var s = state
        buffer.withUnsafeBytes { SHA256.compress(&s, $0.baseAddress!) }
        state = s
        bufferCount = 0
    }

    @inline(__always)
    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 {
        (x >> n) | (x << (32 &- n))
    }

    /// Processes one 64-byte block at `block` (any alignment) into `s` (FIPS 180-4 §6.2.2).
    private static func compress(_ s: inout State, _ block: UnsafeRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            for t in 0..<16 {
                w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: t &* 4, as: UInt32.self))
            }
            for t in 16..<64 {
                let x = w[t &- 15], y = w[t &- 2]
                let s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >> 3)
                let s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >> 10)
                w[t] = s1 &+ w[t &- 7] &+ s0 &+ w[t &- 16]
            }
            var a = s.h0, b = s.h1, c = s.h2, d = s.h3
            var e = s.h4, f = s.h5, g = s.h6, h = s.h7
            roundConstants.withUnsafeBufferPointer { k in
                for t in 0..<64 {
                    let bigS1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                    let ch = (e & f) ^ (~e & g)
                    let t1 = h &+ bigS1 &+ ch &+ k[t] &+ w[t]
                    let bigS0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                    let maj = (a & b) ^ (a & c) ^ (b & c)
                    let t2 = bigS0 &+ maj
                    h = g; g = f; f = e; e = d &+ t1
                    d = c; c = b; b = a; a = t1 &+ t2
                }
            }
            s.h0 &+= a; s.h1 &+= b; s.h2 &+= c; s.h3 &+= d
            s.h4 &+= e; s.h5 &+= f; s.h6 &+= g; s.h7 &+= h
        }
    }

    /// K0…K63: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]
}

// MARK: - Hex

extension SHA256 {
    /// Lowercase hexadecimal, two digits per byte.
    public static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hexadecimal (upper- or lowercase digits, even length, nothing else: no spaces,
    /// no `0x` prefix). Returns nil on any other input.
    public static func bytes(fromHex hex: String) -> [UInt8]? {
        let utf8 = hex.utf8
        guard utf8.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var high: UInt8? = nil
        for c in utf8 {
            let nibble: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return out
    }
}

extension Array where Element == UInt8 {
    /// Lowercase hexadecimal, two digits per byte.
    public var hexString: String { SHA256.hex(self) }

    /// Decodes hexadecimal; nil on odd length or any non-hex character (see `SHA256.bytes(fromHex:)`).
    public init?(hexString: String) {
        guard let bytes = SHA256.bytes(fromHex: hexString) else { return nil }
        self = bytes
    }
}
