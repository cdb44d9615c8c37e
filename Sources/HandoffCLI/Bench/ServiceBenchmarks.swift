import Dispatch
import EventStore
import Foundation
import Postgres
import Projections
import QueryService
import Referrals
import ServiceStore
import Synchronization

/// The benchmarks that need the projections or the HTTP service: rebuild, e2e-latency, http.
enum ServiceBenchmarks {
    static func rebuild(
        _ db: BenchDatabase, _ o: StoreBenchmarks.Options, progress: @escaping @Sendable (String) -> Void
    )
        async throws -> BenchResult
    {
        let target = o.events ?? 1_000_000
        try await StoreBenchmarks.fill(db, to: target, progress: progress)
        let store = db.store(connections: 4)
        defer { Task { await store.pool.close() } }
        try await StoreBenchmarks.waitForReadable(store)
        // The baseline: the gap-free read of the same events, in this run, as the read-all benchmark
        // reads (the better of two reads, as there).
        var read = 0
        var readRate = 0.0
        for _ in 0..<2 {
            let readStart = ContinuousClock.now
            read = 0
            try await store.readGlobalPages(after: .start, limit: 1000) { page in
                read += page.events.count
                return true
            }
            readRate = max(readRate, Double(read) / (elapsedMilliseconds(since: readStart) / 1000))
        }
        progress("rebuilding all read models over \(read) events…")
        let runner = ProjectionRunner(store: store)
        let start = ContinuousClock.now
        try await runner.rebuild("all") { p in if p.phase == .done { progress(p.line) } }
        let seconds = elapsedMilliseconds(since: start) / 1000
        let rate = Double(read) / seconds
        let rss = peakRSSMiB() ?? 0
        try await StoreBenchmarks.settle(store.pool, progress: progress)  // the swapped-in tables, for what runs next
        var r = BenchResult(
            bench: "rebuild", value: rate, unit: "events/s", baseline: readRate, clients: 1,
            target: "≥ 0.4 × read-all, peak RSS < 200 MiB", met: rate >= 0.4 * readRate && rss < 200)
        r.extra = [
            ("events", String(read)), ("seconds", String(format: "%.1f", seconds)),
            ("peak RSS MiB", String(format: "%.0f", rss)),
        ]
        return r
    }

    /// Tokens for a coordinator and the police institution.
    static func tokens(_ pool: ConnectionPool) async throws -> (coordinator: String, police: String) {
        let tokens = TokenStore(pool: pool)
        return (
            try await tokens.create(role: .coordinator, institution: "natc", user: "bench-coordinator"),
            try await tokens.create(role: .institution, institution: "kp-dthb", user: "bench-officer")
        )
    }

    /// Seconds of the same load, unmeasured, before `e2e-latency`'s timed phase.
    static let endToEndWarmUp = 20.0

