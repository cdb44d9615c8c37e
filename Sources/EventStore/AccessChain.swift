import Crypto
import Foundation
import Postgres

/// One row of the access log as it is chained (docs/hash-chain.md, section 8).
public struct AccessLogRow: Sendable, Equatable {
    /// 1, 2, 3 … through the whole log, in commit order.
    public var seq: Int64
    /// 1, 2, 3 … among the rows of the same case.
    public var caseSeq: Int64
    /// UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (exactly six fraction digits), as the canonical bytes hold it.
    public var at: String
    public var outcome: String
    public var role: String
    public var institution: String?
    public var user: String
    public var caseId: String
    public var endpoint: String
    public var prevHash: [UInt8]
    public var casePrevHash: [UInt8]
    public var hash: [UInt8]

    public init(
        seq: Int64, caseSeq: Int64, at: String, outcome: String, role: String, institution: String?, user: String,
        caseId: String, endpoint: String, prevHash: [UInt8], casePrevHash: [UInt8], hash: [UInt8]
    ) {
        self.seq = seq
        self.caseSeq = caseSeq
        self.at = at
        self.outcome = outcome
        self.role = role
        self.institution = institution
        self.user = user
        self.caseId = caseId
        self.endpoint = endpoint
        self.prevHash = prevHash
        self.casePrevHash = casePrevHash
        self.hash = hash
    }
}

/// The canonical bytes of an access-log row and its chained hash (docs/hash-chain.md, section 8).
public enum CanonicalAccessRow {
    /// The ten fields joined by LF, no LF at the end: the format literal, seq, case_seq, at,
    /// outcome, role, institution (empty when none), user, case id, endpoint.
    public static func text(_ r: AccessLogRow) -> String {
        "handoff-access-v1\n\(r.seq)\n\(r.caseSeq)\n\(r.at)\n\(r.outcome)\n\(r.role)\n\(r.institution ?? "")\n"
            + "\(r.user)\n\(r.caseId)\n\(r.endpoint)"
    }

    /// SHA-256(prevHash ‖ casePrevHash ‖ canonical bytes), over the row's stored links.
    public static func hash(_ r: AccessLogRow) -> [UInt8] {
        var sha = SHA256()
        sha.update(r.prevHash)
        sha.update(r.casePrevHash)
        sha.update(utf8: text(r))
        return sha.finalize()
    }

    /// The links of the first row (of the log, or of a case).
    public static let genesis = [UInt8](repeating: 0, count: 32)
}

/// What verifying the access log (or one case's part of it) found.
public struct AccessLogReport: Sendable, Equatable {
    /// The first row that does not verify.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// The row at fault, or nil when the problem is the log's (or the case's) end as a whole.
        public var seq: Int64?
        public var caseId: String?
        public var reason: String
        public var description: String {
            "access log" + (seq.map { " row \($0)" } ?? "") + (caseId.map { " (case \($0))" } ?? "") + ": \(reason)"
        }
    }

    /// Rows checked.
    public var rows: Int64
    /// The newest row checked: its seq and hash.
    public var headSeq: Int64
    public var headHash: [UInt8]
    public var problem: Problem?
    public var valid: Bool { problem == nil }
}

extension EventStore {
    static let accessColumns: StaticString = """
        seq, case_seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), outcome, role, institution,
        "user", case_id, endpoint, prev_hash, case_prev_hash, hash
        """

    static func decodeAccessRows(_ result: QueryResult) throws -> [AccessLogRow] {
        try result.all.map { row in
            AccessLogRow(
                seq: try row.decode(0), caseSeq: try row.decode(1), at: try row.decode(2), outcome: try row.decode(3),
                role: try row.decode(4), institution: try row.decodeOptional(5), user: try row.decode(6),
                caseId: try row.decode(7), endpoint: try row.decode(8),
                prevHash: try row.decode(9, as: ByteA.self).bytes,
                casePrevHash: try row.decode(10, as: ByteA.self).bytes, hash: try row.decode(11, as: ByteA.self).bytes)
        }
    }

