import EventStore
import Postgres
import Referrals

@testable import HandoffCLI

/// The demo institutions, registered in a test database as `handoff institution add` would: what
/// `token create` and `user add` look up before they issue a credential for an institution.
enum DemoRegistry {
    static func register(_ url: String) async throws {
        let store = EventStore(pool: ConnectionPool(url: url, maximumConnections: 1))
        for institution in Institution.demo {
            _ = try await RegistryCommands.register(institution, store: store)
        }
        await store.pool.close()
    }
}
