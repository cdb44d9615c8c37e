import Foundation
import Logging
import Postgres
import Referrals
import Synchronization

/// The append-only record of who read which case through which endpoint.
///
/// **Guarantee:** a read is answered only after its rows are committed. ``record(_:caseIds:endpoint:outcome:)``
/// returns once the rows are in PostgreSQL with an ordinary (synchronous, durable) commit; the
/// route sends its data after that. When the rows cannot be written — the queue is full, or the
/// INSERT or its commit fails — it throws 503 `unavailable` and the route sends nothing. A crash
/// can therefore leave a row for a read whose answer never reached the client, never the reverse.
///
/// Rows are written in batches, at most two on their way at a time (one waits at the log's head
/// lock while the other commits): every read that arrives while they are being committed
/// joins the next batch, so concurrent reads share one INSERT and one commit (group commit)
/// instead of paying a commit each. At most `queueCapacity` rows wait; beyond that a read
/// is refused (503) instead of queued without bound. The table's trigger rejects UPDATE, DELETE
/// and TRUNCATE. `at` is the database's clock when the row was inserted, before the answer is sent.
///
/// Refused reads of a case (403 and 404) are recorded too, with the outcome `denied`. Rows are
/// written only through `handoff.log_access`, which numbers them (`seq`) in commit order under
/// the log's one head lock, taken once per batch: entries are listed newest first by `seq`.
public struct AccessLog: Sendable {
    let pool: ConnectionPool
    let writer: AccessLogWriter

    /// - Parameters:
    ///   - pool: where the entries are read.
    ///   - writerPool: where the rows are written (nil: `pool`). The service gives the writer a
    ///     pool of its own (``ownWriterPool(beside:)``): every read waits for its rows, so a writer
    ///     in line behind the shared pool's callers refused every caller's reads whenever one
    ///     caller's flood of requests exhausted that pool (an attack pass).
    ///   - queueCapacity: the most rows waiting to be written.
    ///   - patience: how long a read waits for its rows, from when it was queued, before it is
    ///     refused (503), however many batches it waited through; nil: the pool's statement timeout
    ///     (30 s without one, the service roles' own bound).
    ///   - logger: where a failed write is logged with its cause (the reads it refused get 503).
    public init(
        pool: ConnectionPool, writerPool: ConnectionPool? = nil, queueCapacity: Int = 20_000, patience: Duration? = nil,
        logger: Logger = Logger(label: "access-log")
    ) {
        self.pool = pool
        let writerPool = writerPool ?? pool
        self.writer = AccessLogWriter(
            pool: writerPool, capacity: queueCapacity,
            patience: patience ?? writerPool.statementTimeout ?? .seconds(30), logger: logger)
    }

    /// A pool for the writer beside `pool`: one connection for each batch that may be on its way.
    public static func ownWriterPool(beside pool: ConnectionPool) -> ConnectionPool {
        pool.sibling(maximumConnections: AccessLogWriter.pipelineDepth)
    }

    /// Whether a read was answered or refused.
    public enum Outcome: String, Sendable, Hashable {
        /// The data was sent (after the row was committed).
        case allowed
        /// The read was refused with 403 or 404; nothing about the case was sent.
        case denied
    }

    /// One entry as `GET /v1/audit/access` returns it.
    public struct Entry: Sendable, Hashable {
        /// The row's place in the log: 1, 2, 3 … in commit order (the paging cursor's content).
        public var seq: Int64
        public var at: String
        public var institution: String?
        public var user: String
        public var role: String
        public var caseId: String
        public var endpoint: String
        public var outcome: String
    }

    /// Which entries `GET /v1/audit/access` asks for; every field narrows, nil fields do not.
    public struct Filter: Sendable, Hashable {
        public var caseId: String?
        public var institution: String?
        public var user: String?
        /// Entries at or after this time.
        public var from: Date?
        /// Entries at or before this time.
        public var to: Date?

