import EventStore
import Foundation
import Postgres
import Referrals
import Synchronization

/// Need-to-know decisions from the event log itself (authoritative), never from a read model.
///
/// - For one case (appends, per-case reads): the case stream is read and folded with
///   `CaseState.fold`, so party-ship is exactly what the domain says.
/// - For feeds (`/v1/events`, SSE, subscriptions): the parties of the cases on a page are read
///   *after* the page with ``partyCases(institution:among:)``: `CaseState.isParty` again, read
///   from the projected `case_parties` or, where that has not caught up, from the stream's fold.
public struct CaseAccess: Sendable {
    let store: EventStore
    /// Folds of recently loaded cases, for ``loadFold(caseId:)``.
    /// (At least the 4,096 cases used last are kept: ``RecentCache`` keeps half its capacity.)
    let folds = CaseFoldCache(capacity: 8192)

    public init(store: EventStore) { self.store = store }

    /// The case's events, decoded, and its folded state (`nil` when the case does not exist).
    public struct LoadedCase: Sendable {
        public var recorded: [RecordedEvent]
        public var state: CaseState?

        public init(recorded: [RecordedEvent], state: CaseState?) {
            self.recorded = recorded
            self.state = state
        }
        /// The stream's version (also counts events that failed to decode).
        public var version: Int64 { recorded.last?.version ?? 0 }

        /// The case as it was at stream version `version` (nil before its opening).
        public func state(atVersion version: Int64) -> CaseState? {
            guard let first = recorded.first else { return nil }
            let prefix = recorded.prefix { $0.version <= version }.compactMap(CaseAccess.caseEvent)
            return CaseState.fold(caseId: String(first.stream.dropFirst(5)), events: prefix)
        }

        /// The case's events and its `sop-` `notices` as one history: each stream in its own
        /// version order, which its chain protects, the two interleaved by the log's gap-free
        /// order. (Sorting both by the log's order alone would let an `xid` changed in the table,
        /// which no chain covers, reorder a case's own events — docs/hash-chain.md, section 6.)
        public func history(with notices: [RecordedEvent]) -> [RecordedEvent] {
            var out: [RecordedEvent] = []
            out.reserveCapacity(recorded.count + notices.count)
            var i = 0
            var j = 0
            while i < recorded.count || j < notices.count {
                if j == notices.count || (i < recorded.count && recorded[i].cursor < notices[j].cursor) {
                    out.append(recorded[i])
                    i += 1
                } else {
                    out.append(notices[j])
                    j += 1
                }
            }
            return out
        }
    }

    /// A case's state folded up to `version` (its stream's version then).
    public struct CaseFold: Sendable, Equatable {
        public var state: CaseState?
        public var version: Int64

        public init(state: CaseState?, version: Int64) {
            self.state = state
            self.version = version
        }
    }

    public func load(caseId: String) async throws -> LoadedCase {
        guard let stream = StreamName.case(caseId) else { throw ServiceStoreError.invalidCaseId }
        let recorded = try await store.readAll(stream: stream)
        let events = recorded.compactMap(Self.caseEvent)
        return LoadedCase(recorded: recorded, state: CaseState.fold(caseId: caseId, events: events))
    }

    /// A case's folded state and its stream's version, as ``load(caseId:)`` gives them, from a
    /// fold kept in memory: only the events past the version folded last are read and parsed
    /// (usually none or one), not the whole stream. A stream is append-only, so the fold of its
    /// first N events never changes; a case opened by its first event is cached, and a stream
    /// that does not open a case is folded from the start every time, as `CaseState.fold` does.
    public func loadFold(caseId: String) async throws -> CaseFold {
        guard let stream = StreamName.case(caseId) else { throw ServiceStoreError.invalidCaseId }
        guard var fold = folds[caseId] else {
            let loaded = try await load(caseId: caseId)
            let fold = CaseFold(state: loaded.state, version: loaded.version)
            if fold.state != nil { folds[caseId] = fold }
            return fold
        }
        while true {
            let page = try await store.read(stream: stream, fromVersion: fold.version + 1, limit: 1000)
            for recorded in page {
                if let event = Self.caseEvent(recorded) {
                    fold.state = CaseState.applying(event, to: fold.state, caseId: caseId)
                }
                fold.version = recorded.version
            }
            if page.count < 1000 { break }
        }
        folds[caseId] = fold
        return fold
    }

