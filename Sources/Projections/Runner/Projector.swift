import EventStore
import Postgres

/// Builds read-model tables from the global event log.
///
/// The live ``ProjectionRunner`` drives a projector through its ``makeLive()`` object, kept across
/// batches: it computes a batch's writes outside any transaction, and the runner runs them and
/// advances the projector's checkpoint in one short transaction, so each event is applied exactly
/// once. A projector writes only the tables it lists in ``tables`` and names them through
/// ``ProjectionTables`` so that a rebuild can direct it at shadow copies.
public protocol Projector: Sendable {
    /// A stable name: the key of its checkpoint and what `handoff project rebuild NAME` takes.
    var name: String { get }
    /// The read-model tables it owns (names in schema `handoff`, without suffix).
    var tables: [String] { get }
    /// Applies `events` (in gap-free order, ending at `cursor`) to the tables named by `tables`.
    ///
    /// Must use only `connection` (it is inside a transaction) and must not commit. A projector
    /// that reads much to compute its rows should also provide ``makeLive()``, so that the reading
    /// happens outside the transaction.
    func apply(_ events: [RecordedEvent], through cursor: Cursor, on connection: Connection, tables: ProjectionTables)
        async throws

    /// What the live runner uses to apply batch after batch to the live tables; the runner keeps it
    /// as long as it runs. The default applies each batch in one part with
    /// ``apply(_:through:on:tables:)`` inside the batch's transaction.
    func makeLive() -> any LiveProjection

    /// What a rebuild uses to apply the log, batch after batch, from its start to empty shadow
    /// tables. A projector may keep state in it between batches (see ``ProjectorReplay``); the
    /// default applies each batch with ``apply(_:through:on:tables:)``.
    func makeReplay() -> any ProjectorReplay

    /// The only streams whose events change its tables, when it can name them (a rebuild then
    /// reads just those); nil (the default): any event may.
    var streams: [String]? { get }
}

/// One batch of the live runner: the events after a projector's checkpoint.
public struct LiveBatch: Sendable {
    /// The events after `start` through `end`, in gap-free order.
    public var events: [RecordedEvent]
    /// The projector's checkpoint the batch follows.
    public var start: Cursor
    /// The cursor of the batch's last event: the checkpoint once the batch is applied.
    public var end: Cursor
    /// nil for a batch's first part; for a later part, the resume key the part before it returned
    /// (stored with the checkpoint, so it survives a crash).
    public var resumingAfter: String?

    public init(events: [RecordedEvent], start: Cursor, end: Cursor, resumingAfter: String?) {
        self.events = events
        self.start = start
        self.end = end
        self.resumingAfter = resumingAfter
    }
}

/// The writes of one part of a live batch, and whether more parts follow.
public struct LivePart: Sendable {
    /// Run in the part's transaction, on the live tables.
    public var writes: ReplayWrites
    /// nil when this part completes the batch (the checkpoint moves to the batch's end); otherwise
    /// the key the next part resumes after.
    public var resumeAfter: String?

    public init(writes: ReplayWrites, resumeAfter: String?) {
        self.writes = writes
        self.resumeAfter = resumeAfter
    }
}

/// Applies batches to a projector's live tables, as the ``ProjectionRunner`` hands them over.
///
/// ``prepare(_:reading:)`` runs outside any transaction: it may read the log and the projector's
/// live tables (which are as of `batch.start`, or of a part before it) and must not write. The
/// runner then runs the part's writes and moves the checkpoint in one short transaction, unless
/// another runner moved the checkpoint meanwhile, in which case nothing is written and the runner
/// starts over from the checkpoint it finds.
///
/// A batch may go in several parts (a projector that must recompute much at once, such as every
/// case after a ruleset is published): each part's writes must leave every row either as of
/// `batch.start` or as of `batch.end`, and a later part must write only what no earlier part
/// wrote. Because a part may fail to commit, or be applied by another runner, what it keeps
/// between calls is only a cache: a call must give the right writes for the batch and resume key
/// it is handed, whatever came before.
///
/// The runner uses one object from one task at a time.
public protocol LiveProjection: AnyObject, Sendable {
    /// Works out the next part of `batch`.
    /// - Parameter connection: for reading (outside the write transaction).
    func prepare(_ batch: LiveBatch, reading connection: Connection) async throws -> LivePart
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
///
/// A replay may instead take every event up to a cursor its own way, part by part
/// (``wholePart(through:reading:)``: the case projector reads the log case by case, so that each
/// case is folded once however its events are spread through the log); the batches it is then
/// given start after that cursor.
public protocol ProjectorReplay: AnyObject {
    /// Works out the next batch's writes.
    /// - Parameter connection: for reading the log (outside the write transaction).
    func prepare(_ events: [RecordedEvent], through cursor: Cursor, reading connection: Connection) async throws
        -> ReplayWrites

    /// Whether it replays the log up to a cursor its own way, through ``wholePart(through:reading:)``.
    var replaysWhole: Bool { get }

