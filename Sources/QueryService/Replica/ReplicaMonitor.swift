import EventStore
import Logging
import Postgres
import Synchronization

/// Watches the read replica: how far it has replayed, how far the primary has committed, and so
/// how far behind it is. One loop per service polls both over connections of its own (never the
/// request pools, which may be saturated), every `interval` — and at once, then every few
/// milliseconds, while a read waits for the replica to replay a position (read-your-writes).
///
/// A poll that fails (the replica down, unreachable, frozen past the statement deadline) leaves
/// no observation of the replica, and an observation older than `staleAfter` counts as none: the
/// router then reads from the primary. Every poll that sees the replica advance signals
/// `wakeups`, so that event streams served from the replica read what it just replayed instead
/// of waiting for their next poll.
final class ReplicaMonitor: Sendable {
    /// One poll's findings.
    struct Observation: Sendable {
        /// When the poll ended.
        var at: ContinuousClock.Instant
        /// The replica's replay state; nil when it could not be read.
        var replica: StandbyReplay?
        /// The primary's committed position; nil when it could not be read.
        var primary: WALPosition?
        /// The last poll that found the replica caught up (nothing committed left to replay).
        var caughtUpAt: ContinuousClock.Instant?

        /// WAL bytes the primary has committed and the replica has not replayed; nil when unknown
        /// or when the replica is not a standby (a promoted one still reports what it replayed).
        var lagBytes: UInt64? {
            guard replica?.inRecovery == true, let replayed = replica?.replayed, let primary else { return nil }
            return primary.bytes(after: replayed)
        }

        /// Seconds the replica is behind: 0 when it has replayed everything the primary committed;
        /// else the shorter of the age of its newest replayed commit and the time since a poll last
        /// found it caught up — the first stays small under a steady load, the second after a
        /// long quiet spell ended by a record that is not a commit; nil when unknown.
        var lagSeconds: Double? {
            guard let lagBytes else { return nil }
            if lagBytes == 0 { return 0 }
            var bounds: [Double] = []
            if let seconds = replica?.secondsSinceReplayedCommit { bounds.append(max(0, seconds)) }
            if let caughtUpAt { bounds.append((at - caughtUpAt).secondsValue) }
            return bounds.min() ?? 0
        }
    }

    private struct State {
        var latest: Observation?
        var waiting = 0
        var loop: Task<Void, Never>?
        var replica: Connection?
        var primary: Connection?
    }

    let replicaURL: String
    let primaryURL: String
    let interval: Duration
    /// An observation older than this is no observation (a poll hangs on a frozen server).
    let staleAfter: Duration
    private let wakeups: Wakeups
    private let logger: Logger
    /// Signalled after every poll (readers waiting for a position look again).
    private let polled = Wakeups()
    /// Signalled when a reader starts waiting (the loop polls at once).
    private let demand = Wakeups()
    private let state = Mutex(State())

    /// Called after a poll that found the read URL leading to a server that is not a standby.
    private let onNotStandby: @Sendable () -> Void

    /// - Parameter onNotStandby: called after every poll that finds the read URL leading to a
    ///   server that accepts writes (a standby promoted in a failover, or a multi-host URL that
    ///   found no standby): the monitor's own connection is then opened again at the next poll,
    ///   and the read pool should let its connections go the same way, so that both find a
    ///   standby again once there is one.
    init(
        replicaURL: String, primaryURL: String, interval: Duration, wakeups: Wakeups, logger: Logger,
        onNotStandby: @escaping @Sendable () -> Void = {}
    ) {
        self.onNotStandby = onNotStandby
        self.replicaURL = replicaURL
        self.primaryURL = primaryURL
        self.interval = interval
        self.staleAfter = max(.seconds(2), interval * 5)
        self.wakeups = wakeups
        self.logger = logger
    }

    /// The newest observation, unless it is stale.
    var latest: Observation? {
        state.withLock { s in
            guard let latest = s.latest, ContinuousClock.now - latest.at <= staleAfter else { return nil }
            return latest
        }
    }