        public init(
            caseId: String? = nil, institution: String? = nil, user: String? = nil, from: Date? = nil, to: Date? = nil
        ) {
            self.caseId = caseId
            self.institution = institution
            self.user = user
            self.from = from
            self.to = to
        }
    }

    /// One page of entries, newest first, and the cursor of the next (older) page.
    public struct Page: Sendable {
        public var entries: [Entry]
        /// nil on the last page.
        public var next: AccessCursor?
    }

    /// Records that `principal` read (or, with `.denied`, tried to read) each of `caseIds` through
    /// `endpoint` (one row per case) and returns once the rows are committed.
    /// - Throws: ``ServiceStoreError/accessLogQueueFull`` or ``ServiceStoreError/accessLogWriteFailed``
    ///   (503 `unavailable` to a client) when they cannot be written.
    public func record(
        _ principal: Principal, caseIds: some Collection<String>, endpoint: String, outcome: Outcome = .allowed
    ) async throws {
        guard !caseIds.isEmpty else { return }
        let rows = Set(caseIds).sorted().map { caseId in
            AccessLogWriter.Row(
                role: principal.role.rawValue, institution: principal.institution, user: principal.user,
                caseId: caseId, endpoint: endpoint, outcome: outcome.rawValue)
        }
        try await writer.write(rows)
    }

    /// Entries matching `filter`, newest first (highest `seq` first), at most `limit`, strictly
    /// older than `after`. Rows are numbered in commit order, so a page never changes once read:
    /// paging on from a cursor yields every older entry exactly once, however many reads arrive.
    public func entries(_ filter: Filter = Filter(), after: AccessCursor? = nil, limit: Int = 1000) async throws
        -> Page
    {
        let before = after?.seq
        let result = try await pool.query(
            """
            SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), institution, "user", role,
                   case_id, endpoint, outcome
              FROM handoff.access_log
             WHERE (\(before)::bigint IS NULL OR seq < \(before))
               AND (\(filter.caseId)::text IS NULL OR case_id = \(filter.caseId))
               AND (\(filter.institution)::text IS NULL OR institution = \(filter.institution))
               AND (\(filter.user)::text IS NULL OR "user" = \(filter.user))
               AND (\(filter.from)::timestamptz IS NULL OR at >= \(filter.from))
               AND (\(filter.to)::timestamptz IS NULL OR at <= \(filter.to))
             ORDER BY seq DESC LIMIT \(limit + 1)
            """)
        var entries = try result.all.map { row in
            Entry(
                seq: try row.decode(0), at: try row.decode(1), institution: try row.decodeOptional(2),
                user: try row.decode(3), role: try row.decode(4), caseId: try row.decode(5),
                endpoint: try row.decode(6), outcome: try row.decode(7))
        }
        var next: AccessCursor?
        if entries.count > limit {
            entries.removeLast(entries.count - limit)
            next = entries.last.map { AccessCursor(seq: $0.seq) }
        }
        return Page(entries: entries, next: next)
    }
}

/// The writer of access-log rows: a bounded queue of waiting reads, drained in batches.
final class AccessLogWriter: Sendable {
    struct Row: Sendable {
        var role: String
        var institution: String?
        var user: String
        var caseId: String
        var endpoint: String
        var outcome: String
    }

    private struct Waiting {
        var rows: [Row]
        var continuation: CheckedContinuation<Void, any Error>
        /// Whose read it is (``principalKey(_:)``).
        var principal: String
        /// When the read is refused if its rows are not committed by then.
        var deadline: ContinuousClock.Instant
        var id: UInt64
    }

    private struct State {
        var waiting: [Waiting] = []
        /// The batches being written: each read resumed when its batch commits or fails, unless its
        /// deadline came first.
        var inFlight: [UInt64: Waiting] = [:]
        var queuedRows = 0
        /// Rows waiting, by principal.
        var queuedBy: [String: Int] = [:]
        /// How many batches are being written (at most ``AccessLogWriter/pipelineDepth``).
        var writers = 0
        /// Whether the watch for reads past their deadline runs (while a batch is being written).
        var watching = false
        var nextId: UInt64 = 0

