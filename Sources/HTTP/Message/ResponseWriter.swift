/// Writes the body of a streaming response (for example Server-Sent Events).
///
/// Each `write` sends its bytes before it returns (waiting for the socket to accept them, so a
/// slow client slows the writer down) and throws ``HTTPError`` with code `clientDisconnected`
/// once the client has gone away, or `timedOut` when the client stops reading. Do not call
/// `write` from two tasks at once.
///
/// The client counts as gone once it has closed or half-closed its side of the connection
/// (for an event stream, a client that stops sending has left).
///
/// A writer can be built from any closure, which lets tests collect a stream without a socket.
public struct ResponseWriter: Sendable {
    private let sink: @Sendable ([UInt8]) async throws -> Void
    private let connected: @Sendable () -> Bool

    /// A writer that hands every non-empty chunk to `write`; `isConnected` answers
    /// ``isClientConnected``.
    public init(
        write: @escaping @Sendable ([UInt8]) async throws -> Void,
        isConnected: @escaping @Sendable () -> Bool = { true }
    ) {
        self.sink = write
        self.connected = isConnected
    }

    /// Whether the client still seems to be there, without writing. A stream that waits a
    /// long time between events can check this to stop early; `write` is still the final word.
    public var isClientConnected: Bool { connected() }

    /// Sends bytes; an empty array sends nothing.
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await sink(bytes)
    }

    /// Sends the UTF-8 bytes of a string.
    public func write(_ string: String) async throws {
        try await write(Array(string.utf8))
    }
}
