/// Async reads and writes on one non-blocking socket registered with an ``EventLoop``.
struct SocketChannel: Sendable {
    let fd: Int32
    let loop: EventLoop

    /// Reads what is available, waiting for readiness until `deadline`. Empty means end of stream.
    func read(maxBytes: Int = 16_384, until deadline: ContinuousClock.Instant?) async throws -> [UInt8] {
        while true {
            // The buffer is allocated per read, so an idle connection holds no read buffer.
            let result = try withUnsafeTemporaryAllocation(byteCount: maxBytes, alignment: 1) { buffer -> [UInt8]? in
                switch try SocketCalls.read(fd, into: buffer) {
                case .completed(let count): return Array(buffer[0..<count])
                case .wouldBlock: return nil
                }
            }
            if let result { return result }
            try await loop.wait(fd, for: .read, until: deadline)
        }
    }

    /// Writes all of `bytes`, waiting for the socket to drain; each wait may last `patience`.
    func write(_ bytes: [UInt8], patience: Duration) async throws {
        var offset = 0
        while offset < bytes.count {
            let result = try bytes.withUnsafeBytes { buffer in
                try SocketCalls.send(fd, UnsafeRawBufferPointer(rebasing: buffer[offset...]))
            }
            switch result {
            case .completed(let count):
                offset += count
            case .wouldBlock:
                try await loop.wait(fd, for: .write, until: .now + patience)
            }
        }
    }
}
