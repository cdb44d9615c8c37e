import Foundation
import Referrals

/// How the profile's codes are grouped in the report: the Eurostat `crim_thb` breakdowns
/// (victims by sex, by age group, by citizenship, by form of exploitation), with the deployment's
/// own country as the reporting country.
public enum ReportGroupings {
    /// The reporting country (ISO 3166 alpha-2; Kosovo uses the user-assigned `XK`).
    public static let reportingCountry = "XK"

    /// The 27 member states of the European Union (ISO 3166 alpha-2).
    public static let europeanUnion: Set<String> = [
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
        "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    ]

    /// Citizenship groups in report order.
    public static let citizenshipGroups = ["reporting-country", "eu", "non-eu", "unknown"]

    /// `reporting-country`, `eu`, `non-eu` or `unknown` for a nationality code.
    public static func citizenship(_ nationality: String) -> String {
        if nationality == reportingCountry { return "reporting-country" }
        if europeanUnion.contains(nationality) { return "eu" }
        if nationality.count == 2, nationality.allSatisfy({ $0.isUppercase && $0.isASCII }), nationality != "XX" {
            return "non-eu"
        }
        return "unknown"
    }

    /// Age groups in report order.
    public static let ageGroups = ["0-11", "12-17", "18-24", "25-34", "35-49", "50+", "unknown"]

    /// The age group of an age band (12–14 and 15–17 make 12–17).
    public static func ageGroup(_ band: String) -> String {
        switch band {
        case AgeBand.age12to14.rawValue, AgeBand.age15to17.rawValue: "12-17"
        case let b where ageGroups.contains(b): b
        default: "unknown"
        }
    }

    /// `child` or `adult` (or `unknown`): the profile's `child` flag, which the vocabulary keeps
    /// consistent with the age band.
    public static let childAdult = ["child", "adult"]

    /// Forms of exploitation in report order: sexual, labour, other forms.
    public static let exploitationGroups = ["sexual", "labour", "other"]

    /// The Eurostat group of a form of exploitation.
    public static func exploitationGroup(_ form: String) -> String {
        switch form {
        case Exploitation.sexual.rawValue: "sexual"
        case Exploitation.forcedLabour.rawValue: "labour"
        default: "other"
        }
    }

    /// Victim columns: identified, and presumed (presumed or potential) counted separately.
    public static func victimColumn(_ identificationStatus: String) -> String? {
        switch identificationStatus {
        case IdentificationStatus.identified.rawValue: "identified"
        case IdentificationStatus.presumed.rawValue, IdentificationStatus.potential.rawValue: "presumed"
        default: nil
        }
    }

    /// A deadline status as the report counts it: `met`, `met-late`, `missed` (overdue), `running`
    /// (pending or due soon) or `cancelled`.
    public static func complianceColumn(_ status: String) -> String {
        switch status {
        case "overdue": "missed"
        case "pending", "due-soon": "running"
        default: status
        }
    }

    /// Reflection period length bands (days).
    public static let reflectionLengths = ["1-30", "31-60", "61-90", "91+"]

    public static func reflectionLength(_ days: Int) -> String {
        switch days {
        case ..<31: "1-30"
        case 31...60: "31-60"
        case 61...90: "61-90"
        default: "91+"
        }
    }

    /// The calendar year `year` in `timeZone`, as `[start, end)`.
    public static func yearInterval(_ year: Int, timeZone: TimeZone) -> DateInterval {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let start = calendar.date(from: DateComponents(year: year, month: 1, day: 1))!
        let end = calendar.date(from: DateComponents(year: year + 1, month: 1, day: 1))!
        return DateInterval(start: start, end: end)
    }
}
