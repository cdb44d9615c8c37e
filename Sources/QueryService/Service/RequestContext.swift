import HTTP
import Logging
import Referrals
import Synchronization

/// What the service learns about one request while it handles it, for its log line and metrics:
/// its id, the route pattern it matched, who called, and the cause of a 5xx.
///
/// Handlers fill it in through the task-local ``current`` (the router does not say which pattern
/// matched, and authentication happens deep inside a handler).
final class RequestContext: Sendable {
    private struct State {
        var route = "unmatched"
        var principal: Principal?
        var credentialKey: Int64?
        var inFlightCaller: String?
        var cause: LogMetadata?
    }

    /// The request's id (``RequestID``), also sent back in `X-Request-Id`.
    let id: String
    private let state = Mutex(State())

    init(id: String) {
        self.id = id
    }

    /// The matched route's pattern (`/v1/cases/{caseId}`), never the raw path; `unmatched` for a 404.
    var route: String {
        get { state.withLock { $0.route } }
        set { state.withLock { $0.route = newValue } }
    }

    /// The authenticated caller, once known.
    var principal: Principal? {
        get { state.withLock { $0.principal } }
        set { state.withLock { $0.principal = newValue } }
    }

    /// The credential behind the caller, once known: its token's id, or for a dashboard session
    /// of a person's account the negated account id (``SessionStore/Session/streamKey``). Keys
    /// read-your-writes (``RecentWrites``).
    var credentialKey: Int64? {
        get { state.withLock { $0.credentialKey } }
        set { state.withLock { $0.credentialKey = newValue } }
    }

    /// The caller whose place among its requests in progress this request holds (``InFlightRequests``).
    var inFlightCaller: String? {
        get { state.withLock { $0.inFlightCaller } }
        set { state.withLock { $0.inFlightCaller = newValue } }
    }

    /// What caused a 5xx (error type, code, SQLSTATE), once known. The first cause is kept: it is
    /// the error itself, later ones only wrap it.
    var cause: LogMetadata? { state.withLock { $0.cause } }

    func noteCause(_ error: any Error) {
        state.withLock { s in
            if s.cause == nil { s.cause = .cause(error) }
        }
    }

    @TaskLocal static var current: RequestContext?
}
