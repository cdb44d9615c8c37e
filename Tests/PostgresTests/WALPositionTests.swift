import Postgres
import Testing

/// `WALPosition`: PostgreSQL's `pg_lsn` text form, parsed strictly (it arrives in a client's
/// `Handoff-Min-Position` header), printed as PostgreSQL prints it, ordered by value.
@Suite struct WALPositionTests {
    @Test func parsesAndPrintsPostgreSQLsForm() throws {
        let position = try #require(WALPosition("16/B374D848"))
        #expect(position.value == 0x16_B374_D848)
        #expect(position.description == "16/B374D848")
        #expect(WALPosition("0/0")?.value == 0)
        #expect(WALPosition("ffffffff/ffffffff")?.value == UInt64.max)
        #expect(WALPosition("FFFFFFFF/FFFFFFFF")?.description == "FFFFFFFF/FFFFFFFF")
        #expect(WALPosition("0/3000148")?.description == "0/3000148")
        #expect(WALPosition(WALPosition(0x1_0000_0000).description) == WALPosition(0x1_0000_0000))
    }

    @Test func refusesEverythingElse() {
        for text in [
            "", "/", "0", "0/", "/0", "0/0/0", "123456789/0", "0/123456789", "-1/0", "+1/0", "0x1/0", " 1/2",
            "1/2 ", "1 /2", "g/0", "0/G", "１/0", "0/0\n", "00000000000/1",
        ] {
            #expect(WALPosition(text) == nil, "\(text)")
        }
    }

    @Test func ordersByValueAcrossTheHalves() throws {
        let a = try #require(WALPosition("0/FFFFFFFF")), b = try #require(WALPosition("1/0"))
        #expect(a < b)
        #expect(b.bytes(after: a) == 1)
        #expect(a.bytes(after: b) == 0)
    }
}
