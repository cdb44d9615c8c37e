import Glibc

/// The process's limit on open files, which every client connection takes one of.
///
/// The soft limit systemd and many container runtimes start a process with is 1,024, far below
/// the server's default of 10,000 connections: descriptors ran out first, `accept` failed, and
/// a few hundred trickling connections from one address kept everyone out while the per-address
/// cap and eviction never came into play (an operator's pass). The server raises the soft limit
/// to the hard one and keeps its connection limits within what is left (``fitted(_:)``).
enum OpenFiles {
    /// The soft limit after raising it to the hard limit (once per process).
    static let limit: Int = {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        let unlimited = rlim_t.max  // RLIM_INFINITY
        var current = rlimit()
        guard getrlimit(resource, &current) == 0 else { return Int.max }
        // An unlimited hard limit is not one the kernel lets a soft limit reach (nr_open).
        let target = current.rlim_max == unlimited ? rlim_t(1 << 20) : current.rlim_max
        if current.rlim_cur != unlimited, current.rlim_cur < target {
            var raised = current
            raised.rlim_cur = target
            if setrlimit(resource, &raised) == 0 { current = raised }
        }
        return current.rlim_cur == unlimited ? Int.max : Int(clamping: current.rlim_cur)
    }()

    /// Descriptors left for everything but client connections: database connections (a socket and
    /// a wake pipe each), the event loop, logs, files.
    static let reserve = 256

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
