import Logging

/// How an ``HTTPServer`` listens and what it tolerates.
public struct HTTPServerConfiguration: Sendable {
    /// The address to listen on: an IPv4 or IPv6 literal, or a name such as `localhost`.
    public var host: String
    /// The TCP port; `0` lets the kernel pick one (``HTTPServer/start()`` returns it).
    public var port: Int
    /// Request size limits (body 1 MiB, request line and header block 16 KiB, 100 headers).
    public var limits: HTTPLimits
    /// How long a connection may stay silent: waiting for a request, inside a half-received
    /// request, or not reading what the server writes. Then it is closed without a response.
    public var idleTimeout: Duration
    /// The longest a client may take to send one whole request, however steadily it trickles
    /// bytes (a defence against slow-loris clients). Then the connection is closed.
    public var requestTimeout: Duration
    /// The most connections open at once. A connection accepted beyond it is closed at once,
    /// which bounds the descriptors and memory a flood can take. A server lowers it (and the
    /// per-address share in proportion) to fit the process's open files less
    /// ``OpenFiles/reserve`` (``OpenFiles/fitted(_:limit:)``).
    public var maxConnections: Int
    /// The most connections open at once from one peer address (a quarter of `maxConnections`
    /// by default), so that one client trickling requests cannot take every place. Behind a
    /// reverse proxy every connection comes from the proxy's address: raise it to
    /// `maxConnections` there and let the proxy limit its clients.
    public var maxConnectionsPerAddress: Int
    /// When all ``maxConnections`` are open, a new connection takes the place of the one that has
    /// waited for, or been receiving, a request the longest — if that is at least this long (one
    /// second by default); otherwise it is refused. A request being handled is never cut.
    public var evictionMinimumAge: Duration = .seconds(1)
    /// How long ``HTTPServer/shutdown()`` lets in-flight requests and streams run before it
    /// cancels them.
    public var shutdownGracePeriod: Duration
    /// The listen backlog.
    public var backlog: Int32
    /// Where the server logs its state changes (listening, shutting down, stopped) and the
    /// requests it refuses itself (malformed or over a limit).
    public var logger: Logger
    /// The most bytes of request bodies buffered at once over all connections (64 MiB by
    /// default). A body is charged with the bytes it has sent, as they arrive, until its request
    /// is answered, so a body that trickles in holds only what it sent. A body is refused with
    /// 503 `unavailable` and `Retry-After` before it is read when the budget (or its peer's
    /// share) has no room for its first read, or while it is read when the next bytes do not
    /// fit; the server goes on serving.
    public var bodyBudget: Int
    /// The most of ``bodyBudget`` one peer may hold (peers counted as ``PerAddressCounts``
    /// counts them: an IPv6 peer by its /64). nil: an eighth of the budget, but never less than
    /// one body of `limits.maxBodySize`. Behind a reverse proxy every body comes from the
    /// proxy's address: raise it to ``bodyBudget`` there, as ``maxConnectionsPerAddress``.
    public var bodyBudgetPerAddress: Int?

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        limits: HTTPLimits = HTTPLimits(),
        idleTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(60),
        maxConnections: Int = 10_000,
        maxConnectionsPerAddress: Int? = nil,
        shutdownGracePeriod: Duration = .seconds(10),
        backlog: Int32 = 1_024,
        logger: Logger = Logger(label: "http"),
        bodyBudget: Int = 64 * 1_048_576,
        bodyBudgetPerAddress: Int? = nil
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = max(1, maxConnectionsPerAddress ?? maxConnections / 4)
        self.shutdownGracePeriod = shutdownGracePeriod
        self.backlog = backlog
        self.logger = logger
        self.bodyBudget = bodyBudget
        self.bodyBudgetPerAddress = bodyBudgetPerAddress
    }
}
