/// How much each peer holds: the count behind the per-address shares of
/// ``HTTPServerConfiguration/maxConnectionsPerAddress``, of the body budget
/// (``HTTPServerConfiguration/bodyBudgetPerAddress``) and of the dashboard's sign-in checks.
/// Peers are counted by ``key(_:)``: an IPv6 peer by its /64, since one subscriber is routinely
/// given a whole /64 and could otherwise take a fresh address for every connection.
/// A value: keep it under the same lock as the total it goes with.
public struct PerAddressCounts: Sendable {
    private var counts: [String: Int] = [:]

    public init() {}

    /// Takes `amount` (one place by default) for `address` unless that would bring what its
    /// ``key(_:)`` holds over `limit`. - Returns: whether it did.
    public mutating func take(_ address: String, _ amount: Int = 1, limit: Int) -> Bool {
        let key = Self.key(address)
        let held = counts[key, default: 0]
        guard amount <= limit - held else { return false }
        counts[key] = held + amount
        return true
    }

    /// Gives back `amount` (one place by default) that `address` took (a peer holding none is forgotten).
    public mutating func give(_ address: String, _ amount: Int = 1) {
        let key = Self.key(address)
        let left = counts[key, default: amount] - amount
        counts[key] = left > 0 ? left : nil
    }

    /// What `address` holds now.
    public func held(by address: String) -> Int { counts[Self.key(address), default: 0] }

    /// The peer a host address counts as: an IPv4 address as it is; an IPv4-mapped IPv6 address
    /// (`::ffff:192.0.2.7`) as its IPv4 address; any other IPv6 address as its /64
    /// (`[2001:db8:0:1::5]` → `2001:db8:0:1::/64`), brackets and zone ignored. Anything that does
    /// not parse as an IPv6 address is its own key.
    public static func key(_ address: String) -> String {
        guard address.contains(":") else { return address }
        var text = Substring(address)
        if text.first == "[", text.last == "]" { text = text.dropFirst().dropLast() }
        if let zone = text.firstIndex(of: "%") { text = text[..<zone] }
        guard let groups = ipv6Groups(text) else { return address }
        if groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xFFFF {
            return [groups[6] >> 8, groups[6] & 0xFF, groups[7] >> 8, groups[7] & 0xFF].map { String($0) }
                .joined(separator: ".")
        }
        return groups[0..<4].map { String($0, radix: 16) }.joined(separator: ":") + "::/64"
    }

    /// The eight 16-bit groups of an IPv6 address in text form (RFC 4291 §2.2: `::` once at most,
    /// a dotted IPv4 address as the last 32 bits), or nil.
    static func ipv6Groups(_ text: Substring) -> [UInt16]? {
        var text = String(text)
        // A dotted IPv4 tail becomes two hex groups.
        if let colon = text.lastIndex(of: ":"), text[colon...].contains(".") {
            let dotted = text[text.index(after: colon)...].split(separator: ".", omittingEmptySubsequences: false)
            let octets = dotted.compactMap { part in
                (1...3).contains(part.count) && part.allSatisfy { ("0"..."9").contains($0) } ? UInt8(part) : nil
            }
            guard dotted.count == 4, octets.count == 4 else { return nil }
            let high = UInt16(octets[0]) << 8 | UInt16(octets[1])
            let low = UInt16(octets[2]) << 8 | UInt16(octets[3])
            text = text[...colon] + String(high, radix: 16) + ":" + String(low, radix: 16)
        }
        func parse(_ part: Substring) -> [UInt16]? {
            guard !part.isEmpty else { return [] }
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            let groups = fields.compactMap { field in
                (1...4).contains(field.count) && field.allSatisfy(\.isHexDigit) ? UInt16(field, radix: 16) : nil
            }
            return groups.count == fields.count ? groups : nil
        }
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        switch halves.count {
        case 1:
            guard let groups = parse(halves[0]), groups.count == 8 else { return nil }
            return groups
        case 2:
            guard let head = parse(halves[0]), let tail = parse(halves[1]), head.count + tail.count <= 7 else {
                return nil
            }
            return head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        default:
            return nil
        }
    }
}
