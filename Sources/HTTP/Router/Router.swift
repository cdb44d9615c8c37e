/// The values of a route's `{name}` segments, percent-decoded.
public struct RouteParameters: Sendable, Hashable {
    private var values: [String: String]

    public init(_ values: [String: String] = [:]) {
        self.values = values
    }

    /// The decoded value of the `{name}` segment, or `nil` if the route has none.
    public subscript(name: String) -> String? { values[name] }
}

/// Maps method and path to a handler.
///
/// ```swift
/// var router = Router()
/// router.on(.GET, "/v1/cases/{caseId}/events") { request, params in
///     .json(.ok, #"{"caseId":"\#(params["caseId"]!)"}"#)
/// }
/// let server = HTTPServer(configuration: config, handler: router.handle)
/// ```
///
/// A pattern is a path whose segments are literals or `{name}` parameters; a parameter matches
/// one whole non-empty segment. Matching is on decoded segments, so `/v1/cases/a%2Fb` gives
/// `caseId == "a/b"`. Where several patterns match, the one with a literal earlier wins
/// (`/cases/new` before `/cases/{id}`), then the first registered. No path matches: 404.
/// A path matches but not the method: 405 with `Allow`. `HEAD` falls back to the `GET` route.
/// Both errors use the project's JSON error body.
public struct Router: Sendable {
    public typealias Handler = @Sendable (HTTPRequest, RouteParameters) async -> HTTPResponse

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    struct Route: Sendable {
        let method: HTTPMethod
        let pattern: [Segment]
        let handler: Handler
    }

    private var routes: [Route] = []

    public init() {}

    /// Adds a route. Registering the same method and pattern twice keeps the first.
    /// - Precondition: `pattern` starts with `/`; a `{…}` segment names a parameter once.
    public mutating func on(_ method: HTTPMethod, _ pattern: String, _ handler: @escaping Handler) {
        precondition(pattern.hasPrefix("/"), "a route pattern starts with /")
        let segments: [Segment] =
            pattern == "/"
            ? []
            : pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map { part in
                if part.hasPrefix("{") && part.hasSuffix("}") && part.count > 2 {
                    return .parameter(String(part.dropFirst().dropLast()))
                }
                return .literal(String(part))
            }
        let names = segments.compactMap { if case .parameter(let name) = $0 { name } else { nil } }
        precondition(Set(names).count == names.count, "a route names each parameter once: \(pattern)")
        routes.append(Route(method: method, pattern: segments, handler: handler))
    }

    /// Finds the route for the request and runs it, or answers 404/405.
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        switch resolve(request) {
        case .found(let handler, let parameters):
            return await handler(request, parameters)
        case .notFound:
            return .error(.notFound, message: "No resource at this path.")
        case .methodNotAllowed(let allowed):
            return .error(
                .methodNotAllowed, message: "\(request.method) is not allowed here.",
                headers: ["Allow": allowed.map(\.rawValue).joined(separator: ", ")])
        }
    }

    enum Resolution {
        case found(Handler, RouteParameters)
        case notFound
        case methodNotAllowed([HTTPMethod])
    }

    func resolve(_ request: HTTPRequest) -> Resolution {
        let matches = routes.compactMap { route in
            Self.match(route.pattern, request.pathSegments).map { (route, $0) }
        }
        guard !matches.isEmpty else { return .notFound }
        // Specificity: compare the patterns segment by segment; a literal beats a parameter.
        let ordered = matches.enumerated().sorted { a, b in
            let aKey = a.element.0.pattern.map { if case .literal = $0 { 0 } else { 1 } }
            let bKey = b.element.0.pattern.map { if case .literal = $0 { 0 } else { 1 } }
            return aKey == bKey ? a.offset < b.offset : aKey.lexicographicallyPrecedes(bKey)
        }.map(\.element)
        if let exact = ordered.first(where: { $0.0.method == request.method }) {
            return .found(exact.0.handler, exact.1)
        }
        if request.method == .HEAD, let get = ordered.first(where: { $0.0.method == .GET }) {
            return .found(get.0.handler, get.1)
        }
        var allowed: [HTTPMethod] = []
        for (route, _) in matches where !allowed.contains(route.method) {
            allowed.append(route.method)
        }
        if allowed.contains(.GET) && !allowed.contains(.HEAD) { allowed.append(.HEAD) }
        return .methodNotAllowed(allowed)
    }

    private static func match(_ pattern: [Segment], _ segments: [String]) -> RouteParameters? {
        guard pattern.count == segments.count else { return nil }
        var values: [String: String] = [:]
        for (part, segment) in zip(pattern, segments) {
            switch part {
            case .literal(let literal):
                guard literal == segment else { return nil }
            case .parameter(let name):
                guard !segment.isEmpty else { return nil }
                values[name] = segment
            }
        }
        return RouteParameters(values)
    }
}
