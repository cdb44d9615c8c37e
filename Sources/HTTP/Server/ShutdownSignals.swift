import Dispatch
import Glibc

/// Keeps the signal sources installed by ``HTTPServer/shutdownOnSignals(_:)`` alive.
/// Hold on to it for as long as the signals should trigger a shutdown.
///
/// `@unchecked Sendable`: it only holds Dispatch sources, which are thread-safe, and `cancel()`
/// only calls their thread-safe `cancel()`.
public final class ShutdownSignalHandler: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    init(sources: [any DispatchSourceSignal]) {
        self.sources = sources
    }

    /// Stops listening for the signals (their default action is not restored).
    public func cancel() {
        for source in sources { source.cancel() }
    }

    deinit { cancel() }
}

extension HTTPServer {
    /// Starts a graceful ``shutdown()`` when the process receives one of `signals`.
    /// The signals' default actions are disabled so that Dispatch can deliver them.
    public nonisolated func shutdownOnSignals(_ signals: [Int32] = [SIGINT, SIGTERM]) -> ShutdownSignalHandler {
        let sources = signals.map { number -> any DispatchSourceSignal in
            _ = signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                Task { await self.shutdown() }
            }
            source.resume()
            return source
        }
        return ShutdownSignalHandler(sources: sources)
    }
}
