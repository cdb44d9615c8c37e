import Foundation
import HandoffTestSupport
import Postgres
import Synchronization
import Testing

/// `COPY … TO STDOUT` lines, split and unescaped, give the values a query gives.
@Suite struct CopyTextRowTests {
    static func row(_ line: String) throws -> CopyTextRow {
        try Array(line.utf8).withUnsafeBytes { try CopyTextRow(line: $0) }
    }

    @Test func escapesNullsAndEmptyColumns() throws {
        let r = try Self.row("a\\tb\t\\N\t\t\\\\N\tx\\ny\\r\\b\\f\\v\t\\101\\x41\\x4\\q\n")
        #expect(r.count == 6)
        #expect(try r.decode(0, as: String.self) == "a\tb")
        #expect(r.isNull(1))
        #expect(throws: PostgresError.self) { try r.decode(1, as: String.self) }
        #expect(try r.decode(2, as: String.self) == "")
        #expect(try r.decode(3, as: String.self) == "\\N")
        #expect(try r.decode(4, as: String.self) == "x\ny\r\u{8}\u{C}\u{B}")
        #expect(try r.decode(5, as: String.self) == "AA\u{4}q")
        #expect(throws: PostgresError.self) { try r.decode(6, as: String.self) }
        #expect(throws: PostgresError.self) { try Self.row("ends in \\") }
        #expect(try Self.row("").count == 1)
        #expect(try Self.row("\\Nx").decode(0, as: String.self) == "Nx")
    }

    /// One row read line after line (its storage kept) holds each line exactly as a new row does:
    /// more columns then fewer, NULLs, escapes at a column's start and end, tabs beside
    /// backslashes, an empty line, and a malformed line in between.
    @Test func aRowReadAgainIsTheNewLinesOnly() throws {
        let lines = [
            "a\\tb\t\\N\t\t\\\\N\tx\\ny\\r\\b\\f\\v\t\\101\\x41\\x4\\q\n",
            "\\\\x00ff\t\\\\\\\\\tplain\t\\N",
            "\t\t",
            "",
            "one column, long: " + String(repeating: "0123456789", count: 50),
            "\\t\\t\t\\N\\N\t\\Nx",
        ]
        var reused = CopyTextRow()
        for (k, line) in lines.enumerated() {
            if k == 3 {
                #expect(throws: PostgresError.self) { try Array("bad \\".utf8).withUnsafeBytes { try reused.read($0) } }
            }
            try Array(line.utf8).withUnsafeBytes { try reused.read($0) }
            let fresh = try Self.row(line)
            #expect(reused.count == fresh.count, "line \(k)")
            for c in 0..<fresh.count {
                #expect(reused.isNull(c) == fresh.isNull(c), "line \(k) column \(c)")
                if !fresh.isNull(c) {
                    #expect(try reused.decode(c, as: String.self) == (try fresh.decode(c, as: String.self)))
                }
            }
        }
        let last = try Self.row(lines[5])
        #expect(try last.decode(0, as: String.self) == "\t\t")
        #expect(try last.decode(1, as: String.self) == "NN")
        #expect(try last.decode(2, as: String.self) == "Nx")
        let second = try Self.row(lines[1])
        #expect(try second.decode(0, as: String.self) == "\\x00ff")
        #expect(try second.decode(1, as: String.self) == "\\\\")
        #expect(second.isNull(3))
        #expect(try Self.row(lines[2]).count == 3)
    }

