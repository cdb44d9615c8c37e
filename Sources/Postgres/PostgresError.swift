/// An error from PostgreSQL or from talking to it.
///
/// `description` is safe to show a user or write to a log: it never contains parameter values or
/// row data. The server's own message may quote the SQL text (never the bound values, which are
/// sent separately), so it sits in `debugDescription` and `serverMessage` only.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of failure this is.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        let raw: String
        /// The server could not be reached or the connection broke.
        public static let connectionFailed = Kind(raw: "connection_failed")
        /// The server answered with an error (see `sqlState`).
        public static let server = Kind(raw: "server")
        /// A row value could not be decoded into the requested Swift type.
        public static let decoding = Kind(raw: "decoding")
        /// The caller misused the API (e.g. a query on a closed connection).
        public static let misuse = Kind(raw: "misuse")
        /// The client's deadline for a statement passed before the server answered (a frozen or
        /// unreachable server); the statement was cancelled and the connection retired.
        public static let timedOut = Kind(raw: "timed_out")
        /// No connection of a pool became free within the pool's wait.
        public static let poolExhausted = Kind(raw: "pool_exhausted")
        public var description: String { raw }
    }

    public var kind: Kind
    /// The five-character SQLSTATE for server errors, e.g. `23505`.
    public var sqlState: String?
    /// The server's primary message (may quote SQL text, never bound values).
    public var serverMessage: String?
    /// The server's DETAIL field, used by the store for structured details such as actual versions.
    public var detail: String?
    /// The constraint a violation was about, when the server names one.
    public var constraint: String?

    public init(
        kind: Kind, sqlState: String? = nil, serverMessage: String? = nil, detail: String? = nil,
        constraint: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.serverMessage = serverMessage
        self.detail = detail
        self.constraint = constraint
    }

    /// True when the failure is about reaching the database rather than the statement itself:
    /// a broken connection, a server shutting down, or too many connections.
    public var isConnectionProblem: Bool {
        if kind == .connectionFailed { return true }
        guard let state = sqlState else { return false }
        // 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect now; 53300: too many connections.
        return state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03" || state == "53300"
    }

    /// True when a deadline ended the statement: the server's `statement_timeout` (SQLSTATE 57014,
    /// query_canceled) or the client's own deadline.
    public var isTimeout: Bool {
        kind == .timedOut || sqlState == "57014"
    }

    /// True when the database could not serve the work now — a connection problem, a timeout, or
    /// no pooled connection free in time — so a later retry may succeed (a service answers 503).
    public var isUnavailable: Bool {
        isConnectionProblem || isTimeout || kind == .poolExhausted
    }

    public var description: String {
        switch kind {
        case .server: return "PostgreSQL error \(sqlState ?? "?????")"
        default: return "PostgreSQL \(kind)"
        }
    }

    public var debugDescription: String {
        var parts = [description]
        if let serverMessage { parts.append(serverMessage) }
        if let detail { parts.append("detail: \(detail)") }
        if let constraint { parts.append("constraint: \(constraint)") }
        return parts.joined(separator: "; ")
    }
}
