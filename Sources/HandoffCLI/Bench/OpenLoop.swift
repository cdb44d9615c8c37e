import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Load at a fixed arrival rate, measured the way wrk2 measures it: every request has an intended
/// send time on a fixed schedule, and its latency runs from that time, not from when it was sent.
///
/// A closed-loop client that waits for each answer sends less while the server is slow, so the
/// slow moments hold few samples (coordinated omission). Here the schedule does not wait: a
/// request whose connection is still busy is late, and its lateness counts in its latency.
/// Each of `connections` keep-alive connections (a thread each) takes every `connections`-th slot
/// of the schedule.
enum OpenLoop {
    struct Outcome: Sendable {
        /// Milliseconds from each request's intended send time to its whole answer.
        var latencies: Latencies
        var requests: Int
        /// Answers other than 200.
        var errors: Int
        /// Requests never sent: their slot came while the server was still far behind at the end
        /// (more than `grace` after the schedule's end). Each counts in `latencies` with the time
        /// from its intended send to the stop, a lower bound of what it would have waited.
        var unsent: Int
        var seconds: Double

        var achievedRate: Double { Double(requests) / max(seconds, 1e-9) }
        var maximum: Double { latencies.samples.max() ?? 0 }
    }

    /// How long past the schedule's end requests are still sent.
    static let grace = 5.0

    static func run(
        port: Int, rate: Double, seconds: Double, connections: Int, token: String?,
        target: @escaping @Sendable (_ request: Int) -> String
    ) async throws -> Outcome {
        let interval = 1e9 / rate  // nanoseconds between two intended sends
        let total = Int(rate * seconds)
        let start = DispatchTime.now().uptimeNanoseconds + 50_000_000  // every thread connected by then
        let stop = start + UInt64((seconds + grace) * 1e9)
        let results = try await withThrowingTaskGroup(of: ([Double], Int, Int).self) { group in
            for c in 0..<connections {
                group.addTask {
                    try await onThread {
                        let client = try BenchHTTPClient(port: port)
                        var samples: [Double] = []
                        var errors = 0
                        var sent = 0
                        var k = c
                        while k < total {
                            let due = start + UInt64(Double(k) * interval)
                            let now = DispatchTime.now().uptimeNanoseconds
                            if now > stop {
                                samples.append(Double(now &- due) / 1e6)
                                k += connections
                                continue
                            }
                            if due > now { usleep(useconds_t((due - now) / 1000)) }
                            let (status, _) = try client.request("GET", target(k), token: token)
                            let done = DispatchTime.now().uptimeNanoseconds
                            samples.append(Double(done &- due) / 1e6)
                            if status != 200 && status != 201 { errors += 1 }
                            sent += 1
                            k += connections
                        }
                        return (samples, errors, sent)
                    }
                }
            }
            var all: [([Double], Int, Int)] = []
            for try await r in group { all.append(r) }
            return all
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9
        var latencies = Latencies()
        for r in results { latencies.merge(r.0) }
        let sent = results.reduce(0) { $0 + $1.2 }
        return Outcome(
            latencies: latencies, requests: sent, errors: results.reduce(0) { $0 + $1.1 }, unsent: total - sent,
            seconds: elapsed)
    }
}
