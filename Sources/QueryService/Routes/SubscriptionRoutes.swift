import EventStore
import Foundation
import HTTP
import Postgres
import Referrals
import ServiceStore

/// Durable named subscriptions: the server keeps each one's acknowledged cursor.
extension QueryService {
    typealias Subscription = SubscriptionStore.Subscription

    static func subscriptionName(_ params: RouteParameters) throws -> String {
        guard let name = params["name"], (1...64).contains(name.utf8.count),
            name.utf8.allSatisfy({
                ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46
                    || $0 == 95
            }),
            // `.` and `..` are path segments that clients and proxies remove before sending.
            name != ".", name != ".."
        else {
            throw ServiceError.badRequest(
                "A subscription name is 1-64 of A-Z, a-z, 0-9, '.', '_' and '-', other than '.' and '..'.",
                field: "name")
        }
        return name
    }

    /// The caller's subscription of this name. Names are scoped per institution, so another
    /// institution's subscription of the same name is simply not the caller's: 404 either way.
    /// - Throws: 403 for a caller that is not an institution, 404.
    private func ownedSubscription(_ name: String, by principal: Principal) async throws -> Subscription {
        guard principal.role == .institution, let institution = principal.institution else {
            throw ServiceError.forbidden("Only institutions own subscriptions.")
        }
        guard let subscription = try await subscriptions.load(name, owner: institution) else {
            throw ServiceError.notFound("You have no subscription with this name.")
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
        if try await subscriptions.create(name, owner: institution, types: types) {
            let created = Subscription(name: name, owner: institution, types: types, cursor: .start)
            return .json(.created, created.json.serialized())
        }
        var existing = try await ownedSubscription(name, by: principal)
        if let types, types != existing.types {
            try await subscriptions.setTypes(name, owner: institution, types: types)
            existing.types = types
        }
        return .json(.ok, existing.json.serialized())
    }

    /// `DELETE /v1/subscriptions/{name}`: the owner ends its subscription (its cursor goes with it);
    /// 204, or 404 when it has none of this name.
    func deleteSubscription(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        let name = try Self.subscriptionName(params)
        guard principal.role == .institution, let institution = principal.institution else {
            throw ServiceError.forbidden("Only institutions own subscriptions.")
        }
        guard try await subscriptions.delete(name, owner: institution) else {
            throw ServiceError.notFound("You have no subscription with this name.")
        }
        return HTTPResponse(status: .noContent)
    }

    func subscriptionEvents(_ request: HTTPRequest, _ params: RouteParameters) async throws -> HTTPResponse {
        let principal = try await authenticate(request)
        let name = try Self.subscriptionName(params)
        let limit = try Self.limit(request, default: 100, maximum: 1000)
        // The subscription and its cursor from the primary; its events from wherever reads go.
        let subscription = try await ownedSubscription(name, by: principal)
        let page = try await withReads(request) { reads in
            try await reads.feed.page(
                after: subscription.cursor, limit: limit, types: subscription.types, for: principal)
        }
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
        // A cursor names an event that exists (or the start): its transaction id and position as
        // committed. Anything else would skip events for good — a cursor with a made-up
        // transaction id, though its position exists, skipped every event of a lower one (an
        // attack pass). Not compared with the gap-free head, which can briefly lag behind a
        // cursor already handed out while other transactions run.
        guard try await store.names(cursor) else {
            throw ServiceError.badRequest("cursor is not the cursor of an event in the log.", field: "cursor")
        }
        try await subscriptions.acknowledge(name, owner: subscription.owner, cursor: cursor)
        subscription.cursor = cursor
        return .json(.ok, subscription.json.serialized())
    }
}

extension SubscriptionStore.Subscription {
    /// `{"name","owner","types","cursor"}` as the subscription routes answer.
    var json: JSONValue {
        .object(
            JSONObject([
                ("name", .string(name)), ("owner", .string(owner)),
                ("types", types.map { .array($0.map(JSONValue.string)) } ?? .null),
                ("cursor", .string(cursor.description)),
            ]))
    }
}
