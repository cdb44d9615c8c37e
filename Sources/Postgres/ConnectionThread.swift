import Dispatch
import Foundation
import Synchronization

/// The one thread a connection's blocking libpq calls run on.
///
/// Not a dispatch queue: dispatch shares its worker threads with everything else in the process,
/// and when they are all busy (or blocked) a database call would wait for one. Not Swift's
/// cooperative pool either, which must never block. A dedicated thread per connection costs a
/// little memory and guarantees progress.
final class ConnectionThread: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var stopping = false
    }
    private let state = Mutex(State())
    // Waited on only by the thread itself, never by a caller.
    private let wake = DispatchSemaphore(value: 0)

    init(name: String) {
        // The thread holds this object until `stop()` lets it end.
        let thread = Thread { [self] in
            while true {
                wake.wait()
                let next = state.withLock { s -> (job: (@Sendable () -> Void)?, stop: Bool) in
                    s.jobs.isEmpty ? (nil, s.stopping) : (s.jobs.removeFirst(), false)
                }
                if let job = next.job {
                    job()
                } else if next.stop {
                    return
                }
            }
        }
        thread.name = name
        thread.start()
    }

    /// Runs `job` on the thread, after the jobs before it.
    func run(_ job: @escaping @Sendable () -> Void) {
        state.withLock { $0.jobs.append(job) }
        wake.signal()
    }

    /// Lets the thread finish its queued jobs and end.
    func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
    }
}

/// One caller waiting for work done on another thread: resumed exactly once, with the work's
/// outcome, or earlier with an error when its deadline passes or its task is cancelled.
///
/// Whoever resumes the caller first wins; `finish` tells the worker whether its result was taken,
/// so it can clean up what nobody will receive (an opened connection, a statement to cancel).
final class PendingCall<T: Sendable>: Sendable {
    private enum State {
        case idle
        case parked(CheckedContinuation<T, Error>)
        case finished(Result<T, Error>?)
    }
    private let state = Mutex(State.idle)

    /// Resumes the caller with `result` unless someone did already. - Returns: whether this call did.
    @discardableResult
    func finish(_ result: Result<T, Error>) -> Bool {
        finish(result, before: {})
    }

    /// As `finish`, running `before` (when this call wins) before the caller resumes.
    private func finish(_ result: Result<T, Error>, before: () -> Void) -> Bool {
        let continuation = state.withLock { s -> CheckedContinuation<T, Error>?? in
            switch s {
            case .idle:
                s = .finished(result)
                return .some(nil)
            case .parked(let c):
                s = .finished(nil)
                return .some(c)
            case .finished:
                return nil
            }
        }
        guard let continuation else { return false }
        before()
        continuation?.resume(with: result)
        return true
    }

    /// True once the caller was resumed (or is about to be).
    var isFinished: Bool {
        state.withLock { s in
            if case .finished = s { return true }
            return false
        }
    }

    /// Parks the caller until `finish`; an outcome that came first resumes it at once.
    ///
    /// - Parameters:
    ///   - deadline: when the caller gives up with `timeout()`. `onGiveUp` runs then, or when the
    ///     task is cancelled — briefly, before the caller resumes — so the worker can abandon its work.
    ///   - start: hands the work to its thread; runs once the caller is parked.
    func wait(
        deadline: ContinuousClock.Instant?, timeout: @escaping @Sendable () -> Error,
        onGiveUp: @escaping @Sendable () -> Void, start: () -> Void
    ) async throws -> T {
        let timer: DispatchWorkItem? = deadline.map { deadline in
            let item = DispatchWorkItem { [self] in
                _ = finish(.failure(timeout()), before: onGiveUp)
            }
            let delay = ContinuousClock.now.duration(to: deadline)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(delay.nanoseconds), execute: item)
            return item
        }
        defer { timer?.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
                let early = state.withLock { s -> Result<T, Error>? in
                    switch s {
                    case .idle:
                        s = .parked(continuation)
                        return nil
                    case .finished(let result):
                        s = .finished(nil)
                        return result
                    case .parked:
                        preconditionFailure("a call waits once")
                    }
                }
                if let early {
                    continuation.resume(with: early)
                } else {
                    start()
                }
            }
        } onCancel: {
            _ = finish(.failure(CancellationError()), before: onGiveUp)
        }
    }
}

extension Duration {
    /// Whole nanoseconds, saturating at `Int.max`; negative durations count as zero.
    var nanoseconds: Int {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        if seconds >= Int64(Int.max / 1_000_000_000) { return Int.max }
        return Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
    }
}

/// Runs a blocking call (waiting for a child process, reading a file) on a thread of its own and
/// resumes the caller when it returns, so the cooperative pool never blocks on it.
func offThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = name
        thread.start()
    }
}
