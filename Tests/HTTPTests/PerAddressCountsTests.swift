import Testing

@testable import HTTP

/// Peers are counted by their address, an IPv6 peer by its /64: one subscriber routinely has a
/// whole /64 and could otherwise take a fresh address for every connection.
@Suite("Per-address counts")
struct PerAddressCountsTests {
    @Test func ipv4AddressesAreTheirOwnKey() {
        #expect(PerAddressCounts.key("203.0.113.7") == "203.0.113.7")
        #expect(PerAddressCounts.key("127.0.0.1") == "127.0.0.1")
    }

    @Test func ipv6AddressesCountAsTheirSlash64() {
        let key = "2001:db8:0:1::/64"
        for address in [
            "[2001:db8:0:1::1]", "2001:db8:0:1::1", "[2001:db8::1:0:0:0:5]",
            "[2001:0db8:0000:0001:ffff:ffff:ffff:ffff]",
            "[2001:DB8:0:1:a:b:c:d]", "[2001:db8:0:1::1%eth0]",
            "[2001:db8:0:1::192.0.2.1]",
        ] {
            #expect(PerAddressCounts.key(address) == key, "\(address)")
        }
        #expect(PerAddressCounts.key("[2001:db8:0:2::1]") == "2001:db8:0:2::/64")
        #expect(PerAddressCounts.key("[2001:db8:1::]") == "2001:db8:1:0::/64")
        #expect(PerAddressCounts.key("[::1]") == "0:0:0:0::/64")
        #expect(PerAddressCounts.key("[::]") == "0:0:0:0::/64")
        #expect(PerAddressCounts.key("[fe80::1%eth0]") == "fe80:0:0:0::/64")
    }

    @Test func ipv4MappedAddressesCountAsTheirIPv4Address() {
        #expect(PerAddressCounts.key("[::ffff:192.0.2.7]") == "192.0.2.7")
        #expect(PerAddressCounts.key("::ffff:192.0.2.7") == "192.0.2.7")
        #expect(PerAddressCounts.key("[::FFFF:c000:0207]") == "192.0.2.7")
        #expect(PerAddressCounts.key("[0:0:0:0:0:ffff:127.0.0.1]") == "127.0.0.1")
        // IPv4-compatible (deprecated) and NAT64 addresses are IPv6 peers.
        #expect(PerAddressCounts.key("[::192.0.2.7]") == "0:0:0:0::/64")
        #expect(PerAddressCounts.key("[64:ff9b::192.0.2.7]") == "64:ff9b:0:0::/64")
    }

    @Test func whatDoesNotParseIsItsOwnKey() {
        for odd in [
            "[1:2:3:4:5:6:7]", "[1:2:3:4:5:6:7:8:9]", "[1::2::3]", "[12345::1]", "[g::1]", "[::ffff:1.2.3]",
            "[::ffff:1.2.3.256]", "[::ffff:+1.2.3.4]", "[1:::2]", "[:1:2:3:4:5:6:7]", "a:b", "[]",
        ] {
            #expect(PerAddressCounts.key(odd) == odd, "\(odd)")
        }
    }

    @Test func countsAreKeptPerPeer() {
        var counts = PerAddressCounts()
        let taken = [
            counts.take("[2001:db8:0:1::1]", limit: 2), counts.take("[2001:db8:0:1::2]", limit: 2),
            counts.take("[2001:db8:0:1::3]", limit: 2), counts.take("[2001:db8:0:9::3]", limit: 2),
            counts.take("[::ffff:192.0.2.7]", 5, limit: 6), counts.take("192.0.2.7", 2, limit: 6),
        ]
        #expect(taken == [true, true, false, true, true, false])
        #expect(counts.held(by: "192.0.2.7") == 5)
        counts.give("[2001:db8:0:1::7]")
        #expect(counts.held(by: "[2001:db8:0:1::1]") == 1)
        counts.give("192.0.2.7", 5)
        #expect(counts.held(by: "[::ffff:192.0.2.7]") == 0)
    }
}
