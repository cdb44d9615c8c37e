/// One log line before it is formatted: what a ``LogSink`` receives.
public struct LogRecord: Sendable {
    /// When the line was logged, as seconds and nanoseconds since the Unix epoch (UTC).
    public var timestamp: (seconds: Int, nanoseconds: Int)
    public var level: LogLevel
    /// The logger's label, naming the part of the system that logged: `http`, `projector`, …
    public var label: String
    public var message: String
    /// The logger's metadata merged with the line's own (the line's wins).
    public var metadata: LogMetadata

    public init(
        timestamp: (seconds: Int, nanoseconds: Int), level: LogLevel, label: String, message: String,
        metadata: LogMetadata
    ) {
        self.timestamp = timestamp
        self.level = level
        self.label = label
        self.message = message
        self.metadata = metadata
    }

    /// The metadata value under `key` as a string, for tests and filters.
    public subscript(key: String) -> String? { metadata[key]?.description }
}
