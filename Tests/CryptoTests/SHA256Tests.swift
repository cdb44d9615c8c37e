import Testing
@testable import Crypto

/// Deterministic test bytes: byte i is (7·i + 3) mod 256, so every byte value occurs.
private func pattern(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
}

/// A tiny deterministic generator (64-bit LCG) for split points.
private struct LCG {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(bound))
    }
}

@Suite("SHA256Tests")
struct SHA256Tests {
    // NIST FIPS 180-4 / CAVS example vectors.
    static let nistVectors: [(message: String, digest: String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
        (
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
        ),
    ]

    @Test("NIST example vectors", arguments: nistVectors)
    func nistVector(message: String, digest: String) {
        #expect(SHA256.hash(Array(message.utf8)).hexString == digest)
        #expect(SHA256.hash(utf8: message).hexString == digest)
        var h = SHA256()
        h.update(message.utf8)
        #expect(h.finalize().hexString == digest)
    }

    @Test("one million 'a'")
    func millionA() {
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hash(million).hexString == expected)
        // Same in 1000-byte pieces (not a multiple of 64, so the partial-block path is exercised).
        var h = SHA256()
        let piece = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { h.update(piece) }
        #expect(h.finalize().hexString == expected)
    }

    @Test("1 MiB of patterned bytes")
    func oneMebibyte() {
        let bytes = (0..<(1 << 20)).map { UInt8($0 % 251) }
        #expect(
            SHA256.hash(bytes).hexString == "631b84027d6b9e52b539c4e8373622d23032dfadc64d60af87339c9037e4f769")
    }

    // Lengths around the padding boundaries (55 is the longest message that pads into one block).
    static let boundaryA: [(Int, String)] = [
        (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
        (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
    ]

    @Test("boundary lengths of 'a'", arguments: boundaryA)
    func boundaryLengthsOfA(length: Int, digest: String) {
        #expect(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: length)).hexString == digest)
    }

    static let boundaryPattern: [(Int, String)] = [
        (1, "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5"),
        (55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"),
        (56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"),
        (57, "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73"),
        (63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"),
        (64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"),
        (65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"),
        (119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"),
        (120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"),
        (127, "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07"),
        (128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"),
        (129, "307f8fc2c1622b92762e818d39a185d4d667ad49a4b07ceae1f4afa008a93ec4"),
    ]

    @Test("boundary lengths of patterned bytes", arguments: boundaryPattern)
    func boundaryLengthsOfPattern(length: Int, digest: String) {
        let bytes = pattern(length)
        #expect(SHA256.hash(bytes).hexString == digest)
        // The generic, non-contiguous path (a lazy map is not contiguous storage).
        var h = SHA256()
        h.update((0..<length).lazy.map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
        #expect(h.finalize().hexString == digest)
        // Byte by byte.
        var b = SHA256()
        for byte in bytes { b.update(CollectionOfOne(byte)) }
        #expect(b.finalize().hexString == digest)
    }

    @Test("every split point of a 200-byte message equals one-shot")
    func everySplitPoint() {
        let bytes = pattern(200)
        let expected = SHA256.hash(bytes)
        for cut in 0...bytes.count {
            var h = SHA256()
            h.update(bytes[..<cut])
            h.update(bytes[cut...])
            #expect(h.finalize() == expected, "split at \(cut)")
        }
    }

    @Test("random split points, mixed input kinds, equal one-shot")
    func randomSplits() {
        var rng = LCG(state: 0x5EED)
        for round in 0..<200 {
            let length = rng.next(700)
            let bytes = pattern(length)
            let expected = SHA256.hash(bytes)
            var h = SHA256()
            var offset = 0
            var kind = 0
            while offset < length {
                let n = min(length - offset, rng.next(150))
                let piece = bytes[offset..<(offset + n)]
                switch kind % 4 {
                case 0: h.update(Array(piece))
                case 1: h.update(piece)  // ArraySlice: contiguous generic path
                case 2: Array(piece).withUnsafeBytes { h.update($0) }
                default: h.update(piece.lazy.map { $0 })  // non-contiguous generic path
                }
                offset += n
                kind += 1
            }
            #expect(h.finalize() == expected, "round \(round), length \(length)")
        }
    }

    @Test("finalize does not consume the hasher")
    func finalizeIsNonMutating() {
        var h = SHA256()
        h.update(Array("ab".utf8))
        let first = h.finalize()
        #expect(first == SHA256.hash(Array("ab".utf8)))
        #expect(h.finalize() == first)
        h.update(Array("c".utf8))
        #expect(h.finalize().hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("empty updates change nothing")
    func emptyUpdates() {
        var h = SHA256()
        h.update([UInt8]())
        h.update(UnsafeRawBufferPointer(start: nil, count: 0))
        h.update(utf8: "")
        h.update(EmptyCollection<UInt8>())
        #expect(h.finalize().hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("digest is 32 bytes")
    func digestLength() {
        #expect(SHA256.hash([]).count == SHA256.digestByteCount)
        #expect(SHA256.hash(pattern(1000)).count == 32)
    }

    @Test("the worked example of docs/hash-chain.md")
    func hashChainWorkedExample() {
        let fields = [
            "handoff-event-v1", "case-KS-2026-000001", "1", "0f3c2a1e-7b4d-4c8e-9a21-5d6f7e8a9b0c", "CaseOpened",
            "2026-11-20T09:15:00.000000Z", "2026-11-20T09:16:02.123456Z",
            #"{"profile": {"sex": "female", "child": false, "ageBand": "18-24", "nationality": "XK", "#
                + #""exploitation": ["sexual", "forced-labour"]}, "identificationStatus": "presumed"}"#,
            #"{"actor": {"user": "officer-1182", "institution": "kp-dthb"}, "causationId": null, "#
                + #""correlationId": "5b1d7c3e-2f4a-4e6b-8c9d-0a1b2c3d4e5f"}"#,
        ]
        let canonical = Array(fields.joined(separator: "\n").utf8)
        #expect(canonical.count == 451)
        var h = SHA256()
        h.update([UInt8](repeating: 0, count: 32))
        h.update(canonical)
        let hash = h.finalize().hexString
        #expect(hash == "c644e82e02376b78d2296005305d30ecad416262afca35bba61802a8ba00ae1a")
        let heads = "case-KS-2026-000001\n2\n6d08467f32f87585398f6784522279af62c8fa995a845cb69823998f41ef6794\n"
        #expect(
            SHA256.hash(utf8: heads).hexString == "7d8745cf136be36cf35e7a9ebce835ad116866bae9f3e63f94db54ea4d8f7588")
    }

    // MARK: hex

    @Test("hex encoding is lowercase, two digits per byte")
    func hexEncoding() {
        #expect([UInt8]().hexString == "")
        #expect([0x00, 0x01, 0x0f, 0x10, 0xab, 0xff].hexString == "00010f10abff")
        #expect(SHA256.hex([0xDE, 0xAD, 0xBE, 0xEF]) == "deadbeef")
    }

    @Test("hex round trip over all byte values")
    func hexRoundTrip() {
        let all = (0...255).map { UInt8($0) }
        #expect([UInt8](hexString: all.hexString) == all)
        #expect(SHA256.bytes(fromHex: "DEADbeef") == [0xde, 0xad, 0xbe, 0xef])
        #expect(SHA256.bytes(fromHex: "") == [])
    }

    @Test(
        "hex decoding rejects bad input",
        arguments: ["0", "abc", "0g", "g0", " 00", "00 ", "0x00", "zz", "-1", "0\n", "١٢", "ａｂ", "é0"])
    func hexRejects(input: String) {
        #expect(SHA256.bytes(fromHex: input) == nil)
        #expect([UInt8](hexString: input) == nil)
    }
}