    /// The fold of this case kept in memory, as last read: possibly behind its stream, since
    /// nothing is read. For a writer that appends with the fold's version as the expected one,
    /// which catches a stale fold (``loadFold(caseId:)`` is the fold as of now).
    public func cachedFold(caseId: String) -> CaseFold? { folds[caseId] }

    /// Keeps `fold` as the case's fold, for a writer that knows the fold after its own append
    /// (the events it admitted, as stored) without reading the stream. Only a fold of a case
    /// (`state` not nil) of a higher version than the one kept replaces it.
    public func remember(_ fold: CaseFold, caseId: String) {
        if fold.state != nil { folds[caseId] = fold }
    }

    /// A stored event of a case stream as the domain's typed event; nil if it does not decode
    /// (an event written around the API), which then does not count for party-ship.
    static func caseEvent(_ e: RecordedEvent) -> CaseEvent? {
        guard let data = try? JSONValue.parse(e.data),
            let metadata = try? JSONValue.parse(e.metadata),
            let institution = metadata["actor"]?["institution"]?.stringValue,
            let user = metadata["actor"]?["user"]?.stringValue
        else { return nil }
        return try? CaseEvent(
            id: e.id, type: e.type, data: data, occurredAt: e.occurredDate,
            actor: Referrals.Actor(institution: institution, user: user), recordedAt: e.recordedDate)
    }

    /// Of the given cases, those `institution` is party to right now, by the one definition
    /// (``CaseState/isParty(_:)``, the fold of the case stream).
    ///
    /// The SQL only narrows the search: the cases whose `CaseOpened` was appended by the
    /// institution or whose raw `ReferralIssued` names it (a superset of the parties — `to` cannot
    /// be corrected). A candidate is confirmed by the `case_parties` read model, which the
    /// projector writes from the same fold (parties only ever join a case, so a lagging read model
    /// can only fail to name one), or else by folding its stream here. An event that does not
    /// decode (written around the API) therefore never makes anyone a party.
    public func partyCases(institution: String, among caseIds: Set<String>) async throws -> Set<String> {
        guard !caseIds.isEmpty else { return [] }
        let streams = PostgresArray.text(caseIds.map { "case-" + $0 }.sorted())
        let result = try await store.pool.query(
            """
            SELECT c.case_id, EXISTS (SELECT 1 FROM handoff.case_parties p
                                       WHERE p.case_id = c.case_id AND p.institution = \(institution))
              FROM (SELECT DISTINCT substr(stream, 6) AS case_id FROM handoff.events
                     WHERE stream = ANY(\(streams)::text[])
                       AND ((type = 'CaseOpened' AND version = 1 AND metadata->'actor'->>'institution' = \(institution))
                         OR (type = 'ReferralIssued' AND data->>'to' = \(institution)))) c
            """)
        var parties: Set<String> = []
        for row in result.all {
            let caseId = try row.decode(0, as: String.self)
            if try row.decode(1, as: Bool.self) {
                parties.insert(caseId)
            } else if try await load(caseId: caseId).state?.isParty(institution) == true {
                parties.insert(caseId)
            }
        }
        return parties
    }

    /// The case of a `case-` stream, else nil.
    public static func caseId(ofCaseStream stream: String) -> String? {
        stream.hasPrefix("case-") ? String(stream.dropFirst(5)) : nil
    }

    /// The case an event belongs to (`case-` and `sop-` streams), else nil.
    public static func caseId(ofStream stream: String) -> String? {
        StreamName(stream)?.caseId
    }
}

/// The folds ``CaseAccess/loadFold(caseId:)`` keeps: at most `capacity` cases, the least recently
/// used dropped first (``RecentCache``; a dropped case is read again from its stream when next
/// needed). A fold is only ever replaced by one of a higher version.
final class CaseFoldCache: Sendable {
    private let folds: RecentCache<String, CaseAccess.CaseFold>

    init(capacity: Int) { folds = RecentCache(capacity: capacity) }

    subscript(caseId: String) -> CaseAccess.CaseFold? {
        get { folds[caseId] }
        set {
            guard let newValue else { return }
            folds.update(caseId) { kept in
                if let old = kept, old.version >= newValue.version { return }
                kept = newValue
            }
        }
    }

    var count: Int { folds.count }
}
