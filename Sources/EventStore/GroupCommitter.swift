import Foundation
import Postgres
import Synchronization

/// How concurrent appends are grouped into one transaction (``GroupCommitter``).
public struct GroupCommit: Sendable, Hashable {
    /// Most groups in flight at once (each holds one pooled connection while it runs).
    public var concurrentGroups: Int
    /// Most appends in one group.
    public var maximumAppends: Int
    /// Most events in one group (a single append larger than this still goes alone).
    public var maximumEvents: Int
    /// How long a group waits for more appends before it is sent, and only while another group
    /// is in flight: an append arriving at an idle store is sent at once.
    public var window: Duration

    public init(concurrentGroups: Int = 8, maximumAppends: Int = 64, maximumEvents: Int = 2000, window: Duration) {
        self.concurrentGroups = max(1, concurrentGroups)
        self.maximumAppends = max(1, maximumAppends)
        self.maximumEvents = max(1, maximumEvents)
        self.window = window
    }

    /// The default for a pool of `connections`: up to eight groups in flight (never more than half
    /// the pool, so reads keep connections), 64 appends a group, a window of 1 ms. (On two cores,
    /// 32 appenders: eight groups gave 0.61–0.65 × a plain INSERT where four gave 0.48–0.52 and
    /// sixteen no more than eight; docs/benchmarks.md.)
    public static func standard(connections: Int) -> GroupCommit {
        GroupCommit(concurrentGroups: min(8, max(1, connections / 2)), window: .milliseconds(1))
    }

    /// One transaction per append, as before group commit (for comparison in `handoff bench`).
    public static let off = GroupCommit(concurrentGroups: .max, maximumAppends: 1, window: .zero)
}

/// Writes concurrent appends to different streams in one call of `handoff.append_group`: one round
/// trip, one transaction, one commit and WAL flush for all of them (Migrations/0030).
///
/// Appends queue here; while fewer than ``GroupCommit/concurrentGroups`` groups are in flight a
/// new group starts with everything queued (at most ``GroupCommit/maximumAppends``), otherwise
/// the appends wait for the next group, which a finishing group starts at once. Each append is
/// answered after its group's commit, with its own outcome: the function returns a result per
/// append and raises for none of them, so one append's wrong expected version, reused id or
/// invalid event never fails or reorders another.
///
/// When a group's call fails as a whole for a reason other than an outage — a concurrent
/// transaction committed one of its ids first (a unique violation), or a value the database
/// refused to parse — its appends are sent again one by one, each with its own outcome.
final class GroupCommitter: Sendable {
    struct Item: Sendable {
        var stream: String
        var expected: String
        var events: [NewEvent]
    }

    private struct Waiter: Sendable {
        var item: Item
        var continuation: CheckedContinuation<AppendResult, any Error>
    }

    private struct State {
        var queue: [Waiter] = []
        var inFlight = 0
    }

    private let pool: ConnectionPool
    let configuration: GroupCommit
    private let state = Mutex(State())

    init(pool: ConnectionPool, configuration: GroupCommit) {
        self.pool = pool
        self.configuration = configuration
    }

    /// Appends waiting for a group (for tests).
    var queued: Int { state.withLock { $0.queue.count } }

    /// Appends `item` in the next group; returns after that group committed.
    func append(_ item: Item) async throws -> AppendResult {
        try await withCheckedThrowingContinuation { continuation in
            let start = state.withLock { s -> Bool in
                s.queue.append(Waiter(item: item, continuation: continuation))
                guard s.inFlight < configuration.concurrentGroups else { return false }
                s.inFlight += 1
                return true
            }
            if start { Task { await self.drain() } }
        }
    }

    /// Runs groups while appends are queued, then gives its slot back.
    private func drain() async {
        var first = true
        while true {
            // Under load (another group in flight), wait a moment for more appends to join.
            let wait = state.withLock { s in
                !first && s.inFlight > 1 && s.queue.count < configuration.maximumAppends
            }
            if wait, configuration.window > .zero { try? await Task.sleep(for: configuration.window) }
            first = false
            let group = state.withLock { s -> [Waiter] in
                let taken = Self.take(from: &s.queue, configuration: configuration)
                if taken.isEmpty { s.inFlight -= 1 }
                return taken
            }
            if group.isEmpty { return }
            await run(group)
        }
    }

    /// The longest prefix of the queue within the group's limits (at least one append).
    private static func take(from queue: inout [Waiter], configuration: GroupCommit) -> [Waiter] {
        var count = 0
        var events = 0
        for waiter in queue {
            if count == configuration.maximumAppends { break }
            if count > 0 && events + waiter.item.events.count > configuration.maximumEvents { break }
            count += 1
            events += waiter.item.events.count
        }
        let taken = Array(queue.prefix(count))
        queue.removeFirst(count)
        return taken
    }

