import Foundation

/// The opaque paging cursor of `GET /v1/audit/access`: the `seq` of the last entry of a page;
/// the next page holds the entries below it. Clients only echo it back.
public struct AccessCursor: Sendable, Hashable {
    public var seq: Int64

    public init(seq: Int64) {
        self.seq = seq
    }

    /// base64url (no padding) of `access:<seq>`.
    public var encoded: String { Data("access:\(seq)".utf8).base64URLEncoded }

    /// Parses the opaque form strictly; nil for anything ``encoded`` would not produce.
    public init?(encoded text: String) {
        guard let data = Data(base64URLEncoded: text, maximumLength: 40),
            let plain = String(data: data, encoding: .utf8), plain.hasPrefix("access:")
        else { return nil }
        let digits = plain.dropFirst(7)
        guard (1...18).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            digits == "0" || !digits.hasPrefix("0"), let seq = Int64(digits), seq >= 1
        else { return nil }
        guard Self(seq: seq).encoded == text else { return nil }
        self.seq = seq
    }
}
