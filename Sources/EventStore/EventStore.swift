import Foundation
import Postgres
import Synchronization

/// The append-only, hash-chained event log in PostgreSQL.
///
/// Writes go through one SQL function (`handoff.append_group`) that checks each append's expected
/// version, deduplicates by event id, chains hashes and inserts; concurrent appends to different
/// streams share one call and one commit (``GroupCommit``). Reads are per stream, or global in the
/// gap-free (xid, position) order.
public final class EventStore: Sendable {
    /// The store's connections: for the modules beside it (projections, the service's own tables),
    /// never for route code.
    package let pool: ConnectionPool
    /// Most events one append may carry.
    public static let maximumBatch = 1000
    private let notifier: AppendNotifier
    private let committer: GroupCommitter

    /// - Parameter groupCommit: how concurrent appends share transactions; by default
    ///   ``GroupCommit/standard(connections:)`` for the pool's size.
    public init(pool: ConnectionPool, groupCommit: GroupCommit? = nil) {
        self.pool = pool
        self.notifier = AppendNotifier(url: pool.url)
        self.committer = GroupCommitter(
            pool: pool, configuration: groupCommit ?? .standard(connections: pool.maximumConnections))
    }

    /// Appends waiting for their group to start (for tests).
    var queuedAppends: Int { committer.queued }

    // MARK: - Append

    /// Appends events to one stream atomically.
    ///
    /// Concurrent appends to other streams may be written in the same transaction (group commit);
    /// each keeps its own outcome, and this one returns only after its transaction committed.
    ///
    /// - Returns: the stream's new version and each event's version, cursor and hash. When every
    ///   event id already exists with the same content, the original result (`deduplicated`), once
    ///   it is as durable as a fresh append would be (see `replicationBarrier`).
    /// - Throws: `EventStoreError.wrongExpectedVersion`, `.duplicateEventId`, `.invalid(field:)`,
    ///   `.unavailable` during a database outage.
    @discardableResult
    public func append(to stream: StreamName, expected: ExpectedVersion = .any, events: [NewEvent]) async throws
        -> AppendResult
    {
        try Self.validate(events)
        let result = try await committer.append(
            GroupCommitter.Item(stream: stream.rawValue, expected: expected.description, events: events))
        do {
            if result.deduplicated {
                try await pool.query(Self.replicationBarrier)
            } else {
                notifier.appended()
            }
        } catch {
            throw EventStoreError.from(error)
        }
        return result
    }

    /// Ends a deduplicated append: a transactional write whose commit, like any append's, waits for
    /// the synchronous standby (when there is one), and with it for everything committed before it.
    ///
    /// The event found may be one whose own wait for the standby was cancelled (a client deadline,
    /// a cancelled or terminated backend): PostgreSQL then keeps it committed on the primary alone,
    /// and it was never acknowledged. A retry must not acknowledge it either until the standby has
    /// it (docs/operations.md, "High availability"). It writes one small WAL record and no row.
    static let replicationBarrier: SQL = "SELECT pg_logical_emit_message(true, 'handoff', 'deduplicated append')"

    /// Runs `body` on one connection in one `REPEATABLE READ` transaction: what it reads is one
    /// snapshot, so rows committed meanwhile never look like a removed tail to a verifier.
    /// - Throws: what `body` throws, as ``EventStoreError``.
    func inOneSnapshot<T: Sendable>(_ body: @Sendable (Connection) async throws -> T) async throws -> T {
        do {
            return try await pool.withConnection { connection in
                try await connection.transaction(isolation: "REPEATABLE READ") { c in try await body(c) }
            }
        } catch { throw EventStoreError.from(error) }
    }

    static func validate(_ events: [NewEvent]) throws {
        guard !events.isEmpty else { throw EventStoreError.invalid(field: "events", message: "no events to append") }
        guard events.count <= maximumBatch else {
            throw EventStoreError.invalid(field: "events", message: "at most \(maximumBatch) events per append")
        }
        var ids = Set<UUID>()
        for event in events {
            guard Self.isValidType(event.type) else {
                throw EventStoreError.invalid(field: "type", message: "an event type is a name of letters and digits")
            }
            guard JSONSyntax.isValid(event.data) else {
                throw EventStoreError.invalid(field: "data", message: "not valid JSON or a malformed value")
            }
            guard ids.insert(event.id).inserted else {
                throw EventStoreError.invalid(field: "id", message: "an event id appears twice in one append")
            }
        }
    }

