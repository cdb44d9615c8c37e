import Glibc

/// The process's limit on open files, which every client connection takes one of.
///
/// The soft limit systemd and many container runtimes start a process with is 1,024, far below
/// the server's default of 10,000 connections: descriptors ran out first, `accept` failed, and
/// a few hundred trickling connections from one address kept everyone out while the per-address
/// cap and eviction never came into play (an operator's pass). A server process raises the soft
/// limit to the hard one before it builds its server (``raiseToHardLimit()``: `handoff serve` and
/// `handoff demo` do), and the server keeps its connection limits within what is left
/// (``fitted(_:limit:)``).
public enum OpenFiles {
    /// The soft limit now (`Int.max` when unlimited or unknown).
    public static var limit: Int {
        var current = rlimit()
        guard getrlimit(resource, &current) == 0 else { return Int.max }
        return current.rlim_cur == unlimited ? Int.max : Int(clamping: current.rlim_cur)
    }

    /// Raises the soft limit to the hard limit (an unlimited hard limit: 2^20, as far as the
    /// kernel lets a soft limit go); returns the soft limit then. A process-wide change: for a
    /// server process's start, not for a library.
    @discardableResult
    public static func raiseToHardLimit() -> Int {
        var current = rlimit()
        guard getrlimit(resource, &current) == 0 else { return Int.max }
        let target = current.rlim_max == unlimited ? rlim_t(1 << 20) : current.rlim_max
        if current.rlim_cur != unlimited, current.rlim_cur < target {
            var raised = current
            raised.rlim_cur = target
            _ = setrlimit(resource, &raised)
        }
        return limit
    }

    private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    private static let unlimited = rlim_t.max  // RLIM_INFINITY

    /// Descriptors left for everything but client connections: database connections (a socket and
    /// a wake pipe each), the event loop, logs, files.
    public static let reserve = 256

    /// `configuration` with connection limits that fit in `limit` open files less ``reserve``:
    /// fewer connections, and the per-address share lowered in proportion.
    static func fitted(_ configuration: HTTPServerConfiguration, limit: Int = limit) -> HTTPServerConfiguration {
        var fitted = configuration
        let usable = max(16, limit - min(reserve, limit / 2))
        guard fitted.maxConnections > usable else { return fitted }
        fitted.maxConnectionsPerAddress = max(
            1,
            Int(
                (Double(fitted.maxConnectionsPerAddress) * Double(usable) / Double(fitted.maxConnections)).rounded(
                    .down)))
        fitted.maxConnections = usable
        return fitted
    }
}