    /// The next part of replaying every event at or before `cursor` (a cursor of the gap-free
    /// order, the same on every call), or nil when all of it is done. Called only when
    /// ``replaysWhole``, before any batch; the batches that follow start after `cursor`.
    /// - Parameter connection: for reading the log (outside the write transactions).
    func wholePart(through cursor: Cursor, reading connection: Connection) async throws -> ReplayPart?
}

/// A part of a replay up to a cursor: its writes, and how many events it covered (for progress).
public struct ReplayPart: Sendable {
    public var writes: ReplayWrites
    public var events: Int

    public init(writes: ReplayWrites, events: Int) {
        self.writes = writes
        self.events = events
    }
}

/// The writes of one replayed batch (or of one part of a live batch), run inside the transaction
/// that commits it.
public struct ReplayWrites: Sendable {
    private let bodies: [@Sendable (Connection, ProjectionTables) async throws -> Void]

    /// - Parameter body: writes to the tables named by its `ProjectionTables` on its connection.
    public init(_ body: @escaping @Sendable (_ connection: Connection, _ tables: ProjectionTables) async throws -> Void)
    {
        self.bodies = [body]
    }

    /// Writes made of pieces, run in order. A rebuild commits each piece of a replayed batch on
    /// its own (its shadow tables are invisible until the swap, so a piece needs no company), which
    /// keeps its transactions short when a batch rewrites every case; the live runner runs them
    /// all in one transaction.
    public init(pieces: [ReplayWrites]) { self.bodies = pieces.flatMap(\.bodies) }

    /// The pieces, each runnable in a transaction of its own.
    public var pieces: [ReplayWrites] { bodies.map { ReplayWrites($0) } }

    /// Runs the writes on `connection` (inside its transaction).
    public func run(on connection: Connection, tables: ProjectionTables) async throws {
        for body in bodies { try await body(connection, tables) }
    }
}

extension Projector {
    public var streams: [String]? { nil }

    /// A replay that keeps nothing: each batch goes to ``apply(_:through:on:tables:)``.
    public func makeReplay() -> any ProjectorReplay { StatelessReplay(projector: self) }

    /// A live projection that keeps nothing: each batch goes, in one part, to ``apply(_:through:on:tables:)``.
    public func makeLive() -> any LiveProjection { StatelessLive(projector: self) }
}

/// The default live projection: the projector's own `apply`, one batch per part.
final class StatelessLive: LiveProjection {
    let projector: any Projector

    init(projector: any Projector) { self.projector = projector }

    func prepare(_ batch: LiveBatch, reading connection: Connection) async throws -> LivePart {
        let projector = self.projector
        return LivePart(
            writes: ReplayWrites { c, tables in
                try await projector.apply(batch.events, through: batch.end, on: c, tables: tables)
            }, resumeAfter: nil)
    }
}

/// The default replay: the projector's own `apply`, batch by batch, run as the batch's writes. A
/// projector that names the only ``Projector/streams`` it reads replays up to a cursor in one
/// part: those streams' events, in gap-free order, in one `apply`.
final class StatelessReplay: ProjectorReplay {
    let projector: any Projector
    private var wholeDone = false

    init(projector: any Projector) { self.projector = projector }

    func prepare(_ events: [RecordedEvent], through cursor: Cursor, reading connection: Connection) async throws
        -> ReplayWrites
    {
        let projector = self.projector
        return ReplayWrites { c, tables in try await projector.apply(events, through: cursor, on: c, tables: tables) }
    }

    var replaysWhole: Bool { projector.streams != nil }

    func wholePart(through cursor: Cursor, reading connection: Connection) async throws -> ReplayPart? {
        guard let streams = projector.streams, !wholeDone else { return nil }
        wholeDone = true
        let events = try await EventStore.events(of: streams, through: cursor, on: connection)
        return ReplayPart(writes: try await prepare(events, through: cursor, reading: connection), events: events.count)
    }
}

/// The physical tables a projector writes: the live ones, or the shadow copies a rebuild fills.
public struct ProjectionTables: Sendable, Hashable {
    /// `handoff`, or `pg_temp` for a check's session-local copies.
    public let schema: String
    /// `""` for the live tables, `"_shadow"` for a rebuild's copies, `"_check"` for a check's.
    public let suffix: String

    /// The live read-model tables.
    public static let live = ProjectionTables(schema: "handoff", suffix: "")
    /// The shadow tables of a rebuild.
    public static let shadow = ProjectionTables(schema: "handoff", suffix: "_shadow")
    /// The temporary tables `handoff verify --read-models` recomputes the read models into
    /// (``ProjectionRunner/checkReadModels(attempts:)``).
    public static let check = ProjectionTables(schema: "pg_temp", suffix: "_check")

    private init(schema: String, suffix: String) {
        self.schema = schema
        self.suffix = suffix
    }

    /// The qualified name of a read-model table, e.g. `handoff.case_summary_shadow`.
    ///
    /// Only fixed table names written in this module are passed here, never input, which is why
    /// SQL may be assembled from it (see `SQL(text:parameters:)`).
    public func qualified(_ table: String) -> String { schema + "." + table + suffix }
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