    static func endToEnd(
        _ db: BenchDatabase, _ o: StoreBenchmarks.Options, progress: @escaping @Sendable (String) -> Void
    )
        async throws -> BenchResult
    {
        let seconds = o.explicitSeconds ? o.seconds : 30
        let rate = 500.0
        let subscribers = 10, appenders = 16
        let store = db.store(connections: 4)
        try await Seeding.referenceData(store, historyRecordedBefore: Ruleset.backfillForever)
        let (_, police) = try await tokens(store.pool)
        // A token per subscriber: the service limits the event streams one token may hold open.
        var subscriberTokens: [String] = []
        for k in 0..<subscribers {
            subscriberTokens.append(
                try await TokenStore(pool: store.pool).create(
                    role: .coordinator, institution: "natc", user: "bench-subscriber-\(k)"))
        }
        // One institution appends 500 a second here: far past its append budget, which this bench
        // does not measure (its spending is still done on every append).
        let service = await ServiceCommands.makeService(
            url: db.url, host: "127.0.0.1", port: 0, groupCommit: o.groupCommit
        ) {
            $0.appendBudget = AppendBudgetPolicy(burst: 1e15, perSecond: 1e15)
            $0.maxRequestsInFlightPerCaller = 1_000_000  // one institution's 16 appenders and more: not measured here
        }
        let port = try await service.start()
        defer { Task { await service.shutdown() } }
        let head = try await store.headCursor()

        let sent = Shared<[String: UInt64]>([:])
        let appendTimes = Shared<[Double]>([])
        let received = (0..<subscribers).map { _ in Shared<[String: UInt64]>([:]) }
        let stop = Shared(false)
        // Subscribers: one SSE connection each, on threads of their own.
        let readers = (0..<subscribers).map { [subscriberTokens] k in
            Task {
                try await onThread {
                    let client = try BenchHTTPClient(port: port, timeoutSeconds: 1)
                    try client.send(
                        "GET /v1/events/stream?after=\(head) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(subscriberTokens[k])\r\n\r\n"
                    )
                    let (status, _) = try client.readHead()
                    guard status == 200 else { throw BenchHTTPClient.Failure(description: "stream answered \(status)") }
                    // Lines are cut out of the bytes in one pass per chunk (copying the rest of
                    // a String after every line made a subscriber that fell behind fall further).
                    let prefix = Array("data: {\"id\":\"".utf8)
                    var pending: [UInt8] = []
                    while !stop.withLock({ $0 }) {
                        guard let chunk = try? client.readChunk() else { continue }
                        let now = DispatchTime.now().uptimeNanoseconds
                        pending += chunk
                        var start = 0
                        var ids: [String] = []
                        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                            let line = pending[start..<newline]
                            if line.count >= prefix.count + 36, line.starts(with: prefix) {
                                let from = line.startIndex + prefix.count
                                ids.append(String(decoding: pending[from..<from + 36], as: UTF8.self))
                            }
                            start = newline + 1
                        }
                        pending.removeFirst(start)
                        if !ids.isEmpty { received[k].withLock { for id in ids { $0[id] = now } } }
                    }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        let interval = Double(appenders) / rate
        let tag = UUID().uuidString.prefix(6)
        /// Appends at `rate` for `seconds` from 16 appenders; with `measure`, records each append's
        /// intended send time (for the deliveries) and answer time.
        func appendAtRate(for seconds: Double, phase: String, measure: Bool) async throws -> Int {
            let perAppender = Int(rate * seconds) / appenders
            let started = DispatchTime.now().uptimeNanoseconds
            return try await withThrowingTaskGroup(of: Int.self) { group in
                for a in 0..<appenders {
                    group.addTask {
                        try await onThread {
                            let client = try BenchHTTPClient(port: port)
                            var ok = 0
                            for i in 0..<perAppender {
                                // Appender a sends at a/appenders of the interval: one arrival
                                // every 1/rate s, not all sixteen in the same instant.
                                let offset = Double(a) / Double(appenders)
                                let due = started + UInt64((Double(i) + offset) * interval * 1e9)
                                let now = DispatchTime.now().uptimeNanoseconds
                                if due > now { usleep(useconds_t((due - now) / 1000)) }
                                let id = UUID().uuidString.lowercased()
                                let body =
                                    #"{"id":"\#(id)","type":"CaseOpened","data":{"identificationStatus":"presumed","profile":{"sex":"female","ageBand":"18-24","child":false,"nationality":"XK","exploitation":["sexual"]}}}"#
                                // Open loop: latency runs from the intended send time (a late send counts).
                                let t = min(due, DispatchTime.now().uptimeNanoseconds)
                                if measure { sent.withLock { $0[id] = t } }
                                let (status, _) = try client.request(
                                    "POST", "/v1/cases/KP-E2E-\(tag)-\(phase)-\(a)-\(i)/events", token: police,
                                    body: body)
                                let answered = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
                                if measure { appendTimes.withLock { $0.append(answered) } }
                                if status == 201 { ok += 1 } else { sent.withLock { _ = $0.removeValue(forKey: id) } }
                            }
                            return ok
                        }
                    }
                }
                var total = 0
                for try await n in group { total += n }
                return total
            }
        }
        // The steady state is what is measured: a store that has been taking this load (its
        // tables' statistics, the service's caches and connections), not its first seconds.
        progress("warming up: \(Int(rate)) events/s for \(Int(Self.endToEndWarmUp)) s…")
        _ = try await appendAtRate(for: Self.endToEndWarmUp, phase: "W", measure: false)
        progress("appending \(Int(rate)) events/s for \(Int(seconds)) s, \(subscribers) SSE subscribers…")
        let acknowledged = try await appendAtRate(for: seconds, phase: "M", measure: true)
        // Give deliveries up to 10 s to arrive, then stop the readers.
        let ids = sent.withLock { $0 }
        for _ in 0..<100 {
            // (The warm-up's deliveries are in `received` too: look for the measured ids.)
            if received.allSatisfy({ r in r.withLock { got in ids.keys.allSatisfy { got[$0] != nil } } }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        stop.withLock { $0 = true }
        for r in readers { _ = try? await r.value }
        var latencies = Latencies()
        var lost = 0
        for r in received {
            let got = r.withLock { $0 }
            for (id, t0) in ids {
                if let t1 = got[id] { latencies.samples.append(Double(t1 &- t0) / 1e6) } else { lost += 1 }
            }
        }
        await store.pool.close()
        let p99 = latencies.percentile(99) ?? .infinity
        var result = BenchResult(
            bench: "e2e-latency", value: Double(acknowledged) / seconds, unit: "appends/s",
            p50: latencies.percentile(50), p99: latencies.percentile(99), clients: subscribers,
            target: "p99 ≤ 20 ms, none lost", met: p99 <= 20 && lost == 0)
        let grouping = o.groupCommit.map { $0.maximumAppends == 1 ? "off" : "\($0.concurrentGroups) groups" }
        var appends = Latencies()
        appends.merge(appendTimes.withLock { $0 })
        // The append's own answer time, part of every delivery's latency.
        result.extra = [
            ("warm-up s", String(Int(Self.endToEndWarmUp))),
            ("group commit", grouping ?? "the store's default"),
            ("deliveries", String(latencies.samples.count)), ("lost", String(lost)),
            (
                "append 201 p50/p99 ms",
                String(format: "%.1f/%.1f", appends.percentile(50) ?? 0, appends.percentile(99) ?? 0)
            ),
        ]
        return result
    }

    static func http(_ db: BenchDatabase, _ o: StoreBenchmarks.Options, progress: @escaping @Sendable (String) -> Void)
        async throws -> [BenchResult]
    {
        let clients = o.clients ?? 64
        try await StoreBenchmarks.fill(db, to: o.events ?? 1_000_000, progress: progress)
        let store = db.store(connections: 8)
        try await StoreBenchmarks.waitForReadable(store)
        progress("projecting…")
        _ = try await ProjectionRunner(store: store).catchUp()
        let (coordinator, _) = try await tokens(store.pool)
        let caseIds = Array(try await ReadModels(pool: store.pool).casesVisible(to: "kp-dthb").prefix(5000))
        guard !caseIds.isEmpty else { throw CLIError(message: "no cases to read") }
        // One coordinator token sends every request: the per-caller bound is not what is measured.
        let service = await ServiceCommands.makeService(url: db.url, host: "127.0.0.1", port: 0, poolSize: 32) {
            $0.maxRequestsInFlightPerCaller = 1_000_000
        }
        let port = try await service.start()
        defer { Task { await service.shutdown() } }

        func load(_ target: @escaping @Sendable (Int, Int) -> String) async throws -> (Double, Latencies, Int) {
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(o.seconds * 1e9)
            let results = try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
                for c in 0..<clients {
                    group.addTask {
                        try await onThread {
                            let client = try BenchHTTPClient(port: port)
                            var samples: [Double] = []
                            var failures = 0
                            var i = 0
                            while DispatchTime.now().uptimeNanoseconds < deadline {
                                let t = DispatchTime.now().uptimeNanoseconds
                                let (status, _) = try client.request("GET", target(c, i), token: coordinator)
                                samples.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                                if status != 200 { failures += 1 }
                                i += 1
                            }
                            return (samples, failures)
                        }
                    }
                }
                var all: [([Double], Int)] = []
                for try await r in group { all.append(r) }
                return all
            }
            var latencies = Latencies()
            for r in results { latencies.merge(r.0) }
            return (Double(latencies.samples.count) / o.seconds, latencies, results.reduce(0) { $0 + $1.1 })
        }
        progress("GET /livez, \(clients) clients…")
        let livez = try await load { _, _ in "/livez" }
        progress("GET /v1/cases/{id}…")
        let caseTarget: @Sendable (Int, Int) -> String = { c, i in
            "/v1/cases/\(caseIds[(c * 7919 + i) % caseIds.count])"
        }
        let cases = try await load(caseTarget)
        progress("GET /v1/deadlines?status=overdue…")
        let overdue = try await load { _, _ in "/v1/deadlines?status=overdue" }
        // Open loop: a fixed arrival rate, latency from each request's intended send time.
        let openConnections = 32
        progress("GET /v1/cases/{id} at \(Int(o.rate)) requests/s for \(Int(o.openSeconds)) s…")
        let casesOpen = try await OpenLoop.run(
            port: port, rate: o.rate, seconds: o.openSeconds, connections: openConnections, token: coordinator
        ) { k in caseTarget(k, k / 64) }
        progress("GET /v1/deadlines?status=overdue at \(Int(o.rate)) requests/s for \(Int(o.openSeconds)) s…")
        let overdueOpen = try await OpenLoop.run(
            port: port, rate: o.rate, seconds: o.openSeconds, connections: openConnections, token: coordinator
        ) { _ in "/v1/deadlines?status=overdue" }
        await store.pool.close()
        func result(_ name: String, _ m: (Double, Latencies, Int), _ open: OpenLoop.Outcome, p99Target: Double)
            -> BenchResult
        {
            let p99 = open.latencies.percentile(99) ?? .infinity
            var r = BenchResult(
                bench: name, value: m.0, unit: "req/s", baseline: livez.0, p50: open.latencies.percentile(50),
                p99: p99, clients: clients,
                target: "open loop \(Int(o.rate))/s: p99 ≤ \(Int(p99Target)) ms; closed ≥ 0.8 × /livez",
                met: p99 <= p99Target && m.0 >= 0.8 * livez.0 && m.2 == 0 && open.errors == 0 && open.unsent == 0)
            r.extra = [
                (
                    "open loop",
                    String(
                        format: "%.0f req/s achieved, max %.1f ms, unsent %d", open.achievedRate, open.maximum,
                        open.unsent)
                ),
                ("errors", String(m.2 + open.errors)),
                (
                    "closed loop p50/p99 ms",
                    String(format: "%.2f/%.2f", m.1.percentile(50) ?? 0, m.1.percentile(99) ?? 0)
                ),
                ("livez p99 ms", String(format: "%.2f", livez.1.percentile(99) ?? 0)),
            ]
            return r
        }
        return [
            result("http-case", cases, casesOpen, p99Target: 10),
            result("http-deadlines-overdue", overdue, overdueOpen, p99Target: 15),
        ]
    }
}

/// A value shared between threads behind a lock.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout sending Value) -> R) -> R { mutex.withLock { body(&$0) } }
}
