import Logging
import Postgres
import Synchronization

/// Answers "does the database answer, and take writes?" for `/readyz` and `/health` without ever
/// waiting behind the pool that serves requests.
///
/// The probe keeps one connection of its own (opened on first use, replaced when it breaks), so
/// hundreds of event streams or long reads holding every pooled connection cannot make a healthy
/// service look dead. Probes that arrive while a check runs share it: there is never more than one
/// check in flight, however many orchestrators ask. Each caller waits at most `limit` and gets
/// `false` when the check has not answered by then (a frozen database); the check itself is left
/// to finish, and the next caller after it starts a fresh one.
///
/// A check still running after `staleAfter` (a connection wedged on a network that drops packets)
/// is abandoned to finish on its own and the next caller starts a new one on a new connection —
/// but only while no other abandoned check is still running, so the probe never holds more than
/// two connections (and their threads) however long the database stays unreachable.
final class ReadinessProbe: Sendable {
    private struct Waiter {
        let continuation: CheckedContinuation<Bool, Never>
        var timer: Task<Void, Never>?
    }

    private struct State {
        /// The check whose answer the waiters get, while it runs.
        var current: (id: Int, started: ContinuousClock.Instant)?
        /// Checks abandoned as stale that have not ended yet (at most one).
        var abandonedRunning = 0
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiter: UInt64 = 0
        var connection: Connection?
        var checksStarted = 0
    }

    private let url: String
    private let limit: Duration
    private let staleAfter: Duration
    private let logger: Logger
    private let state = Mutex(State())

    /// - Parameters:
    ///   - url: the database's connection URL (the probe's own connection goes there).
    ///   - limit: how long one caller waits for an answer.
    ///   - staleAfter: how long a check may run before the next caller gives up on it.
    init(url: String, limit: Duration = .seconds(2), staleAfter: Duration = .seconds(30), logger: Logger) {
        self.url = url
        self.limit = limit
        self.staleAfter = staleAfter
        self.logger = logger
    }

    /// How many checks have been started so far: concurrent callers share one.
    var checksStarted: Int { state.withLock { $0.checksStarted } }

    private static let readOnly = PostgresError(
        kind: .server, sqlState: "25006", serverMessage: "the database takes no writes (read-only or in recovery)")

    /// True when the database answered within the limit that it takes writes.
    func isReady() async -> Bool {
        await withCheckedContinuation { continuation in
            // Joining the check in flight and registering happen under one lock, so a check that
            // ends meanwhile either answers this caller or leaves the next check to it.
            let (id, startCheck) = state.withLock { s -> (UInt64, Int?) in
                s.nextWaiter += 1
                s.waiters[s.nextWaiter] = Waiter(continuation: continuation)
                let now = ContinuousClock.now
                var start = s.current == nil
                if let current = s.current, now - current.started > staleAfter, s.abandonedRunning == 0 {
                    // Give up on the wedged check: it keeps its connection until it ends.
                    s.abandonedRunning += 1
                    s.connection = nil
                    start = true
                }
                guard start else { return (s.nextWaiter, nil) }
                s.checksStarted += 1
                s.current = (s.checksStarted, now)
                return (s.nextWaiter, s.checksStarted)
            }
            let timer = Task { [limit] in
                try? await Task.sleep(for: limit)
                if !Task.isCancelled { self.resolve(id, false) }
            }
            let stillWaiting = state.withLock { s -> Bool in
                guard s.waiters[id] != nil else { return false }
                s.waiters[id]!.timer = timer
                return true
            }
            if !stillWaiting { timer.cancel() }
            if let startCheck { Task { await self.check(startCheck) } }
        }
    }

    /// Asks the database, on the probe's connection, whether it takes writes, and answers every
    /// caller waiting for it.
    private func check(_ id: Int) async {
        var ready = false
        var connection = state.withLock { s -> Connection? in
            if let c = s.connection, c.isBroken { s.connection = nil }
            return s.connection
        }
        do {
            // A kept connection the server ended while it sat idle (a restart) says nothing about
            // the database now: the check asks on a new one (an operator's pass saw 503 from a
            // database back up for seconds).
            if let kept = connection, kept.endedWhileIdle {
                kept.close()
                connection = nil
            }
            if connection == nil {
                let opened = try await Connection.connect(url, connectTimeout: 2, applicationName: "handoff-readiness")
                connection = opened
                state.withLock { s in
                    if s.current?.id == id { s.connection = opened }
                }
            }
            // A database that answers but takes no writes (a standby, a demoted old primary, a
            // read-only switch) serves nothing: every read writes its access-log row (an
            // operator's pass found /readyz "ok" while every data route answered 503).
            // (Answered so, the connection is kept: the database is there, and the next check
            // asks it again without signing in anew.)
            let readOnly: Bool =
                try await connection!.query(
                    "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'"
                ).first?.decode(0) ?? true
            if readOnly {
                logger.warning("readiness check failed", metadata: .cause(Self.readOnly))
            } else {
                ready = true
            }
        } catch {
            // Dropping the reference closes the connection; the next check opens a new one.
            state.withLock { s in
                if s.current?.id == id { s.connection = nil }
            }
            logger.warning("readiness check failed", metadata: .cause(error))
        }
        let waiters = state.withLock { s -> [Waiter] in
            guard s.current?.id == id else {
                s.abandonedRunning -= 1  // an abandoned check answers nobody
                return []
            }
            s.current = nil
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for waiter in waiters {
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: ready)
        }
    }

    /// Lets go of the probe's connection (a check in flight keeps it until it ends); the next
    /// check opens a new one.
    func close() {
        let connection = state.withLock { s -> Connection? in
            defer { s.connection = nil }
            return s.connection
        }
        _ = connection  // released here: libpq closes it when the last reference goes
    }

    private func resolve(_ id: UInt64, _ value: Bool) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
        waiter?.timer?.cancel()
        waiter?.continuation.resume(returning: value)
    }
}
