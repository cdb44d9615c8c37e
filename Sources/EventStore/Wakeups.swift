import Foundation
import Logging
import Postgres

/// Wakes readers when new events may have committed.
///
/// One connection per process `LISTEN`s on `handoff_events`; every append notifies it. A
/// notification is only a hint to read: readers always read the table, and also re-read after a
/// poll interval, so a lost notification or a broken listener delays them but never loses events.
public actor Wakeups {
    private var generation: UInt64 = 0
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var released: Set<UInt64> = []
    private var nextTicket: UInt64 = 0
    private var listener: Task<Void, Never>?

    public init() {}

    /// The current generation; it grows with every wake-up.
    public var current: UInt64 { generation }

    /// Wakes every waiter.
    public func signal() {
        generation &+= 1
        for w in waiters.values { w.resume() }
        waiters.removeAll()
    }

    /// Returns when the generation differs from `seen`, or after `timeout`.
    public func wait(since seen: UInt64, timeout: Duration) async {
        if generation != seen { return }
        nextTicket += 1
        let ticket = nextTicket
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.park(ticket, seen) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                await self.release(ticket)
            }
            await group.next()
            self.release(ticket)
            group.cancelAll()
        }
        released.remove(ticket)
    }

    private func park(_ ticket: UInt64, _ seen: UInt64) async {
        if generation != seen || released.contains(ticket) { return }
        await withCheckedContinuation { waiters[ticket] = $0 }
    }

    private func release(_ ticket: UInt64) {
        released.insert(ticket)
        waiters.removeValue(forKey: ticket)?.resume()
    }

    /// Starts listening on `url` (reconnecting after failures) until `stop()`. The first failure
    /// of an outage is logged as a warning with its cause, the retries at debug, the recovery as
    /// a notice.
    public func startListening(url: String, logger: Logger = Logger(label: "wakeups")) {
        guard listener == nil else { return }
        listener = Task { [weak self] in
            var backoff = 0.1
            var failing = false
            while !Task.isCancelled {
                do {
                    let connection = try await Connection.connect(url, connectTimeout: 2)
                    defer { connection.close() }
                    try await connection.execute("LISTEN handoff_events")
                    await self?.signal()  // we may have missed events while disconnected
                    if failing { logger.notice("notification listener reconnected") }
                    failing = false
                    backoff = 0.1
                    while !Task.isCancelled {
                        let notes = try await connection.waitForNotifications(timeout: 1)
                        if !notes.isEmpty { await self?.signal() }
                    }
                } catch {
                    if !Task.isCancelled {
                        logger.log(
                            level: failing ? .debug : .warning, "notification listener failed; retrying",
                            metadata: .cause(error))
                        failing = true
                    }
                    try? await Task.sleep(for: .milliseconds(Int(backoff * 1000)))
                    backoff = min(backoff * 2, 2)
                }
            }
        }
    }

    /// Stops the listener.
    public func stop() {
        listener?.cancel()
        listener = nil
    }
}

extension EventStore {
    /// A live feed of the global log after `cursor`: it catches up page by page, then waits for new
    /// events (woken by `wakeups`, re-reading at least every `pollInterval`). It never skips or
    /// repeats an event. The stream ends with an error only if the task is cancelled or the
    /// consumer stops; database outages are waited out.
    public func subscribe(
        after cursor: Cursor, types: [String]? = nil, streams: [String]? = nil, wakeups: Wakeups,
        pollInterval: Duration = .seconds(1), pageSize: Int = 500
    ) -> AsyncThrowingStream<RecordedEvent, Error> {
        AsyncThrowingStream(bufferingPolicy: .bufferingOldest(pageSize)) { continuation in
            let task = Task {
                var position = cursor
                while !Task.isCancelled {
                    let seen = await wakeups.current
                    do {
                        let page = try await self.readGlobal(
                            after: position, limit: pageSize, types: types, streams: streams)
                        for event in page.events {
                            // Back-pressure: wait while the consumer's buffer is full.
                            while case .dropped = continuation.yield(event) {
                                try await Task.sleep(for: .milliseconds(5))
                                if Task.isCancelled { return }
                            }
                        }
                        position = page.next
                        if !page.reachedEnd { continue }
                    } catch is CancellationError {
                        break
                    } catch {
                        // Outage: keep the cursor and try again after the poll interval.
                    }
                    await wakeups.wait(since: seen, timeout: pollInterval)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
