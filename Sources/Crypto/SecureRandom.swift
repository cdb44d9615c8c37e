/// Bytes from the operating system's cryptographically secure random source.
///
/// Swift's `SystemRandomNumberGenerator` reads the kernel's generator (`getrandom(2)` on Linux,
/// the same source as `/dev/urandom`, without a file to open); it never falls back to a
/// predictable seed. Used for secrets: API tokens, session ids, the system event key.
public enum SecureRandom {
    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var out = [UInt8]()
        out.reserveCapacity(count + 7)
        while out.count < count {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return Array(out.prefix(count))
    }
}
