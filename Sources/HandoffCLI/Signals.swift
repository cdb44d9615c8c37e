import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` until it returns or the process gets SIGINT or SIGTERM, which cancel it.
func untilSignalled(_ body: @escaping @Sendable () async throws -> Void) async throws {
    let task = Task { try await body() }
    let sources = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
        signal(number, SIG_IGN)  // handled by the dispatch source instead
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler { task.cancel() }
        source.resume()
        return source
    }
    defer {
        for s in sources { s.cancel() }
    }
    try await withTaskCancellationHandler {
        try await task.value
    } onCancel: {
        task.cancel()
    }
}