    /// Every character U+0001…U+00FF in text, every byte value in bytea, a NULL, an integer, a
    /// time, a uuid, JSON with escapes and an empty text, through a real COPY: each column decodes
    /// to what the same query decodes to.
    @Test func aRealCopyDecodesAsAQueryDoes() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let c = try await db.connect()
        defer { c.close() }
        let every = String(String.UnicodeScalarView((1...255).compactMap(UnicodeScalar.init(_:))))
        try await c.execute(
            """
            CREATE TABLE copied (t text, b bytea, n text, i int8, at timestamptz, u uuid, j jsonb, e text)
            """)
        try await c.query(
            """
            INSERT INTO copied VALUES (\(every), \(ByteA(Array(0...255))), NULL, -42,
                '2026-11-22 10:00:00.5+00', 'f47ac10b-58cc-4372-a567-0e02b2c3d479',
                \(#"{"k": "a\tb\\c \u0001 ñ", "n": null}"#), '')
            """)
        let columns = "t, b, n, i, at, u, j::text, e"
        let expected = try #require(try await c.query(SQL(text: "SELECT \(columns) FROM copied", parameters: [])).first)
        let lines = Mutex<[[UInt8]]>([])
        _ = try await c.copyOut(SQL(text: "COPY (SELECT \(columns) FROM copied) TO STDOUT", parameters: [])) { line in
            lines.withLock { $0.append(Array(line)) }
        }
        let copied = lines.withLock { $0 }
        #expect(copied.count == 1)
        let line = try #require(copied.first)
        let row = try line.withUnsafeBytes { try CopyTextRow(line: $0) }
        #expect(row.count == 8)
        #expect(try row.decode(0, as: String.self) == every)
        #expect(try row.decode(0, as: String.self) == (try expected.decode(0, as: String.self)))
        #expect(try row.decode(1, as: ByteA.self).bytes == Array(0...255))
        #expect(row.isNull(2))
        #expect(try row.decode(3, as: Int64.self) == -42)
        #expect(try row.decode(4, as: String.self) == (try expected.decode(4, as: String.self)))
        #expect(try row.decode(5, as: UUID.self) == UUID(uuidString: "f47ac10b-58cc-4372-a567-0e02b2c3d479"))
        #expect(try row.decode(6, as: String.self) == (try expected.decode(6, as: String.self)))
        #expect(try row.decode(7, as: String.self) == "")
    }

    /// `COPY … FROM STDIN` (``Connection/copyIn(_:_:)``) with values escaped by
    /// ``PostgresCopy/appendEscaped(_:to:)``: every character U+0001…U+00FF, the text `\N`, tabs,
    /// newlines and backslashes, multi-byte text and a NULL arrive as they were; a malformed row
    /// fails the whole COPY with the server's error and leaves the connection usable.
    @Test func aCopyInStoresWhatWasEscaped() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let c = try await db.connect()
        defer { c.close() }
        try await c.execute("CREATE TABLE loaded (i int, t text)")
        let every = String(String.UnicodeScalarView((1...255).compactMap(UnicodeScalar.init(_:))))
        let values: [String?] = [every, "\\N", "a\tb\nc\r\\d\\", "ñ 🙂 Ш", "", nil]
        var input: [UInt8] = []
        for (i, value) in values.enumerated() {
            input.append(contentsOf: "\(i)\t".utf8)
            if var value {
                value.withUTF8 { PostgresCopy.appendEscaped($0, to: &input) }
            } else {
                input.append(contentsOf: "\\N".utf8)
            }
            input.append(UInt8(ascii: "\n"))
        }
        // More than one piece of the input (1 MiB each).
        let many = 40_000
        for i in values.count..<(values.count + many) {
            input.append(contentsOf: "\(i)\t\(String(repeating: "x", count: 30))\n".utf8)
        }
        #expect(try await c.copyIn("COPY loaded (i, t) FROM STDIN", input) == values.count + many)
        let rows = try await c.query(
            SQL(text: "SELECT t FROM loaded WHERE i < \(values.count) ORDER BY i", parameters: []))
        #expect(try rows.all.map { try $0.decodeOptional(0, as: String.self) } == values)
        await #expect(throws: PostgresError.self) {
            try await c.copyIn("COPY loaded (i, t) FROM STDIN", Array("not a number\tx\n".utf8))
        }
        await #expect(throws: PostgresError.self) { try await c.copyIn("SELECT 1", []) }
        #expect(
            try await c.query(SQL(text: "SELECT count(*) FROM loaded", parameters: [])).first?.decode(0, as: Int.self)
                == values.count + many)
    }
}
