import Foundation

extension Data {
    /// base64url without padding (RFC 4648 §5), as tokens and cursors are written.
    public var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
