import ServiceStore
import EventStore
import Postgres
import Synchronization

/// A read replica for the query service (`DATABASE_READ_URL`): a streaming standby of the
/// primary that serves the read routes while it keeps up (docs/operations.md, "Read replicas").
public struct ReadReplica: Sendable {
    /// Connections to the replica, for the read routes.
    public var pool: ConnectionPool
    /// The read models as the replica holds them.
    public var readSide: any ReadSide

    /// - Parameter readSide: the read models over `pool`; the projections' (``ProjectionReadSide``)
    ///   unless given.
    public init(pool: ConnectionPool, readSide: (any ReadSide)? = nil) {
        self.pool = pool
        self.readSide = readSide ?? ProjectionReadSide(pool: pool)
    }
}

/// Everything a read route reads through: the event log, need-to-know, the feed, the shared
/// tail of live streams and the read models — all on one server, the primary or the replica.
struct ReadPath: Sendable {
    enum Source: String, Sendable {
        case primary
        case replica
    }

    let source: Source
    let store: EventStore
    let access: CaseAccess
    let feed: VisibleFeed
    let tail: GlobalTail
    let readSide: any ReadSide

    init(source: Source, store: EventStore, readSide: any ReadSide, pollInterval: Duration) {
        self.source = source
        self.store = store
        self.access = CaseAccess(store: store)
        self.feed = VisibleFeed(store: store, access: access)
        self.tail = GlobalTail(store: store, maxAge: pollInterval)
        self.readSide = readSide
    }

    init(
        source: Source, store: EventStore, access: CaseAccess, feed: VisibleFeed, tail: GlobalTail,
        readSide: any ReadSide
    ) {
        self.source = source
        self.store = store
        self.access = access
        self.feed = feed
        self.tail = tail
        self.readSide = readSide
    }

}

/// The newest write each credential made through this service, by WAL position: its reads wait
/// for the replica to replay that far (or go to the primary), so that a caller — an API token,
/// or a dashboard session and the forms it posts — reads its own writes without sending a
/// position back. Kept in memory for `retention` after the write (a process restart forgets it;
/// the `Handoff-Position` header is the recipe that survives one), at most `capacity` credentials.
final class RecentWrites: Sendable {
    private struct Entry {
        var position: WALPosition
        var at: ContinuousClock.Instant
    }

    let retention: Duration
    let capacity: Int
    private let entries = Mutex<[Int64: Entry]>([:])

    init(retention: Duration, capacity: Int = 100_000) {
        self.retention = retention
        self.capacity = max(1, capacity)
    }

    /// Remembers that `credential` wrote up to `position`.
    func note(_ credential: Int64, _ position: WALPosition) {
        let now = ContinuousClock.now
        entries.withLock { entries in
            if entries.count >= capacity, entries[credential] == nil {
                entries = entries.filter { now - $0.value.at < retention }
                // Still full of fresh entries: the oldest goes (its owner may read the primary's
                // copy a moment longer, or send its position header).
                if entries.count >= capacity, let oldest = entries.min(by: { $0.value.at < $1.value.at }) {
                    entries[oldest.key] = nil
                }
            }
            let previous = entries[credential]?.position
            entries[credential] = Entry(position: max(previous ?? position, position), at: now)
        }
    }

    /// The newest position `credential` wrote within the retention, if any.
    func position(of credential: Int64) -> WALPosition? {
        entries.withLock { entries in
            guard let entry = entries[credential] else { return nil }
            guard ContinuousClock.now - entry.at < retention else {
                entries[credential] = nil
                return nil
            }
            return entry.position
        }
    }
}
