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
/// (``HTTPServerConfiguration/bodyBudget``). A body takes its declared length (a chunked one its
/// admitted maximum) before it is read and gives it back when its request has been answered;
/// a body that does not fit is refused with 503 and the server goes on serving.
final class BodyBudget: Sendable {
    let capacity: Int
    private let inUse = Mutex(0)

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// Takes `bytes` from the budget; false when they do not fit.
    func reserve(_ bytes: Int) -> Bool {
        inUse.withLock { inUse in
            guard bytes <= capacity - inUse else { return false }
            inUse += bytes
            return true
        }
    }

    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        inUse.withLock { $0 = max(0, $0 - bytes) }
    }

    /// The bytes taken now.
    var used: Int { inUse.withLock { $0 } }
}
