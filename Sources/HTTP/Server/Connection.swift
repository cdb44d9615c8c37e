import Logging
import Synchronization

/// Serves one accepted connection: parse, call the handler, write, repeat while keep-alive.
struct Connection: Sendable {
    let channel: SocketChannel
    let remoteAddress: String?
    let configuration: HTTPServerConfiguration
    let book: ServerBook
    let bodies: Bodies
    let handler: @Sendable (HTTPRequest) async -> HTTPResponse

    /// How request bodies are admitted: the server's hook and its budget.
    struct Bodies: Sendable {
        var admission: HTTPServer.Admission?
        var budget: BodyBudget
    }

    private var fd: Int32 { channel.fd }

    /// Runs until the connection should close, then deregisters and closes the socket.
    func run() async {
        await serve()
        book.close(fd)
        channel.loop.deregister(fd)
        SocketCalls.close(fd)
    }

    private func serve() async {
        var parser = HTTPRequestParser(limits: configuration.limits, pausesBeforeBody: true)
        var endOfStream = false
        var requestStarted: ContinuousClock.Instant?
        // The peer whose share of the body budget this connection's bodies count against.
        let peer = remoteAddress.map(HTTPRequest.host(ofRemoteAddress:))
        // The body budget taken by the request being received or answered: the bytes of its body
        // received so far, at most `allowance` (its declared length, or for a chunked body its
        // admitted maximum; 0 when no body is being received).
        var charged = 0
        var allowance = 0
        var bodyVersion = HTTPVersion.http1_1
        defer { bodies.budget.give(charged, from: peer) }
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
                // Evicted while its request arrived: its place went to another peer, so is its request.
                guard book.markHandling(fd) else { return }
                allowance = 0
                let keepGoing = await respond(to: request)
                bodies.budget.give(charged, from: peer)
                charged = 0
                guard keepGoing else { return }
                continue
            }
            if let (head, length) = parser.requestAwaitingBody {
                switch await admit(head, length: length) {
                case .reject(let response):
                    _ = try? await send(response, keepAlive: false, version: head.version, isHead: false)
                    await lingeringClose()
                    return
                case .accept(let maxBytes):
                    let limit = min(maxBytes, configuration.limits.maxBodySize)
                    // A declared length over the limit fails in the parser (413) without a read.
                    if length.map({ $0 <= limit }) ?? true {
                        allowance = length ?? limit
                        bodyVersion = head.version
                        // Refused before it is read when not even its first read would fit; the
                        // bytes that came with the header block are its first charge.
                        let arrived = min(allowance, parser.unparsedByteCount)
                        guard bodies.budget.hasRoom(min(allowance, Self.readSize), for: peer),
                            bodies.budget.take(arrived, for: peer)
                        else {
                            await refuseBusy(version: head.version)
                            return
                        }
                        charged = arrived
                    }
                    parser.admitBody(maxBytes: limit)
                }
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
                book.markReceiving(fd)
                let started = requestStarted ?? .now
                requestStarted = started
                deadline = min(deadline, started + configuration.requestTimeout)
            }
            let bytes: [UInt8]
            do {
                bytes = try await channel.read(maxBytes: Self.readSize, until: deadline)
            } catch let error as HTTPError where error.code == .timedOut {
                book.timedOut()
                return
            } catch {
                return
            }
            book.markReceiving(fd)
            if bytes.isEmpty {
                endOfStream = true
            } else {
                // Body bytes are charged as they arrive; bytes beyond the body are a pipelined request's.
                let bodyBytes = min(bytes.count, allowance - charged)
                if bodyBytes > 0 {
                    guard bodies.budget.take(bodyBytes, for: peer) else {
                        await refuseBusy(version: bodyVersion)
                        return
                    }
                    charged += bodyBytes
                }
                parser.append(bytes)
            }
        }
    }

    /// The most bytes one read takes from the socket.
    static let readSize = 16_384

    /// Answers 503 with `Retry-After` (the body budget, or the peer's share of it, is full) and closes.
    private func refuseBusy(version: HTTPVersion) async {
        let busy = HTTPResponse.error(
            .serviceUnavailable,
            message: "The server is receiving too many request bodies at once; retry shortly.",
            headers: ["Retry-After": "1"])
        _ = try? await send(busy, keepAlive: false, version: version, isHead: false)
        await lingeringClose()
    }

    /// Asks the server's admission hook about a body not read yet (without a hook: accept).
    private func admit(_ head: HTTPRequest, length: Int?) async -> BodyAdmission {
        guard let admission = bodies.admission else { return .accept(maxBytes: configuration.limits.maxBodySize) }
        var head = head
        head.remoteAddress = remoteAddress
        return await admission(head, length)
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
