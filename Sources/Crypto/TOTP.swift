// Time-based one-time passwords (TOTP, RFC 6238) over HOTP (RFC 4226), and the base32 of the
// manual key a person types into an authenticator app (RFC 4648 §6).
//
//     let totp = TOTP(secret: secret)                       // SHA-1, 6 digits, 30 s steps
//     let step = totp.step(at: Date().timeIntervalSince1970)
//     totp.code(step: step)                                 // "492039"
//     totp.matchingStep(for: "492039", around: step)        // the step it belongs to, or nil

/// A TOTP generator and checker for one shared secret (RFC 6238).
///
/// Handoff's accounts use the defaults every authenticator app supports: HMAC-SHA-1, 6 digits,
/// 30-second steps from the Unix epoch. HMAC-SHA-256 is there for the RFC's own vectors and for
/// apps that offer it. `description` never shows the secret.
public struct TOTP: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The HMAC under the codes.
    public enum Algorithm: String, Sendable, CaseIterable {
        case sha1 = "SHA1"
        case sha256 = "SHA256"
    }

    private let secret: [UInt8]
    public let algorithm: Algorithm
    /// Digits in a code, 6…8 (RFC 4226 §5.3).
    public let digits: Int
    /// Length of a time step in seconds (RFC 6238's X).
    public let period: Int

    /// - Precondition: `digits` is 6…8 and `period` is positive.
    public init(secret: [UInt8], algorithm: Algorithm = .sha1, digits: Int = 6, period: Int = 30) {
        precondition((6...8).contains(digits) && period > 0)
        self.secret = secret
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
    }

    public var description: String { "TOTP(\(algorithm.rawValue), \(digits) digits, \(period) s)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["algorithm": algorithm, "digits": digits]) }

    /// The time step of a Unix time in seconds: `floor(t / period)` (RFC 6238 §4.2, T0 = 0).
    public func step(at unixTime: Double) -> Int64 {
        Int64((unixTime / Double(period)).rounded(.down))
    }

    /// The code of a time step: HOTP (RFC 4226 §5.3) of the step as a 64-bit big-endian counter,
    /// dynamically truncated, as `digits` decimal digits with leading zeros.
    public func code(step: Int64) -> String {
        let counter = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: step) >> UInt64(56 - 8 * $0)) }
        let mac: [UInt8]
        switch algorithm {
        case .sha1: mac = HMACSHA1.authenticationCode(for: counter, key: secret)
        case .sha256: mac = HMACSHA256.authenticationCode(for: counter, key: secret)
        }
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let binary =
            UInt32(mac[offset] & 0x7f) << 24 | UInt32(mac[offset + 1]) << 16 | UInt32(mac[offset + 2]) << 8
            | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let value = String(binary % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }

    /// The code at a Unix time in seconds.
    public func code(at unixTime: Double) -> String { code(step: step(at: unixTime)) }

    /// The step within `window` steps of `step` (earlier and later: clocks drift) whose code is
    /// `code`, or nil. Codes are compared in constant time; a code of the wrong length or with
    /// anything but digits never matches.
    public func matchingStep(for code: String, around step: Int64, window: Int64 = 1) -> Int64? {
        let sent = Array(code.utf8)
        guard sent.count == digits, sent.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        var found: Int64?
        for candidate in (step - window)...(step + window)
        where constantTimeEquals(sent, Array(self.code(step: candidate).utf8)) && found == nil {
            found = candidate
        }
        return found
    }
}

/// Base32 (RFC 4648 §6, alphabet `A–Z 2–7`) for TOTP manual keys.
public enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// Encodes without padding (`=`), as authenticator apps expect manual keys.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base32, ignoring case, spaces, hyphens and trailing `=`; nil on any other character
    /// or on leftover bits that are not zero.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        var ended = false
        for c in text.utf8 {
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "-") { continue }
            if c == UInt8(ascii: "=") {
                ended = true
                continue
            }
            guard !ended else { return nil }
            let value: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(c - UInt8(ascii: "a"))
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = UInt32(c - UInt8(ascii: "2")) + 26
            default: return nil
            }
            buffer = (buffer << 5) | value
            bits += 5
            if bits >= 8 {
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)))
                bits -= 8
            }
            buffer &= (1 << UInt32(bits)) - 1
        }
        guard bits < 5, buffer == 0 else { return nil }
        return out
    }

    /// The manual key as a person reads it: groups of four, e.g. `JBSW Y3DP EHPK 3PXP`.
    public static func grouped(_ bytes: [UInt8]) -> String {
        let plain = Array(encode(bytes))
        return stride(from: 0, to: plain.count, by: 4).map { String(plain[$0..<min($0 + 4, plain.count)]) }
            .joined(separator: " ")
    }
}
