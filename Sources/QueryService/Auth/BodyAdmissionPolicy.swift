import HTTP

/// Who may make the server buffer how much: decided from the headers, before a body is read.
extension QueryService {
    /// The HTTP server's admission hook. A request with a live bearer token may send a body up
    /// to the server's limit (1 MiB). Any other request — no `Authorization`, an unknown or
    /// revoked token, a dashboard form with its session cookie — at most
    /// ``QueryServiceConfiguration/unauthenticatedBodyLimit``: a larger declared body is answered
    /// with 401 at once, unread; a chunked one is cut off with 413 at the limit.
    /// During an outage the token cannot be checked: 503, unread.
    func admitBody(_ request: HTTPRequest, contentLength: Int?) async -> BodyAdmission {
        if let token = Self.bearerToken(request.headers) {
            do {
                if try await tokens.credential(token) != nil { return .accept(maxBytes: .max) }
            } catch {
                return .reject(ServiceError.from(error).response)
            }
        }
        let limit = configuration.unauthenticatedBodyLimit
        if let contentLength, contentLength > limit {
            return .reject(
                ServiceError(
                    .unauthorized, "unauthorized",
                    "A valid bearer token is required to send a body of more than \(limit) bytes."
                ).response)
        }
        return .accept(maxBytes: limit)
    }
}
