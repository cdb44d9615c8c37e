import Synchronization

/// What a server's admission hook answers for a request whose header block has arrived and
/// whose body has not been read yet (see ``HTTPServer/init(configuration:admission:handler:)``).
///
/// The hook sees the method, target and headers — enough to know who is asking — so that a
/// caller who may not send a large body is refused before a byte of it is buffered.
public enum BodyAdmission: Sendable {
    /// Receive the body, at most `maxBytes` of it (never more than `limits.maxBodySize`); a
    /// larger body is answered with 413.
    case accept(maxBytes: Int)
    /// Answer with this response now, without reading the body, and close the connection.
    case reject(HTTPResponse)
}

/// The bytes of request bodies all connections of a server may hold at once
/// (``HTTPServerConfiguration/bodyBudget``), and the share of them one peer may hold
/// (``HTTPServerConfiguration/bodyBudgetPerAddress``, peers counted as ``PerAddressCounts``
/// counts them).
///
/// A body is charged with the bytes it has sent, as they arrive, and gives them back when its
/// request has been answered. Charging the declared length up front let a client hold the whole
/// budget with bodies it never sent (an attack pass blocked every POST with 66 connections that
/// each announced 1 MiB and sent a byte every 5 s); now a trickling body holds what it sent, and
/// one peer at most its share.
final class BodyBudget: Sendable {
    let capacity: Int
    let perAddress: Int
    private struct State {
        var inUse = 0
        var byAddress = PerAddressCounts()
    }
    private let state = Mutex(State())

    /// - Parameters:
    ///   - perAddress: what one peer may hold; nil: an eighth of `capacity`, but at least `largestBody`
    ///     (one body of the largest size always fits in a peer's share when the budget has room).
    init(capacity: Int, perAddress: Int? = nil, largestBody: Int = 0) {
        self.capacity = max(0, capacity)
        self.perAddress = max(0, min(self.capacity, perAddress ?? max(self.capacity / 8, largestBody)))
    }

    /// Whether `bytes` would fit now, in the budget and in the share of `address` (nil: an
    /// unknown peer, counted in the total only); nothing is taken.
    func hasRoom(_ bytes: Int, for address: String?) -> Bool {
        state.withLock { s in
            bytes <= capacity - s.inUse && (address.map { bytes <= perAddress - s.byAddress.held(by: $0) } ?? true)
        }
    }

    /// Takes `bytes` for `address`; false (and nothing taken) when they do not fit in the budget
    /// or in the share of `address`.
    func take(_ bytes: Int, for address: String?) -> Bool {
        guard bytes > 0 else { return true }
        return state.withLock { s in
            guard bytes <= capacity - s.inUse else { return false }
            if let address, !s.byAddress.take(address, bytes, limit: perAddress) { return false }
            s.inUse += bytes
            return true
        }
    }

    /// Gives back `bytes` that `address` took.
    func give(_ bytes: Int, from address: String?) {
        guard bytes > 0 else { return }
        state.withLock { s in
            s.inUse = max(0, s.inUse - bytes)
            if let address { s.byAddress.give(address, bytes) }
        }
    }

    /// The bytes taken now.
    var used: Int { state.withLock { $0.inUse } }
}