    /// Recomputes the whole access-log chain in `seq` order, page by page: every seq present
    /// (1, 2, 3 …), every `prevHash` the previous row's hash, every `casePrevHash` the previous
    /// row of the same case's hash and `caseSeq` one more than it, every hash matching the row's
    /// content; then the log's head row and each case's head against the last rows. Stops at the
    /// first row that does not verify and names it. Reads every page and the heads in one
    /// `REPEATABLE READ` snapshot, as ``verify(stream:pageSize:)`` does: a row committed between
    /// reading the rows and reading the heads would look like a removed tail (attack pass 25 had
    /// an institution's refused reads of a case, each a `denied` row, make the auditor's check
    /// report rows removed from an intact log).
    public func verifyAccessLog(pageSize: Int = 5000) async throws -> AccessLogReport {
        try await inOneSnapshot { c in try await Self.verifyAccessLog(pageSize: pageSize, on: c) }
    }

    private static func verifyAccessLog(pageSize: Int, on c: Connection) async throws -> AccessLogReport {
        var report = AccessLogReport(rows: 0, headSeq: 0, headHash: CanonicalAccessRow.genesis, problem: nil)
        var cases: [String: (caseSeq: Int64, hash: [UInt8])] = [:]
        // Paged by seq from the very bottom: a row slipped in below 1 is read too.
        var after = Int64.min
        while true {
            let page: [AccessLogRow]
            do {
                page = try Self.decodeAccessRows(
                    try await c.query(
                        """
                        SELECT \(unescaped: Self.accessColumns) FROM handoff.access_log
                         WHERE seq > \(after) ORDER BY seq LIMIT \(pageSize)
                        """))
            } catch { throw EventStoreError.from(error) }
            for r in page {
                let before = cases[r.caseId] ?? (0, CanonicalAccessRow.genesis)
                let reason: String?
                if r.seq <= report.headSeq {
                    reason = "seq \(r.seq) does not follow row \(report.headSeq)"
                } else if r.seq != report.headSeq + 1 {
                    reason = "rows \(report.headSeq + 1)…\(r.seq - 1) are missing"
                } else if r.prevHash != report.headHash {
                    reason = "prev_hash does not match the previous row's hash"
                } else if r.caseSeq != before.caseSeq + 1 {
                    reason = "case_seq is \(r.caseSeq), the case's previous row has \(before.caseSeq)"
                } else if r.casePrevHash != before.hash {
                    reason = "case_prev_hash does not match the case's previous row's hash"
                } else if CanonicalAccessRow.hash(r) != r.hash {
                    reason = "hash does not match the row's content"
                } else {
                    reason = nil
                }
                if let reason {
                    report.problem = .init(seq: r.seq, caseId: r.caseId, reason: reason)
                    return report
                }
                cases[r.caseId] = (r.caseSeq, r.hash)
                after = r.seq
                report.rows += 1
                report.headSeq = r.seq
                report.headHash = r.hash
            }
            if page.count < pageSize { break }
        }
        let (head, caseHeads) = try await accessHeads(caseId: nil, on: c)
        if head.seq != report.headSeq || head.hash != report.headHash {
            report.problem = .init(
                seq: nil, caseId: nil,
                reason: head.seq > report.headSeq
                    ? "the log's head records row \(head.seq) but the last row is \(report.headSeq): rows were removed from the end"
                    : "the log's head (row \(head.seq)) does not match its last row (\(report.headSeq))")
            return report
        }
        for caseId in Set(cases.keys).union(caseHeads.keys).sorted() {
            if let problem = Self.compareCaseHead(caseId, last: cases[caseId], recorded: caseHeads[caseId]) {
                report.problem = problem
                return report
            }
        }
        return report
    }

    /// Checks one case's rows of the access log on their own: `caseSeq` 1, 2, 3 …, each
    /// `casePrevHash` the previous row's hash, each hash matching the row's content, and the last
    /// row against the case's recorded head. (Rows of other cases are not read: `handoff verify`
    /// checks the whole chain.) The rows and the case's head are read in one snapshot
    /// (``verifyAccessLog(pageSize:)``).
    public func verifyAccessRecord(caseId: String) async throws -> AccessLogReport {
        try await inOneSnapshot { c in try await Self.verifyAccessRecord(caseId: caseId, on: c) }
    }