    /// A letter, then letters and digits; at most 64.
    public static func isValidType(_ type: String) -> Bool {
        let u = Array(type.utf8)
        guard (1...64).contains(u.count) else { return false }
        func letter(_ c: UInt8) -> Bool { (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
        return letter(u[0]) && u.allSatisfy { letter($0) || ($0 >= 48 && $0 <= 57) }
    }

    // MARK: - Reads

    /// The gap-free horizon: an event is readable once every transaction older than its own has
    /// ended (its xid is below the oldest one running anywhere in the cluster).
    static let readable: StaticString = "xid < pg_snapshot_xmin(pg_current_snapshot())"

    static let columns: StaticString = """
        position, xid::text AS xid_text, stream, version, id, type, data::text, metadata::text,
        occurred_at, recorded_at, prev_hash, hash
        """

    static func decodeEvents(_ result: QueryResult) throws -> [RecordedEvent] {
        try decodeEvents(rows: result.all)
    }

    static func decodeEvents(rows: [Row]) throws -> [RecordedEvent] {
        try rows.map(decodeEvent)
    }

    /// An event from a row of `columns` (a query's or a COPY's).
    static func decodeEvent(_ row: some PostgresRow) throws -> RecordedEvent {
        RecordedEvent(
            position: try row.decode(0, as: Int64.self), xid: try row.decode(1, as: UInt64.self),
            stream: try row.decode(2, as: String.self), version: try row.decode(3, as: Int64.self),
            id: try row.decode(4, as: UUID.self), type: try row.decode(5, as: String.self),
            data: try row.decode(6, as: String.self), metadata: try row.decode(7, as: String.self),
            occurredAt: try row.decode(8, as: CanonicalTimestamp.self).text,
            recordedAt: try row.decode(9, as: CanonicalTimestamp.self).text,
            prevHash: try row.decode(10, as: ByteA.self).bytes, hash: try row.decode(11, as: ByteA.self).bytes)
    }

    /// The stream's current version (0 when it has no events).
    public func version(of stream: StreamName) async throws -> Int64 {
        do {
            let result = try await pool.query("SELECT version FROM handoff.streams WHERE stream = \(stream.rawValue)")
            return try result.first?.decode(0) ?? 0
        } catch { throw EventStoreError.from(error) }
    }

    /// The versions of several streams in one query (0 for a stream that does not exist).
    public func versions(of streams: some Collection<StreamName>) async throws -> [StreamName: Int64] {
        var versions = Dictionary(uniqueKeysWithValues: streams.map { ($0, Int64(0)) })
        guard !versions.isEmpty else { return versions }
        do {
            let names = PostgresArray.text(versions.keys.map(\.rawValue))
            let result = try await pool.query(
                "SELECT stream, version FROM handoff.streams WHERE stream = ANY(\(names)::text[])")
            for row in result.all {
                if let stream = StreamName(try row.decode(0, as: String.self)) { versions[stream] = try row.decode(1) }
            }
            return versions
        } catch { throw EventStoreError.from(error) }
    }

    /// Events of one stream from `fromVersion` on, in version order, at most `limit`.
    public func read(stream: StreamName, fromVersion: Int64 = 1, limit: Int = 1000) async throws -> [RecordedEvent] {
        do {
            let result = try await pool.query(
                """
                SELECT \(unescaped: Self.columns) FROM handoff.events
                 WHERE stream = \(stream.rawValue) AND version >= \(fromVersion) ORDER BY version LIMIT \(limit)
                """)
            return try Self.decodeEvents(result)
        } catch { throw EventStoreError.from(error) }
    }

    /// The events of `streams` at or before `cursor` in gap-free order, of `types` only when given,
    /// read on `connection`: what a replay through `cursor` sees of those streams. `cursor` must be
    /// one a gap-free read returned (``headCursor()``, a page's `next`), so that nothing can still
    /// commit at or before it and the same call always answers the same.
    public static func events(
        of streams: [String], types: [String]? = nil, through cursor: Cursor, on connection: Connection
    ) async throws -> [RecordedEvent] {
        guard !streams.isEmpty else { return [] }
        let typeList = types.map { PostgresArray.text($0) }
        do {
            let result = try await connection.query(
                """
                SELECT \(unescaped: columns) FROM handoff.events
                 WHERE stream = ANY(\(PostgresArray.text(streams))::text[])
                   AND (\(typeList)::text[] IS NULL OR type = ANY(\(typeList)::text[]))
                   AND (xid, position) <= (\(String(cursor.xid))::xid8, \(cursor.position))
                 ORDER BY events.xid, events.position
                """)
            return try decodeEvents(result)
        } catch { throw EventStoreError.from(error) }
    }

    /// Every event of a stream, read in pages.
    public func readAll(stream: StreamName) async throws -> [RecordedEvent] {
        var out: [RecordedEvent] = []
        var next: Int64 = 1
        while true {
            let page = try await read(stream: stream, fromVersion: next, limit: 1000)
            out += page
            guard page.count == 1000, let last = page.last else { return out }
            next = last.version + 1
        }
    }

    /// A page of the global log after `cursor`, in gap-free order.
    public struct Page: Sendable {
        public var events: [RecordedEvent]
        /// Where the next read starts: the position the read examined up to. Without a filter that
        /// is the last event's cursor (or the given one when the page is empty); with a filter it
        /// may lie past the last match, over events the filter left out.
        public var next: Cursor
        /// Whether the read examined everything readable now (a full page says false).
        public var reachedEnd: Bool

        public init(events: [RecordedEvent], next: Cursor, reachedEnd: Bool = false) {
            self.events = events
            self.next = next
            self.reachedEnd = reachedEnd
        }
    }

    /// How many events one filtered read examines at most before it returns (possibly with no
    /// match, and a `next` that moved past what it examined).
    public static let filteredScanLimit = 10_000

    /// Reads the global log after `cursor` in gap-free order: only events of transactions older than
    /// every transaction still running, ordered by (xid, position). A transaction that commits late
    /// therefore shows up later, never skipped.
    ///
    /// - Parameters:
    /// With a filter, `next` is the position the read examined up to, not the last match: a
    /// follower of a rare event type does not examine the same events again on every read. The
    /// read examines at most ``filteredScanLimit`` events; `next` is then the last of them (or the
    /// last match, when `limit` matches came first). Every examined event is below the snapshot's
    /// oldest running transaction, so nothing can still commit below `next`.
    ///
    /// - Parameters:
    ///   - types: only these event types (the cursor still advances past others).
    ///   - streams: only these streams.
    public func readGlobal(after cursor: Cursor, limit: Int = 100, types: [String]? = nil, streams: [String]? = nil)
        async throws -> Page
    {
        do {
            guard types != nil || streams != nil else {
                let result = try await pool.query(
                    Self.globalQuery(after: cursor, limit: limit, types: nil, streams: nil))
                let events = try Self.decodeEvents(result)
                return Page(events: events, next: events.last?.cursor ?? cursor, reachedEnd: events.count < limit)
            }
            let result = try await pool.query(
                Self.filteredQuery(after: cursor, limit: limit, types: types, streams: streams))
            // Every row carries the scan's bound; a row without an event says nothing matched.
            guard let first = result.first else { return Page(events: [], next: cursor, reachedEnd: true) }
            let examinedTo = Cursor(xid: try first.decode(12), position: try first.decode(13))
            let examined: Int64 = try first.decode(14)
            let matched = try result.all.filter { try $0.decodeOptional(0, as: Int64.self) != nil }
            let events = try Self.decodeEvents(rows: matched)
            let limit = max(1, min(limit, 10_000))
            if events.count == limit, let last = events.last {
                return Page(events: events, next: last.cursor, reachedEnd: false)
            }
            return Page(events: events, next: examinedTo, reachedEnd: examined < Self.filteredScanLimit)
        } catch { throw EventStoreError.from(error) }
    }

    /// One statement, one snapshot: the readable events after `cursor` (at most
    /// ``filteredScanLimit``), the matches among them, and the last one examined on every row.
    static func filteredQuery(after cursor: Cursor, limit: Int, types: [String]?, streams: [String]?) -> SQL {
        let limit = max(1, min(limit, 10_000))
        let typeList = types.map { PostgresArray.text($0) }
        let streamList = streams.map { PostgresArray.text($0) }
        return """
            WITH scanned AS MATERIALIZED (
                SELECT xid AS sxid, position AS spos, type AS stype, stream AS sstream FROM handoff.events
                 WHERE (xid, position) > (\(String(cursor.xid))::xid8, \(cursor.position))
                   AND \(unescaped: readable)
                 ORDER BY events.xid, events.position
                 LIMIT \(filteredScanLimit)
            ), bound AS (
                SELECT sxid AS bxid, spos AS bpos, count(*) OVER () AS examined FROM scanned
                 ORDER BY sxid DESC, spos DESC LIMIT 1
            ), hits AS (
                SELECT sxid AS hxid, spos AS hpos FROM scanned
                 WHERE (\(typeList)::text[] IS NULL OR stype = ANY(\(typeList)::text[]))
                   AND (\(streamList)::text[] IS NULL OR sstream = ANY(\(streamList)::text[]))
                 ORDER BY sxid, spos LIMIT \(limit)
            )
            SELECT \(unescaped: columns), bxid::text, bpos, examined
              FROM bound LEFT JOIN (hits JOIN handoff.events ON (events.xid, events.position) = (hxid, hpos)) ON true
             ORDER BY hxid, hpos
            """
    }

    /// Reads the global log after `cursor` page by page, in gap-free order, until a page comes back
    /// empty or `body` returns false. Returns the cursor after the last page handed to `body`.
    ///
    /// For bulk reads (a rebuild, a replay): the rows come by `COPY … TO STDOUT`, in chunks of
    /// several pages, each chunk one statement with one gap-free horizon, as a page of
    /// ``readGlobal(after:limit:types:streams:)`` has. Rows are decoded on the connection's thread
    /// as they arrive, while the server goes on producing; the next chunk is asked for as soon as
    /// one is complete, and read while `body` works through the pages of the one before. At most
    /// two chunks are held at once. (Against a paged query, this reads the log 1.3 × as fast:
    /// docs/benchmarks.md, `read-all`.)
    @discardableResult
    public func readGlobalPages(
        after cursor: Cursor, limit: Int = 1000, _ body: (Page) async throws -> Bool
    ) async throws -> Cursor {
        let limit = max(1, min(limit, 10_000))
        let chunk = max(limit, min(limit * 8, 10_000) / limit * limit)
        let read = { @Sendable [pool] (after: Cursor) in try await Self.copyChunk(pool, after: after, rows: chunk) }
        var cursor = cursor
        var ahead = Task { [cursor] in try await read(cursor) }
        while true {
            let events: [RecordedEvent]
            do { events = try await ahead.value } catch { throw EventStoreError.from(error) }
            guard let last = events.last else { return cursor }
            ahead = Task { [last] in try await read(last.cursor) }
            var from = 0
            while from < events.count {
                let page = Array(events[from..<min(from + limit, events.count)])
                from += page.count
                let next = page[page.count - 1].cursor
                let more: Bool
                do {
                    more = try await body(Page(events: page, next: next, reachedEnd: page.count < limit))
                } catch {
                    ahead.cancel()
                    _ = try? await ahead.value
                    throw error
                }
                cursor = next
                if !more {
                    ahead.cancel()
                    _ = try? await ahead.value
                    return cursor
                }
            }
        }
    }

    /// Up to `rows` events after `cursor`, in gap-free order, by one `COPY` (see `readGlobalPages`).
    private static func copyChunk(_ pool: ConnectionPool, after cursor: Cursor, rows: Int) async throws
        -> [RecordedEvent]
    {
        // COPY takes no parameters: the cursor and the count are integers, written as literals.
        let sql = SQL(
            text: """
                COPY (SELECT \(columns) FROM handoff.events
                       WHERE (xid, position) > ('\(cursor.xid)'::xid8, \(cursor.position))
                         AND \(readable)
                       ORDER BY events.xid, events.position
                       LIMIT \(rows)) TO STDOUT
                """, parameters: [])
        // Filled on the connection's thread, line by line; read once the COPY has ended.
        // One `CopyTextRow` takes every line in turn, its storage kept from line to line.
        let decoded = Mutex<(events: [RecordedEvent], error: (any Error)?, row: CopyTextRow)>(([], nil, CopyTextRow()))
        decoded.withLock { $0.events.reserveCapacity(rows) }
        try await pool.withConnection { connection in
            _ = try await connection.copyOut(sql) { line in
                decoded.withLock { state in
                    guard state.error == nil else { return }
                    do {
                        try state.row.read(line)
                        state.events.append(try decodeEvent(state.row))
                    } catch {
                        state.error = error
                    }
                }
            }
        }
        return try decoded.withLock { state in
            if let error = state.error { throw error }
            return state.events
        }
    }

    static func globalQuery(after cursor: Cursor, limit: Int, types: [String]?, streams: [String]?) -> SQL {
        let limit = max(1, min(limit, 10_000))
        let typeList = types.map { PostgresArray.text($0) }
        let streamList = streams.map { PostgresArray.text($0) }
        return """
            SELECT \(unescaped: columns) FROM handoff.events
             WHERE (xid, position) > (\(String(cursor.xid))::xid8, \(cursor.position))
               AND \(unescaped: readable)
               AND (\(typeList)::text[] IS NULL OR type = ANY(\(typeList)::text[]))
               AND (\(streamList)::text[] IS NULL OR stream = ANY(\(streamList)::text[]))
             ORDER BY events.xid, events.position  -- qualified: the output column `xid::text` is also named xid
             LIMIT \(limit)
            """
    }

    /// The cursor of the newest event readable in gap-free order (`Cursor.start` for an empty log).
    public func headCursor() async throws -> Cursor {
        do {
            let result = try await pool.query(
                """
                SELECT xid::text AS xid_text, position FROM handoff.events WHERE \(unescaped: Self.readable)
                 ORDER BY events.xid DESC, events.position DESC LIMIT 1
                """)
            guard let row = result.first else { return .start }
            return Cursor(xid: try row.decode(0), position: try row.decode(1))
        } catch { throw EventStoreError.from(error) }
    }

    /// How many committed events are not yet readable in gap-free order because an older
    /// transaction is still running somewhere in the cluster: the reader lag. Keep it near zero by
    /// keeping write transactions short.
    public func pendingVisibility() async throws -> Int64 {
        do {
            return try await pool.query(
                "SELECT count(*) FROM handoff.events WHERE xid >= pg_snapshot_xmin(pg_current_snapshot())"
            ).first?.decode(0) ?? 0
        } catch { throw EventStoreError.from(error) }
    }

    /// True when any of these event ids is stored.
    public func containsAny(ids: [UUID]) async throws -> Bool {
        guard !ids.isEmpty else { return false }
        do {
            let list = PostgresArray.text(ids.map { $0.uuidString.lowercased() })
            return try await pool.query("SELECT EXISTS (SELECT 1 FROM handoff.events WHERE id = ANY(\(list)::uuid[]))")
                .first?.decode(0) ?? false
        } catch { throw EventStoreError.from(error) }
    }

    /// The stream holding the event with this id, if any.
    public func stream(ofEvent id: UUID) async throws -> String? {
        do {
            return try await pool.query("SELECT stream FROM handoff.events WHERE id = \(id)").first?.decode(0)
        } catch { throw EventStoreError.from(error) }
    }

    /// A new case id from the server's sequence for `prefix` and `year` (`KS-2026-000123`):
    /// never one whose stream exists, never issued twice; a number issued to an opening that then
    /// fails is skipped.
    public func issueCaseId(prefix: String, year: Int) async throws -> String {
        do {
            return try await pool.query("SELECT handoff.issue_case_id(\(prefix), \(year)::int)").first?.decode(0) ?? ""
        } catch { throw EventStoreError.from(error) }
    }

    /// Whether `cursor` is ``Cursor/start`` or names an event of the log: the transaction id and
    /// position of one event as committed. Every cursor this store hands out is one of these; any
    /// other, however near, would make a reader skip events it never saw.
    public func names(_ cursor: Cursor) async throws -> Bool {
        guard cursor != .start else { return true }
        do {
            return try await pool.query(
                """
                SELECT EXISTS (SELECT 1 FROM handoff.events
                                WHERE position = \(cursor.position) AND xid = \(String(cursor.xid))::xid8)
                """
            ).first?.decode(0) ?? false
        } catch { throw EventStoreError.from(error) }
    }

    /// The highest position handed out to a committed event (0 for an empty store). Not a cursor:
    /// events below it may still be invisible to the gap-free reader.
    public func newestPosition() async throws -> Int64 {
        do {
            return try await pool.query("SELECT coalesce(max(position), 0) FROM handoff.events").first?.decode(0) ?? 0
        } catch { throw EventStoreError.from(error) }
    }

    /// A round trip to the database; throws `.unavailable` when it cannot be reached.
    public func ping() async throws {
        do { try await pool.query("SELECT 1") } catch { throw EventStoreError.from(error) }
    }

    /// How many events lie at or before `cursor` in gap-free order.
    public func count(through cursor: Cursor) async throws -> Int64 {
        do {
            return try await pool.query(
                """
                SELECT count(*) FROM handoff.events
                 WHERE (xid, position) <= (\(String(cursor.xid))::xid8, \(cursor.position))
                """
            ).first?.decode(0) ?? 0
        } catch { throw EventStoreError.from(error) }
    }

    /// How many events the store holds.
    public func count() async throws -> Int64 {
        do { return try await pool.query("SELECT count(*) FROM handoff.events").first?.decode(0) ?? 0 } catch {
            throw EventStoreError.from(error)
        }
    }
}
