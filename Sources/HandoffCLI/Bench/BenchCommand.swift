import EventStore
import Foundation

/// `handoff bench NAME [--seconds S] [--clients C] [--events N] [--json]`.
enum BenchCommand {
    static func run(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let name = args.positional(0)!
        var options = StoreBenchmarks.Options(
            seconds: Double(args.int("--seconds") ?? 10), explicitSeconds: args.int("--seconds") != nil,
            clients: args.int("--clients"), events: args.int("--events"))
        if let rate = args.int("--rate") { options.rate = Double(rate) }
        if let open = args.int("--open-seconds") { options.openSeconds = Double(open) }
        if args.flag("--ungrouped") {
            options.groupCommit = .off
        } else if args.int("--groups") != nil || args.int("--window-us") != nil {
            let standard = GroupCommit.standard(connections: options.clients ?? 32)
            options.groupCommit = GroupCommit(
                concurrentGroups: args.int("--groups") ?? standard.concurrentGroups,
                window: args.int("--window-us").map { .microseconds($0) } ?? standard.window)
        }
        let json = args.flag("--json")
        let progress: @Sendable (String) -> Void = { context.err("bench: " + $0) }
        let env = try await BenchEnvironment.make(context)
        do {
            try await run(args, name, env, options, json: json, context, progress)
        } catch {
            await env.tearDown()
            throw error
        }
        await env.tearDown()
    }

    private static func run(
        _ args: ParsedArguments, _ name: String, _ env: BenchEnvironment, _ options: StoreBenchmarks.Options,
        json: Bool,
        _ context: CLIContext, _ progress: @escaping @Sendable (String) -> Void
    ) async throws {
        let started = Date()
        var results: [BenchResult] = []
        let known = [
            "append", "append-contended", "append-batch", "read-all", "rebuild", "e2e-latency", "http", "scale",
            "report",
        ]
        let names = name == "all" ? known.filter { $0 != "report" } : name.split(separator: ",").map(String.init)
        for bench in names where !known.contains(bench) { throw CLIError.usage("unknown benchmark \(bench)") }
        context.out(BenchResult.header)
        for bench in names {
            progress("running \(bench)…")
            let produced: [BenchResult]
            switch bench {
            case "append": produced = [try await StoreBenchmarks.append(try await env.database("append"), options)]
            case "append-contended":
                produced = [try await StoreBenchmarks.appendContended(try await env.database("contended"), options)]
            case "append-batch":
                produced = [try await StoreBenchmarks.appendBatch(try await env.database("batch"), options)]
            case "read-all":
                produced = [
                    try await StoreBenchmarks.readAll(try await env.database("data"), options, progress: progress)
                ]
            case "rebuild":
                produced = [
                    try await ServiceBenchmarks.rebuild(try await env.database("data"), options, progress: progress)
                ]
            case "e2e-latency":
                produced = [
                    try await ServiceBenchmarks.endToEnd(try await env.database("e2e"), options, progress: progress)
                ]
            case "http":
                produced = try await ServiceBenchmarks.http(try await env.database("data"), options, progress: progress)
            case "scale":
                produced = try await StoreBenchmarks.scale(try await env.database("scale"), options, progress: progress)
            case "report":
                produced = [
                    try await ReportBenchmark.run(try await env.database("report"), options, progress: progress)
                ]
            default:
                throw CLIError.usage("unknown benchmark \(bench)")
            }
            for r in produced { context.out(r.row) }
            results += produced
        }
        if name == "all" {
            let path = args.string("--output") ?? "docs/benchmarks.md"
            try report(results, started: started, options: options, to: path)
            progress("wrote \(path)")
        }
        if json { for r in results { context.out(r.json) } }
    }

    static func report(_ results: [BenchResult], started: Date, options: StoreBenchmarks.Options, to path: String)
        throws
    {
        let sizes =
            "Data set: \(options.events.map { "--events \($0)" } ?? "the default sizes (1M events; scale to 5M)")"
            + (options.clients.map { ", --clients \($0)" } ?? "") + "."
        var text = """
            # Benchmarks

            Measured by `handoff bench all --json` on \(ISO8601DateFormatter().string(from: started)), on \(BenchEnvironment.machine),
            against a fresh embedded PostgreSQL cluster (fsync on) unless DATABASE_URL was set. Each timed phase
            ran \(Int(options.seconds)) s. \(sizes) Every ratio divides the figure by a baseline measured in the same run
            on the same machine, so the ratios, not the absolute numbers, are what to compare across machines.

            \(BenchResult.header)

            """
        for r in results { text += r.row + "\n" }
        text += """

            Reproduce: `swift build -c release && .build/release/handoff bench all --json` (about 11 minutes on 2 cores at the default sizes; or one benchmark:
            `handoff bench append --seconds 10 --clients 32`). Set DATABASE_URL to run against a scratch database
            of your own server instead of an embedded cluster.

            """
        // The analysis below the marker is written by people; a new run keeps it.
        let marker = "<!-- analysis: kept by handoff bench all -->"
        if let existing = try? String(contentsOfFile: path, encoding: .utf8), let range = existing.range(of: marker) {
            text += "\n" + existing[range.lowerBound...]
        } else {
            text += "\n" + marker + "\n"
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }
}
