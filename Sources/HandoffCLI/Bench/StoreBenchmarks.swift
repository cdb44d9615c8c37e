import EventStore
import Foundation
import Postgres
import Referrals
import Synchronization

/// The store benchmarks: append, append-contended, append-batch, read-all, scale.
enum StoreBenchmarks {
    struct Options {
        var seconds: Double
        /// Whether --seconds was given (the end-to-end benchmark otherwise runs its 30 s).
        var explicitSeconds: Bool = false
        var clients: Int?
        var events: Int?
        /// The open-loop HTTP phases' arrival rate (requests/s) and length.
        var rate: Double = 1000
        var openSeconds: Double = 30
        /// The append benchmarks' group commit, when not the store's default (--groups, --window-us).
        var groupCommit: GroupCommit?
    }

    /// Creates the baseline's scratch table: the same columns, no index but the primary key.
    static func makeScratch(_ pool: ConnectionPool) async throws {
        try await pool.withConnection { c in
            try await c.execute(
                """
                DROP TABLE IF EXISTS public.bench_scratch;
                CREATE TABLE public.bench_scratch (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream text NOT NULL, type text NOT NULL,
                    data jsonb NOT NULL, metadata jsonb NOT NULL, occurred_at timestamptz NOT NULL);
                """)
        }
    }

    static func dropScratch(_ pool: ConnectionPool) async {
        _ = try? await pool.withConnection { try await $0.execute("DROP TABLE IF EXISTS public.bench_scratch") }
    }

    static func append(_ env: BenchDatabase, _ o: Options) async throws -> BenchResult {
        let clients = o.clients ?? 32
        let store = env.store(connections: clients, groupCommit: o.groupCommit)
        // The same pool size, one transaction per append: how appends were written before group commit.
        let alone = env.store(connections: clients, groupCommit: .off)
        try await makeScratch(store.pool)
        let metadata = BenchPayload.metadata
        // Warm every path, then measure the baseline and the store for the same time on the same pool.
        for warming in [store, alone] {
            _ = try await timedLoad(clients: clients, seconds: 1) { c, i in
                try await warming.append(to: .case("WARM-\(c)-\(i / 50)")!, events: [BenchPayload.event()]).events
                    .count
            }
        }
        let baseline = try await timedLoad(clients: clients, seconds: o.seconds) { c, i in
            try await store.pool.query(
                """
                INSERT INTO public.bench_scratch (stream, type, data, metadata, occurred_at)
                VALUES (\("case-B-\(c)-\(i / 50)"), \("ReferralIssued"), \(BenchPayload.data)::jsonb, \(metadata)::jsonb, now())
                """)
            return 1
        }
        let run = try await timedLoad(clients: clients, seconds: o.seconds) { c, i in
            try await store.append(to: .case("B-\(c)-\(i / 50)")!, events: [BenchPayload.event()]).events.count
        }
        let ungrouped = try await timedLoad(clients: clients, seconds: o.seconds) { c, i in
            try await alone.append(to: .case("U-\(c)-\(i / 50)")!, events: [BenchPayload.event()]).events.count
        }
        await dropScratch(store.pool)
        await store.pool.close()
        await alone.pool.close()
        let value = Double(run.units) / run.seconds
        let base = Double(baseline.units) / baseline.seconds
        let p99 = run.latencies.percentile(99) ?? .infinity
        let ungroupedP99 = ungrouped.latencies.percentile(99) ?? 0
        var r = BenchResult(
            bench: "append", value: value, unit: "events/s", baseline: base, p50: run.latencies.percentile(50),
            p99: p99, clients: clients, target: "≥ 1.0 × baseline, p99 ≤ one transaction per append's",
            met: value >= base && p99 <= ungroupedP99)
        r.extra = [
            ("baseline p99 ms", String(format: "%.2f", baseline.latencies.percentile(99) ?? 0)),
            (
                "one transaction per append",
                String(
                    format: "%.1f events/s, p50/p99 ms %.2f/%.2f", Double(ungrouped.units) / ungrouped.seconds,
                    ungrouped.latencies.percentile(50) ?? 0, ungroupedP99)
            ),
        ]
        return r
    }

