import Testing

@testable import Crypto

@Suite("TOTPTests")
struct TOTPTests {
    /// FIPS 180-4 / RFC 3174 §7.3 SHA-1 test vectors (and the NIST long message of a million `a`s).
    /// FIPS 180-4 / RFC 3174 §7.3 SHA-1 test vectors: a text repeated `count` times (a million
    /// `a`s; RFC 3174's fourth test, 80 bytes repeated ten times).
    static let sha1Vectors: [(text: String, count: Int, digest: String)] = [
        ("abc", 1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("", 1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("a", 1_000_000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"),
        (
            "0123456701234567012345670123456701234567012345670123456701234567", 10,
            "dea356a2cddd90c7a7ecedc5ebb563934f460452"
        ),
    ]

    @Test("SHA-1: FIPS 180-4 / RFC 3174 vectors", arguments: sha1Vectors)
    func sha1(text: String, count: Int, digest: String) {
        let message = Array(String(repeating: text, count: count).utf8)
        #expect(SHA1.hash(message).hexString == digest)
        // Split updates equal one-shot.
        var h = SHA1()
        h.update(message.prefix(37))
        h.update(message.dropFirst(37))
        #expect(h.finalize().hexString == digest)
    }

    @Test("SHA-1: every length around the padding boundary agrees with split feeding")
    func sha1Lengths() {
        // Lengths 55, 56, 63, 64, 65 cross the one-or-two padding blocks boundary.
        let known: [Int: String] = [
            55: "c1c8bbdc22796e28c0e15163d20899b65621d65a", 56: "c2db330f6083854c99d4b5bfb6e8f29f201be699",
            64: "0098ba824b5c16427bd7a1122a5a442a25ec644d",
        ]
        for (length, digest) in known {
            #expect(SHA1.hash([UInt8](repeating: UInt8(ascii: "a"), count: length)).hexString == digest)
        }
    }

    /// RFC 2202 §3: HMAC-SHA-1 test cases 1–7.
    static let rfc2202: [(key: [UInt8], data: [UInt8], code: String)] = [
        ([UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8), "b617318655057264e28bc0b6fb378c8ef146be00"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        (
            [UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
            "125d7342b9ac11cd91a39af48aa17b4f63f175d3"
        ),
        (
            (1...25).map { UInt8($0) }, [UInt8](repeating: 0xcd, count: 50),
            "4c9007f4026250c6bc8414f9bf50c86c2d7235da"
        ),
        (
            [UInt8](repeating: 0x0c, count: 20), Array("Test With Truncation".utf8),
            "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"
        ),
        (
            [UInt8](repeating: 0xaa, count: 80), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        ),
        (
            [UInt8](repeating: 0xaa, count: 80),
            Array("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data".utf8),
            "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"
        ),
    ]

    @Test("HMAC-SHA-1: RFC 2202 test cases")
    func hmacSHA1() {
        for (key, data, code) in Self.rfc2202 {
            #expect(HMACSHA1.authenticationCode(for: data, key: key).hexString == code)
        }
    }

    /// RFC 6238 Appendix B: every vector for SHA-1 and SHA-256 (8 digits, 30 s steps). The seeds
    /// are the ASCII digits 1234567890 repeated to 20 bytes (SHA-1) and 32 bytes (SHA-256).
    static let rfc6238: [(time: Double, step: Int64, sha1: String, sha256: String)] = [
        (59, 0x1, "94287082", "46119246"),
        (1_111_111_109, 0x23523EC, "07081804", "68084774"),
        (1_111_111_111, 0x23523ED, "14050471", "67062674"),
        (1_234_567_890, 0x273EF07, "89005924", "91819424"),
        (2_000_000_000, 0x3F940AA, "69279037", "90698825"),
        (20_000_000_000, 0x27BC86AA, "65353130", "77737706"),
    ]

    @Test("TOTP: RFC 6238 Appendix B", arguments: rfc6238)
    func rfc6238Vector(time: Double, step: Int64, sha1: String, sha256: String) {
        let seed20 = Array("12345678901234567890".utf8)
        let seed32 = Array("12345678901234567890123456789012".utf8)
        let one = TOTP(secret: seed20, algorithm: .sha1, digits: 8)
        let two = TOTP(secret: seed32, algorithm: .sha256, digits: 8)
        #expect(one.step(at: time) == step)
        #expect(one.code(at: time) == sha1)
        #expect(two.code(at: time) == sha256)
        #expect(one.matchingStep(for: sha1, around: step) == step)
    }

    @Test("TOTP: RFC 4226 Appendix D HOTP values (6 digits) are the codes of steps 0…9")
    func hotp() {
        let totp = TOTP(secret: Array("12345678901234567890".utf8))
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489",
        ]
        #expect((0..<10).map { totp.code(step: Int64($0)) } == expected)
    }

    @Test("TOTP: one step of drift either way is accepted, two are not; malformed codes never match")
    func window() {
        let totp = TOTP(secret: Array("12345678901234567890".utf8))
        let now: Int64 = 1000
        #expect(totp.matchingStep(for: totp.code(step: now - 1), around: now) == now - 1)
        #expect(totp.matchingStep(for: totp.code(step: now + 1), around: now) == now + 1)
        #expect(totp.matchingStep(for: totp.code(step: now), around: now) == now)
        #expect(totp.matchingStep(for: totp.code(step: now + 2), around: now) == nil)
        #expect(totp.matchingStep(for: totp.code(step: now - 2), around: now) == nil)
        let good = totp.code(step: now)
        for bad in ["", "12345", "1234567", " " + good, good + " ", "abcdef", "１２３４５６", "12 345"] {
            #expect(totp.matchingStep(for: bad, around: now) == nil, "\(bad)")
        }
        #expect("\(totp)".contains("SHA1"))
        #expect(!"\(totp)".contains("1234"))
    }

    @Test("base32: RFC 4648 §10 vectors, round trips, grouping, and refusal of other characters")
    func base32() {
        let vectors = [
            ("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"), ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ]
        for (plain, encoded) in vectors {
            #expect(Base32.encode(Array(plain.utf8)) == encoded)
            #expect(Base32.decode(encoded) == Array(plain.utf8))
        }
        #expect(Base32.decode("MZXW6YQ=") == Array("foob".utf8))
        #expect(Base32.decode("mzxw 6ytb-oi") == Array("foobar".utf8))
        #expect(Base32.decode("MZXW1") == nil)
        #expect(Base32.decode("MZ=X") == nil)
        for n in 0..<40 {
            let bytes = SecureRandom.bytes(n)
            #expect(Base32.decode(Base32.encode(bytes)) == bytes)
            #expect(Base32.decode(Base32.grouped(bytes)) == bytes)
        }
        #expect(Base32.grouped(Array("foobar".utf8)) == "MZXW 6YTB OI")
    }
}
