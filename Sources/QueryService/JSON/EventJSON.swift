import EventStore
import Referrals

/// The Event JSON of API.md ("Event (as returned)").
///
/// `data` is PostgreSQL's text of the stored JSON, embedded as is (it is valid JSON and exactly
/// what was hashed); the times are the stored ones with microseconds, as hashed.
enum EventJSON {
    static func render(_ e: RecordedEvent) -> String { e.json }

    /// `{"events":[…],"next":"…"}` and friends: a JSON array of rendered events.
    static func array(_ events: [RecordedEvent]) -> String {
        "[" + events.map(render).joined(separator: ",") + "]"
    }

    static func quote(_ s: String) -> String { JSONValue.string(s).serializedString() }
}