    /// Starts the polling loop (once).
    func start() {
        state.withLock { s in
            guard s.loop == nil else { return }
            s.loop = Task { [self] in await run() }
        }
    }

    /// Stops the loop and lets go of its connections.
    func stop() {
        let (loop, connections) = state.withLock { s -> (Task<Void, Never>?, [Connection?]) in
            defer {
                s.loop = nil
                s.replica = nil
                s.primary = nil
            }
            return (s.loop, [s.replica, s.primary])
        }
        loop?.cancel()
        for c in connections { c?.close() }
    }

    /// Waits until the replica has replayed `position`, at most until `deadline`, without holding
    /// a connection or a thread. - Returns: whether it got there.
    func waitUntilReplayed(_ position: WALPosition, deadline: ContinuousClock.Instant) async -> Bool {
        state.withLock { $0.waiting += 1 }
        defer { state.withLock { $0.waiting -= 1 } }
        await demand.signal()
        while true {
            let seen = await polled.current
            if let replayed = latest?.replica?.replayed, replayed >= position { return true }
            let now = ContinuousClock.now
            guard now < deadline, !Task.isCancelled else { return false }
            await polled.wait(since: seen, timeout: deadline - now)
        }
    }

    private func run() async {
        var failing = false
        var lastReplayed: WALPosition?
        var caughtUpAt: ContinuousClock.Instant?
        var lookedForStandbyAt: ContinuousClock.Instant?
        while !Task.isCancelled {
            let seenDemand = await demand.current
            var observation = await poll()
            if observation.lagBytes == 0 { caughtUpAt = observation.at }
            observation.caughtUpAt = observation.lagBytes == nil ? nil : caughtUpAt
            state.withLock { $0.latest = observation }
            await polled.signal()
            if let replayed = observation.replica?.replayed, replayed != lastReplayed {
                if lastReplayed != nil { await wakeups.signal() }
                lastReplayed = replayed
            }
            // Not a standby: look for one again, at most once a second (a read URL that can
            // only reach a primary would otherwise cost a new connection every poll).
            if observation.replica?.inRecovery == false,
                lookedForStandbyAt.map({ observation.at - $0 >= .seconds(1) }) ?? true
            {
                lookedForStandbyAt = observation.at
                drop(\.replica)
                onNotStandby()
            }
            if observation.replica == nil, !failing {
                failing = true
                logger.warning("read replica unreachable; reads go to the primary")
            } else if observation.replica != nil, failing {
                failing = false
                logger.notice("read replica reachable again")
            }
            if state.withLock({ $0.waiting > 0 }) {
                try? await Task.sleep(for: .milliseconds(5))
            } else {
                await demand.wait(since: seenDemand, timeout: interval)
            }
        }
    }

    private func poll() async -> Observation {
        async let replica = readReplica()
        async let primary = readPrimary()
        let (r, p) = await (replica, primary)
        return Observation(at: .now, replica: r, primary: p)
    }

    private func readReplica() async -> StandbyReplay? {
        do {
            return try await StandbyReplay.read(try await connection(\.replica, url: replicaURL))
        } catch {
            drop(\.replica)
            return nil
        }
    }

    private func readPrimary() async -> WALPosition? {
        do {
            return try await EventStore.committedPosition(try await connection(\.primary, url: primaryURL))
        } catch {
            drop(\.primary)
            return nil
        }
    }

    /// The loop's connection at `key`, opened when missing or broken. Its statements end within
    /// a second: a frozen server makes the observation stale, never the loop stuck.
    private func connection(_ key: WritableKeyPath<State, Connection?>, url: String) async throws -> Connection {
        if let c = state.withLock({ $0[keyPath: key] }), !c.isBroken { return c }
        let c = try await Connection.connect(
            url, connectTimeout: 2, applicationName: "handoff-replica-monitor", statementTimeout: .seconds(1))
        state.withLock { $0[keyPath: key] = c }
        return c
    }

    private func drop(_ key: WritableKeyPath<State, Connection?>) {
        let old = state.withLock { s -> Connection? in
            defer { s[keyPath: key] = nil }
            return s[keyPath: key]
        }
        old?.close()
    }
}
