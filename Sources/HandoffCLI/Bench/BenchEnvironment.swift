import EventStore
import Foundation
import Postgres

/// The database a benchmark runs against: `DATABASE_URL` (a scratch database — the benchmark
/// writes to it), or a fresh embedded cluster in a temporary folder, removed afterwards.
final class BenchEnvironment: Sendable {
    let url: String
    let cluster: EmbeddedCluster?

    private init(url: String, cluster: EmbeddedCluster?) {
        self.url = url
        self.cluster = cluster
    }

    static func make(_ context: CLIContext) async throws -> BenchEnvironment {
        if let url = context.environment["DATABASE_URL"], !url.isEmpty {
            try await migrate(url)
            return BenchEnvironment(url: url, cluster: nil)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "handoff-bench-\(UUID().uuidString.prefix(8))")
        // A durable cluster (fsync on), like production: both sides of every ratio pay the same.
        // Sized as a small production server would be for millions of events: more shared buffers
        // than the demo's 128 MB and room for WAL between checkpoints while the data sets load.
        let cluster = try EmbeddedCluster(directory: dir, port: 5433)
        try await cluster.initialize(
            durable: true,
            settings: [
                "shared_buffers": "1GB", "max_wal_size": "8GB", "checkpoint_timeout": "'15min'",
            ])
        try await cluster.start()
        return BenchEnvironment(url: cluster.url(database: "postgres"), cluster: cluster)
    }

    private static func migrate(_ url: String) async throws {
        guard let dir = Migrator.locateDirectory() else { throw CLIError(message: "Migrations folder not found") }
        try await Migrator(directory: dir).migrate(url: url)
    }

    /// A migrated database for one group of benchmarks, so that one benchmark's raw events never
    /// meet another's read models. On an embedded cluster each group gets its own database; with
    /// DATABASE_URL every group shares the given one.
    func database(_ name: String) async throws -> BenchDatabase {
        guard let cluster else { return BenchDatabase(url: url) }
        let database = "bench_" + name.replacingOccurrences(of: "-", with: "_")
        let admin = try await Connection.connect(cluster.url())
        defer { admin.close() }
        if try await admin.query("SELECT 1 FROM pg_database WHERE datname = \(database)").isEmpty {
            // The name is made from a fixed benchmark name: letters and underscores only.
            try await admin.execute("CREATE DATABASE \(database)")
        }
        let url = cluster.url(database: database)
        try await Self.migrate(url)
        return BenchDatabase(url: url)
    }

    /// Stops and removes the embedded cluster, if any.
    func tearDown() async {
        guard let cluster else { return }
        try? await cluster.stop()
        try? await cluster.remove()
    }

    /// A description of the machine for the report.
    static var machine: String {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let memory = Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824
        var cpu = "unknown CPU"
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") })
        {
            cpu = line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? cpu
        }
        return "\(cores) cores (\(cpu)), \(String(format: "%.0f", memory)) GiB"
    }
}

/// One database the benchmarks run against.
struct BenchDatabase: Sendable {
    let url: String

    func store(connections: Int, groupCommit: GroupCommit? = nil) -> EventStore {
        EventStore(pool: ConnectionPool(url: url, maximumConnections: connections), groupCommit: groupCommit)
    }
}

/// A realistic handoff event: a referral between two demo institutions, about 600 bytes with metadata.
enum BenchPayload {
    static let data =
        #"{"referralId":"REF-2026-000123","to":"opav","purpose":"victim-advocacy","urgency":"urgent","#
        + #""profile":{"sex":"female","ageBand":"18-24","child":false,"nationality":"XK","#
        + #""exploitation":["sexual","forced-labour"]},"consent":{"purpose":"referral","given":true,"#
        + #""recipients":["opav","isf","csw-prishtina"]},"channel":"in-person","language":"sq","#
        + #""interpreter":false,"riskLevel":"high","notes":"synthetic-benchmark-record"}"#

    static func event(_ actor: EventActor = EventActor(institution: "kp-dthb", user: "officer-1182")) -> NewEvent {
        NewEvent(type: "ReferralIssued", data: data, metadata: EventMetadata(actor: actor))
    }

    /// The metadata text as the store writes it, for the baseline's INSERT.
    static var metadata: String { EventMetadata(actor: EventActor(institution: "kp-dthb", user: "officer-1182")).json }
}
