import Crypto
import Foundation
import Postgres

/// The secret the server derives system event ids with (docs/system-events.md).
///
/// A system event's id is `HMAC-SHA-256(secret, identity)` cut to a UUID: the same identity under
/// the same key always gives the same id (so a retried append is recognised), and nobody without
/// the key can compute it in advance (so no client can take the id first). Keys are stored in
/// `handoff.system_event_keys`, readable by the service role only; `description`, `debugDescription`
/// and `dump` show the key's number, never its secret.
///
/// ```swift
/// let key = try await SystemEventKey.current(pool)
/// let id = key.eventId(type: "SopDeadlineMissed", identity: [caseId, rulesetId, ruleId, trigger])
/// ```
public struct SystemEventKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The key's number: 1 for the key `handoff migrate` creates, one more for each rotation.
    public let id: Int
    private let secret: [UInt8]

    /// Length of a generated secret in bytes (the SHA-256 output size, as RFC 2104 recommends).
    public static let secretByteCount = 32

    /// - Precondition: `secret` has at least 32 bytes.
    public init(id: Int, secret: [UInt8]) {
        precondition(secret.count >= Self.secretByteCount, "a system event key needs at least 32 bytes")
        self.id = id
        self.secret = secret
    }

    public var description: String { "system event key \(id)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["id": id]) }

    /// The id of the system event of `type` identified by `identity` (e.g. a notice's case,
    /// ruleset series, rule and trigger): a UUID of version 8 (RFC 9562, custom) whose other 122
    /// bits are the first bits of `HMAC-SHA-256(secret, message)`. The message is each of
    /// `handoff-system-event-id-v1`, `type` and the identity's parts as a netstring
    /// (`<byte length>:<UTF-8 bytes>,`), so no two identities share a message.
    public func eventId(type: String, identity: [String]) -> UUID {
        var b = Array(mac([Self.domain, type] + identity).prefix(16))
        b[6] = (b[6] & 0x0F) | 0x80  // version 8
        b[8] = (b[8] & 0x3F) | 0x80  // RFC 9562 variant
        return UUID(
            uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
        )
    }

    /// Separates these ids from any other use of the key.
    static let domain = "handoff-system-event-id-v1"

    /// A key for another use of this secret, named by `purpose` (e.g. sealing one-time-code
    /// secrets, docs/operations.md "Accounts"): `HMAC-SHA-256(secret, "handoff-derived-key-v1" ‖
    /// purpose)` with both as netstrings, so it never equals an event id's MAC and tells nothing
    /// about the secret or about another purpose's key.
    public func derivedKey(purpose: String) -> [UInt8] { mac(["handoff-derived-key-v1", purpose]) }

    /// `HMAC-SHA-256(secret, …)` over `parts`, each as a netstring (`<byte length>:<UTF-8 bytes>,`).
    private func mac(_ parts: [String]) -> [UInt8] {
        var mac = HMACSHA256(key: secret)
        for part in parts {
            let bytes = Array(part.utf8)
            mac.update(utf8: "\(bytes.count):")
            mac.update(bytes)
            mac.update(utf8: ",")
        }
        return mac.finalize()
    }
}

// MARK: - Storage

extension SystemEventKey {
    /// Why no key could be had.
    public enum KeyError: Error, Sendable, CustomStringConvertible {
        /// `handoff.system_event_keys` is empty or missing: the database was not migrated.
        case missing

        public var description: String {
            "no system event key in the database: run `handoff migrate` (it creates one)"
        }
    }

    /// The current key: the one with the highest number.
    /// - Throws: `KeyError.missing` before `handoff migrate`; `EventStoreError.unavailable` in an outage.
    public static func current(_ pool: ConnectionPool) async throws -> SystemEventKey {
        let row: Row?
        do {
            row = try await pool.query(
                "SELECT key_id, secret FROM handoff.system_event_keys ORDER BY key_id DESC LIMIT 1"
            ).first
        } catch let error as PostgresError where error.sqlState == "42P01" {
            throw KeyError.missing
        } catch {
            throw EventStoreError.from(error)
        }
        guard let row else { throw KeyError.missing }
        return SystemEventKey(id: try row.decode(0), secret: try row.decode(1, as: ByteA.self).bytes)
    }

    /// The key with this number, or nil when there is none.
    /// - Throws: `EventStoreError.unavailable` in an outage.
    public static func key(id: Int, _ pool: ConnectionPool) async throws -> SystemEventKey? {
        do {
            let row = try await pool.query("SELECT secret FROM handoff.system_event_keys WHERE key_id = \(id)").first
            return try row.map { SystemEventKey(id: id, secret: try $0.decode(0, as: ByteA.self).bytes) }
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// The current key of `store`'s database (see ``current(_:)``).
    public static func current(of store: EventStore) async throws -> SystemEventKey {
        try await current(store.pool)
    }

    /// Adds a new key (the next number, 32 fresh bytes from ``SecureRandom``) that becomes the
    /// current one; older keys stay. Needs the owner role that runs `handoff migrate`. Returns the
    /// new key's number.
    ///
    /// Rotating never duplicates a system event: writers recognise an event that exists by its
    /// content in its stream, not by its id (see ``SystemEventWriter``).
    @discardableResult
    public static func rotate(on connection: Connection) async throws -> Int {
        let secret = ByteA(SecureRandom.bytes(secretByteCount))
        let row = try await connection.query(
            """
            INSERT INTO handoff.system_event_keys (key_id, secret)
            SELECT coalesce(max(key_id), 0) + 1, \(secret) FROM handoff.system_event_keys
            RETURNING key_id
            """
        ).first
        return try row!.decode(0)
    }

    /// Creates key 1 when there is none (`handoff migrate` calls it after the migrations, under the
    /// migrators' lock). Does nothing before migration 0012 created the table. Returns whether it
    /// created the key.
    @discardableResult
    static func createIfNone(on connection: Connection) async throws -> Bool {
        let exists = try await connection.query("SELECT to_regclass('handoff.system_event_keys') IS NOT NULL")
        guard try exists.first?.decode(0, as: Bool.self) == true else { return false }
        let secret = ByteA(SecureRandom.bytes(secretByteCount))
        let created = try await connection.query(
            """
            INSERT INTO handoff.system_event_keys (key_id, secret)
            SELECT 1, \(secret) WHERE NOT EXISTS (SELECT 1 FROM handoff.system_event_keys)
            RETURNING key_id
            """)
        return created.first != nil
    }
}
