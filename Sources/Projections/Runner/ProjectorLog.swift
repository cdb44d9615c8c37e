import EventStore
import Logging

extension ProjectionRunner {
    /// Runs like ``run(wakeups:pollInterval:onError:)`` and logs what an operator needs: the
    /// start, every projector's lag where catch-up begins and then every `reportEvery` while it is
    /// behind (the catch-up's progress), when it has caught up, every failed batch with its cause,
    /// and the stop. Lines carry names, counts and positions only — never event data.
    public func run(
        wakeups: Wakeups, pollInterval: Duration = .seconds(1), logger: Logger, reportEvery: Duration = .seconds(30)
    ) async {
        logger.notice(
            "projectors started",
            metadata: [
                "projectors": .string(projectors.map(\.name).joined(separator: ",")), "batch_size": .int(batchSize),
            ])
        let reporter = Task {
            var behind: [String: Bool] = [:]
            while !Task.isCancelled {
                await self.logLag(logger, wasBehind: &behind)
                do { try await Task.sleep(for: reportEvery) } catch { return }
            }
        }
        await run(
            wakeups: wakeups, pollInterval: pollInterval,
            onError: { error in logger.error("projector batch failed; retrying", metadata: .cause(error)) })
        reporter.cancel()
        await reporter.value  // its last line comes before "stopped"
        logger.notice("projectors stopped")
    }

    /// `handoff project --once`: catches up and logs the events applied per projector.
    @discardableResult
    public func catchUp(logger: Logger) async throws -> [String: Int] {
        logger.notice("catching up", metadata: ["projectors": .string(projectors.map(\.name).joined(separator: ","))])
        do {
            let applied = try await catchUp()
            for (name, count) in applied.sorted(by: { $0.key < $1.key }) {
                logger.info("caught up", metadata: ["projector": .string(name), "events_applied": .int(count)])
            }
            return applied
        } catch {
            logger.error("catch-up failed", metadata: .cause(error))
            throw error
        }
    }

    /// One line per projector: `lag` (info) while it is behind, `caught up` (info) when it no
    /// longer is, nothing while it stays caught up.
    private func logLag(_ logger: Logger, wasBehind: inout [String: Bool]) async {
        let lags: [ProjectorLag]
        do { lags = try await lag() } catch {
            // A lag query cut short by stopping is no news.
            if !Task.isCancelled { logger.warning("projector lag unknown", metadata: .cause(error)) }
            return
        }
        for lag in lags {
            let isBehind = lag.eventsBehind > 0
            defer { wasBehind[lag.name] = isBehind }
            let line: LogMetadata = [
                "projector": .string(lag.name), "events_behind": .int(Int(lag.eventsBehind)),
                "seconds_behind": .double((lag.secondsBehind * 1000).rounded() / 1000),
                "position": .int(Int(lag.cursor.position)),
            ]
            if isBehind {
                logger.info("lag", metadata: line)
            } else if wasBehind[lag.name] != false {
                logger.info("caught up", metadata: line)
            }
        }
    }
}
