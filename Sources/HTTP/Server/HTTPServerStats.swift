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
    /// Connections closed, while waiting for or receiving a request, to make room for a peer
    /// holding fewer when ``HTTPServerConfiguration/maxConnections`` were open.
    public var evictedConnections = 0

    public init() {}
}

/// The mutable state shared by the accept loop, every connection and ``HTTPServer``:
/// counters, the draining flag, and what each open connection is doing.
final class ServerBook: Sendable {
    /// What a connection is doing.
    enum Phase {
        /// Waiting for a new request.
        case waiting
        /// Receiving a request (its head or its body).
        case receiving
        /// A request handed to the handler, its response or stream being written.
        case handling
    }

    private struct State {
        var stats = HTTPServerStats()
        var draining = false
        /// Open connections by descriptor.
        var phase: [Int32: Phase] = [:]
        /// The peer address (without its port) of each open connection, and how many each has.
        var addressOf: [Int32: String] = [:]
        var perAddress = PerAddressCounts()
        /// The open connections of each peer, by ``PerAddressCounts/key(_:)``.
        var byPeer: [String: Set<Int32>] = [:]
        /// The peers by how many connections each holds, and the most any holds: the peer to
        /// make room from is found without looking at every peer.
        var peersHolding: [Int: Set<String>] = [:]
        var most = 0

        /// Records `fd` of the peer `address`.
        mutating func add(_ fd: Int32, address: String) {
            addressOf[fd] = address
            let key = PerAddressCounts.key(address)
            let held = byPeer[key]?.count ?? 0
            byPeer[key, default: []].insert(fd)
            move(key, from: held, to: held + 1)
        }

        /// Forgets `fd` and gives back its peer's place.
        mutating func forget(_ fd: Int32) {
            if let address = addressOf.removeValue(forKey: fd) {
                perAddress.give(address)
                let key = PerAddressCounts.key(address)
                let held = byPeer[key]?.count ?? 0
                byPeer[key]?.remove(fd)
                if byPeer[key]?.isEmpty == true { byPeer[key] = nil }
                move(key, from: held, to: held - 1)
            }
            phase[fd] = nil
            stats.openConnections = phase.count
        }

        /// Moves `key` from the peers holding `old` to those holding `new` (one more or one fewer).
        private mutating func move(_ key: String, from old: Int, to new: Int) {
            if old > 0 {
                peersHolding[old]?.remove(key)
                if peersHolding[old]?.isEmpty == true { peersHolding[old] = nil }
            }
            if new > 0 { peersHolding[new, default: []].insert(key) }
            if new > most { most = new }
            // Counts move by one, so the next lower count is held by the key just moved (or by none).
            while most > 0, peersHolding[most] == nil { most -= 1 }
        }

        /// A connection to close so that a peer holding `held` connections gets one: of the peer
        /// holding the most, when that peer holds at least two more, one waiting for a request
        /// (else one receiving one), never one handling a request. Peers that hold the same keep
        /// what they hold: a newcomer never pushes out a peer no larger than itself.
        func victim(forPeerHolding held: Int) -> Int32? {
            guard most > held + 1, let key = peersHolding[most]?.first, let fds = byPeer[key] else { return nil }
            return fds.first { phase[$0] == .waiting } ?? fds.first { phase[$0] == .receiving }
        }
    }

    private let state = Mutex(State())

    var stats: HTTPServerStats { state.withLock { $0.stats } }
    var isDraining: Bool { state.withLock { $0.draining } }

    /// What ``open(_:remote:limit:perAddressLimit:)`` decided.
    enum Admission: Equatable {
        /// Refused: close it at once.
        case refused
        /// Admitted; when `evicting` names a connection, it was forgotten to make room and must be
        /// interrupted (closed by its own task).
        case admitted(evicting: Int32?)
    }

    /// Records a new connection, or refuses it when `perAddressLimit` are open from the same peer
    /// address (`remote` without its port), or while draining. When `limit` are open, a
    /// connection of the peer holding the most — at least two more than this one's peer, and not
    /// handling a request — makes room for it (a few clients trickling requests from a few
    /// addresses cannot keep everyone else out); without one it is refused.
    func open(_ fd: Int32, remote: String?, limit: Int, perAddressLimit: Int) -> Admission {
        let address = remote.map(HTTPRequest.host(ofRemoteAddress:))
        return state.withLock { state in
            guard !state.draining else { return .refused }
            let held = address.map { state.perAddress.held(by: $0) } ?? 0
            // Room is made only for a connection that is then admitted.
            let victim =
                held < perAddressLimit && state.phase.count >= limit
                ? state.victim(forPeerHolding: held) : nil
            if let victim {
                state.forget(victim)
                state.stats.evictedConnections += 1
            }
            guard state.phase.count < limit, address.map({ state.perAddress.take($0, limit: perAddressLimit) }) ?? true
            else {
                state.stats.rejectedConnections += 1
                return .refused
            }
            if let address { state.add(fd, address: address) }
            let evicting = victim
            state.phase[fd] = .waiting
            state.stats.acceptedConnections += 1
            state.stats.openConnections = state.phase.count
            return .admitted(evicting: evicting)
        }
    }

    func close(_ fd: Int32) {
        state.withLock { $0.forget(fd) }
    }

    /// Marks a connection waiting for a new request; `false` means it should close instead (the
    /// server is draining, or the connection was evicted).
    func markIdle(_ fd: Int32) -> Bool {
        state.withLock { state in
            guard !state.draining, state.phase[fd] != nil else { return false }
            state.phase[fd] = .waiting
            return true
        }
    }

    /// Marks a connection receiving a request (nothing for one already forgotten).
    func markReceiving(_ fd: Int32) { set(fd, .receiving) }

    /// Marks a connection receiving a request (nothing for one already forgotten).
    /// Marks a connection handling a request; `false` for one evicted meanwhile, which must close
    /// without handling it.
    func markHandling(_ fd: Int32) -> Bool { set(fd, .handling) }

    @discardableResult
    private func set(_ fd: Int32, _ phase: Phase) -> Bool {
        state.withLock { state in
            guard state.phase[fd] != nil else { return false }
            state.phase[fd] = phase
            return true
        }
    }

    /// Starts draining and returns the connections waiting for a request at that moment, to be interrupted.
    func beginDraining() -> [Int32] {
        state.withLock { state in
            state.draining = true
            return state.phase.filter { $0.value == .waiting }.map(\.key)
        }
    }

    func requestParsed() { state.withLock { $0.stats.requestsParsed += 1 } }
    func parseFailed(status: Int) { state.withLock { $0.stats.parseErrors[status, default: 0] += 1 } }
    func timedOut() { state.withLock { $0.stats.timedOutConnections += 1 } }
}
