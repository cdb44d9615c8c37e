import Foundation
import HandoffCLI
import Synchronization

/// Runs `handoff` in-process with captured output.
final class CapturedCLI: Sendable {
    let stdout = Mutex("")
    let stderr = Mutex("")
    let environment: [String: String]

    init(databaseURL: String?) {
        var env: [String: String] = [:]
        env["DATABASE_URL"] = databaseURL
        env["USER"] = "operator-7"
        environment = env
    }

    func run(_ args: String...) async -> (status: Int32, out: String, err: String) {
        await run(args)
    }

    func run(_ args: [String], input: String? = nil) async -> (status: Int32, out: String, err: String) {
        stdout.withLock { $0 = "" }
        stderr.withLock { $0 = "" }
        let context = CLIContext(
            environment: environment, standardOutput: { s in self.stdout.withLock { $0 += s } },
            standardError: { s in self.stderr.withLock { $0 += s } }, standardInput: { input })
        let status = await HandoffCLI.run(args, context: context)
        return (status, stdout.withLock { $0 }, stderr.withLock { $0 })
    }
}
