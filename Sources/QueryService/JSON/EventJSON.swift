import EventStore
import Referrals

/// The Event JSON of API.md ("Event (as returned)").
///
/// `data` is PostgreSQL's text of the stored JSON, embedded as is (it is valid JSON and exactly
/// what was hashed); the times are the stored ones with microseconds, as hashed.
enum EventJSON {
    static func render(_ e: RecordedEvent) -> String {
        let metadata = (try? JSONValue.parse(e.metadata)) ?? .object(JSONObject())
        var actor = JSONObject()
        actor["institution"] = metadata["actor"]?["institution"] ?? .null
        actor["user"] = metadata["actor"]?["user"] ?? .null
        var meta = JSONObject()
        meta["correlationId"] = metadata["correlationId"] ?? .null
        meta["causationId"] = metadata["causationId"] ?? .null
        var out = "{\"id\":\"" + e.id.uuidString.lowercased() + "\",\"stream\":" + quote(e.stream)
        out += ",\"type\":" + quote(e.type) + ",\"version\":" + String(e.version)
        out += ",\"cursor\":\"" + e.cursor.description + "\",\"occurredAt\":" + quote(e.occurredAt)
        out += ",\"recordedAt\":" + quote(e.recordedAt) + ",\"actor\":" + JSONValue.object(actor).serializedString()
        out += ",\"data\":" + e.data + ",\"metadata\":" + JSONValue.object(meta).serializedString()
        out += ",\"prevHash\":\"" + e.prevHash.hexString + "\",\"hash\":\"" + e.hash.hexString + "\"}"
        return out
    }

    /// `{"events":[…],"next":"…"}` and friends: a JSON array of rendered events.
    static func array(_ events: [RecordedEvent]) -> String {
        "[" + events.map(render).joined(separator: ",") + "]"
    }

    static func quote(_ s: String) -> String { JSONValue.string(s).serializedString() }
}
