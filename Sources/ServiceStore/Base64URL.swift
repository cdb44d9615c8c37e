import Foundation

extension Data {
    /// base64url without padding (RFC 4648 §5), as tokens and cursors are written.
    public var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes base64url without padding strictly: nil for an empty text, one longer than
    /// `maximumLength`, a character outside `A–Z a–z 0–9 - _`, or a length no encoding has.
    public init?(base64URLEncoded text: String, maximumLength: Int) {
        guard (1...maximumLength).contains(text.utf8.count),
            text.utf8.allSatisfy({
                ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95
            })
        else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard base64.utf8.count % 4 != 1 else { return nil }
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64) else { return nil }
        self = data
    }
}