    private static func verifyAccessRecord(caseId: String, on c: Connection) async throws -> AccessLogReport {
        var report = AccessLogReport(rows: 0, headSeq: 0, headHash: CanonicalAccessRow.genesis, problem: nil)
        let rows: [AccessLogRow]
        do {
            rows = try Self.decodeAccessRows(
                try await c.query(
                    """
                    SELECT \(unescaped: Self.accessColumns) FROM handoff.access_log
                     WHERE case_id = \(caseId) ORDER BY seq
                    """))
        } catch { throw EventStoreError.from(error) }
        var caseSeq: Int64 = 0
        for r in rows {
            let reason: String?
            if r.caseSeq != caseSeq + 1 {
                reason =
                    r.caseSeq > caseSeq + 1
                    ? "the case's rows \(caseSeq + 1)…\(r.caseSeq - 1) are missing"
                    : "case_seq is \(r.caseSeq) after \(caseSeq)"
            } else if r.casePrevHash != report.headHash {
                reason = "case_prev_hash does not match the case's previous row's hash"
            } else if CanonicalAccessRow.hash(r) != r.hash {
                reason = "hash does not match the row's content"
            } else {
                reason = nil
            }
            if let reason {
                report.problem = .init(seq: r.seq, caseId: caseId, reason: reason)
                return report
            }
            caseSeq = r.caseSeq
            report.rows += 1
            report.headSeq = r.seq
            report.headHash = r.hash
        }
        let (_, caseHeads) = try await accessHeads(caseId: caseId, on: c)
        report.problem = Self.compareCaseHead(
            caseId, last: rows.isEmpty ? nil : (caseSeq, report.headHash), recorded: caseHeads[caseId])
        return report
    }

    static func compareCaseHead(
        _ caseId: String, last: (caseSeq: Int64, hash: [UInt8])?, recorded: (caseSeq: Int64, hash: [UInt8])?
    ) -> AccessLogReport.Problem? {
        switch (last, recorded) {
        case (nil, nil): return nil
        case (nil, let recorded?):
            return .init(
                seq: nil, caseId: caseId,
                reason: "the case's head records \(recorded.caseSeq) rows but none are left: its rows were removed")
        case (let last?, nil):
            return .init(seq: nil, caseId: caseId, reason: "the case has rows but no recorded head")
        case (let last?, let recorded?):
            if recorded.caseSeq > last.caseSeq {
                return .init(
                    seq: nil, caseId: caseId,
                    reason: "the case's head records \(recorded.caseSeq) rows but the last is \(last.caseSeq): "
                        + "its newest rows were removed")
            }
            if recorded.caseSeq != last.caseSeq || recorded.hash != last.hash {
                return .init(seq: nil, caseId: caseId, reason: "the case's last row does not match its recorded head")
            }
            return nil
        }
    }

    /// The log's head (seq, hash) and the recorded heads of every case (or of one).
    static func accessHeads(caseId: String?, on c: Connection) async throws -> (
        head: (seq: Int64, hash: [UInt8]), cases: [String: (caseSeq: Int64, hash: [UInt8])]
    ) {
        do {
            let head = try await c.query("SELECT seq, hash FROM handoff.access_log_head")
            guard let row = head.first else {
                throw EventStoreError.database("the access log has no head row")
            }
            let result = try await c.query(
                """
                SELECT case_id, case_seq, hash FROM handoff.access_case_heads
                 WHERE \(caseId)::text IS NULL OR case_id = \(caseId)
                """)
            var cases: [String: (caseSeq: Int64, hash: [UInt8])] = [:]
            for r in result.all { cases[try r.decode(0)] = (try r.decode(1), try r.decode(2, as: ByteA.self).bytes) }
            return ((try row.decode(0), try row.decode(1, as: ByteA.self).bytes), cases)
        } catch { throw EventStoreError.from(error) }
    }
}
