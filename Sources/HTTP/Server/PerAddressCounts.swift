/// How many places each peer address holds: the count behind the per-address shares of
/// ``HTTPServerConfiguration/maxConnectionsPerAddress`` and of the dashboard's sign-in checks.
/// A value: keep it under the same lock as the total it goes with.
public struct PerAddressCounts: Sendable {
    private var counts: [String: Int] = [:]

    public init() {}

    /// Takes a place for `address` unless it holds `limit` already. - Returns: whether it did.
    public mutating func take(_ address: String, limit: Int) -> Bool {
        let held = counts[address, default: 0]
        guard held < limit else { return false }
        counts[address] = held + 1
        return true
    }

    /// Gives back one place `address` took (an address holding none is forgotten).
    public mutating func give(_ address: String) {
        let left = counts[address, default: 1] - 1
        counts[address] = left > 0 ? left : nil
    }
}
