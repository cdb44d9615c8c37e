import EventStore
import Foundation
import HTTP
import Postgres

/// Which server answers a read: the read replica while it is up, a standby, within the lag bound
/// and past the caller's own writes — else the primary (docs/operations.md, "Read replicas").
extension QueryService {
    /// The response header of a successful write: the WAL position a reader must see replayed to
    /// see the write (an opaque token; API.md, docs/openapi.yaml). Sent when a replica is configured.
    public static let positionHeader = "Handoff-Position"
    /// The request header of a read: a `Handoff-Position` the caller received. The read is served
    /// from a replica only once it has replayed that far (waiting a bounded moment), else from the
    /// primary. A malformed value: 400 `bad_request` with `field` naming the header.
    public static let minimumPositionHeader = "Handoff-Min-Position"

    /// Why a read that could have gone to the replica went to the primary (`/metrics` label).
    enum ReadFallback: String, CaseIterable, Sendable {
        /// No fresh observation of the replica: down, unreachable or frozen.
        case unavailable
        /// The read URL reached a server that accepts writes (not a standby).
        case notStandby = "not_standby"
        /// The replica is further behind than ``QueryServiceConfiguration/replicaMaxLag``.
        case lag
        /// It did not replay the caller's position within ``QueryServiceConfiguration/readYourWritesWait``.
        case position
        /// The caller's position lies beyond what the primary has committed.
        case ahead
        /// The read failed on the replica (a broken connection, a query cancelled by replay).
        case error
        /// The replica answered 404 or 403 (a case it has not replayed yet); the primary decides.
        case refused
    }

    /// The `Handoff-Min-Position` of a request; nil without one. - Throws: 400 `bad_request`.
    static func minimumPosition(_ request: HTTPRequest) throws -> WALPosition? {
        guard let text = request.headers[minimumPositionHeader] else { return nil }
        guard let position = WALPosition(text.trimmingCharacters(in: .whitespaces)) else {
            throw ServiceError.badRequest(
                "\(minimumPositionHeader) is a \(positionHeader) value this service returned.",
                field: minimumPositionHeader)
        }
        return position
    }

    /// Runs a read route's reads on the server ``readPath(minimum:)`` chooses for the request's
    /// ``readMinimum(_:)`` (400 for a malformed header). When the replica's answer is an error
    /// (503, 500) or a refusal (404, 403: the replica may not have replayed the case, or the
    /// caller's party-ship, yet), the same reads run again on the primary, whose answer stands: a
    /// lagging replica delays nothing and refuses nothing. `body` must only read.
    func withReads<T>(_ request: HTTPRequest, _ body: (ReadPath) async throws -> T) async throws -> T {
        try await withReads(minimum: try readMinimum(request), body)
    }

    /// As ``withReads(_:_:)``, for reads that must see `minimum` (an event stream's reads, which
    /// carry their request's position into the first read only).
    func withReads<T>(minimum: WALPosition?, _ body: (ReadPath) async throws -> T) async throws -> T {
        let path = await readPath(minimum: minimum)
        guard path.source == .replica else { return try await body(path) }
        do {
            return try await body(path)
        } catch {
            let status = ServiceError.status(of: error)
            guard status >= 500 || status == 404 || status == 403 else { throw error }
            metrics.recordRead(
                source: ReadPath.Source.primary.rawValue,
                fallback: (status >= 500 ? ReadFallback.error : .refused).rawValue)
            return try await body(primaryReads)
        }
    }

    /// The position a read of this request must see: its `Handoff-Min-Position` or the newest write
    /// of its credential through this service, whichever is further. - Throws: 400 for a malformed header.
    func readMinimum(_ request: HTTPRequest) throws -> WALPosition? {
        var minimum = try Self.minimumPosition(request)
        if let key = RequestContext.current?.credentialKey, let written = recentWrites.position(of: key) {
            minimum = max(minimum ?? written, written)
        }
        return minimum
    }

    /// The replica when it is a standby, fresh, within the lag bound and (waiting at most
    /// ``QueryServiceConfiguration/readYourWritesWait``) at or past `minimum`; else the primary.
    func readPath(minimum: WALPosition?) async -> ReadPath {
        guard let replica = replicaReads, let monitor = replicaMonitor else { return primaryReads }
        func fallback(_ reason: ReadFallback) -> ReadPath {
            metrics.recordRead(source: ReadPath.Source.primary.rawValue, fallback: reason.rawValue)
            return primaryReads
        }
        guard let seen = monitor.latest, let standby = seen.replica else { return fallback(.unavailable) }
        guard standby.inRecovery, let replayed = standby.replayed else { return fallback(.notStandby) }
        // Unknown lag (the primary unreachable) keeps the replica: it is then the only server answering.
        if let lag = seen.lagSeconds, lag > configuration.replicaMaxLag.secondsValue { return fallback(.lag) }
        if let minimum, replayed < minimum {
            // A position past the primary's last observed one is asked of the primary itself: a
            // made-up position must not make every read wait out the whole bound.
            if let primary = seen.primary, minimum > primary, let now = try? await store.committedPosition(),
                minimum > now
            {
                return fallback(.ahead)
            }
            let deadline = ContinuousClock.now + configuration.readYourWritesWait
            guard await monitor.waitUntilReplayed(minimum, deadline: deadline) else { return fallback(.position) }
        }
        metrics.recordRead(source: ReadPath.Source.replica.rawValue, fallback: nil)
        return replica
    }

    /// After a successful write by a credential: the position its reads must see, remembered for
    /// the credential and returned in `Handoff-Position`. Only with a replica (without one every
    /// read is on the primary); nil when the primary cannot say (the write stands regardless).
    func positionAfterWrite(_ request: HTTPRequest, status: Int) async -> WALPosition? {
        guard replicaReads != nil, request.method != .GET, request.method != .HEAD, (200..<400).contains(status),
            RequestContext.current?.route != "unmatched"
        else { return nil }
        guard let position = try? await store.committedPosition() else { return nil }
        if let key = RequestContext.current?.credentialKey { recentWrites.note(key, position) }
        return position
    }

    /// `handoff_read_replica_*` gauges from the monitor's newest observation; empty without a replica.
    func replicaMetrics() -> String {
        guard let monitor = replicaMonitor else { return "" }
        let seen = monitor.latest
        var out = metrics.readRouting(reasons: ReadFallback.allCases.map(\.rawValue))
        out += "# HELP handoff_read_replica_up 1 when the read replica answered its last poll as a standby.\n"
        out += "# TYPE handoff_read_replica_up gauge\n"
        out += "handoff_read_replica_up \(seen?.replica?.inRecovery == true ? 1 : 0)\n"
        if let bytes = seen?.lagBytes {
            out += "# HELP handoff_read_replica_lag_bytes WAL bytes committed on the primary, not yet replayed.\n"
            out += "# TYPE handoff_read_replica_lag_bytes gauge\nhandoff_read_replica_lag_bytes \(bytes)\n"
        }
        if let seconds = seen?.lagSeconds {
            out += "# HELP handoff_read_replica_lag_seconds How far behind the replica's replay is, in time.\n"
            out += "# TYPE handoff_read_replica_lag_seconds gauge\nhandoff_read_replica_lag_seconds \(seconds)\n"
        }
        return out
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