        /// Takes a read out of the queue's counts (it left `waiting`).
        mutating func unqueue(_ waiting: Waiting) {
            queuedRows -= waiting.rows.count
            queuedBy[waiting.principal, default: 0] -= waiting.rows.count
            if queuedBy[waiting.principal] == 0 { queuedBy[waiting.principal] = nil }
        }
    }

    static let queueFull = ServiceStoreError.accessLogQueueFull
    static let writeFailed = ServiceStoreError.accessLogWriteFailed

    let pool: ConnectionPool
    let capacity: Int
    /// The most rows one INSERT carries.
    static let maxBatchRows = 5_000
    /// How many batches may be on their way at once, each on a pooled connection of its own. The
    /// second is sent while the first commits: it is checked and waits at the log's head lock
    /// instead of leaving only once the first's answer has come back. Whichever takes the lock
    /// first is numbered first: rows are numbered in commit order, and each read is answered after
    /// its own batch's commit. While the log is stalled, both hold a connection of the writer's
    /// pool (the service gives the writer a pool of its own, of this many connections).
    static let pipelineDepth = 2
    private let state = Mutex(State())

    let logger: Logger

    /// How long a read waits for its rows to be committed, from when it was queued: behind a
    /// batch that hangs (a lock held on the log's head, a frozen database) it is refused then,
    /// however many batches it waited through.
    let patience: Duration

    init(pool: ConnectionPool, capacity: Int, patience: Duration, logger: Logger) {
        self.pool = pool
        self.capacity = max(1, capacity)
        self.patience = patience
        self.logger = logger
    }

    /// Rows waiting for a batch (not counting the batches being written).
    var queuedRows: Int { state.withLock { $0.queuedRows } }

    /// The rows one principal may have waiting in the last quarter of the queue: an eighth of it.
    /// A principal past its share is let in only while the queue is less than three quarters
    /// full, so that one caller's reads (an attack pass sent 300 pipelined connections of
    /// `GET /v1/events?limit=1000`, a thousand rows each) cannot fill the queue for everyone, and
    /// one busy caller alone still has most of it.
    var principalShare: Int { max(1, capacity / 8) }

    /// Whose share a row's read counts against: its principal's ``Principal/caller`` (an
    /// institution flooding the log with several of its people's tokens is still one caller).
    static func principalKey(_ row: Row) -> String {
        Principal.Role(rawValue: row.role).map {
            Principal(role: $0, institution: row.institution, user: row.user).caller
        } ?? row.role + ":" + row.user
    }

