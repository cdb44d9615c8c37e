import Foundation
import EventStore
import Postgres

/// Durable subscriptions in `handoff.subscriptions`: name, owning institution, type filter and
/// the acknowledged cursor. A name is scoped by its owner (the key is (owner, name)): every
/// lookup names both, so one institution's names say nothing about another's.
public struct SubscriptionStore: Sendable {
    /// One subscription: its owner, its type filter (nil: every type) and its acknowledged cursor.
    public struct Subscription: Sendable {
        public var name: String
        public var owner: String
        public var types: [String]?
        public var cursor: Cursor

        public init(name: String, owner: String, types: [String]?, cursor: Cursor) {
            self.name = name
            self.owner = owner
            self.types = types
            self.cursor = cursor
        }
    }

    let pool: ConnectionPool

    public init(pool: ConnectionPool) { self.pool = pool }

    /// The subscription `name` of `owner`, or nil.
    public func load(_ name: String, owner: String) async throws -> Subscription? {
        let result = try await pool.query(
            """
            SELECT owner, types, cursor_xid::text, cursor_pos FROM handoff.subscriptions
             WHERE owner = \(owner) AND name = \(name)
            """)
        guard let row = result.first else { return nil }
        let typesText: String? = try row.decodeOptional(1)
        return Subscription(
            name: name, owner: try row.decode(0), types: typesText.map(Self.parseTextArray),
            cursor: Cursor(xid: try row.decode(2), position: try row.decode(3)))
    }

    /// The most subscriptions one institution keeps: an operator's pass created a thousand a
    /// second with one token, and nothing but SQL could take them away.
    public static let perOwner = 100

    /// Creates the subscription; false when the owner already has one of this name.
    /// - Throws: ``ServiceStoreError/tooManySubscriptions`` when the owner keeps ``perOwner``.
    public func create(_ name: String, owner: String, types: [String]?) async throws -> Bool {
        try await pool.withConnection { connection in
            try await connection.transaction { c in
                // One owner's creations one at a time, so that the count holds (others' go on).
                try await c.query(
                    "SELECT pg_advisory_xact_lock(hashtextextended('handoff.subscriptions/' || \(owner), 0))")
                let inserted = try await c.query(
                    """
                    INSERT INTO handoff.subscriptions (name, owner, types)
                    SELECT \(name), \(owner), \(types.map { PostgresArray.text($0) })::text[]
                     WHERE (SELECT count(*) FROM handoff.subscriptions WHERE owner = \(owner)) < \(Self.perOwner)
                    ON CONFLICT (owner, name) DO NOTHING RETURNING name
                    """)
                if !inserted.isEmpty { return true }
                let existing = try await c.query(
                    "SELECT 1 FROM handoff.subscriptions WHERE owner = \(owner) AND name = \(name)")
                guard !existing.isEmpty else { throw ServiceStoreError.tooManySubscriptions }
                return false
            }
        }
    }

    /// Deletes the subscription `name` of `owner`; false when it has none of this name.
    public func delete(_ name: String, owner: String) async throws -> Bool {
        !(try await pool.query(
            "DELETE FROM handoff.subscriptions WHERE owner = \(owner) AND name = \(name) RETURNING name"
        ).isEmpty)
    }

    public func setTypes(_ name: String, owner: String, types: [String]?) async throws {
        try await pool.query(
            """
            UPDATE handoff.subscriptions SET types = \(types.map { PostgresArray.text($0) })::text[]
             WHERE name = \(name) AND owner = \(owner)
            """)
    }

    public func acknowledge(_ name: String, owner: String, cursor: Cursor) async throws {
        try await pool.query(
            """
            UPDATE handoff.subscriptions SET cursor_xid = \(String(cursor.xid))::xid8, cursor_pos = \(cursor.position),
                   acked_at = clock_timestamp()
             WHERE name = \(name) AND owner = \(owner)
            """)
    }

    /// Parses PostgreSQL's text form of a `text[]` of type names (`{A,B}`: names need no quoting).
    public static func parseTextArray(_ text: String) -> [String] {
        let inner = text.dropFirst().dropLast()
        return inner.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
    }
}
