import Postgres
import Testing

/// Waits until `condition` holds, asking every 20 ms, at most 500 times; records an issue and
/// throws when it never does. For states another task reaches (a lock waited for, a queue filled).
func eventuallyTrue(_ condition: () async throws -> Bool) async throws {
    for _ in 0..<500 {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("condition never held")
    throw CancellationError()
}

/// Takes every connection of `pool` until the returned release is called: each waits for an
/// advisory lock `holder` holds (the test's own connection, outside the pool). Returns once all
/// of them are waiting.
func occupyEveryConnection(of pool: ConnectionPool, holder: Connection, key: Int) async throws
    -> @Sendable () async throws -> Void
{
    try await holder.execute("SELECT pg_advisory_lock(\(key))")
    let occupants = (0..<pool.maximumConnections).map { _ in
        Task { try await pool.query("SELECT pg_advisory_lock_shared(\(key))") }
    }
    // Counted in this database and for this key only: other tests share the cluster.
    try await eventuallyTrue {
        try await holder.query(
            """
            SELECT count(*) FROM pg_locks
             WHERE locktype = 'advisory' AND NOT granted AND objid = \(key)
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """
        ).first?.decode(0, as: Int64.self) == Int64(pool.maximumConnections)
    }
    return {
        try await holder.execute("SELECT pg_advisory_unlock(\(key))")
        for occupant in occupants { _ = try await occupant.value }
    }
}
