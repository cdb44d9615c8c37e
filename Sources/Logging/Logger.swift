#if canImport(Glibc)
    import Glibc
#endif

/// A value-type logger in swift-log's shape: a label, metadata carried along, and a level below
/// which nothing is built.
///
/// The message and the metadata are `@autoclosure`s: a line the level filters out costs one
/// comparison, never the string work.
///
/// ```swift
/// var logger = Logger(label: "projector")
/// logger[metadataKey: "projector"] = "cases"
/// logger.info("caught up", metadata: ["position": "\(position)", "events": 120])
/// ```
///
/// What goes into a line is the caller's choice, so the rule is the caller's too: never a token,
/// a cookie, a password, a request body or event data — ids, counts, codes and types only.
public struct Logger: Sendable {
    /// Names the part of the system that logs: `http`, `service`, `projector`, `watcher`.
    public var label: String
    /// Added to every line of this logger.
    public var metadata: LogMetadata
    /// Lines below this level are dropped; `nil` follows ``LoggingSystem/level``.
    public var logLevel: LogLevel?
    /// Where lines go; `nil` is ``LoggingSystem/sink``.
    public var sink: (any LogSink)?

    /// - Parameters:
    ///   - sink: where this logger's lines go instead of the process-wide sink (for tests).
    ///   - logLevel: this logger's own threshold instead of the process-wide one.
    public init(label: String, sink: (any LogSink)? = nil, logLevel: LogLevel? = nil, metadata: LogMetadata = [:]) {
        self.label = label
        self.sink = sink
        self.logLevel = logLevel
        self.metadata = metadata
    }

    /// The same logger under another label (sink, level and metadata kept).
    public func labeled(_ label: String) -> Logger {
        var copy = self
        copy.label = label
        return copy
    }

    /// Reads or sets one metadata value carried by this logger.
    public subscript(metadataKey key: String) -> LogValue? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Whether a line at `level` would be written.
    public func isEnabled(_ level: LogLevel) -> Bool { level >= (logLevel ?? LoggingSystem.level) }

    /// Logs a line at `level`; `message` and `metadata` are evaluated only if it is written.
    public func log(
        level: LogLevel, _ message: @autoclosure () -> String, metadata extra: @autoclosure () -> LogMetadata = [:]
    ) {
        guard isEnabled(level) else { return }
        var merged = metadata
        for (key, value) in extra() { merged[key] = value }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let record = LogRecord(
            timestamp: (Int(now.tv_sec), Int(now.tv_nsec)), level: level, label: label, message: message(),
            metadata: merged)
        (sink ?? LoggingSystem.sink).write(record)
    }

    public func trace(_ message: @autoclosure () -> String, metadata: @autoclosure () -> LogMetadata = [:]) {
        log(level: .trace, message(), metadata: metadata())
    }

    public func debug(_ message: @autoclosure () -> String, metadata: @autoclosure () -> LogMetadata = [:]) {
        log(level: .debug, message(), metadata: metadata())
    }

    public func info(_ message: @autoclosure () -> String, metadata: @autoclosure () -> LogMetadata = [:]) {
        log(level: .info, message(), metadata: metadata())
    }

    public func notice(_ message: @autoclosure () -> String, metadata: @autoclosure () -> LogMetadata = [:]) {
        log(level: .notice, message(), metadata: metadata())
    }

    public func warning(_ message: @autoclosure () -> String, metadata: @autoclosure () -> LogMetadata = [:]) {
        log(level: .warning, message(), metadata: metadata())
    }

    public func error(_ message: @autoclosure () -> String, metadata: @autoclosure () -> LogMetadata = [:]) {
        log(level: .error, message(), metadata: metadata())
    }

    public func critical(_ message: @autoclosure () -> String, metadata: @autoclosure () -> LogMetadata = [:]) {
        log(level: .critical, message(), metadata: metadata())
    }
}