    private func run(_ group: [Waiter]) async {
        do {
            let outcomes = try await call(group.map(\.item))
            for (waiter, outcome) in zip(group, outcomes) { waiter.continuation.resume(with: outcome) }
        } catch let error as PostgresError where !error.isUnavailable && group.count > 1 {
            // One by one, concurrently: each append's own outcome.
            await withTaskGroup(of: Void.self) { tasks in
                for waiter in group {
                    tasks.addTask {
                        do {
                            waiter.continuation.resume(returning: try await self.alone(waiter.item))
                        } catch {
                            waiter.continuation.resume(throwing: error)
                        }
                    }
                }
            }
        } catch let error as PostgresError where Self.isIdRace(error) {
            // The same id raced in through another stream; the retry sees it and answers as a duplicate.
            do {
                group[0].continuation.resume(returning: try await alone(group[0].item))
            } catch {
                group[0].continuation.resume(throwing: error)
            }
        } catch {
            let mapped = EventStoreError.from(error)
            for waiter in group { waiter.continuation.resume(throwing: mapped) }
        }
    }

    /// One append in a call of its own, retried twice when a concurrent append wrote one of its
    /// ids first.
    private func alone(_ item: Item) async throws -> AppendResult {
        var attempt = 0
        while true {
            do {
                guard let outcome = try await call([item]).first else { throw EventStoreError.database("no outcome") }
                return try outcome.get()
            } catch let error as PostgresError where Self.isIdRace(error) && attempt < 2 {
                attempt += 1
            } catch let error as PostgresError {
                throw EventStoreError.from(error)
            }
        }
    }

    private static func isIdRace(_ error: PostgresError) -> Bool {
        error.sqlState == "23505" && error.constraint == "events_id"
    }

    /// One call of `handoff.append_group`; an outcome per item, in order.
    private func call(_ items: [Item]) async throws -> [Result<AppendResult, any Error>] {
        var ids: [String] = []
        var types: [String] = []
        var data: [String] = []
        var metadata: [String] = []
        var occurred: [String?] = []
        for item in items {
            for event in item.events {
                ids.append(event.id.uuidString.lowercased())
                types.append(event.type)
                data.append(event.data)
                metadata.append(event.metadata.json)
                occurred.append(event.occurredAt.map(PostgresTimestamp.format))
            }
        }
        let sql: SQL = """
            SELECT item_no, outcome, outcome_detail, outcome_message, event_id, event_version, event_position,
                   event_xid::text, event_hash, event_recorded_at
              FROM handoff.append_group(\(PostgresArray.text(items.map(\.stream)))::text[],
                   \(PostgresArray.text(items.map(\.expected)))::text[],
                   \("{" + items.map { String($0.events.count) }.joined(separator: ",") + "}")::int[],
                   \(PostgresArray.text(ids))::uuid[], \(PostgresArray.text(types))::text[],
                   \(PostgresArray.text(data))::jsonb[], \(PostgresArray.text(metadata))::jsonb[],
                   \(PostgresArray.optionalText(occurred))::timestamptz[])
            """
        return try Self.decode(try await pool.query(sql), items: items.count)
    }

    /// Rows come in item order: an item's events, or one row with its refusal.
    static func decode(_ result: QueryResult, items: Int) throws -> [Result<AppendResult, any Error>] {
        var events = [[AppendedEvent]](repeating: [], count: items)
        var deduplicated = [Bool](repeating: false, count: items)
        var refused = [EventStoreError?](repeating: nil, count: items)
        for row in result.all {
            let item: Int = try row.decode(0) - 1
            guard events.indices.contains(item) else { throw EventStoreError.database("an outcome for no append") }
            let outcome: String = try row.decode(1)
            switch outcome {
            case "appended", "deduplicated":
                let xid: UInt64 = try row.decode(7)
                events[item].append(
                    AppendedEvent(
                        id: try row.decode(4), version: try row.decode(5),
                        cursor: Cursor(xid: xid, position: try row.decode(6)),
                        hash: try row.decode(8, as: ByteA.self).bytes, recordedAt: try row.decode(9)))
                deduplicated[item] = outcome == "deduplicated"
            default:
                refused[item] = EventStoreError.refusal(
                    code: outcome, detail: try row.decodeOptional(2), message: try row.decodeOptional(3))
            }
        }
        return (0..<items).map { i in
            if let error = refused[i] { return .failure(error) }
            guard !events[i].isEmpty else { return .failure(EventStoreError.database("no outcome for an append")) }
            return .success(
                AppendResult(
                    streamVersion: events[i].map(\.version).max() ?? 0, events: events[i],
                    deduplicated: deduplicated[i]))
        }
    }
}
