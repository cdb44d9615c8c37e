/// Writes the body of a streaming response (for example Server-Sent Events).
///
/// Each `write` sends its bytes before it returns (waiting for the socket to accept them, so a
/// slow client slows the writer down) and throws ``HTTPError`` with code `clientDisconnected`
/// once the client has gone away, or `timedOut` when the client stops reading. Do not call
/// `write` from two tasks at once.
///
/// A writer can be built from any closure, which lets tests collect a stream without a socket.
public struct ResponseWriter: Sendable {
    private let sink: @Sendable ([UInt8]) async throws -> Void

    /// A writer that hands every non-empty chunk to `write`.
    public init(write: @escaping @Sendable ([UInt8]) async throws -> Void) {
        self.sink = write
    }

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
