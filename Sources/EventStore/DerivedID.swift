import Foundation

extension UUID {
    /// A UUID derived deterministically from a name (RFC 9562 version 8: the first 16 bytes of
    /// SHA-256 of `namespace:name`, with the version and variant bits set). The same name always
    /// yields the same id, so a retried or repeated append is recognised by the store as the same
    /// event instead of being written twice.
    public static func derived(namespace: String, name: String) -> UUID {
        var bytes = Array(SHA256.hash(utf8: namespace + ":" + name).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80  // version 8
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC variant
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9],
                bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }
}
