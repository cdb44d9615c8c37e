import Crypto
import Foundation
import Postgres

/// The canonical bytes of an event (docs/hash-chain.md) and its chained hash.
public enum CanonicalEvent {
    /// The UTF-8 text that, after `prevHash`, goes into SHA-256.
    public static func text(_ e: RecordedEvent) -> String {
        "handoff-event-v1\n\(e.stream)\n\(e.version)\n\(e.id.uuidString.lowercased())\n\(e.type)\n"
            + "\(e.occurredAt)\n\(e.recordedAt)\n\(e.data)\n\(e.metadata)"
    }

    /// SHA-256(prevHash ‖ canonical bytes).
    public static func hash(_ e: RecordedEvent, prevHash: [UInt8]) -> [UInt8] {
        var sha = SHA256()
        sha.update(prevHash)
        sha.update(utf8: text(e))
        return sha.finalize()
    }

    /// The `prevHash` of a stream's first event.
    public static let genesis = [UInt8](repeating: 0, count: 32)
}

/// What `verify` found.
public struct VerificationReport: Sendable, Equatable {
    /// The first event (or stream) that does not verify.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var stream: String
        /// The version at fault, or nil when the problem is the stream as a whole.
        public var version: Int64?
        public var eventId: UUID?
        public var reason: String
        public var description: String {
            "\(stream)\(version.map { "@\($0)" } ?? "")\(eventId.map { " (event \($0.uuidString.lowercased()))" } ?? ""): \(reason)"
        }
    }

    public var events: Int64
    public var streams: Int64
    public var problem: Problem?
    public var valid: Bool { problem == nil }
    /// The head hash of the (last) verified stream, for single-stream verification.
    public var headHash: [UInt8]?
}

extension EventStore {
    /// Recomputes every hash chain (or one stream's) in Swift, and checks each stream's head against
    /// the streams table. Stops at the first event that does not match and names it. Reads the
    /// heads and every page in one `REPEATABLE READ` snapshot, so that appends meanwhile (the
    /// watcher's notices, a busy service) never look like a removed tail.
    public func verify(stream only: StreamName? = nil, pageSize: Int = 2000) async throws -> VerificationReport {
        try await inOneSnapshot { c in try await Self.verify(stream: only, pageSize: pageSize, on: c) }
    }

    private static func verify(stream only: StreamName?, pageSize: Int, on c: Connection) async throws
        -> VerificationReport
    {
        var report = VerificationReport(events: 0, streams: 0, problem: nil, headHash: nil)
        var afterStream = only.map { $0.rawValue } ?? ""
        var afterVersion: Int64 = 0
        var current: (stream: String, version: Int64, hash: [UInt8])? = nil
        var heads = try await streamHeads(only: only, on: c)

        func finish(_ c: (stream: String, version: Int64, hash: [UInt8])) -> VerificationReport.Problem? {
            guard let head = heads.removeValue(forKey: c.stream) else {
                return .init(
                    stream: c.stream, version: nil, eventId: nil, reason: "stream missing from the streams table")
            }
            if head.version != c.version {
                return .init(
                    stream: c.stream, version: c.version, eventId: nil,
                    reason:
                        "the stream's recorded version is \(head.version) but its last event is version \(c.version): events are missing"
                )
            }
            if head.hash != c.hash {
                return .init(
                    stream: c.stream, version: c.version, eventId: nil,
                    reason: "head hash differs from the streams table")
            }
            return nil
        }

        while true {
            let sql: SQL
            if let only {
                sql = """
                    SELECT \(unescaped: Self.columns) FROM handoff.events
                     WHERE stream = \(only.rawValue) AND version > \(afterVersion) ORDER BY version LIMIT \(pageSize)
                    """
            } else {
                sql = """
                    SELECT \(unescaped: Self.columns) FROM handoff.events
                     WHERE (stream, version) > (\(afterStream), \(afterVersion))
                     ORDER BY stream, version LIMIT \(pageSize)
                    """
            }
            let page = try Self.decodeEvents(try await c.query(sql))
            for e in page {
                if current?.stream != e.stream {
                    if let c = current, let p = finish(c) {
                        report.problem = p
                        return report
                    }
                    current = (e.stream, 0, CanonicalEvent.genesis)
                    report.streams += 1
                }
                let expectedVersion = current!.version + 1
                let problem: String?
                if e.version != expectedVersion {
                    problem = "version \(expectedVersion) is missing (found \(e.version) next)"
                } else if e.prevHash != current!.hash {
                    problem = "prevHash does not match the previous event's hash"
                } else if CanonicalEvent.hash(e, prevHash: e.prevHash) != e.hash {
                    problem = "hash does not match the event's content"
                } else {
                    problem = nil
                }
                if let problem {
                    report.problem = .init(stream: e.stream, version: e.version, eventId: e.id, reason: problem)
                    return report
                }
                current = (e.stream, e.version, e.hash)
                report.events += 1
                afterStream = e.stream
                afterVersion = e.version
            }
            if page.count < pageSize { break }
        }
        if let c = current {
            report.headHash = c.hash
            if let p = finish(c) {
                report.problem = p
                return report
            }
        }
        // Every row left over, not just the first: an empty row added in front of a removed stream
        // hid it (an auditor's pass).
        if let (stream, head) = heads.filter({ $0.value.version > 0 }).min(by: { $0.key < $1.key }) {
            report.problem = .init(
                stream: stream, version: nil, eventId: nil,
                reason: "the streams table records version \(head.version) but the stream has no events")
            return report
        }
        report.problem = try await timeOfRecordProblem(only: only, on: c)
        return report
    }

