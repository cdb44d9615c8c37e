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

    /// What a rebuild uses to apply the log, batch after batch, from its start to empty shadow
    /// tables. A projector may keep state in it between batches (see ``ProjectorReplay``); the
    /// default applies each batch with ``apply(_:through:on:tables:)``.
    func makeReplay() -> any ProjectorReplay
}

/// Applies one replay of the log to a projector's tables: consecutive batches in gap-free order,
/// the first starting at ``Cursor/start``, to tables that were empty when the replay began.
///
/// Each batch goes in two steps, so that a rebuild can work out one batch while PostgreSQL still
/// writes the previous one: ``prepare(_:through:reading:)`` computes what the batch changes (it may
/// read the log, never the projector's tables, whose last writes may still be in flight), and the
/// ``ReplayWrites`` it returns are run later, in order, inside the batch's transaction.
///
/// Because it sees every event exactly once and in order, a replay may remember what earlier
/// batches held instead of reading it back; the rows it writes must still equal what
/// ``Projector/apply(_:through:on:tables:)`` writes for the same events. A replay is used by one
/// task at a time and thrown away when the rebuild ends or fails.
public protocol ProjectorReplay: AnyObject {
    /// Works out the next batch's writes.
    /// - Parameter connection: for reading the log (outside the write transaction).
    func prepare(_ events: [RecordedEvent], through cursor: Cursor, reading connection: Connection) async throws
        -> ReplayWrites
}

/// The writes of one replayed batch, run inside the transaction that commits the batch.
public struct ReplayWrites: Sendable {
    private let body: @Sendable (Connection, ProjectionTables) async throws -> Void

    /// - Parameter body: writes to the tables named by its `ProjectionTables` on its connection.
    public init(_ body: @escaping @Sendable (_ connection: Connection, _ tables: ProjectionTables) async throws -> Void)
    {
        self.body = body
    }

    /// Runs the writes on `connection` (inside its transaction).
    public func run(on connection: Connection, tables: ProjectionTables) async throws {
        try await body(connection, tables)
    }
}

extension Projector {
    /// A replay that keeps nothing: each batch goes to ``apply(_:through:on:tables:)``.
    public func makeReplay() -> any ProjectorReplay { StatelessReplay(projector: self) }
}

/// The default replay: the projector's own `apply`, batch by batch, run as the batch's writes.
final class StatelessReplay: ProjectorReplay {
    let projector: any Projector

    init(projector: any Projector) { self.projector = projector }

    func prepare(_ events: [RecordedEvent], through cursor: Cursor, reading connection: Connection) async throws
        -> ReplayWrites
    {
        let projector = self.projector
        return ReplayWrites { c, tables in try await projector.apply(events, through: cursor, on: c, tables: tables) }
    }
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
