import Crypto
import Foundation
import Postgres

/// A checkpoint: a summary of every event up to a point in the gap-free order, chained in the
/// `checkpoints` stream. Kept off-site, it lets an auditor prove later that nothing up to it was
/// removed or truncated — which per-stream chains alone cannot show (docs/hash-chain.md).
public struct Checkpoint: Sendable, Equatable {
    /// The last covered event in gap-free order.
    public var cursor: Cursor
    /// How many events (outside `checkpoints`) are covered.
    public var count: Int64
    /// How many streams are covered.
    public var streams: Int64
    /// SHA-256 over `stream LF version LF hex(hash) LF` of every covered stream's head, by stream name bytewise.
    public var headsDigest: String

    /// The checkpoint event's data, as stored and as an auditor keeps it.
    public var json: String {
        "{\"cursor\":\"\(cursor)\",\"xid\":\"\(cursor.xid)\",\"position\":\(cursor.position),\"count\":\(count),"
            + "\"streams\":\(streams),\"headsDigest\":\"\(headsDigest)\"}"
    }

    /// Reads a checkpoint from its data object, or from a whole checkpoint event holding it under `data`.
    public init?(json: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { return nil }
        let data = (object["data"] as? [String: Any]) ?? object
        guard let cursorText = data["cursor"] as? String, let cursor = Cursor(cursorText),
            let count = (data["count"] as? NSNumber)?.int64Value, let streams = (data["streams"] as? NSNumber)?.int64Value,
            let digest = data["headsDigest"] as? String, SHA256.bytes(fromHex: digest)?.count == 32
        else { return nil }
        self.init(cursor: cursor, count: count, streams: streams, headsDigest: digest)
    }

    public init(cursor: Cursor, count: Int64, streams: Int64, headsDigest: String) {
        self.cursor = cursor
        self.count = count
        self.streams = streams
        self.headsDigest = headsDigest
    }
}

/// One covered stream's head, the unit of the heads digest.
public struct StreamHead: Sendable, Equatable {
    public var stream: String
    public var version: Int64
    public var hash: [UInt8]
    /// `stream LF version LF hex(hash) LF`.
    public var line: String { "\(stream)\n\(version)\n\(hash.hexString)\n" }
}

/// What checking the store against a saved checkpoint found.
public struct CheckpointComparison: Sendable, Equatable {
    public var matches: Bool
    /// Human-readable findings: counts that differ, streams missing or shortened (when heads are known).
    public var findings: [String]
}

extension EventStore {
    /// Computes the summary of every event up to the newest one readable in gap-free order.
    public func summarize() async throws -> (Checkpoint, [StreamHead]) {
        do {
            return try await pool.withConnection { connection in
                try await connection.transaction(isolation: "REPEATABLE READ") { c in
                    let head = try await c.query(
                        """
                        SELECT xid::text AS xid_text, position FROM handoff.events
                         WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) AND stream <> 'checkpoints'
                         ORDER BY events.xid DESC, events.position DESC LIMIT 1
                        """)
                    let cursor = try head.first.map { Cursor(xid: try $0.decode(0), position: try $0.decode(1)) } ?? .start
                    let heads = try await Self.heads(upTo: cursor, on: c)
                    return (Self.checkpoint(cursor: cursor, heads: heads.heads, count: heads.count), heads.heads)
                }
            }
        } catch { throw EventStoreError.from(error) }
    }

    static func checkpoint(cursor: Cursor, heads: [StreamHead], count: Int64) -> Checkpoint {
        var sha = SHA256()
        for h in heads { sha.update(utf8: h.line) }
        return Checkpoint(cursor: cursor, count: count, streams: Int64(heads.count), headsDigest: sha.finalize().hexString)
    }

