import EventStore
import Foundation
import HTTP
import Postgres
import Referrals

/// Durable named subscriptions: the server keeps each one's acknowledged cursor.
extension QueryService {
    struct Subscription: Sendable {
        var name: String
        var owner: String
        var types: [String]?
        var cursor: Cursor

        var json: JSONValue {
            .object(
                JSONObject([
                    ("name", .string(name)), ("owner", .string(owner)),
                    ("types", types.map { .array($0.map(JSONValue.string)) } ?? .null),
                    ("cursor", .string(cursor.description)),
                ]))
        }
    }

    static func subscriptionName(_ params: RouteParameters) throws -> String {
        guard let name = params["name"], (1...64).contains(name.utf8.count),
            name.utf8.allSatisfy({
                ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46
                    || $0 == 95
            })
        else {
            throw ServiceError.badRequest(
                "A subscription name is 1-64 of A-Z, a-z, 0-9, '.', '_' and '-'.", field: "name")
        }
        return name
    }

    private func loadSubscription(_ name: String) async throws -> Subscription? {
        let result = try await pool.query(
            "SELECT owner, types, cursor_xid::text, cursor_pos FROM handoff.subscriptions WHERE name = \(name)")
        guard let row = result.first else { return nil }
        let typesText: String? = try row.decodeOptional(1)
        return Subscription(
            name: name, owner: try row.decode(0), types: typesText.map(Self.parseTextArray),
            cursor: Cursor(xid: try row.decode(2), position: try row.decode(3)))
    }

    /// The subscription, when the caller owns it. - Throws: 404, 403.
    private func ownedSubscription(_ name: String, by principal: Principal) async throws -> Subscription {
        guard let subscription = try await loadSubscription(name) else {
            throw ServiceError.notFound("No subscription with this name.")
        }
        guard principal.role == .institution, principal.institution == subscription.owner else {
            throw ServiceError.forbidden("Only the owner of a subscription may use it.")
        }
        return subscription
    }

    func putSubscription(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        let name = try Self.subscriptionName(params)
        guard principal.role == .institution, let institution = principal.institution else {
            throw ServiceError.forbidden("Only institutions own subscriptions.")
        }
        var types: [String]?
        if !request.body.isEmpty {
            try Self.requireJSON(request)
            let json: JSONValue
            do { json = try JSONValue.parse(request.body) } catch { throw ServiceError.from(error) }
            guard let object = json.objectValue else {
                throw ServiceError.badRequest("The body must be a JSON object.")
            }
            for key in object.keys where key != "types" {
                throw ServiceError.badRequest("Unknown field.", field: key)
            }
            if let value = object["types"], value != .null {
                guard let list = value.arrayValue, list.count <= 64,
                    let names = Optional(list.compactMap(\.stringValue)), names.count == list.count,
                    names.allSatisfy(EventStore.isValidType)
                else {
                    throw ServiceError.badRequest("types is an array of event type names.", field: "types")
                }
                types = names
            }
        }
        let typesArray = types.map { PostgresArray.text($0) }
        let inserted = try await pool.query(
            """
            INSERT INTO handoff.subscriptions (name, owner, types) VALUES (\(name), \(institution), \(typesArray)::text[])
            ON CONFLICT (name) DO NOTHING RETURNING name
            """)
        if !inserted.isEmpty {
            let created = Subscription(name: name, owner: institution, types: types, cursor: .start)
            return .json(.created, created.json.serialized())
        }
        var existing = try await ownedSubscription(name, by: principal)
        if let types, types != existing.types {
            try await pool.query(
                "UPDATE handoff.subscriptions SET types = \(typesArray)::text[] WHERE name = \(name) AND owner = \(institution)"
            )
            existing.types = types
        }
        return .json(.ok, existing.json.serialized())
    }

    func subscriptionEvents(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        let name = try Self.subscriptionName(params)
        let limit = try Self.limit(request, default: 100, maximum: 1000)
        let subscription = try await ownedSubscription(name, by: principal)
        let page = try await feed.page(
            after: subscription.cursor, limit: limit, types: subscription.types, for: principal)
        try await accessLog.record(
            principal, caseIds: VisibleFeed.caseIds(page.events), endpoint: Self.endpoint(request))
        return .json(.ok, Self.pageJSON(page.events, next: page.next))
    }

    func ackSubscription(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        let name = try Self.subscriptionName(params)
        var subscription = try await ownedSubscription(name, by: principal)
        try Self.requireJSON(request)
        let json: JSONValue
        do { json = try JSONValue.parse(request.body) } catch { throw ServiceError.from(error) }
        guard let object = json.objectValue, let text = object["cursor"]?.stringValue else {
            throw ServiceError.badRequest("The body is {\"cursor\": \"…\"}.", field: "cursor")
        }
        for key in object.keys where key != "cursor" { throw ServiceError.badRequest("Unknown field.", field: key) }
        guard let cursor = Cursor(text) else {
            throw ServiceError.badRequest("cursor is not a cursor this service returned.", field: "cursor")
        }
        // A cursor names an event that exists (or the start); anything further would skip events
        // not yet written. Compared with the newest position, not the gap-free head, which can
        // briefly lag behind a cursor already handed out while other transactions run.
        let newest: Int64 =
            try await pool.query("SELECT coalesce(max(position), 0) FROM handoff.events").first?.decode(0) ?? 0
        guard cursor.position <= newest else {
            throw ServiceError.badRequest("cursor lies beyond the end of the log.", field: "cursor")
        }
        try await pool.query(
            """
            UPDATE handoff.subscriptions SET cursor_xid = \(String(cursor.xid))::xid8, cursor_pos = \(cursor.position),
                   acked_at = clock_timestamp()
             WHERE name = \(name) AND owner = \(subscription.owner)
            """)
        subscription.cursor = cursor
        return .json(.ok, subscription.json.serialized())
    }

    /// Parses PostgreSQL's text form of a `text[]` of type names (`{A,B}`: names need no quoting).
    static func parseTextArray(_ text: String) -> [String] {
        let inner = text.dropFirst().dropLast()
        return inner.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
    }
}
