import EventStore
import Foundation
import Logging
import Postgres
import Projections

/// `project`, `project rebuild`, `watch`: the long-running workers.
enum ProcessCommands {
    static func project(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let url = try context.databaseURL()
        let once = args.flag("--once")
        let logger = context.logger(args, label: "projector")
        let limits = ServiceCommands.DatabaseLimits(args)
        try await untilSignalled {
            let pool = limits.pool(url: url, maximumConnections: 4)
            let runner = ProjectionRunner(store: EventStore(pool: pool))
            if once {
                do { try await runner.catchUp(logger: logger) } catch {
                    await pool.close()
                    throw error
                }
            } else {
                let wakeups = Wakeups()
                await wakeups.startListening(url: url)
                await runner.run(wakeups: wakeups, logger: logger)
                await wakeups.stop()
            }
            await pool.close()
        }
        if once { context.out("projectors caught up") }
    }

    static func rebuild(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let name = args.positional(0)!
        guard let selected = try? Projectors.named(name) else {
            let names = Projectors.all.map(\.name).joined(separator: ", ")
            throw CLIError.usage("unknown read model \(name): use one of \(names) or all")
        }
        let store = try StoreCommands.store(context, poolSize: 4)
        let runner = ProjectionRunner(store: store)
        let terminal = context.isTerminal
        // The projectors of one rebuild replay the log together and report the same figures.
        let shown = selected.last?.name
        try await runner.rebuild(name) { progress in
            if terminal {
                guard progress.projector == shown || progress.phase == .done else { return }
                context.standardError("\r\(progress.projector): \(progress.bar()) \(progress.line)\u{1B}[K")
                if progress.phase == .done { context.standardError("\n") }
            } else {
                context.err(progress.line)
            }
        }
        context.out("rebuilt \(name)")
    }

    static func watch(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let url = try context.databaseURL()
        let once = args.flag("--once")
        let logger = context.logger(args, label: "watcher")
        logger.notice("watcher started", metadata: ["once": .bool(once)])
        let limits = ServiceCommands.DatabaseLimits(args)
        try await untilSignalled {
            try await DeadlineWatcher.run(
                pool: limits.pool(url: url, maximumConnections: 2), once: once,
                onError: { error in
                    // A notice id found taken is an alarm (docs/system-events.md), not a retry.
                    if error is SystemEventIdConflict { context.err("handoff watch: \(error)") }
                    WatcherLog.failed(logger)(error)
                },
                onPass: { report in
                    WatcherLog.pass(logger, report)
                    let conflicts = report.idConflicts.count
                    if once || report.appended > 0 || conflicts > 0 {
                        context.out(
                            "missed deadlines: \(report.missed), notices appended: \(report.appended)"
                                + (conflicts == 0 ? "" : ", notice id conflicts: \(conflicts)"))
                    }
                })
        }
        logger.notice("watcher stopped")
    }
}

/// The deadline watcher's log lines (counts only), shared by `watch` and `demo`.
enum WatcherLog {
    static func pass(_ logger: Logger, _ report: DeadlineWatcher.Report) {
        logger.log(
            level: report.appended > 0 ? .info : .debug, "pass",
            metadata: [
                "missed": .int(report.missed), "appended": .int(report.appended),
                "already_notified": .int(report.alreadyNotified),
            ])
    }

    static func failed(_ logger: Logger) -> @Sendable (any Error) -> Void {
        { error in
            if error is SystemEventIdConflict {
                // docs/system-events.md: never a retry, never silence.
                logger.error(
                    "system event id taken (an alarm); the notice is written under another id",
                    metadata: .cause(error))
            } else {
                logger.error("watcher pass failed; retrying", metadata: .cause(error))
            }
        }
    }
}
