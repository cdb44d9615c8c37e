import EventStore
import Postgres

/// `secret rotate`: the server's secrets (docs/system-events.md).
enum SecretCommands {
    /// Makes a new system event key the current one. Older keys stay; notices, registrations and
    /// ruleset publications written before are still recognised by their content, so nothing is
    /// written twice. Needs the role that runs `handoff migrate`.
    static func rotate(_ context: CLIContext) async throws {
        let connection = try await Connection.connect(try context.databaseURL())
        defer { connection.close() }
        do {
            let id = try await SystemEventKey.rotate(on: connection)
            context.out("system event key \(id) is now current (older keys are kept)")
        } catch let error as PostgresError where error.sqlState == "42P01" {
            throw CLIError(message: "no system event keys table: run `handoff migrate` first")
        } catch let error as PostgresError where error.sqlState == "42501" {
            throw CLIError(message: "permission denied: rotate as the role that runs `handoff migrate`")
        } catch let error as PostgresError where error.sqlState == "23505" {
            throw CLIError(message: "another rotation ran at the same moment; run `handoff secret rotate` again")
        }
    }
}