    /// Queues `rows` (one read's, all by one principal) and returns once they are committed.
    /// - Throws: ``queueFull`` at once when the queue, or the principal's share of its last
    ///   quarter (``principalShare``), has no room; ``writeFailed`` when the batch they were in could not
    ///   be written.
    func write(_ rows: [Row]) async throws {
        let principal = rows.first.map(Self.principalKey) ?? ""
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            enum Outcome { case refused, queued, startWriter }
            let outcome = state.withLock { state -> Outcome in
                guard state.queuedRows + rows.count <= capacity else { return .refused }
                let own = state.queuedBy[principal, default: 0]
                guard
                    own == 0 || own + rows.count <= principalShare
                        || state.queuedRows + rows.count <= capacity * 3 / 4
                else { return .refused }
                state.nextId += 1
                state.waiting.append(
                    Waiting(
                        rows: rows, continuation: continuation, principal: principal,
                        deadline: .now + patience, id: state.nextId))
                state.queuedRows += rows.count
                state.queuedBy[principal, default: 0] += rows.count
                guard state.writers < Self.pipelineDepth else { return .queued }
                state.writers += 1
                return .startWriter
            }
            switch outcome {
            case .refused: continuation.resume(throwing: Self.queueFull)
            case .queued: break
            case .startWriter: Task { await self.drain() }
            }
        }
    }

    /// Refuses, every tenth of a second while the writer runs, the reads past their deadline:
    /// waiting, or in a batch still being written (its rows may still commit: a read recorded
    /// that was refused, never a read sent unrecorded).
    private func watch() async {
        while true {
            try? await Task.sleep(for: .milliseconds(100))
            let now = ContinuousClock.now
            let expired = state.withLock { state -> [Waiting]? in
                guard state.writers > 0 else {
                    state.watching = false
                    return nil
                }
                var expired = state.inFlight.values.filter { $0.deadline <= now }
                for waiting in expired { state.inFlight[waiting.id] = nil }
                let late = state.waiting.filter { $0.deadline <= now }
                if !late.isEmpty {
                    state.waiting.removeAll { $0.deadline <= now }
                    for waiting in late { state.unqueue(waiting) }
                    expired += late
                }
                return expired
            }
            guard let expired else { return }
            if !expired.isEmpty {
                logger.error(
                    "access log write too slow; the reads are refused",
                    metadata: ["rows": .int(expired.reduce(0) { $0 + $1.rows.count })])
                for waiting in expired { waiting.continuation.resume(throwing: Self.writeFailed) }
            }
        }
    }

    /// Writes batches until the queue is empty; at most ``pipelineDepth`` run at a time (`writers`).
    private func drain() async {
        while true {
            let batch = state.withLock { state -> [Waiting] in
                guard !state.waiting.isEmpty else {
                    state.writers -= 1
                    return []
                }
                // Every principal's first waiting read first, then the rest in the order they
                // came, up to the batch's size: a caller with many rows waiting shares each batch
                // with the others instead of putting them behind all of its rows.
                var seen: Set<String> = []
                var order = state.waiting.indices.filter { seen.insert(state.waiting[$0].principal).inserted }
                let firsts = Set(order)
                order += state.waiting.indices.filter { !firsts.contains($0) }
                var rows = 0
                var taken: [Int] = []
                for index in order {
                    let count = state.waiting[index].rows.count
                    if !taken.isEmpty && rows + count > Self.maxBatchRows { continue }
                    rows += count
                    taken.append(index)
                }
                taken.sort()
                let batch = taken.map { state.waiting[$0] }
                let takenSet = Set(taken)
                state.waiting = state.waiting.indices.filter { !takenSet.contains($0) }.map { state.waiting[$0] }
                for waiting in batch {
                    state.unqueue(waiting)
                    state.inFlight[waiting.id] = waiting
                }
                if !state.watching {
                    state.watching = true
                    Task { await self.watch() }
                }
                return batch
            }
            if batch.isEmpty { return }
            var failure: (any Error)?
            do { try await insert(batch.flatMap(\.rows)) } catch { failure = error }
            // The reads the watch has not refused meanwhile.
            let waiters = state.withLock { state in
                batch.compactMap { state.inFlight.removeValue(forKey: $0.id) }
            }
            if let failure {
                var line = LogMetadata.cause(failure)
                line["rows"] = .int(batch.reduce(0) { $0 + $1.rows.count })
                logger.error("access log write failed; the reads are refused", metadata: line)
                for waiting in waiters { waiting.continuation.resume(throwing: Self.writeFailed) }
            } else {
                for waiting in waiters { waiting.continuation.resume() }
            }
        }
    }

    /// One call of `handoff.log_access` (one statement, one commit) for the whole batch, in queue
    /// order; the function numbers the rows under the log's head lock.
    private func insert(_ rows: [Row]) async throws {
        try await pool.query(
            """
            SELECT handoff.log_access(
                \(PostgresArray.text(rows.map(\.role)))::text[],
                \(PostgresArray.optionalText(rows.map(\.institution)))::text[],
                \(PostgresArray.text(rows.map(\.user)))::text[],
                \(PostgresArray.text(rows.map(\.caseId)))::text[],
                \(PostgresArray.text(rows.map(\.endpoint)))::text[],
                \(PostgresArray.text(rows.map(\.outcome)))::text[])
            """)
    }
}