    /// What the chains cannot show of the time of record: a stream's `last_recorded_at` (where the
    /// next append's time of record starts: moved ahead, it dates every later event of the stream
    /// ahead, an auditor's pass found) that is not its last event's, and an event recorded after
    /// this check began (five minutes allowed for a standby's clock).
    private static func timeOfRecordProblem(only: StreamName?, on c: Connection) async throws
        -> VerificationReport.Problem?
    {
        let moved = try await c.query(
            """
            SELECT s.stream FROM handoff.streams s
              JOIN LATERAL (SELECT recorded_at FROM handoff.events e WHERE e.stream = s.stream
                             ORDER BY e.version DESC LIMIT 1) l ON true
             WHERE (\(only?.rawValue)::text IS NULL OR s.stream = \(only?.rawValue))
               AND s.last_recorded_at IS NOT NULL AND s.last_recorded_at <> l.recorded_at
             ORDER BY s.stream COLLATE "C" LIMIT 1
            """)
        if let row = moved.first {
            return .init(
                stream: try row.decode(0), version: nil, eventId: nil,
                reason: "the streams table's last_recorded_at is not its last event's time of record")
        }
        let future = try await c.query(
            """
            SELECT stream, version, id FROM handoff.events
             WHERE (\(only?.rawValue)::text IS NULL OR stream = \(only?.rawValue))
               AND recorded_at > now() + interval '5 minutes'
             ORDER BY stream COLLATE "C", version LIMIT 1
            """)
        if let row = future.first {
            return .init(
                stream: try row.decode(0), version: try row.decode(1), eventId: try row.decode(2, as: UUID.self),
                reason:
                    "recorded after this check began: the time of record was moved, or this server's clock is "
                    + "behind the one that recorded it")
        }
        return nil
    }

    /// A case's record as its history gives it: the case stream and the stream of its `sop-`
    /// notices, each chain recomputed. The report is the case stream's (its events and head hash),
    /// with the notices' problem when the case stream has none; `notices` is how many notices
    /// were recomputed. Nil for a string that is no case id.
    public func verifyCase(_ caseId: String) async throws -> (report: VerificationReport, notices: Int64)? {
        guard let stream = StreamName.case(caseId), let sop = StreamName.sop(caseId) else { return nil }
        var report = try await verify(stream: stream)
        let notices = try await verify(stream: sop)
        if report.problem == nil { report.problem = notices.problem }
        return (report, notices.events)
    }

    private static func streamHeads(only: StreamName?, on c: Connection) async throws
        -> [String: (version: Int64, hash: [UInt8])]
    {
        let result = try await c.query(
            "SELECT stream, version, head_hash FROM handoff.streams WHERE \(only?.rawValue)::text IS NULL OR stream = \(only?.rawValue)"
        )
        var heads: [String: (version: Int64, hash: [UInt8])] = [:]
        for row in result.all {
            heads[try row.decode(0)] = (try row.decode(1), try row.decode(2, as: ByteA.self).bytes)
        }
        return heads
    }
}
