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
    /// The access log's head when the checkpoint was taken: its newest row's `seq` (0: no rows)
    /// and that row's hash, which chains every row before it. nil in a checkpoint of format 1,
    /// written before the access log was chained.
    public var access: AccessHead?

    /// The newest row of the access log: `seq` and hash (32 zero bytes when there is no row).
    public struct AccessHead: Sendable, Equatable {
        public var seq: Int64
        public var hash: String

        public init(seq: Int64, hash: String) {
            self.seq = seq
            self.hash = hash
        }
    }

    /// The format literal of a checkpoint that covers the access log (docs/hash-chain.md, section 9).
    public static let formatV2 = "handoff-checkpoint-v2"

    /// The checkpoint event's data, as stored and as an auditor keeps it. Format 2 (with the
    /// access log's head) names itself; format 1 has no `format` member.
    public var json: String {
        let format = access == nil ? "" : "\"format\":\"\(Self.formatV2)\","
        let accessMembers = access.map { ",\"accessSeq\":\($0.seq),\"accessHash\":\"\($0.hash)\"" } ?? ""
        return "{\(format)\"cursor\":\"\(cursor)\",\"xid\":\"\(cursor.xid)\",\"position\":\(cursor.position),"
            + "\"count\":\(count),\"streams\":\(streams),\"headsDigest\":\"\(headsDigest)\"\(accessMembers)}"
    }

    /// The checkpoint event itself, when it was read from the whole event as `handoff checkpoint`
    /// prints it: its version in the `checkpoints` stream and its hash, which must still be there.
    public var event: Stored?

    /// Where a checkpoint event is in the `checkpoints` stream, and its hash.
    public struct Stored: Sendable, Equatable {
        public var version: Int64
        public var hash: String

        public init(version: Int64, hash: String) {
            self.version = version
            self.hash = hash
        }
    }

    /// Reads a checkpoint from its data object, or from a whole checkpoint event holding it under
    /// `data` (then its `version` and `hash` too, when it names them as the `checkpoints` stream's).
    /// The covered set is the one its `xid` and `position` name (docs/hash-chain.md, section 5;
    /// `cursor`, the same pair for API clients, is not needed). A `format` other than the ones
    /// this build knows is refused, not half-read.
    public init?(json: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { return nil }
        let data = (object["data"] as? [String: Any]) ?? object
        guard let xidText = data["xid"] as? String, xidText.count <= 20, xidText.allSatisfy(\.isASCII),
            let xid = UInt64(xidText), let position = (data["position"] as? NSNumber)?.int64Value, position >= 0,
            let count = (data["count"] as? NSNumber)?.int64Value,
            let streams = (data["streams"] as? NSNumber)?.int64Value,
            let digest = data["headsDigest"] as? String, SHA256.bytes(fromHex: digest)?.count == 32
        else { return nil }
        var access: AccessHead?
        if let format = data["format"] {
            guard format as? String == Self.formatV2, let seq = (data["accessSeq"] as? NSNumber)?.int64Value, seq >= 0,
                let hash = data["accessHash"] as? String, SHA256.bytes(fromHex: hash)?.count == 32
            else { return nil }
            access = AccessHead(seq: seq, hash: hash.lowercased())
        }
        self.init(
            cursor: Cursor(xid: xid, position: position), count: count, streams: streams, headsDigest: digest,
            access: access)
        if object["data"] is [String: Any] {
            guard object["stream"] == nil || object["stream"] as? String == StreamName.checkpoints.rawValue else {
                return nil
            }
            if let version = (object["version"] as? NSNumber)?.int64Value, let hash = object["hash"] as? String {
                guard version >= 1, SHA256.bytes(fromHex: hash)?.count == 32 else { return nil }
                event = Stored(version: version, hash: hash.lowercased())
            }
        }
    }

    public init(cursor: Cursor, count: Int64, streams: Int64, headsDigest: String, access: AccessHead? = nil) {
        self.cursor = cursor
        self.count = count
        self.streams = streams
        self.headsDigest = headsDigest
        self.access = access
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
        try await inOneSnapshot { c in
            let head = try await c.query(
                """
                SELECT xid::text AS xid_text, position FROM handoff.events
                 WHERE \(unescaped: EventStore.readable) AND stream <> 'checkpoints'
                 ORDER BY events.xid DESC, events.position DESC LIMIT 1
                """)
            let cursor =
                try head.first.map { Cursor(xid: try $0.decode(0), position: try $0.decode(1)) } ?? .start
            let heads = try await Self.heads(upTo: cursor, on: c)
            // The access log's head in the same snapshot: its rows commit in seq order
            // with the head, so every row up to it is visible here and stays so.
            let access = try await c.query("SELECT seq, hash FROM handoff.access_log_head")
            var checkpoint = Self.checkpoint(cursor: cursor, heads: heads.heads, count: heads.count)
            checkpoint.access = try access.first.map {
                Checkpoint.AccessHead(
                    seq: try $0.decode(0), hash: try $0.decode(1, as: ByteA.self).bytes.hexString)
            }
            return (checkpoint, heads.heads)
        }
    }

    static func checkpoint(cursor: Cursor, heads: [StreamHead], count: Int64) -> Checkpoint {
        var sha = SHA256()
        for h in heads { sha.update(utf8: h.line) }
        return Checkpoint(
            cursor: cursor, count: count, streams: Int64(heads.count), headsDigest: sha.finalize().hexString)
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
                StreamHead(
                    stream: try row.decode(0), version: try row.decode(1), hash: try row.decode(2, as: ByteA.self).bytes
                ))
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
        let (heads, count) = try await inOneSnapshot { try await Self.heads(upTo: saved.cursor, on: $0) }
        let now = Self.checkpoint(cursor: saved.cursor, heads: heads, count: count)
        var findings: [String] = []
        if now.count != saved.count { findings.append("events covered: \(now.count), checkpoint says \(saved.count)") }
        if now.streams != saved.streams {
            findings.append("streams covered: \(now.streams), checkpoint says \(saved.streams)")
        }
        if now.headsDigest != saved.headsDigest { findings.append("heads digest differs from the checkpoint") }
        if let event = saved.event {
            findings += try await compareCheckpointEvent(version: event.version, hash: event.hash)
        }
        if let access = saved.access {
            findings += try await compareAccessLog(with: access)
        }
        if let savedHeads {
            let current = Dictionary(heads.map { ($0.stream, $0) }, uniquingKeysWith: { a, _ in a })
            for h in savedHeads {
                guard let c = current[h.stream] else {
                    findings.append("stream \(h.stream) is missing (checkpoint had \(h.version) events)")
                    continue
                }
                if c.version < h.version {
                    findings.append(
                        "stream \(h.stream) ends at version \(c.version), checkpoint had \(h.version): its tail was removed"
                    )
                } else if c.version > h.version {
                    findings.append(
                        "stream \(h.stream) has versions \(h.version + 1)…\(c.version) inside the checkpoint's range, "
                            + "which ended at version \(h.version): events were inserted")
                } else if c.hash != h.hash {
                    findings.append(
                        "stream \(h.stream) version \(h.version) has a different hash than at the checkpoint")
                }
            }
            let savedNames = Set(savedHeads.map(\.stream))
            for h in heads where !savedNames.contains(h.stream) {
                findings.append("stream \(h.stream) was not covered by the checkpoint but now is: inserted before it")
            }
        }
        return CheckpointComparison(matches: findings.isEmpty, findings: findings)
    }

    /// The saved checkpoint event against the `checkpoints` stream: `checkpoints@version` must still
    /// be there with the same hash (docs/hash-chain.md, section 6), or the checkpoint was removed
    /// or rewritten.
    func compareCheckpointEvent(version: Int64, hash: String) async throws -> [String] {
        guard let event = try await checkpointEvent(at: version) else {
            return ["checkpoint event checkpoints@\(version) is missing: checkpoints were removed"]
        }
        guard event.hash.hexString == hash else {
            return ["checkpoint event checkpoints@\(version) has a different hash than the saved one: it was rewritten"]
        }
        return []
    }

    /// The newest checkpoint stored in the `checkpoints` stream, recomputed against the store as it
    /// is now (nil when there is none, or its data is not a checkpoint). With intact chains, a
    /// mismatch means events it covers were removed, inserted or re-chained by someone who left
    /// the `checkpoints` stream alone; a copy kept off-site is what catches the rest (section 6).
    public func compareNewestStoredCheckpoint() async throws -> (version: Int64, comparison: CheckpointComparison)? {
        let version = try await self.version(of: .checkpoints)
        guard version > 0, let event = try await checkpointEvent(at: version) else { return nil }
        guard let stored = Checkpoint(json: Data(event.data.utf8)) else {
            return (
                event.version,
                CheckpointComparison(
                    matches: false,
                    findings: ["checkpoints@\(event.version) does not hold a checkpoint this build reads"])
            )
        }
        return (event.version, try await compare(with: stored))
    }

    /// `checkpoints@version`, or nil when the stream has no such event.
    private func checkpointEvent(at version: Int64) async throws -> RecordedEvent? {
        try await read(stream: .checkpoints, fromVersion: version, limit: 1).first { $0.version == version }
    }

    /// The access log against a checkpoint's record of its head: row `seq` must still be there
    /// with the same hash, and so must every row before it (with an intact chain — see
    /// ``verifyAccessLog(pageSize:)`` — that hash then proves every earlier row unchanged).
    func compareAccessLog(with saved: Checkpoint.AccessHead) async throws -> [String] {
        guard saved.seq > 0 else { return [] }
        do {
            let result = try await pool.query(
                """
                SELECT (SELECT hash FROM handoff.access_log WHERE seq = \(saved.seq)),
                       (SELECT count(*) FROM handoff.access_log WHERE seq <= \(saved.seq))
                """)
            let row = result.first!
            let hash = try row.decodeOptional(0, as: ByteA.self)?.bytes
            let count: Int64 = try row.decode(1)
            var findings: [String] = []
            if hash == nil {
                findings.append(
                    "access log row \(saved.seq), the head at the checkpoint, is missing: rows were removed")
            } else if hash!.hexString != saved.hash {
                findings.append(
                    "access log row \(saved.seq) has a different hash than at the checkpoint: "
                        + "rows up to it were changed")
            }
            if count != saved.seq {
                findings.append("access log rows covered: \(count), checkpoint covers \(saved.seq)")
            }
            return findings
        } catch { throw EventStoreError.from(error) }
    }

    /// Parses saved heads (the lines the digest was computed over).
    public static func parseHeads(_ text: String) -> [StreamHead]? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var out: [StreamHead] = []
        var i = 0
        while i + 2 < lines.count {
            guard let v = Int64(lines[i + 1]), let hash = SHA256.bytes(fromHex: String(lines[i + 2])) else {
                return nil
            }
            out.append(StreamHead(stream: String(lines[i]), version: v, hash: hash))
            i += 3
        }
        // Nothing but the final newline after the last head: a file of one or two other lines (a
        // checkpoint's JSON given as the heads file) is no heads file, not one of no heads.
        guard lines[i...].allSatisfy(\.isEmpty) else { return nil }
        return out
    }
}
