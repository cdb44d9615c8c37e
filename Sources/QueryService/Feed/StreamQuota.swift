import Synchronization

/// Counts the long-lived streams (Server-Sent Events) open per credential, so that one token —
/// and every dashboard session made from it — cannot hold an unbounded share of the server.
///
/// A stream takes a ``Lease`` before its response starts and gives it back when the lease is
/// released: when the stream ends, or when the response is dropped without ever starting
/// (the lease releases itself then, so a count can never leak).
final class StreamQuota: Sendable {
    let limit: Int
    private let open = Mutex<[Int64: Int]>([:])

    /// - Parameter limit: the most streams one credential may hold open at once.
    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// One open stream of a credential.
    final class Lease: Sendable {
        private let quota: StreamQuota
        private let key: Int64
        private let released = Atomic<Bool>(false)

        fileprivate init(quota: StreamQuota, key: Int64) {
            self.quota = quota
            self.key = key
        }

        /// Gives the stream's place back; later calls do nothing.
        func release() {
            guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
            quota.give(key)
        }

        deinit { release() }
    }

    /// A lease for one more stream of `credential`, or nil when it already holds `limit`.
    func acquire(_ credential: Int64) -> Lease? {
        let granted = open.withLock { open -> Bool in
            let count = open[credential, default: 0]
            guard count < limit else { return false }
            open[credential] = count + 1
            return true
        }
        return granted ? Lease(quota: self, key: credential) : nil
    }

    /// How many streams `credential` holds open.
    func count(_ credential: Int64) -> Int { open.withLock { $0[credential, default: 0] } }

    private func give(_ credential: Int64) {
        open.withLock { open in
            let count = open[credential, default: 0] - 1
            open[credential] = count > 0 ? count : nil
        }
    }
}
