import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` until it returns or the process gets SIGINT or SIGTERM, which cancel it.
///
/// The first signal cancels `body`; a second one, then or during the rest of the shutdown, ends
/// the process at once (the signal's default effect).
func untilSignalled(_ body: @escaping @Sendable () async throws -> Void) async throws {
    let task = Task { try await body() }
    let received = SignalCount()
    let sources = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
        signal(number, SIG_IGN)  // handled by the dispatch source instead
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler {
            if received.value.add(1, ordering: .relaxed).newValue > 1 {
                signal(number, SIG_DFL)
                raise(number)
            }
            task.cancel()
        }
        source.resume()
        return source
    }
    defer {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
    try await withTaskCancellationHandler {
        try await task.value
    } onCancel: {
        task.cancel()
    }
}

private final class SignalCount: Sendable {
    let value = Atomic<Int>(0)
}

/// Runs `body` and returns true if it finished within `limit`; otherwise returns false at the
/// limit and leaves it running (shutdown steps that must not hold the process up).
func finishes(within limit: Duration, _ body: @escaping @Sendable () async -> Void) async -> Bool {
    let (outcomes, outcome) = AsyncStream<Bool>.makeStream()
    let work = Task {
        await body()
        outcome.yield(true)
    }
    let timer = Task {
        try? await Task.sleep(for: limit)
        outcome.yield(false)
    }
    var finished = false
    for await value in outcomes {
        finished = value
        break
    }
    timer.cancel()
    _ = work
    return finished
}
