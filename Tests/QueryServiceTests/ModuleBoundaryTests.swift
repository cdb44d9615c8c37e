import Foundation
import Testing

/// The rooms of DESIGN.md's module table, held by reading the sources: the query service's route
/// code runs no SQL of its own. Tokens, sessions, the access log, subscriptions and need-to-know
/// live in `ServiceStore`; the log in `EventStore`; the read models in `Projections`, read
/// through the read side.
@Suite("Module boundaries")
struct ModuleBoundaryTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")

    /// Files of `Sources/<module>`, relative to it, with their text.
    static func files(_ module: String) throws -> [(String, String)] {
        let root = sources.appendingPathComponent(module)
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var result: [(String, String)] = []
        for case let path as String in walker where path.hasSuffix(".swift") {
            result.append((path, try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)))
        }
        return result
    }

    @Test func queryServiceCodeRunsNoSQLOfItsOwn() throws {
        // The read side over the read models, and the readiness probe's check on its own
        // connection, are the only places that talk to PostgreSQL directly.
        let allowed: Set<String> = ["ReadSide/ProjectionReadSide.swift", "Service/ReadinessProbe.swift"]
        let sqlPattern = try Regex(#"\.(query|execute|withConnection|withTransaction)\("#)
        let files = try Self.files("QueryService")
        #expect(files.count > 40)
        for (path, text) in files where !allowed.contains(path) {
            #expect(text.firstMatch(of: sqlPattern) == nil, "\(path) runs SQL: move it to ServiceStore")
            #expect(!text.contains("store.pool"), "\(path) reaches for the event store's connections")
        }
    }

    @Test func theServiceStoresLiveInTheirOwnModule() throws {
        let names = Set(try Self.files("ServiceStore").map(\.0))
        for store in [
            "TokenStore.swift", "SessionStore.swift", "AccessLog.swift", "SubscriptionStore.swift",
            "CaseAccess.swift",
        ] {
            #expect(names.contains(store), "\(store)")
        }
        let eventStore = try String(
            contentsOf: Self.sources.appendingPathComponent("EventStore/EventStore.swift"), encoding: .utf8)
        #expect(!eventStore.contains("public let pool"), "EventStore.pool is not public API")
    }
}