    static func appendContended(_ env: BenchDatabase, _ o: Options) async throws -> BenchResult {
        let clients = o.clients ?? 32
        let streams = 8
        let store = env.store(connections: clients)
        let tag = UUID().uuidString.prefix(8)
        let names = (0..<streams).map { StreamName.case("C-\(tag)-\($0)")! }
        let counters = ContendedCounters()
        let run = try await timedLoad(clients: clients, seconds: o.seconds) { c, i in
            let stream = names[(c + i) % streams]
            var expected = try await store.version(of: stream)
            while true {
                do {
                    _ = try await store.append(to: stream, expected: .exactly(expected), events: [BenchPayload.event()])
                    await counters.success(stream.rawValue)
                    return 1
                } catch EventStoreError.wrongExpectedVersion(_, let actual) {
                    await counters.conflict()
                    expected = actual  // retry against what the store says
                }
            }
        }
        // Check: every stream's versions are 1…N, N equals the acknowledged appends, no duplicates.
        var lost = 0, duplicates = 0
        for name in names {
            let versions = try await store.readAll(stream: name).map(\.version)
            let acknowledged = await counters.successes[name.rawValue] ?? 0
            if versions != Array(stride(from: Int64(1), through: Int64(versions.count), by: 1)) { duplicates += 1 }
            lost += max(0, acknowledged - versions.count)
            duplicates += max(0, versions.count - acknowledged)
        }
        await store.pool.close()
        let conflicts = await counters.conflicts
        let attempts = run.units + conflicts
        var r = BenchResult(
            bench: "append-contended", value: Double(run.units) / run.seconds, unit: "events/s",
            p50: run.latencies.percentile(50), p99: run.latencies.percentile(99), clients: clients,
            target: "no lost or duplicate versions", met: lost == 0 && duplicates == 0)
        r.extra = [
            ("conflict rate", String(format: "%.1f%%", attempts > 0 ? 100 * Double(conflicts) / Double(attempts) : 0)),
            ("lost", String(lost)), ("duplicates", String(duplicates)), ("streams", String(streams)),
        ]
        return r
    }

    actor ContendedCounters {
        var successes: [String: Int] = [:]
        var conflicts = 0
        func success(_ s: String) { successes[s, default: 0] += 1 }
        func conflict() { conflicts += 1 }
    }

    static func appendBatch(_ env: BenchDatabase, _ o: Options) async throws -> BenchResult {
        let clients = o.clients ?? 8
        let batch = 100
        let store = env.store(connections: clients, groupCommit: o.groupCommit)
        try await makeScratch(store.pool)
        let metadata = BenchPayload.metadata
        // The baseline: one multi-row INSERT of 100 rows per transaction, values bound as parameters.
        var text = "INSERT INTO public.bench_scratch (stream, type, data, metadata, occurred_at) VALUES "
        text += (0..<batch).map { k in
            "($\(k * 4 + 1), $\(k * 4 + 2), $\(k * 4 + 3)::jsonb, $\(k * 4 + 4)::jsonb, now())"
        }
        .joined(separator: ", ")
        let statementText = text
        let baseline = try await timedLoad(clients: clients, seconds: o.seconds) { c, i in
            var params: [PostgresValue] = []
            for _ in 0..<batch {
                params += [
                    .text("case-BB-\(c)-\(i)"), .text("ReferralIssued"), .text(BenchPayload.data), .text(metadata),
                ]
            }
            try await store.pool.query(SQL(text: statementText, parameters: params))
            return batch
        }
        let events = (0..<batch).map { _ in BenchPayload.event() }
        let run = try await timedLoad(clients: clients, seconds: o.seconds) { c, i in
            // Fresh ids each time: a batch with known ids would be an idempotent retry.
            let fresh = events.map { e -> NewEvent in
                var e = e
                e.id = UUID()
                return e
            }
            return try await store.append(to: .case("BB-\(c)-\(i)")!, events: fresh).events.count
        }
        await dropScratch(store.pool)
        await store.pool.close()
        let value = Double(run.units) / run.seconds
        let base = Double(baseline.units) / baseline.seconds
        return BenchResult(
            bench: "append-batch", value: value, unit: "events/s", baseline: base, p50: run.latencies.percentile(50),
            p99: run.latencies.percentile(99), clients: clients, target: "≥ 0.5 × baseline", met: value >= 0.5 * base)
    }

