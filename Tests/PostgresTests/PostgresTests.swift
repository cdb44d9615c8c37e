import Foundation
import HandoffTestSupport
import Postgres
import Testing

@Suite struct ConnectionTests {
    @Test func parametersAreBoundNotSpliced() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let c = try await db.connect()
        defer { c.close() }
        let hostile = "x'); DROP TABLE nothing; --"
        let result = try await c.query(
            "SELECT \(hostile)::text AS v, \(42)::int AS n, \(Optional<String>.none)::text AS z")
        let row = try #require(result.first)
        #expect(try row.decode("v", as: String.self) == hostile)
        #expect(try row.decode("n", as: Int.self) == 42)
        #expect(try row.decodeOptional("z", as: String.self) == nil)
        let sql: SQL = "SELECT \(1) + \(2)"
        #expect(sql.text == "SELECT $1 + $2")
        #expect(sql.description == "SELECT $1 + $2")  // never the values
    }

    @Test func typesRoundTrip() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let c = try await db.connect()
        defer { c.close() }
        let id = UUID()
        let date = Date(timeIntervalSince1970: 1_763_800_000.123456)
        let bytes = ByteA([0, 1, 2, 254, 255])
        let row = try #require(
            try await c.query(
                "SELECT \(id)::uuid, \(date)::timestamptz, \(bytes)::bytea, \(true)::bool, \(Int64.max)::bigint, \(1.5)::float8"
            ).first)
        #expect(try row.decode(0, as: UUID.self) == id)
        let back = try row.decode(1, as: Date.self)
        #expect(abs(back.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.000002)
        #expect(try row.decode(2, as: ByteA.self) == bytes)
        #expect(try row.decode(3, as: Bool.self))
        #expect(try row.decode(4, as: Int64.self) == Int64.max)
        #expect(try row.decode(5, as: Double.self) == 1.5)
    }

    @Test func serverErrorsCarrySQLStateAndNoValues() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let c = try await db.connect()
        defer { c.close() }
        let secret = "victim-identity-should-never-leak"
        do {
            try await c.query("SELECT \(secret)::int")
            Issue.record("expected an error")
        } catch let error as PostgresError {
            #expect(error.sqlState == "22P02")
            #expect(!error.description.contains(secret))
        }
        // The connection is still usable after an error.
        #expect(try await c.query("SELECT 1").count == 1)
    }

    @Test func transactionsRollBackOnError() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let c = try await db.connect()
        defer { c.close() }
        try await c.execute("CREATE TABLE t (n int)")
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await c.transaction { c in
                try await c.query("INSERT INTO t VALUES (\(1))")
                throw Boom()
            }
        }
        #expect(try await c.query("SELECT count(*) FROM t").first?.decode(0, as: Int.self) == 0)
    }

    @Test func listenNotify() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let listener = try await db.connect()
        let sender = try await db.connect()
        defer {
            listener.close()
            sender.close()
        }
        try await listener.execute("LISTEN wake")
        #expect(try await listener.waitForNotifications(timeout: 0.05).isEmpty)
        try await sender.query("SELECT pg_notify('wake', \("hello"))")
        let notes = try await listener.waitForNotifications(timeout: 5)
        #expect(notes.map(\.payload) == ["hello"])
    }

    @Test func unreachableServerIsAConnectionError() async throws {
        do {
            _ = try await Connection.connect("postgresql:///nothing?host=/nonexistent-dir&port=1", connectTimeout: 1)
            Issue.record("expected a connection error")
        } catch let error as PostgresError {
            #expect(error.isConnectionProblem)
            #expect(!error.description.contains("nonexistent"))
        }
    }

    @Test func poolLimitsAndReuses() async throws {
        let db = try await TestDatabase.make(migrated: false)
        // A generous checkout wait: what is tested is the limit, and a loaded machine (the whole
        // suite at once) once made 20 waiters of 10 ms each wait past the default 10 s.
        let pool = ConnectionPool(url: db.url, maximumConnections: 3, checkoutTimeout: .seconds(120))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask { try await pool.query("SELECT pg_sleep(0.01)") }
            }
            try await group.waitForAll()
        }
        #expect(await pool.openConnections <= 3)
        await pool.close()
    }

    @Test func closingThePoolReleasesItsWaiters() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let pool = ConnectionPool(url: db.url, maximumConnections: 1)
        let (taken, tookIt) = AsyncStream<Void>.makeStream()
        let (release, letGo) = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await pool.withConnection { c in
                tookIt.yield()
                for await _ in release { break }
                return try await c.query("SELECT 1").count
            }
        }
        for await _ in taken { break }  // the one connection is taken
        let waiters = (0..<3).map { _ in Task { try await pool.query("SELECT 1") } }
        try await Task.sleep(for: .milliseconds(100))  // most likely waiting in line; if not, they find the pool closed
        await pool.close()
        letGo.yield()
        for waiter in waiters {
            do {
                _ = try await waiter.value
                Issue.record("a waiter got a connection from a closed pool")
            } catch let error as PostgresError {
                #expect(error.kind == .misuse)
            }
        }
        _ = try await holder.value  // the query in flight finishes; its connection is closed on return
        try await eventually("the last connection to close") { await pool.openConnections == 0 }
        await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
    }

    @Test func poolReplacesConnectionsKilledByTheServer() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let pool = ConnectionPool(url: db.url, maximumConnections: 2)
        let pid: Int = try await pool.query("SELECT pg_backend_pid()").first!.decode(0)
        let admin = try await db.connect()
        defer { admin.close() }
        try await admin.query("SELECT pg_terminate_backend(\(pid))")
        // The first use of the dead connection fails as a connection problem; the pool drops it.
        var recovered = false
        for _ in 0..<3 {
            do {
                let other: Int = try await pool.query("SELECT pg_backend_pid()").first!.decode(0)
                #expect(other != pid)
                recovered = true
                break
            } catch let error as PostgresError {
                #expect(error.isConnectionProblem)
            }
        }
        #expect(recovered)
        await pool.close()
    }

    @Test func nullsEmptiesAndResultShape() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let c = try await db.connect()
        defer { c.close() }
        let r = try await c.query(
            "SELECT x, CASE WHEN x = 2 THEN NULL ELSE x::text END AS t, '' AS e FROM generate_series(1, 3) x ORDER BY x"
        )
        #expect(r.count == 3 && r.columns == ["x", "t", "e"])
        #expect(r.rows == [["1", "1", ""], ["2", nil, ""], ["3", "3", ""]])
        let middle = r.all[1]
        #expect(try middle.decodeOptional("t", as: String.self) == nil)
        #expect(throws: PostgresError.self) { try middle.decode("t", as: String.self) }
        #expect(throws: PostgresError.self) { try middle.decode(7, as: String.self) }
        #expect(try middle.decode("e", as: String.self) == "")
        #expect(try r.all[2].decode(0, as: Int.self) == 3)
        #expect(try await c.query("SELECT 1 WHERE false").isEmpty)
        // A value made of many multi-byte characters comes back whole.
        let text = String(repeating: "ë✓𝄞", count: 5000)
        #expect(try await c.query("SELECT \(text)::text").first?.decode(0, as: String.self) == text)
    }

    /// The byte-level decoders answer as the text ones do, and refuse what those refuse.
    @Test func byteDecodersAgreeWithTextDecoders() {
        func bytes<T: PostgresDecodable>(_ s: String, _: T.Type) -> T? {
            Array(s.utf8).withUnsafeBufferPointer { T(postgresBytes: $0) }
        }
        for s in [
            "0", "-1", "+7", "42", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "", "-",
            "1x", " 1", "12345678901234567890123",
        ] {
            #expect(bytes(s, Int64.self) == Int64(s), "\(s)")
            #expect(bytes(s, Int.self) == Int(s), "\(s)")
            #expect(bytes(s, Int32.self) == Int32(s), "\(s)")
            #expect(bytes(s, UInt64.self) == (s.hasPrefix("-") ? nil : UInt64(s)), "\(s)")
        }
        #expect(bytes("18446744073709551615", UInt64.self) == UInt64.max)
        let id = UUID()
        #expect(bytes(id.uuidString.lowercased(), UUID.self) == id)
        #expect(bytes(id.uuidString, UUID.self) == id)
        for bad in [
            "", String(id.uuidString.dropLast()), id.uuidString.replacingOccurrences(of: "-", with: "_"),
            "g" + id.uuidString.dropFirst(),
        ] {
            #expect(bytes(bad, UUID.self) == nil, "\(bad)")
        }
        #expect(bytes("\\x00ff10", ByteA.self) == ByteA([0, 255, 16]))
        #expect(bytes("\\x", ByteA.self) == ByteA([]))
        for bad in ["00ff", "\\x0", "\\xzz", "x00"] { #expect(bytes(bad, ByteA.self) == nil, "\(bad)") }
        // Every byte value in every position of a pair: only hex digits (either case) decode.
        let hexDigits = Array("0123456789abcdefABCDEF".utf8)
        for b in UInt8.min...UInt8.max {
            let isHex = hexDigits.contains(b)
            let expected = isHex ? UInt8(String(UnicodeScalar(b)), radix: 16) : nil
            for pair in [[b, UInt8(ascii: "0")], [UInt8(ascii: "0"), b]] {
                let decoded = ([UInt8(ascii: "\\"), UInt8(ascii: "x")] + pair).withUnsafeBufferPointer {
                    ByteA(postgresBytes: $0)
                }
                let value = expected.map { pair[0] == b ? $0 << 4 : $0 }
                #expect(decoded == value.map { ByteA([$0]) }, "byte \(b)")
            }
            var uuid = Array(id.uuidString.utf8)
            uuid[35] = b
            #expect(uuid.withUnsafeBufferPointer { UUID(postgresBytes: $0) != nil } == isHex, "byte \(b)")
        }
        #expect(bytes("t", Bool.self) == true)
        #expect(bytes("no", Bool.self) == nil)
    }

    /// `stored` is the round trip through the text form, without the text, at random instants.
    @Test func storedIsTheRoundTripThroughText() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let seconds = Double.random(in: -62_135_596_800...253_402_300_799, using: &generator)
            let date = Date(timeIntervalSince1970: seconds)
            #expect(PostgresTimestamp.stored(date) == PostgresTimestamp.parse(PostgresTimestamp.format(date)))
        }
    }

    @Test func timestampsFormatAndParse() throws {
        let d = try #require(PostgresTimestamp.parse("2026-11-22T10:00:00Z"))
        #expect(PostgresTimestamp.format(d) == "2026-11-22T10:00:00.000000Z")
        #expect(PostgresTimestamp.parse("2026-11-22 12:00:00.5+02") == d.addingTimeInterval(0.5))
        #expect(PostgresTimestamp.parse("2024-02-29T23:59:59.999999+00:00") != nil)
        for bad in [
            "2026-11-22T10:00:00", "2026-02-30T00:00:00Z", "2026-11-22T24:00:00Z", "x", "", "2026-11-22T10:00:00Zjunk",
        ] {
            #expect(PostgresTimestamp.parse(bad) == nil, "\(bad)")
        }
        #expect(PostgresTimestamp.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500000Z")
    }
}
