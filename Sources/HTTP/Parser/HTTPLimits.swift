/// Bounds the parser enforces on every request. Each limit is inclusive: a value equal to the
/// limit is accepted, one more is refused.
public struct HTTPLimits: Sendable, Hashable {
    /// The largest body in bytes (for chunked bodies, the decoded size). Over it: 413.
    public var maxBodySize: Int = 1_048_576
    /// The longest request line in bytes, not counting its CRLF. Over it: 431.
    public var maxRequestLineLength: Int = 16_384
    /// The largest header block in bytes: every header line with its CRLF, not counting the
    /// request line or the empty line that ends the block. Trailers of a chunked body have a
    /// budget of the same size of their own. Over it: 431.
    public var maxHeaderBlockSize: Int = 16_384
    /// The most header fields (and, separately, trailer fields). Over it: 431.
    public var maxHeaderCount: Int = 100
    /// The longest chunk-size line (size plus extensions) in bytes, not counting its CRLF. Over it: 400.
    public var maxChunkLineLength: Int = 4_096

    public init(
        maxBodySize: Int = 1_048_576,
        maxRequestLineLength: Int = 16_384,
        maxHeaderBlockSize: Int = 16_384,
        maxHeaderCount: Int = 100,
        maxChunkLineLength: Int = 4_096
    ) {
        self.maxBodySize = maxBodySize
        self.maxRequestLineLength = maxRequestLineLength
        self.maxHeaderBlockSize = maxHeaderBlockSize
        self.maxHeaderCount = maxHeaderCount
        self.maxChunkLineLength = maxChunkLineLength
    }
}
