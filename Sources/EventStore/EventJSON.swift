import Crypto
import Foundation

extension RecordedEvent {
    /// The actor and correlation ids from the metadata.
    public var parsedMetadata: (actor: EventActor?, correlationId: String?, causationId: String?, operatorName: String?)
    {
        guard let object = try? JSONSerialization.jsonObject(with: Data(metadata.utf8)) as? [String: Any] else {
            return (nil, nil, nil, nil)
        }
        var actor: EventActor? = nil
        if let a = object["actor"] as? [String: Any], let i = a["institution"] as? String, let u = a["user"] as? String
        {
            actor = EventActor(institution: i, user: u)
        }
        return (
            actor, object["correlationId"] as? String, object["causationId"] as? String, object["operator"] as? String
        )
    }

    /// The event as the API and the CLI return it (API.md, "Event (as returned)"):
    /// `{"id","stream","type","version","cursor","occurredAt","recordedAt","actor","data","metadata","prevHash","hash"}`.
    public var json: String {
        let meta = parsedMetadata
        let actor =
            meta.actor.map {
                "{\"institution\":\(JSONText.quote($0.institution)),\"user\":\(JSONText.quote($0.user))}"
            } ?? "null"
        let correlation = meta.correlationId.map { JSONText.quote($0) } ?? "null"
        let causation = meta.causationId.map { JSONText.quote($0) } ?? "null"
        // An event appended by an operator (`handoff append`) says so.
        let operatorMember = meta.operatorName.map { ",\"operator\":" + JSONText.quote($0) } ?? ""
        return "{\"id\":\"\(id.uuidString.lowercased())\",\"stream\":\(JSONText.quote(stream)),\"type\":\"\(type)\","
            + "\"version\":\(version),\"cursor\":\"\(cursor)\",\"occurredAt\":\"\(occurredAt)\","
            + "\"recordedAt\":\"\(recordedAt)\",\"actor\":\(actor),\"data\":\(data),"
            + "\"metadata\":{\"correlationId\":\(correlation),\"causationId\":\(causation)\(operatorMember)},"
            + "\"prevHash\":\"\(prevHash.hexString)\",\"hash\":\"\(hash.hexString)\"}"
    }
}

extension AppendResult {
    /// `{"streamVersion": N, "events": [{"id","version","cursor","hash"}]}` as API.md's append answers.
    public var json: String {
        let items = events.map {
            "{\"id\":\"\($0.id.uuidString.lowercased())\",\"version\":\($0.version),\"cursor\":\"\($0.cursor)\",\"hash\":\"\($0.hash.hexString)\"}"
        }
        return "{\"streamVersion\":\(streamVersion),\"events\":[\(items.joined(separator: ","))]}"
    }
}
