import Synchronization

/// Counters a service can publish as metrics; a snapshot from ``HTTPServer/stats``.
public struct HTTPServerStats: Sendable, Hashable {
    /// Connections open right now.
    public var openConnections = 0
    /// Connections accepted and served since start.
    public var acceptedConnections = 0
    /// Connections closed at once because ``HTTPServerConfiguration/maxConnections`` were open, or
    /// ``HTTPServerConfiguration/maxConnectionsPerAddress`` of the same peer address.
    public var rejectedConnections = 0
    /// Requests parsed completely and handed to the handler.
    public var requestsParsed = 0
    /// Malformed or over-limit requests, by the status answered (400, 413, 431, 505).
    public var parseErrors: [Int: Int] = [:]
    /// Connections closed because the client was silent for the idle timeout (or too slow to send a request).
    public var timedOutConnections = 0

    public init() {}
}

/// The mutable state shared by the accept loop, every connection and ``HTTPServer``:
/// counters, the draining flag, and which connections sit idle between requests.
final class ServerBook: Sendable {
    private struct State {
        var stats = HTTPServerStats()
        var draining = false
        /// Open connections by descriptor; `true` while waiting for a new request.
        var idle: [Int32: Bool] = [:]
        /// The peer address (without its port) of each open connection, and how many each has.
        var addressOf: [Int32: String] = [:]
        var perAddress = PerAddressCounts()
    }

    private let state = Mutex(State())

    var stats: HTTPServerStats { state.withLock { $0.stats } }
    var isDraining: Bool { state.withLock { $0.draining } }

    /// Records a new connection, or refuses it (`false`) when `limit` are open, when
    /// `perAddressLimit` are open from the same peer address (`remote` without its port), or
    /// while draining.
    func open(_ fd: Int32, remote: String?, limit: Int, perAddressLimit: Int) -> Bool {
        let address = remote.map(HTTPRequest.host(ofRemoteAddress:))
        return state.withLock { state in
            guard !state.draining else { return false }
            guard state.idle.count < limit, address.map({ state.perAddress.take($0, limit: perAddressLimit) }) ?? true
            else {
                state.stats.rejectedConnections += 1
                return false
            }
            if let address { state.addressOf[fd] = address }
            state.idle[fd] = false
            state.stats.acceptedConnections += 1
            state.stats.openConnections = state.idle.count
            return true
        }
    }

    func close(_ fd: Int32) {
        state.withLock { state in
            if let address = state.addressOf.removeValue(forKey: fd) { state.perAddress.give(address) }
            state.idle[fd] = nil
            state.stats.openConnections = state.idle.count
        }
    }

    /// Marks a connection idle; `false` means the server is draining and it should close instead.
    func markIdle(_ fd: Int32) -> Bool {
        state.withLock { state in
            guard !state.draining else { return false }
            state.idle[fd] = true
            return true
        }
    }

    func markBusy(_ fd: Int32) {
        state.withLock { $0.idle[fd] = false }
    }

    /// Starts draining and returns the connections idle at that moment, to be interrupted.
    func beginDraining() -> [Int32] {
        state.withLock { state in
            state.draining = true
            return state.idle.filter(\.value).map(\.key)
        }
    }

    func requestParsed() { state.withLock { $0.stats.requestsParsed += 1 } }
    func parseFailed(status: Int) { state.withLock { $0.stats.parseErrors[status, default: 0] += 1 } }
    func timedOut() { state.withLock { $0.stats.timedOutConnections += 1 } }
}
