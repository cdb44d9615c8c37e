import EventStore
import Foundation
import Projections

/// `project`, `project rebuild`, `watch`: the long-running workers.
enum ProcessCommands {
    static func project(_ args: ParsedArguments, _ context: CLIContext) async throws {
        let url = try context.databaseURL()
        let once = args.flag("--once")
        try await untilSignalled {
            try await ProjectionRunner.run(url: url, once: once) { error in
                context.err("handoff project: \(error) (retrying)")
            }
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
        try await untilSignalled {
            try await DeadlineWatcher.run(
                url: url, once: once,
                onError: { error in
                    // A notice id found taken is an alarm (docs/system-events.md), not a retry.
                    context.err("handoff watch: \(error)" + (error is SystemEventIdConflict ? "" : " (retrying)"))
                },
                onPass: { report in
                    let conflicts = report.idConflicts.count
                    if once || report.appended > 0 || conflicts > 0 {
                        context.out(
                            "missed deadlines: \(report.missed), notices appended: \(report.appended)"
                                + (conflicts == 0 ? "" : ", notice id conflicts: \(conflicts)"))
                    }
                })
        }
    }
}
