#if canImport(Glibc)
    import Glibc
#endif
import Synchronization

/// Where log lines go. The process has one (see ``LoggingSystem``); a ``Logger`` may carry its
/// own instead, which is how tests capture lines (``LogCapture``).
public protocol LogSink: Sendable {
    /// Takes one line. Called from any thread; must not block for long.
    func write(_ record: LogRecord)
}

/// Writes formatted lines to standard error, one `write(2)` per line so that lines of different
/// threads never interleave.
public final class StandardErrorSink: LogSink {
    public let format: LogFormat
    private let lock = Mutex(())

    /// - Parameter format: `nil` chooses JSON when standard error is not a terminal, text when it is.
    public init(format: LogFormat? = nil) {
        self.format = format ?? (isatty(2) == 1 ? .text : .json)
    }

    public func write(_ record: LogRecord) {
        let bytes = Array(format.line(record).utf8)
        lock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { raw in
                    Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // nowhere left to report a failing stderr
                }
                offset += written
            }
        }
    }
}

/// Keeps every record in memory: inject it into the loggers under test, then read ``records``
/// or ``lines`` (each record formatted as JSON, as the service would write it).
///
/// ```swift
/// let capture = LogCapture()
/// let logger = Logger(label: "test", sink: capture)
/// logger.info("hello")
/// #expect(capture.records.map(\.message) == ["hello"])
/// ```
public final class LogCapture: LogSink {
    private let stored = Mutex<[LogRecord]>([])

    public init() {}

    public func write(_ record: LogRecord) { stored.withLock { $0.append(record) } }

    /// Every record so far, in order.
    public var records: [LogRecord] { stored.withLock { $0 } }

    /// Every record so far in the given format, one string per line.
    public func lines(_ format: LogFormat = .json) -> [String] { records.map { format.line($0) } }

    /// Forgets what was captured.
    public func clear() { stored.withLock { $0.removeAll() } }
}

/// Formats each line and hands it to a closure: the command line writes through its context's
/// standard error with it, so that tests of commands capture their lines too.
public final class LineSink: LogSink {
    public let format: LogFormat
    private let writeLine: @Sendable (String) -> Void

    public init(format: LogFormat, write: @escaping @Sendable (String) -> Void) {
        self.format = format
        self.writeLine = write
    }

    public func write(_ record: LogRecord) { writeLine(format.line(record)) }
}
