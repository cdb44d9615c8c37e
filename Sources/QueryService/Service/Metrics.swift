import HTTP
import Referrals
import Synchronization

/// The service's counters, published at `GET /metrics` in the Prometheus text format.
final class Metrics: Sendable {
    static let buckets: [Double] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct RouteKey: Hashable {
        var method: String
        var route: String
    }

    private struct Histogram {
        var counts = [Int](repeating: 0, count: Metrics.buckets.count)
        var sum = 0.0
        var count = 0
    }

    private struct State {
        var requests: [RouteKey: [Int: Int]] = [:]
        var latency: [RouteKey: Histogram] = [:]
        var appendedEvents = 0
        var appendOutcomes: [String: Int] = [:]
        var sseClients = 0
        /// Reads by the server that answered (`primary`, `replica`), with a read replica configured.
        var reads: [String: Int] = [:]
        /// Reads sent to the primary instead of the replica, by reason.
        var readFallbacks: [String: Int] = [:]
    }

    private let state = Mutex(State())

    func recordRequest(method: String, route: String, status: Int, seconds: Double) {
        state.withLock { s in
            let key = RouteKey(method: method, route: route)
            s.requests[key, default: [:]][status, default: 0] += 1
            var h = s.latency[key] ?? Histogram()
            for (i, bound) in Self.buckets.enumerated() where seconds <= bound { h.counts[i] += 1 }
            h.sum += seconds
            h.count += 1
            s.latency[key] = h
        }
    }

    func recordAppend(outcome: String, events: Int) {
        state.withLock { s in
            s.appendOutcomes[outcome, default: 0] += 1
            s.appendedEvents += events
        }
    }

    /// A read routed to `source`; `fallback` names why the replica was passed over.
    func recordRead(source: String, fallback: String?) {
        state.withLock { s in
            s.reads[source, default: 0] += 1
            if let fallback { s.readFallbacks[fallback, default: 0] += 1 }
        }
    }

    /// `handoff_reads_total{source}` and `handoff_read_replica_fallbacks_total{reason}`, every
    /// source and reason listed (0 included) so that alerts can watch them.
    func readRouting(reasons: [String]) -> String {
        let (reads, fallbacks) = state.withLock { ($0.reads, $0.readFallbacks) }
        var out = "# HELP handoff_reads_total Reads of the read routes, by the server that answered.\n"
        out += "# TYPE handoff_reads_total counter\n"
        for source in ["primary", "replica"] {
            out += "handoff_reads_total{source=\"\(source)\"} \(reads[source] ?? 0)\n"
        }
        out += "# HELP handoff_read_replica_fallbacks_total Reads sent to the primary instead of the replica.\n"
        out += "# TYPE handoff_read_replica_fallbacks_total counter\n"
        for reason in reasons {
            out += "handoff_read_replica_fallbacks_total{reason=\"\(reason)\"} \(fallbacks[reason] ?? 0)\n"
        }
        return out
    }

    func sseClientConnected() { state.withLock { $0.sseClients += 1 } }
    func sseClientDisconnected() { state.withLock { $0.sseClients -= 1 } }
    var sseClients: Int { state.withLock { $0.sseClients } }

