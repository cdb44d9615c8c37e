import Testing

@testable import Crypto

@Suite("HMACTests")
struct HMACTests {
    /// RFC 4231 §4, HMAC-SHA-256 of every test case: key, data, and the code (test case 5 gives
    /// only the first 128 bits: truncation).
    static let rfc4231: [(name: String, key: [UInt8], data: [UInt8], code: String)] = [
        (
            "1", [UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        ),
        (
            "2: a key shorter than the output", Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        (
            "3: combined key and data of 0xaa and 0xdd", [UInt8](repeating: 0xaa, count: 20),
            [UInt8](repeating: 0xdd, count: 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        ),
        (
            "4: combined key and data 0x01…0x19, 0xcd", (1...25).map { UInt8($0) }, [UInt8](repeating: 0xcd, count: 50),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
        ),
        (
            "5: truncation to 128 bits", [UInt8](repeating: 0x0c, count: 20), Array("Test With Truncation".utf8),
            "a3b6167473100ee06e0c796c2955552b"
        ),
        (
            "6: a key larger than a block", [UInt8](repeating: 0xaa, count: 131),
            Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
        (
            "7: a key and data larger than a block", [UInt8](repeating: 0xaa, count: 131),
            Array(
                ("This is a test using a larger than block-size key and a larger than block-size data. The key needs to "
                    + "be hashed before being used by the HMAC algorithm.").utf8),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        ),
    ]

    @Test("RFC 4231 test cases", arguments: rfc4231)
    func rfc4231Vector(name: String, key: [UInt8], data: [UInt8], code: String) {
        let mac = HMACSHA256.authenticationCode(for: data, key: key)
        #expect(mac.count == HMACSHA256.byteCount)
        // Test case 5 publishes the truncated code only: compare that many leading bytes.
        #expect(Array(mac.prefix(code.count / 2)).hexString == code, "test case \(name)")
        #expect(HMACSHA256.isValid(Array(mac.prefix(code.count / 2)), for: data, key: key))
        // Incremental, byte by byte, equals one-shot.
        var h = HMACSHA256(key: key)
        for byte in data { h.update(CollectionOfOne(byte)) }
        #expect(h.finalize() == mac)
    }

    /// Keys around the block size: 64 bytes is used as it is, 65 is hashed first; the empty key
    /// is padded. Codes from an independent implementation (Python's hmac module).
    static let keyLengths: [(Int, String)] = [
        (0, "fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351"),
        (64, "6ab541b4869dca71c4ca11d8bb1b02533b789a557583161429292c7404bc21f6"),
        (65, "dfbffee4671bad00ed5d1e1999d55ed3b0cc774ac357f9ebf649c1612414fcec"),
    ]

    @Test("keys at the block boundary", arguments: keyLengths)
    func blockBoundaryKeys(length: Int, code: String) {
        let key = (0..<length).map { UInt8($0) }
        #expect(HMACSHA256.authenticationCode(for: Array("abc".utf8), key: key).hexString == code)
    }

    @Test("a long key is the same key as its SHA-256 digest (RFC 2104 §2)")
    func longKeyIsHashed() {
        let key = [UInt8](repeating: 0xaa, count: 131)
        let message = Array("m".utf8)
        #expect(
            HMACSHA256.authenticationCode(for: message, key: key)
                == HMACSHA256.authenticationCode(for: message, key: SHA256.hash(key)))
    }

    @Test("split updates equal one-shot; finalize does not consume")
    func incremental() {
        let key = Array("key".utf8)
        let message = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let expected = HMACSHA256.authenticationCode(for: message, key: key)
        for cut in stride(from: 0, through: message.count, by: 37) {
            var h = HMACSHA256(key: key)
            h.update(Array(message[..<cut]))
            #expect(h.finalize() == HMACSHA256.authenticationCode(for: Array(message[..<cut]), key: key))
            h.update(message[cut...])
            #expect(h.finalize() == expected, "split at \(cut)")
        }
        var s = HMACSHA256(key: key)
        s.update(utf8: "abc")
        #expect(s.finalize() == HMACSHA256.authenticationCode(for: Array("abc".utf8), key: key))
    }

    @Test("verification refuses a wrong, short or long code")
    func verification() {
        let key = Array("Jefe".utf8)
        let data = Array("what do ya want for nothing?".utf8)
        let mac = HMACSHA256.authenticationCode(for: data, key: key)
        #expect(HMACSHA256.isValid(mac, for: data, key: key))
        var flipped = mac
        flipped[31] ^= 1
        #expect(!HMACSHA256.isValid(flipped, for: data, key: key))
        #expect(!HMACSHA256.isValid(Array(mac.prefix(15)), for: data, key: key))
        #expect(!HMACSHA256.isValid(mac + [0], for: data, key: key))
        #expect(!HMACSHA256.isValid(mac, for: data, key: Array("Jeff".utf8)))
        #expect(constantTimeEquals([], []))
        #expect(!constantTimeEquals([1], [1, 2]))
    }

    @Test("secure random bytes: the length asked for, not all alike")
    func secureRandom() {
        for n in [0, 1, 7, 8, 9, 32, 33] { #expect(SecureRandom.bytes(n).count == n) }
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
        #expect(Set(SecureRandom.bytes(64)).count > 16)
    }
}
