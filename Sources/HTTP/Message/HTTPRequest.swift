/// The HTTP version of a request; only HTTP/1.0 and HTTP/1.1 are served.
public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    public var description: String { "HTTP/\(major).\(minor)" }
}

/// A complete, parsed HTTP request with its whole body.
///
/// `path` and `pathSegments` are percent-decoded; `rawTarget` is the request target as sent.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The request target exactly as it appeared on the request line.
    public var rawTarget: String
    /// The decoded path, e.g. `/v1/cases/KS 1` for `/v1/cases/KS%201`. `*` for `OPTIONS *`.
    public var path: String
    /// The decoded path split at `/` (a `%2F` inside a segment stays inside it).
    /// `/v1/cases/x` gives `["v1", "cases", "x"]`; `/` gives `[]`; `/a/` gives `["a", ""]`.
    public var pathSegments: [String]
    /// The decoded query items.
    public var query: QueryItems
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// The request body; for a chunked request, the decoded body (trailer fields are dropped).
    public var body: [UInt8]
    /// The peer's address as `host:port` (`[v6]:port` for IPv6) when served over a socket.
    public var remoteAddress: String?

    /// ``remoteAddress`` without its port (`203.0.113.7`, `[2001:db8::1]`): one peer, whatever
    /// connection it used.
    public var remoteHost: String? { remoteAddress.map(Self.host(ofRemoteAddress:)) }

    /// `203.0.113.7:51234` → `203.0.113.7`; `[2001:db8::1]:443` → `[2001:db8::1]`.
    public static func host(ofRemoteAddress address: String) -> String {
        guard let colon = address.lastIndex(of: ":"), address[..<colon].last != ":" else { return address }
        return String(address[..<colon])
    }

    /// Whether the client allows the connection to stay open after this request:
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAlive: Bool {
        if version == .http1_0 {
            return headers.hasToken("keep-alive", in: "Connection") && !headers.hasToken("close", in: "Connection")
        }
        return !headers.hasToken("close", in: "Connection")
    }

    /// Builds a request directly, for tests and for calling a router without a socket.
    /// `target` is split into path and query like a request line's target.
    public init(
        method: HTTPMethod,
        target: String,
        version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = [:],
        body: [UInt8] = [],
        remoteAddress: String? = nil
    ) {
        self.method = method
        self.rawTarget = target
        self.version = version
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        if let parsed = RequestTarget(Array(target.utf8)) {
            self.path = parsed.path
            self.pathSegments = parsed.segments
            self.query = parsed.query
        } else {
            self.path = target
            self.pathSegments = []
            self.query = QueryItems()
        }
    }

    init(method: HTTPMethod, rawTarget: String, target: RequestTarget, version: HTTPVersion, headers: HTTPHeaders) {
        self.method = method
        self.rawTarget = rawTarget
        self.path = target.path
        self.pathSegments = target.segments
        self.query = target.query
        self.version = version
        self.headers = headers
        self.body = []
        self.remoteAddress = nil
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// The request target of a request line, split and decoded (origin-form, absolute-form or `*`).
struct RequestTarget: Sendable {
    var path: String
    var segments: [String]
    var query: QueryItems

    /// `nil` when the target is not origin-form (`/p?q`), absolute-form (`http://h/p?q`) or `*`,
    /// or when a percent escape is malformed or decodes to invalid UTF-8.
    init?(_ bytes: [UInt8]) {
        if bytes == [UInt8(ascii: "*")] {
            self.init(path: "*", segments: [], query: QueryItems())
            return
        }
        guard let originForm = Self.originForm(bytes[...]) else { return nil }
        self.init(target: originForm)
    }

    private init(path: String, segments: [String], query: QueryItems) {
        self.path = path
        self.segments = segments
        self.query = query
    }

    /// Reduces absolute-form (`scheme://authority/path?query`) to origin-form.
    private static func originForm(_ target: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        if target.first == UInt8(ascii: "/") { return target }
        let lowered = target.prefix(8).map(ASCII.lower)
        let schemeLength: Int
        if lowered.starts(with: Array("http://".utf8)) {
            schemeLength = 7
        } else if lowered.starts(with: Array("https://".utf8)) {
            schemeLength = 8
        } else {
            return nil
        }
        let afterScheme = target.dropFirst(schemeLength)
        guard let authorityEnd = afterScheme.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") })
        else {
            return afterScheme.isEmpty ? nil : Array("/".utf8)[...]
        }
        guard authorityEnd > afterScheme.startIndex else { return nil }
        if target[authorityEnd] == UInt8(ascii: "?") {
            return (Array("/".utf8) + target[authorityEnd...])[...]
        }
        return target[authorityEnd...]
    }

    private init?(target: ArraySlice<UInt8>) {
        // A fragment is never sent by a conforming client; refuse it rather than guess.
        guard !target.contains(UInt8(ascii: "#")) else { return nil }
        let queryStart = target.firstIndex(of: UInt8(ascii: "?"))
        let rawPath = target[target.startIndex..<(queryStart ?? target.endIndex)]
        var segments: [String] = []
        for rawSegment in rawPath.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            guard let segment = PercentDecoding.decode(rawSegment, plusIsSpace: false) else { return nil }
            segments.append(segment)
        }
        if rawPath.count == 1 { segments = [] }
        guard let decodedPath = PercentDecoding.decode(rawPath, plusIsSpace: false) else { return nil }
        self.path = decodedPath
        self.segments = segments
        if let queryStart {
            guard let query = QueryItems(percentEncoded: target[target.index(after: queryStart)...]) else { return nil }
            self.query = query
        } else {
            self.query = QueryItems()
        }
    }
}
