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
    /// Connections closed, after waiting for or receiving a request the longest, to make room for
    /// a new one when ``HTTPServerConfiguration/maxConnections`` were open.
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
        /// The peer address (without its port) of each open connection.
        var addressOf: [Int32: String] = [:]
        var perAddress = PerAddressCounts()
        /// Connections waiting for or receiving a request: since when (entering the phase, not
        /// each byte), and a stamp that tells this entry from an earlier one of the same descriptor.
        var evictable: [Int32: (stamp: UInt64, since: ContinuousClock.Instant)] = [:]
        /// Entries of `evictable` in the order they were made, oldest first from `head`; entries no
        /// longer in `evictable` (their connection moved on or closed) are skipped and dropped.
        var queue: [(fd: Int32, stamp: UInt64)] = []
        var head = 0
        var stamps: UInt64 = 0

        /// Forgets `fd` and gives back its peer's place.
        mutating func forget(_ fd: Int32) {
            if let address = addressOf.removeValue(forKey: fd) { perAddress.give(address) }
            phase[fd] = nil
            evictable[fd] = nil
            stats.openConnections = phase.count
        }

        /// Records that `fd` is in `new` now (from `old`): waiting and receiving connections are
        /// queued from the moment they entered the phase, a handled one is not evictable.
        mutating func enter(_ fd: Int32, _ new: Phase, from old: Phase?, at now: ContinuousClock.Instant) {
            phase[fd] = new
            guard new != old else { return }
            guard new != .handling else {
                evictable[fd] = nil
                return
            }
            stamps += 1
            evictable[fd] = (stamps, now)
            queue.append((fd, stamps))
            // Entries outnumbering the connections twice over: keep the live ones only.
            if queue.count - head > 2 * evictable.count + 1_024 {
                queue = queue[head...].filter { evictable[$0.fd]?.stamp == $0.stamp }
                head = 0
            }
        }

        /// The connection to close so that a new one gets a place: the one that has waited for,
        /// or been receiving, a request the longest, if that is at least `minimumAge` — a client
        /// trickling a request, or holding a connection it does not use, before one that has just
        /// been served (an attack pass held every place with four addresses trickling requests;
        /// a later one, from hundreds of addresses, pushed out a busy office's connections when the
        /// peer holding the most went first). Never one whose request is being handled.
        mutating func victim(now: ContinuousClock.Instant, minimumAge: Duration) -> Int32? {
            while head < queue.count {
                let (fd, stamp) = queue[head]
                guard let entry = evictable[fd], entry.stamp == stamp else {
                    head += 1
                    continue
                }
                return now - entry.since >= minimumAge ? fd : nil
            }
            return nil
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
    /// address (`remote` without its port), or while draining. When `limit` are open, the
    /// connection that has waited for or been receiving a request the longest (at least
    /// `minimumAge`) makes room for it; without one it is refused.
    func open(_ fd: Int32, remote: String?, limit: Int, perAddressLimit: Int, minimumAge: Duration) -> Admission {
        let address = remote.map(HTTPRequest.host(ofRemoteAddress:))
        let now = ContinuousClock.now
        return state.withLock { state in
            guard !state.draining else { return .refused }
            let held = address.map { state.perAddress.held(by: $0) } ?? 0
            // Room is made only for a connection that is then admitted.
            let victim =
                held < perAddressLimit && state.phase.count >= limit
                ? state.victim(now: now, minimumAge: minimumAge) : nil
            if let victim {
                state.forget(victim)
                state.stats.evictedConnections += 1
            }
            guard state.phase.count < limit, address.map({ state.perAddress.take($0, limit: perAddressLimit) }) ?? true
            else {
                state.stats.rejectedConnections += 1
                return .refused
            }
            if let address { state.addressOf[fd] = address }
            state.enter(fd, .waiting, from: nil, at: now)
            state.stats.acceptedConnections += 1
            state.stats.openConnections = state.phase.count
            return .admitted(evicting: victim)
        }
    }

    func close(_ fd: Int32) {
        state.withLock { $0.forget(fd) }
    }

    /// Marks a connection waiting for a new request; `false` means it should close instead (the
    /// server is draining, or the connection was evicted).
    func markIdle(_ fd: Int32) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard !state.draining, let old = state.phase[fd] else { return false }
            state.enter(fd, .waiting, from: old, at: now)
            return true
        }
    }

    /// Marks a connection receiving a request (nothing for one already forgotten).
    func markReceiving(_ fd: Int32) { set(fd, .receiving) }

    /// Marks a connection handling a request; `false` for one evicted meanwhile, which must close
    /// without handling it.
    func markHandling(_ fd: Int32) -> Bool { set(fd, .handling) }

    @discardableResult
    private func set(_ fd: Int32, _ phase: Phase) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let old = state.phase[fd] else { return false }
            state.enter(fd, phase, from: old, at: now)
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
