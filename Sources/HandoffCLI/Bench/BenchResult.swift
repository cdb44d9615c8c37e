import Foundation

/// One benchmark's figures: a value, the baseline measured in the same run, and their ratio.
struct BenchResult: Sendable {
    var bench: String
    var value: Double
    var unit: String
    var baseline: Double?
    var ratio: Double?
    var p50: Double?
    var p99: Double?
    var clients: Int?
    /// The target from the benchmark issue, as text, and whether it was met.
    var target: String
    var met: Bool?
    /// Other figures worth printing (conflict rate, RSS, counts…).
    var extra: [(String, String)] = []

    init(
        bench: String, value: Double, unit: String, baseline: Double? = nil, p50: Double? = nil, p99: Double? = nil,
        clients: Int? = nil, target: String, met: Bool? = nil
    ) {
        self.bench = bench
        self.value = value
        self.unit = unit
        self.baseline = baseline
        self.ratio = baseline.flatMap { $0 > 0 ? value / $0 : nil }
        self.p50 = p50
        self.p99 = p99
        self.clients = clients
        self.target = target
        self.met = met
    }

    /// The one-line JSON object `--json` prints.
    var json: String {
        func num(_ d: Double?) -> String {
            guard let d, d.isFinite else { return "null" }
            return String(format: "%.4g", d)
        }
        var fields = [
            "\"bench\":\"\(bench)\"", "\"value\":\(num(value))", "\"unit\":\"\(unit)\"",
            "\"baseline\":\(num(baseline))",
            "\"ratio\":\(num(ratio))", "\"p50_ms\":\(num(p50))", "\"p99_ms\":\(num(p99))",
            "\"clients\":\(clients.map(String.init) ?? "null")", "\"target\":\"\(target)\"",
            "\"met\":\(met.map { $0 ? "true" : "false" } ?? "null")",
        ]
        for (k, v) in extra {
            let key = k.replacingOccurrences(of: " ", with: "_")
            fields.append("\"\(key)\":\"\(v)\"")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// The human table row.
    var row: String {
        func f(_ d: Double?, _ digits: Int = 1) -> String { d.map { String(format: "%.\(digits)f", $0) } ?? "–" }
        let verdict = met.map { $0 ? "met" : "MISSED" } ?? "–"
        var line =
            "| \(bench) | \(f(value)) \(unit) | \(baseline.map { f($0) + " " + unit } ?? "–") | \(f(ratio, 2)) | "
            + "\(f(p50, 2)) | \(f(p99, 2)) | \(clients.map(String.init) ?? "–") | \(target) | \(verdict) |"
        if !extra.isEmpty { line += " " + extra.map { "\($0.0): \($0.1)" }.joined(separator: "; ") }
        return line
    }

    static let header =
        "| bench | value | baseline | ratio | p50 ms | p99 ms | clients | target | verdict |\n|---|---|---|---|---|---|---|---|---|"
}

/// Collects operation latencies from many tasks.
struct Latencies: Sendable {
    var samples: [Double] = []  // milliseconds

    mutating func merge(_ other: [Double]) { samples += other }

    func percentile(_ p: Double) -> Double? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let index = min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[index]
    }
}

/// Milliseconds since `start`.
@inline(__always) func elapsedMilliseconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

/// Runs `clients` loops of `operation` for `seconds`; returns units done, seconds elapsed and latencies.
/// Each operation returns how many units (events, rows) it completed.
func timedLoad(
    clients: Int, seconds: Double,
    _ operation: @escaping @Sendable (_ client: Int, _ iteration: Int) async throws -> Int
) async throws -> (units: Int, seconds: Double, latencies: Latencies) {
    let start = ContinuousClock.now
    let deadline = start + .milliseconds(Int(seconds * 1000))
    let results = try await withThrowingTaskGroup(of: (Int, [Double]).self) { group in
        for client in 0..<clients {
            group.addTask {
                var units = 0
                var samples: [Double] = []
                var i = 0
                while ContinuousClock.now < deadline {
                    let t = ContinuousClock.now
                    units += try await operation(client, i)
                    samples.append(elapsedMilliseconds(since: t))
                    i += 1
                }
                return (units, samples)
            }
        }
        var all: [(Int, [Double])] = []
        for try await r in group { all.append(r) }
        return all
    }
    let elapsed = elapsedMilliseconds(since: start) / 1000
    var latencies = Latencies()
    for r in results { latencies.merge(r.1) }
    return (results.reduce(0) { $0 + $1.0 }, elapsed, latencies)
}

/// The peak resident set size of this process, in MiB (from /proc/self/status VmHWM).
func peakRSSMiB() -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Double($0) }.first
        return kb.map { $0 / 1024 }
    }
    return nil
}
