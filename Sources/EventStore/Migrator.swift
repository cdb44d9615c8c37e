import Crypto
import Foundation
import Postgres

/// Applies `Migrations/NNNN_name.sql` in order, once each, recording a SHA-256 checksum, then
/// creates the first system event key when there is none (``SystemEventKey``).
///
/// Re-running is a no-op. A file that changed after it was applied is an error, never a silent
/// re-run. Migrators in several processes at once serialize on an advisory lock.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public var version: Int
        public var name: String
        public var sql: String
        public var checksum: String
    }

    public enum MigrationError: Error, CustomStringConvertible, Sendable {
        case directoryNotFound
        case badFileName(String)
        case duplicateVersion(Int)
        case checksumMismatch(version: Int, name: String)
        case failed(version: Int, name: String, error: String)

        public var description: String {
            switch self {
            case .directoryNotFound:
                return "the Migrations folder was not found (set HANDOFF_MIGRATIONS to its path)"
            case .badFileName(let n): return "migration file name \(n) is not NNNN_name.sql"
            case .duplicateVersion(let v): return "two migration files have version \(v)"
            case .checksumMismatch(let v, let n):
                return "migration \(v) (\(n)) was changed after it was applied; add a new migration instead"
            case .failed(let v, let n, let e): return "migration \(v) (\(n)) failed: \(e)"
            }
        }
    }

    public let migrations: [Migration]
    /// The advisory lock migrators hold ("handoff" in ASCII).
    static let lockKey = Int64(0x68616e646f6666)

    /// Loads the migrations of a folder.
    public init(directory: URL) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
        var out: [Migration] = []
        for file in files {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else {
                throw MigrationError.badFileName(file)
            }
            let bytes = try Data(contentsOf: directory.appendingPathComponent(file))
            out.append(
                Migration(
                    version: version, name: String(stem[stem.index(after: underscore)...]),
                    sql: String(decoding: bytes, as: UTF8.self), checksum: SHA256.hash(Array(bytes)).hexString))
        }
        out.sort { $0.version < $1.version }
        for (a, b) in zip(out, out.dropFirst()) where a.version == b.version {
            throw MigrationError.duplicateVersion(a.version)
        }
        migrations = out
    }

    public init(migrations: [Migration]) { self.migrations = migrations }

    /// Finds the Migrations folder: `$HANDOFF_MIGRATIONS`, then beside the executable
    /// (`<bin>/Migrations`, `<bin>/../share/handoff/Migrations`), then the source checkout this
    /// binary was built from, so `swift run` works from any directory.
    public static func locateDirectory() -> URL? {
        ResourceLocator.locate("Migrations", environment: "HANDOFF_MIGRATIONS")
    }

    /// Applies what is not applied yet. Returns the versions applied now.
    @discardableResult
    public func migrate(url: String) async throws -> [Int] {
        let connection = try await Connection.connect(url)
        defer { connection.close() }
        // A migration may rewrite a large table and wait for another migrator: the deadlines the
        // service roles have by default (0018) do not bind it.
        try await connection.execute(
            "SET statement_timeout TO 0; SET lock_timeout TO 0; SET idle_in_transaction_session_timeout TO 0")
        // One migrator at a time, across processes; the lock ends with the session.
        try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))")
        try await connection.execute(
            """
            CREATE TABLE IF NOT EXISTS public.handoff_schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now());
            """)
        var applied: [Int] = []
        for migration in migrations {
            let done = try await connection.transaction { c -> Bool in
                let existing = try await c.query(
                    "SELECT checksum FROM public.handoff_schema_migrations WHERE version = \(migration.version)")
                if let row = existing.first {
                    guard try row.decode(0, as: String.self) == migration.checksum else {
                        throw MigrationError.checksumMismatch(version: migration.version, name: migration.name)
                    }
                    return false
                }
                do {
                    try await c.execute(migration.sql)
                } catch let error as PostgresError {
                    throw MigrationError.failed(
                        version: migration.version, name: migration.name, error: error.debugDescription)
                }
                try await c.query(
                    """
                    INSERT INTO public.handoff_schema_migrations (version, name, checksum)
                    VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                    """)
                return true
            }
            if done { applied.append(migration.version) }
        }
        // The first system event key (docs/system-events.md), from this process's secure random
        // source, once the table exists; still under the migrators' lock.
        try await SystemEventKey.createIfNone(on: connection)
        return applied
    }
}

/// Finds folders that travel with the binary (migrations, the default SOP ruleset).
public enum ResourceLocator {
    /// `$ENV`, then `<bin>/NAME`, `<bin>/../share/handoff/NAME`, then the source checkout.
    public static func locate(_ name: String, environment: String) -> URL? {
        let fm = FileManager.default
        var candidates: [URL] = []
        if let override = ProcessInfo.processInfo.environment[environment], !override.isEmpty {
            candidates.append(URL(fileURLWithPath: override))
        }
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        let bin = executable.deletingLastPathComponent()
        candidates.append(bin.appendingPathComponent(name))
        candidates.append(
            bin.deletingLastPathComponent().appendingPathComponent("share/handoff").appendingPathComponent(name))
        // Sources/EventStore/Migrator.swift → the checkout's root.
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(checkout.appendingPathComponent(name))
        var isDirectory: ObjCBool = false
        return candidates.first { fm.fileExists(atPath: $0.path, isDirectory: &isDirectory) && isDirectory.boolValue }
    }
}