    /// Appends synthetic referral histories (the generator's, valid for the domain and the read
    /// models: about 19 events a case) until the store holds at least `target` events. Eight
    /// workers take case after case, one append (one transaction) per case.
    static func fill(_ env: BenchDatabase, to target: Int, progress: @escaping @Sendable (String) -> Void) async throws
    {
        let workers = 8
        let store = env.store(connections: workers)
        defer { Task { await store.pool.close() } }
        let had = Int(try await store.count())
        guard had < target else { return }
        try await Seeding.referenceData(store, historyRecordedBefore: Ruleset.backfillForever)
        progress("loading \(target - had) synthetic events…")
        let generator = SyntheticGenerator(seed: 7, now: Date())
        // Continue after the cases already there, so a second fill adds new ones.
        let first = Int(
            try await store.pool.query("SELECT count(*) FROM handoff.streams WHERE stream LIKE 'case-%'")
                .first?.decode(0, as: Int64.self) ?? 0)
        let started = ContinuousClock.now
        let state = Shared(FillCounts(nextCase: first, loaded: had, lastReport: started))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    while true {
                        let index: Int? = state.withLock { s in
                            guard s.loaded < target else { return nil }
                            defer { s.nextCase += 1 }
                            return s.nextCase
                        }
                        guard let index else { return }
                        let c = generator.makeCase(index: index)
                        guard !c.events.isEmpty else { continue }
                        var n = 0
                        do {
                            n = try await store.append(
                                to: .case(c.caseId)!, expected: .noStream, events: c.events.map(Seeding.newEvent)
                            ).events.count
                        } catch EventStoreError.wrongExpectedVersion, EventStoreError.duplicateEventId {
                            n = 0  // loaded by an earlier fill
                        }
                        let report: String? = state.withLock { s in
                            s.loaded += n
                            guard ContinuousClock.now - s.lastReport > .seconds(10) else { return nil }
                            s.lastReport = ContinuousClock.now
                            let rate = Double(s.loaded - had) / (elapsedMilliseconds(since: started) / 1000)
                            return "… \(s.loaded) events (\(Int(rate)) events/s)"
                        }
                        if let report { progress(report) }
                    }
                }
            }
            try await group.waitForAll()
        }
        try await settle(store.pool, progress: progress)
    }

    /// Leaves the database as a long-running one is between bursts: vacuumed, analyzed and
    /// checkpointed. Run after a load and after a rebuild so that autovacuum working through
    /// a million fresh rows, or a checkpoint flushing them, does not land inside the next
    /// measurement (on two cores it would take one of them). Without the rights for it (a
    /// `DATABASE_URL` of a role that does not own the tables), the measurements go on unsettled.
    static func settle(_ pool: ConnectionPool, progress: @escaping @Sendable (String) -> Void) async throws {
        progress("settling: VACUUM (ANALYZE), CHECKPOINT…")
        do {
            try await pool.withConnection { c in
                try await c.execute("VACUUM (ANALYZE)")
                try await c.execute("CHECKPOINT")
            }
        } catch {
            progress("could not settle the database (\(error)); measuring anyway")
        }
    }

    static func readAll(_ env: BenchDatabase, _ o: Options, progress: @escaping @Sendable (String) -> Void) async throws
        -> BenchResult
    {
        let target = o.events ?? 1_000_000
        try await fill(env, to: target, progress: progress)
        let store = env.store(connections: 2)
        try await waitForReadable(store)
        // Two rounds, each the baseline then the reader, and the better rate of each side: on a
        // shared machine a slow moment then hits one run of one side, not the ratio.
        var copyRate = 0.0, readRate = 0.0
        var read = 0
        var pageLatencies = Latencies()
        for _ in 0..<2 {
            // Baseline: COPY of the same rows and columns, in the same order, through libpq.
            let copyStart = ContinuousClock.now
            let copied = try await store.pool.withConnection { c in
                let counter = LineCounter()
                _ = try await c.copyOut(
                    """
                    COPY (SELECT position, xid, stream, version, id, type, data, metadata, occurred_at, recorded_at, prev_hash, hash
                          FROM handoff.events ORDER BY xid, position) TO STDOUT
                    """
                ) { _ in counter.add() }
                return counter.count
            }
            copyRate = max(copyRate, Double(copied) / (elapsedMilliseconds(since: copyStart) / 1000))
            // The gap-free cursor read, pages of 1000, decoded into events.
            let start = ContinuousClock.now
            read = 0
            var t = ContinuousClock.now
            try await store.readGlobalPages(after: .start, limit: 1000) { page in
                // Latency per page as a reader sees it: from asking for it to holding it, decoded.
                pageLatencies.samples.append(elapsedMilliseconds(since: t))
                read += page.events.count
                t = ContinuousClock.now
                return true
            }
            readRate = max(readRate, Double(read) / (elapsedMilliseconds(since: start) / 1000))
        }
        await store.pool.close()
        let value = readRate
        let base = copyRate
        var r = BenchResult(
            bench: "read-all", value: value, unit: "events/s", baseline: base, p50: pageLatencies.percentile(50),
            p99: pageLatencies.percentile(99), clients: 1, target: "≥ 0.7 × COPY", met: value >= 0.7 * base)
        r.extra = [
            ("events", String(read)), ("latency per", "page of 1000"), ("rates", "best of 2 interleaved rounds"),
        ]
        return r
    }

    /// Waits until every committed event is readable in gap-free order.
    static func waitForReadable(_ store: EventStore) async throws {
        for _ in 0..<500 {
            if try await store.pendingVisibility() == 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func scale(_ env: BenchDatabase, _ o: Options, progress: @escaping @Sendable (String) -> Void) async throws
        -> [BenchResult]
    {
        let top = o.events ?? 5_000_000
        let steps = [top / 50, top / 5, top]
        let clients = o.clients ?? 8
        var results: [BenchResult] = []
        var first: (p50: Double, p99: Double, history: Double)? = nil
        for size in steps {
            try await fill(env, to: size, progress: progress)
            let store = env.store(connections: clients)
            let run = try await timedLoad(clients: clients, seconds: o.seconds) { c, i in
                try await store.append(to: .case("S-\(c)-\(i / 20)")!, events: [BenchPayload.event()]).events.count
            }
            // Case history: a whole case stream read back, for cases picked at random among all the
            // loaded ones (not the few just written, which would sit in cache).
            let sample = try await store.pool.query(
                "SELECT stream FROM handoff.streams WHERE stream LIKE 'case-KS-%' ORDER BY random() LIMIT 5000"
            ).all.map { try $0.decode(0, as: String.self) }
            guard !sample.isEmpty else { throw CLIError(message: "no synthetic cases to read") }
            let history = try await timedLoad(clients: clients, seconds: max(1, o.seconds / 2)) { c, i in
                try await store.readAll(stream: StreamName(sample[(c * 7919 + i * 104_729) % sample.count])!).count
            }
            await store.pool.close()
            let p50 = run.latencies.percentile(50) ?? 0, p99 = run.latencies.percentile(99) ?? 0
            let hp99 = history.latencies.percentile(99) ?? 0
            if first == nil { first = (p50, p99, hp99) }
            let flat = p99 <= 1.5 * first!.p99 && hp99 <= 1.5 * first!.history
            var r = BenchResult(
                bench: "scale@\(size)", value: Double(run.units) / run.seconds, unit: "events/s", p50: p50, p99: p99,
                clients: clients, target: "within 1.5× of the smallest", met: flat)
            r.extra = [("history p99 ms", String(format: "%.2f", hp99))]
            results.append(r)
            progress(r.row)
        }
        return results
    }
}

/// What the fill's workers share: the next case to load and how many events are in.
struct FillCounts: Sendable {
    var nextCase: Int
    var loaded: Int
    var lastReport: ContinuousClock.Instant
}

/// Counts COPY rows from libpq's callback thread.
final class LineCounter: @unchecked Sendable {
    // @unchecked: only the connection's own queue calls `add`, one call at a time; read after it returns.
    private(set) var count = 0
    func add() { count += 1 }
}
