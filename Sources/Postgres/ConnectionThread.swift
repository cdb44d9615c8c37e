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

    /// Runs `body` on the thread and waits for it. Never call from the thread itself.
    func runAndWait<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<T?>(nil)
        run {
            let value = body()
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return result.withLock { $0! }
    }

    /// Lets the thread finish its queued jobs and end.
    func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
    }
}
