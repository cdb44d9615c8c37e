import Glibc
import Logging

/// An HTTP/1.1 server on non-blocking sockets.
///
/// One event-loop thread waits on every socket with epoll; each connection is a child task
/// that suspends (holding no thread) while its socket is not ready, so thousands of idle
/// Server-Sent-Events clients cost memory, not threads.
///
/// ```swift
/// var router = Router()
/// router.on(.GET, "/health") { _, _ in .json(.ok, #"{"status":"ok"}"#) }
/// let server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), handler: router.handle)
/// let port = try await server.start()      // listening; serving in the background
/// let signals = server.shutdownOnSignals()  // SIGINT/SIGTERM → graceful shutdown
/// try await server.run()                    // returns once the server has shut down
/// ```
///
/// Malformed or over-limit requests are answered with the JSON error for their status
/// (400, 413, 431, 505) and `Connection: close`; the server goes on serving others.
public actor HTTPServer {
    private enum State {
        case initial
        case running(Running)
        case shuttingDown(Running)
        case shutdown
    }

    private struct Running {
        let loop: EventLoop
        let listener: Int32
        let port: Int
        let serving: Task<Void, Never>
    }

    public nonisolated let configuration: HTTPServerConfiguration
    private nonisolated let handler: @Sendable (HTTPRequest) async -> HTTPResponse
    private nonisolated let admission: Admission?
    private nonisolated let book = ServerBook()
    private nonisolated let bodyBudget: BodyBudget
    private var state = State.initial

    /// The hook asked before a request's body is read: the request without its body, and the
    /// body's declared length (nil when chunked).
    public typealias Admission = @Sendable (HTTPRequest, Int?) async -> BodyAdmission

    /// Creates a server; nothing is opened until ``start()`` or ``run()``.
    /// - Parameters:
    ///   - admission: asked for every request with a body before the body is read (e.g. to
    ///     refuse a large body from a caller that is not authenticated); without it every body
    ///     up to `limits.maxBodySize` is received. Bodies count against
    ///     ``HTTPServerConfiguration/bodyBudget`` either way.
    public init(
        configuration: HTTPServerConfiguration,
        admission: Admission? = nil,
        handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse
    ) {
        self.configuration = OpenFiles.fitted(configuration)
        self.admission = admission
        self.handler = handler
        self.bodyBudget = BodyBudget(
            capacity: configuration.bodyBudget, perAddress: configuration.bodyBudgetPerAddress,
            largestBody: configuration.limits.maxBodySize)
    }

    /// The bytes of request bodies received and not yet answered, over all connections.
    public nonisolated var bufferedBodyBytes: Int { bodyBudget.used }

    /// A snapshot of the server's counters, for metrics.
    public nonisolated var stats: HTTPServerStats { book.stats }

    /// Binds and listens, starts the event loop and serves in the background.
    /// - Returns: the bound port (the kernel's choice when the configured port is 0).
    /// - Throws: ``HTTPError`` (`systemCall`) when the address cannot be bound; `invalidState` if
    ///   the server was already started.
    @discardableResult
    public func start() async throws -> Int {
        guard case .initial = state else {
            if case .running(let running) = state { return running.port }
            throw HTTPError(code: .invalidState, message: "the server was already started and stopped")
        }
        SocketCalls.ignoreSIGPIPE
        let loop = try EventLoop()
        let listener: (fd: Int32, port: Int)
        do {
            listener = try SocketCalls.listen(
                host: configuration.host, port: configuration.port, backlog: configuration.backlog)
        } catch {
            loop.start()
            loop.stop()
            throw error
        }
        do {
            try loop.register(listener.fd)
        } catch {
            SocketCalls.close(listener.fd)
            loop.start()
            loop.stop()
            throw error
        }
        loop.start()
        let serving = Task { [configuration, handler, book, admission, bodyBudget] in
            await Self.serve(
                listener: listener.fd, loop: loop, configuration: configuration, book: book,
                bodies: Connection.Bodies(admission: admission, budget: bodyBudget), handler: handler)
        }
        state = .running(Running(loop: loop, listener: listener.fd, port: listener.port, serving: serving))
        configuration.logger.notice(
            "listening",
            metadata: [
                "host": .string(configuration.host), "port": .int(listener.port),
                "max_connections": .int(configuration.maxConnections),
                "max_connections_per_address": .int(configuration.maxConnectionsPerAddress),
                "open_files": .int(OpenFiles.limit),
            ])
        return listener.port
    }

    /// The bound port while running, else `nil`.
    public var port: Int? {
        if case .running(let running) = state { return running.port }
        return nil
    }

    /// Starts the server if needed and returns once it has shut down (see ``shutdown()``).
    /// Cancelling the calling task shuts the server down.
    public func run() async throws {
        try await start()
        guard case .running(let running) = state else { return }
        await withTaskCancellationHandler {
            await running.serving.value
        } onCancel: {
            Task { await self.shutdown() }
        }
    }

    /// Graceful shutdown: stops accepting, closes idle keep-alive connections, lets requests
    /// in flight (streams included) finish for up to the configured grace period, then cancels
    /// what is left and closes every socket. Returns when all is closed; safe to call repeatedly.
    public func shutdown() async {
        switch state {
        case .initial:
            state = .shutdown
        case .shutdown:
            return
        case .shuttingDown(let running):
            await running.serving.value
        case .running(let running):
            state = .shuttingDown(running)
            configuration.logger.notice(
                "shutting down",
                metadata: [
                    "open_connections": .int(book.stats.openConnections),
                    "grace_seconds": .int(Int(configuration.shutdownGracePeriod.components.seconds)),
                ])
            for fd in book.beginDraining() { running.loop.interrupt(fd) }
            running.loop.interrupt(running.listener)
            let grace = configuration.shutdownGracePeriod
            let deadline = Task {
                try? await Task.sleep(for: grace)
                if !Task.isCancelled { running.serving.cancel() }
            }
            await running.serving.value
            deadline.cancel()
            running.loop.stop()
            state = .shutdown
            configuration.logger.notice("stopped", metadata: ["port": .int(running.port)])
        }
    }

    /// Accepts connections until interrupted, one child task per connection, then waits for
    /// every connection to finish.
    private static func serve(
        listener: Int32,
        loop: EventLoop,
        configuration: HTTPServerConfiguration,
        book: ServerBook,
        bodies: Connection.Bodies,
        handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse
    ) async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let accepted: (fd: Int32, remote: String?)
                do {
                    switch try SocketCalls.accept(listener) {
                    case .completed(let connection):
                        accepted = connection
                    case .wouldBlock:
                        try await loop.wait(listener, for: .read, until: nil)
                        continue
                    }
                } catch let error as HTTPError where error.code == .systemCall {
                    // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS…): back off and go on.
                    try? await Task.sleep(for: .milliseconds(50))
                    continue
                } catch {
                    break  // interrupted by shutdown, or cancelled
                }
                switch book.open(
                    accepted.fd, remote: accepted.remote, limit: configuration.maxConnections,
                    perAddressLimit: configuration.maxConnectionsPerAddress,
                    minimumAge: configuration.evictionMinimumAge)
                {
                case .refused:
                    SocketCalls.close(accepted.fd)
                    continue
                case .admitted(let evicting):
                    // Made room by closing the connection that waited the longest: its own task closes it.
                    if let evicting { loop.interrupt(evicting) }
                }
                do {
                    try loop.register(accepted.fd)
                } catch {
                    book.close(accepted.fd)
                    SocketCalls.close(accepted.fd)
                    continue
                }
                let connection = Connection(
                    channel: SocketChannel(fd: accepted.fd, loop: loop), remoteAddress: accepted.remote,
                    configuration: configuration, book: book, bodies: bodies, handler: handler)
                group.addTask { await connection.run() }
            }
            loop.deregister(listener)
            SocketCalls.close(listener)
        }
    }
}
