import Logging
import Synchronization

/// Serves one accepted connection: parse, call the handler, write, repeat while keep-alive.
struct Connection: Sendable {
    let channel: SocketChannel
    let remoteAddress: String?
    let configuration: HTTPServerConfiguration
    let book: ServerBook
    let handler: @Sendable (HTTPRequest) async -> HTTPResponse

    private var fd: Int32 { channel.fd }

    /// Runs until the connection should close, then deregisters and closes the socket.
    func run() async {
        await serve()
        book.close(fd)
        channel.loop.deregister(fd)
        SocketCalls.close(fd)
    }

    private func serve() async {
        var parser = HTTPRequestParser(limits: configuration.limits)
        var endOfStream = false
        var requestStarted: ContinuousClock.Instant?
        while true {
            let parsed: HTTPRequest?
            do {
                parsed = try parser.next()
            } catch {
                book.parseFailed(status: error.status.code)
                // No request to take an id from: the refusal gets a fresh one, in its response and its line.
                let id = RequestID.generate()
                configuration.logger.warning(
                    "request refused",
                    metadata: ["request_id": .string(id), "status": .int(error.status.code), "route": "unparsed"])
                let response = HTTPResponse.error(
                    error.status, message: error.message, headers: [RequestID.header: id])
                _ = try? await send(response, keepAlive: false, version: .http1_1, isHead: false)
                await lingeringClose()
                return
            }
            if var request = parsed {
                requestStarted = nil
                request.remoteAddress = remoteAddress
                book.requestParsed()
                guard await respond(to: request) else { return }
                continue
            }
            if parser.takeContinueRequest() {
                do {
                    try await channel.write(
                        Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), patience: configuration.idleTimeout)
                } catch {
                    return
                }
            }
            if endOfStream { return }
            var deadline = ContinuousClock.now + configuration.idleTimeout
            if parser.isIdle {
                guard book.markIdle(fd) else { return }
            } else {
                let started = requestStarted ?? .now
                requestStarted = started
                deadline = min(deadline, started + configuration.requestTimeout)
            }
            let bytes: [UInt8]
            do {
                bytes = try await channel.read(until: deadline)
            } catch let error as HTTPError where error.code == .timedOut {
                book.timedOut()
                return
            } catch {
                return
            }
            book.markBusy(fd)
            if bytes.isEmpty {
                endOfStream = true
            } else {
                parser.append(bytes)
            }
        }
    }

    /// Calls the handler and writes its response; `false` when the connection must close.
    private func respond(to request: HTTPRequest) async -> Bool {
        var response = await handler(request)
        // Every response names its request; a handler that did not set the id gets the request's own.
        if response.headers[RequestID.header] == nil {
            response.headers[RequestID.header] = RequestID.of(request)
        }
        let keepAlive =
            request.keepAlive && !book.isDraining && !response.headers.hasToken("close", in: "Connection")
        do {
            return try await send(
                response, keepAlive: keepAlive, version: request.version, isHead: request.method == .HEAD)
        } catch {
            // A client that left or stalled, or a shutdown, is the normal end of a stream; anything
            // else (a stream's producer failing) would otherwise end the response without a word.
            let expected: Set<HTTPError.Code> = [.clientDisconnected, .timedOut, .shuttingDown]
            if !(error is CancellationError), !((error as? HTTPError).map { expected.contains($0.code) } ?? false) {
                var line = LogMetadata.cause(error)
                line["request_id"] = .string(response.headers[RequestID.header] ?? "")
                configuration.logger.error("response failed after its head", metadata: line)
            }
            return false
        }
    }

    /// Writes a response; returns whether the connection may carry another request.
    private func send(_ response: HTTPResponse, keepAlive: Bool, version: HTTPVersion, isHead: Bool) async throws
        -> Bool
    {
        let patience = configuration.idleTimeout
        switch response.body {
        case .bytes(let body):
            let framing: ResponseHead.Framing = response.status.forbidsBody ? .none : .length(body.count)
            var bytes = ResponseHead.encode(
                status: response.status, headers: response.headers, framing: framing, keepAlive: keepAlive,
                version: version)
            if !isHead && !response.status.forbidsBody { bytes += body }
            try await channel.write(bytes, patience: patience)
            return keepAlive
        case .stream(let produce):
            // HTTP/1.1 gets chunked framing and keeps the connection; HTTP/1.0 gets raw bytes and a close.
            let chunked = version != .http1_0
            let keepAlive = keepAlive && chunked
            let framing: ResponseHead.Framing = response.status.forbidsBody ? .none : (chunked ? .chunked : .none)
            let head = ResponseHead.encode(
                status: response.status, headers: response.headers, framing: framing, keepAlive: keepAlive,
                version: version)
            try await channel.write(head, patience: patience)
            if isHead || response.status.forbidsBody { return keepAlive }
            let finished = Mutex(false)
            let channel = self.channel
            let writer = ResponseWriter(
                write: { bytes in
                    guard !finished.withLock({ $0 }), !channel.loop.peerClosed(channel.fd) else {
                        throw HTTPError.clientDisconnected
                    }
                    let size = Array((String(bytes.count, radix: 16) + "\r\n").utf8)
                    try await channel.write(chunked ? size + bytes + [13, 10] : bytes, patience: patience)
                },
                isConnected: { !finished.withLock { $0 } && !channel.loop.peerClosed(channel.fd) })
            defer { finished.withLock { $0 = true } }
            try await produce(writer)
            if chunked { try await channel.write(Array("0\r\n\r\n".utf8), patience: patience) }
            return keepAlive
        }
    }

    /// After an error response, stops sending and reads (and drops) what the client still
    /// sends for a short while, so that closing with unread data does not reset the connection
    /// before the client has read the response.
    private func lingeringClose() async {
        SocketCalls.shutdownWrite(fd)
        let deadline = ContinuousClock.now + min(configuration.idleTimeout, .seconds(2))
        var discarded = 0
        while discarded < 4 * 1_048_576 {
            guard let bytes = try? await channel.read(maxBytes: 65_536, until: deadline), !bytes.isEmpty else { return }
            discarded += bytes.count
        }
    }
}
