import Foundation

extension EmbeddedCluster {
    /// Makes a hot standby of this (running) cluster in `directory`, listening on `port`: a base
    /// backup taken with `pg_basebackup -R` over this cluster's unix socket, streaming from it
    /// through a replication slot of its own, so that the primary keeps the WAL it has not
    /// received yet. Start it with ``start()``; it answers read-only queries (`hot_standby`) and
    /// replays whatever the primary commits.
    ///
    /// - Parameters:
    ///   - name: the standby's `application_name` on the primary (`pg_stat_replication`) and the
    ///     name of its replication slot: letters, digits and `_`.
    /// - Throws: `ClusterError.commandFailed` when the backup fails (this cluster stopped, no
    ///   `pg_basebackup` beside `pg_ctl`, `directory` already holding a cluster).
    public func makeStandby(directory: URL, port: Int, name: String) async throws -> EmbeddedCluster {
        precondition(
            !name.isEmpty && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 },
            "a standby's name is lower-case letters, digits and _")
        let standby = try EmbeddedCluster(directory: directory, port: port)
        try await reserveSlot(name: name)
        try await offThread("handoff.pg_basebackup") { try self.backUp(into: standby, name: name) }
        return standby
    }

    @available(*, noasync)
    private func backUp(into standby: EmbeddedCluster, name: String) throws {
        let fm = FileManager.default
        if standby.isRelocated {
            try fm.createDirectory(
                at: standby.directory.deletingLastPathComponent(), withIntermediateDirectories: true)
            try handToServerUser(standby.directory.deletingLastPathComponent())
        }
        try fm.createDirectory(at: standby.directory, withIntermediateDirectories: true)
        try fm.createDirectory(at: standby.socketDirectory, withIntermediateDirectories: true)
        try handToServerUser(standby.directory)
        try handToServerUser(standby.socketDirectory)
        // Beside the pg_ctl in use (PATH may hold a link to it alone).
        let basebackup = URL(fileURLWithPath: binaries.pgCtl).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("pg_basebackup").path
        let source = "host=\(socketDirectory.path) port=\(port) user=postgres application_name=\(name)"
        try run([
            basebackup, "-D", standby.dataDirectory.path, "-R", "-X", "stream", "-c", "fast", "-S", name,
            "-d", source,
        ])
        // The copied postgresql.conf is the primary's: the standby listens elsewhere. The settings
        // written by -R sit in postgresql.auto.conf, which is read last; the connection string is
        // written again there so that the primary knows the standby by `name`.
        let conf = """

            # Written by handoff's embedded cluster: a hot standby of \(directory.path).
            listen_addresses = '\(standby.listenOnTCP ? "127.0.0.1" : "")'
            port = \(standby.port)
            unix_socket_directories = '\(standby.socketDirectory.path)'
            hot_standby = on
            hot_standby_feedback = on

            """
        try append(conf, to: standby.dataDirectory.appendingPathComponent("postgresql.conf"))
        try append(
            "primary_conninfo = '\(source)'\n", to: standby.dataDirectory.appendingPathComponent("postgresql.auto.conf")
        )
    }

    /// Creates the standby's slot, holding WAL from now on, unless it exists. Made before the
    /// backup starts: `pg_basebackup -C` makes it only once the backup's checkpoint is done, and a
    /// checkpoint in between may recycle the segment the backup then streams from ("requested WAL
    /// segment … has already been removed", seen with the test suite writing hard meanwhile).
    private func reserveSlot(name: String) async throws {
        let connection = try await Connection.connect(url())
        defer { connection.close() }
        try await connection.query(
            """
            SELECT pg_create_physical_replication_slot(\(name), true)
            WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = \(name))
            """)
    }

    private func append(_ text: String, to url: URL) throws {
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    /// Drops the replication slot a standby made by ``makeStandby(directory:port:name:)`` streamed
    /// through, once that standby is gone for good, so this cluster stops keeping WAL for it.
    public func dropStandbySlot(name: String) async throws {
        let connection = try await Connection.connect(url())
        defer { connection.close() }
        try await connection.query(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = \(name)")
    }
}
