import EventStore
import Postgres

/// Builds read-model tables from the global event log.
///
/// A projector applies a batch of events to its tables on the connection it is given, inside the
/// transaction the ``ProjectionRunner`` opened; the runner advances the projector's checkpoint in
/// the same transaction, so each event is applied exactly once. A projector writes only the tables
/// it lists in ``tables`` and names them through ``ProjectionTables`` so that a rebuild can direct
/// it at shadow copies.
public protocol Projector: Sendable {
    /// A stable name: the key of its checkpoint and what `handoff project rebuild NAME` takes.
    var name: String { get }
    /// The read-model tables it owns (names in schema `handoff`, without suffix).
    var tables: [String] { get }
    /// Applies `events` (in gap-free order, ending at `cursor`) to the tables named by `tables`.
    ///
    /// Must use only `connection` (it is inside the runner's transaction) and must not commit.
    func apply(_ events: [RecordedEvent], through cursor: Cursor, on connection: Connection, tables: ProjectionTables)
        async throws
}

/// The physical tables a projector writes: the live ones, or the shadow copies a rebuild fills.
public struct ProjectionTables: Sendable, Hashable {
    /// `""` for the live tables, `"_shadow"` for a rebuild's copies.
    public let suffix: String

    /// The live read-model tables.
    public static let live = ProjectionTables(suffix: "")
    /// The shadow tables of a rebuild.
    public static let shadow = ProjectionTables(suffix: "_shadow")

    private init(suffix: String) { self.suffix = suffix }

    /// The qualified name of a read-model table, e.g. `handoff.case_summary_shadow`.
    ///
    /// Only fixed table names written in this module are passed here, never input, which is why
    /// SQL may be assembled from it (see `SQL(text:parameters:)`).
    public func qualified(_ table: String) -> String { "handoff." + table + suffix }
}

/// The projectors of Handoff.
public enum Projectors {
    /// Every projector, in the order they run: `registry` (institutions, rulesets), `cases`.
    public static let all: [any Projector] = [RegistryProjector(), CaseProjector()]

    /// The projectors named (or all of them for `"all"`).
    /// - Throws: `ProjectionsError.unknownProjector`.
    public static func named(_ name: String) throws -> [any Projector] {
        if name == "all" { return all }
        guard let p = all.first(where: { $0.name == name }) else { throw ProjectionsError.unknownProjector(name) }
        return [p]
    }
}
