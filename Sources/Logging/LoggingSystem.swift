import Synchronization

/// The process-wide sink and level, used by every ``Logger`` that was not given its own.
///
/// The command line sets them once at start (`--log-format`, `--log-level`); until then lines go
/// to standard error at `info`, in the format that suits it (JSON unless it is a terminal).
public enum LoggingSystem {
    private struct Setup: Sendable {
        var sink: any LogSink
        var level: LogLevel
    }

    private static let setup = Mutex(Setup(sink: StandardErrorSink(), level: .info))

    /// Replaces the process-wide sink and level.
    public static func bootstrap(sink: any LogSink, level: LogLevel) {
        setup.withLock { $0 = Setup(sink: sink, level: level) }
    }

    /// The process-wide sink.
    public static var sink: any LogSink { setup.withLock { $0.sink } }

    /// The process-wide level.
    public static var level: LogLevel { setup.withLock { $0.level } }
}