    /// The exposition text, with the HTTP server's counters and any extra text appended.
    func render(server: HTTPServerStats?, extra: String) -> String {
        let s = state.withLock { $0 }
        var out = ""
        func label(_ v: String) -> String {
            v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
        }
        out += "# HELP handoff_http_requests_total HTTP requests answered, by route and status.\n"
        out += "# TYPE handoff_http_requests_total counter\n"
        for key in s.requests.keys.sorted(by: { ($0.route, $0.method) < ($1.route, $1.method) }) {
            for (status, n) in s.requests[key]!.sorted(by: { $0.key < $1.key }) {
                out +=
                    "handoff_http_requests_total{method=\"\(label(key.method))\",route=\"\(label(key.route))\",status=\"\(status)\"} \(n)\n"
            }
        }
        out += "# HELP handoff_http_request_duration_seconds Time to produce a response head, by route.\n"
        out += "# TYPE handoff_http_request_duration_seconds histogram\n"
        for key in s.latency.keys.sorted(by: { ($0.route, $0.method) < ($1.route, $1.method) }) {
            let h = s.latency[key]!
            let labels = "method=\"\(label(key.method))\",route=\"\(label(key.route))\""
            for (i, bound) in Self.buckets.enumerated() {
                out += "handoff_http_request_duration_seconds_bucket{\(labels),le=\"\(bound)\"} \(h.counts[i])\n"
            }
            out += "handoff_http_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(h.count)\n"
            out += "handoff_http_request_duration_seconds_sum{\(labels)} \(h.sum)\n"
            out += "handoff_http_request_duration_seconds_count{\(labels)} \(h.count)\n"
        }
        out += "# HELP handoff_appended_events_total Events appended through the API.\n"
        out += "# TYPE handoff_appended_events_total counter\nhandoff_appended_events_total \(s.appendedEvents)\n"
        out += "# HELP handoff_append_requests_total Append requests by outcome.\n"
        out += "# TYPE handoff_append_requests_total counter\n"
        for (outcome, n) in s.appendOutcomes.sorted(by: { $0.key < $1.key }) {
            out += "handoff_append_requests_total{outcome=\"\(label(outcome))\"} \(n)\n"
        }
        out += "# HELP handoff_sse_clients Server-Sent-Events clients connected now.\n"
        out += "# TYPE handoff_sse_clients gauge\nhandoff_sse_clients \(s.sseClients)\n"
        if let server {
            out += "# HELP handoff_http_open_connections Connections open now.\n"
            out +=
                "# TYPE handoff_http_open_connections gauge\nhandoff_http_open_connections \(server.openConnections)\n"
            out += "# HELP handoff_http_accepted_connections_total Connections accepted.\n"
            out += "# TYPE handoff_http_accepted_connections_total counter\n"
            out += "handoff_http_accepted_connections_total \(server.acceptedConnections)\n"
            out += "# HELP handoff_http_rejected_connections_total Connections refused at the connection cap.\n"
            out += "# TYPE handoff_http_rejected_connections_total counter\n"
            out += "handoff_http_rejected_connections_total \(server.rejectedConnections)\n"
            out +=
                "# HELP handoff_http_evicted_connections_total Connections that waited for or received a request "
                + "the longest, closed at the cap to make room for a new one.\n"
            out += "# TYPE handoff_http_evicted_connections_total counter\n"
            out += "handoff_http_evicted_connections_total \(server.evictedConnections)\n"
            out += "# HELP handoff_http_requests_parsed_total Requests parsed and handed to the service.\n"
            out += "# TYPE handoff_http_requests_parsed_total counter\n"
            out += "handoff_http_requests_parsed_total \(server.requestsParsed)\n"
            out += "# HELP handoff_http_parse_errors_total Malformed or over-limit requests, by status.\n"
            out += "# TYPE handoff_http_parse_errors_total counter\n"
            for (status, n) in server.parseErrors.sorted(by: { $0.key < $1.key }) {
                out += "handoff_http_parse_errors_total{status=\"\(status)\"} \(n)\n"
            }
            out += "# HELP handoff_http_timed_out_connections_total Connections closed for silence.\n"
            out += "# TYPE handoff_http_timed_out_connections_total counter\n"
            out += "handoff_http_timed_out_connections_total \(server.timedOutConnections)\n"
        }
        if !extra.isEmpty { out += extra.hasSuffix("\n") ? extra : extra + "\n" }
        return out
    }
}

extension Metrics {
    /// `handoff_system_event_id_conflicts_total{type}`: system event ids found taken by another
    /// event (docs/system-events.md), an alarm each; a line per system event type, 0 included, so
    /// that an alert can watch it. Empty when the counts could not be read.
    static func systemEventIdConflicts(_ counts: [String: Int]?) -> String {
        guard let counts else { return "" }
        var out = "# HELP handoff_system_event_id_conflicts_total System event ids found taken by another event.\n"
        out += "# TYPE handoff_system_event_id_conflicts_total counter\n"
        let types = Set(SystemEventType.allCases.map(\.rawValue)).union(counts.keys).sorted()
        for type in types {
            out += "handoff_system_event_id_conflicts_total{type=\"\(type)\"} \(counts[type] ?? 0)\n"
        }
        return out
    }
}
