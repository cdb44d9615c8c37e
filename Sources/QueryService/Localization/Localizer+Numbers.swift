import Foundation

extension Localizer {
    /// A whole number with the language's digit grouping (CLDR): `12,345` (en), `12 345` (sq, a
    /// no-break space, and only from five digits: `1234`), `12.345` (sr).
    func integer(_ n: Int) -> String {
        let digits = String(n.magnitude)
        let (separator, minimumGrouping): (String, Int) =
            switch language {
            case .english: (",", 1)
            case .albanian: ("\u{00A0}", 2)
            case .serbianLatin, .serbianCyrillic: (".", 1)
            }
        var out = digits
        if digits.count > 3 + minimumGrouping - 1 {
            var groups: [Substring] = []
            var end = digits.endIndex
            while end > digits.startIndex {
                let start = digits.index(end, offsetBy: -3, limitedBy: digits.startIndex) ?? digits.startIndex
                groups.insert(digits[start..<end], at: 0)
                end = start
            }
            out = groups.joined(separator: separator)
        }
        return (n < 0 ? "−" : "") + out
    }

    /// A decimal with `digits` fraction digits: `12.5` (en), `12,5` (sq, sr); the whole part grouped
    /// as ``integer(_:)``.
    func decimal(_ value: Double, digits: Int) -> String {
        let text = String(format: "%.\(max(0, digits))f", value.magnitude)
        let parts = text.split(separator: ".")
        let whole = integer(Int(parts[0]) ?? 0)
        let sign = value < 0 && text.contains(where: { $0 != "0" && $0 != "." }) ? "−" : ""
        guard parts.count == 2 else { return sign + whole }
        return sign + whole + (language == .english ? "." : ",") + parts[1]
    }

    /// A share (0…1) as a whole percentage: `81%` in all three languages (CLDR).
    func percent(_ share: Double) -> String { integer(Int((share * 100).rounded())) + "%" }

    /// A calendar date: `1 Jan 2014` (en), `1.1.2014` (sq), `1. 1. 2014.` (sr) — the date part of
    /// ``dateTime(_:)``.
    func date(year: Int, month: Int, day: Int) -> String {
        switch language {
        case .english: "\(day) \(Self.englishMonths[max(1, min(12, month)) - 1]) \(year)"
        case .albanian: "\(day).\(month).\(year)"
        case .serbianLatin, .serbianCyrillic: "\(day). \(month). \(year)."
        }
    }
}