    static func heads(upTo cursor: Cursor, on c: Connection) async throws -> (heads: [StreamHead], count: Int64) {
        let result = try await c.query(
            """
            SELECT stream, version, hash, n FROM (
                SELECT stream COLLATE "C" AS stream, version, hash,
                       count(*) OVER (PARTITION BY stream) AS n,
                       row_number() OVER (PARTITION BY stream ORDER BY version DESC) AS r
                  FROM handoff.events
                 WHERE (xid, position) <= (\(String(cursor.xid))::xid8, \(cursor.position)) AND stream <> 'checkpoints'
            ) covered
             WHERE r = 1 ORDER BY stream
            """)
        var heads: [StreamHead] = []
        heads.reserveCapacity(result.count)
        var count: Int64 = 0
        for row in result.all {
            heads.append(
                StreamHead(stream: try row.decode(0), version: try row.decode(1), hash: try row.decode(2, as: ByteA.self).bytes))
            count += try row.decode(3, as: Int64.self)
        }
        return (heads, count)
    }

    /// Writes a checkpoint event to the `checkpoints` stream and returns it with the heads it covers.
    public func writeCheckpoint(actor: EventActor = EventActor(institution: "system", user: "checkpoint")) async throws
        -> (checkpoint: Checkpoint, heads: [StreamHead], appended: AppendResult)
    {
        let (checkpoint, heads) = try await summarize()
        let appended = try await append(
            to: .checkpoints, expected: .any,
            events: [NewEvent(type: "Checkpoint", data: checkpoint.json, metadata: EventMetadata(actor: actor))])
        return (checkpoint, heads, appended)
    }

    /// Recomputes a saved checkpoint against the store as it is now. With the saved heads (the
    /// lines the digest was computed over) it names each stream that is missing or shorter.
    public func compare(with saved: Checkpoint, savedHeads: [StreamHead]? = nil) async throws -> CheckpointComparison {
        let (heads, count): ([StreamHead], Int64)
        do {
            (heads, count) = try await pool.withConnection { c in
                try await c.transaction(isolation: "REPEATABLE READ") { try await Self.heads(upTo: saved.cursor, on: $0) }
            }
        } catch { throw EventStoreError.from(error) }
        let now = Self.checkpoint(cursor: saved.cursor, heads: heads, count: count)
        var findings: [String] = []
        if now.count != saved.count { findings.append("events covered: \(now.count), checkpoint says \(saved.count)") }
        if now.streams != saved.streams { findings.append("streams covered: \(now.streams), checkpoint says \(saved.streams)") }
        if now.headsDigest != saved.headsDigest { findings.append("heads digest differs from the checkpoint") }
        if let savedHeads {
            let current = Dictionary(heads.map { ($0.stream, $0) }, uniquingKeysWith: { a, _ in a })
            for h in savedHeads {
                guard let c = current[h.stream] else {
                    findings.append("stream \(h.stream) is missing (checkpoint had \(h.version) events)")
                    continue
                }
                if c.version < h.version {
                    findings.append("stream \(h.stream) ends at version \(c.version), checkpoint had \(h.version): its tail was removed")
                } else if c.version > h.version {
                    findings.append(
                        "stream \(h.stream) has versions \(h.version + 1)…\(c.version) inside the checkpoint's range, "
                            + "which ended at version \(h.version): events were inserted")
                } else if c.hash != h.hash {
                    findings.append("stream \(h.stream) version \(h.version) has a different hash than at the checkpoint")
                }
            }
            let savedNames = Set(savedHeads.map(\.stream))
            for h in heads where !savedNames.contains(h.stream) {
                findings.append("stream \(h.stream) was not covered by the checkpoint but now is: inserted before it")
            }
        }
        return CheckpointComparison(matches: findings.isEmpty, findings: findings)
    }

    /// Parses saved heads (the lines the digest was computed over).
    public static func parseHeads(_ text: String) -> [StreamHead]? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var out: [StreamHead] = []
        var i = 0
        while i + 2 < lines.count {
            guard let v = Int64(lines[i + 1]), let hash = SHA256.bytes(fromHex: String(lines[i + 2])) else { return nil }
            out.append(StreamHead(stream: String(lines[i]), version: v, hash: hash))
            i += 3
        }
        return out
    }
}
