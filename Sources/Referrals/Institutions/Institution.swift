/// What kind of body an institution is. An institution may be several (PVPT is an NGO that
/// runs a shelter).
public enum InstitutionKind: String, Sendable, Hashable, CaseIterable, Codable {
    case police, prosecution
    case victimAdvocate = "victim-advocate"
    case socialWork = "social-work"
    case shelter, ngo, international, coordinator, auditor
}

/// A registered institution: a stable id, a display name and its kinds (the first is primary).
public struct Institution: Sendable, Hashable, Identifiable {
    public var id: String
    public var name: String
    public var kinds: [InstitutionKind]
    /// The case-id prefix the institution owns (`KP`: it may open cases under ids `KP-…` of its
    /// own choosing); `nil`: it opens cases only under server-issued ids (`POST /v1/cases`).
    public var caseIdPrefix: String?

    /// Whether the institution works on cases (receives referrals, is named in consents): any
    /// kind but only coordinator or auditor, who monitor cases and never act in them (their
    /// tokens cannot append case events, so a referral to them could never be acknowledged).
    public var worksOnCases: Bool { kinds.contains { $0 != .coordinator && $0 != .auditor } }

    public init(id: String, name: String, kinds: [InstitutionKind], caseIdPrefix: String? = nil) {
        self.id = id
        self.name = name
        self.kinds = kinds
        self.caseIdPrefix = caseIdPrefix
    }

    /// Whether `prefix` is a case-id prefix: 2-8 characters, an upper-case letter then upper-case
    /// letters and digits.
    public static func isValidCaseIdPrefix(_ prefix: String) -> Bool {
        let utf8 = Array(prefix.utf8)
        guard (2...8).contains(utf8.count), (0x41...0x5A).contains(utf8[0]) else { return false }
        return utf8.allSatisfy { (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) }
    }

    /// Whether this institution may open a case under `caseId` through the append route: the id
    /// starts with its own prefix and a hyphen, and that prefix is not the server's own.
    public func mayChooseCaseId(_ caseId: String, serverPrefix: String) -> Bool {
        guard let caseIdPrefix, caseIdPrefix != serverPrefix else { return false }
        return caseId.hasPrefix(caseIdPrefix + "-") && caseId.count > caseIdPrefix.count + 1
    }

    public var primaryKind: InstitutionKind { kinds[0] }
    public func isKind(_ kind: InstitutionKind) -> Bool { kinds.contains(kind) }
}

extension Institution {
    /// Kosovo Police, Directorate against THB.
    public static let kosovoPolice = Institution(
        id: "kp-dthb", name: "Kosovo Police, Directorate against THB", kinds: [.police], caseIdPrefix: "KP")
    /// State Prosecution.
    public static let stateProsecution = Institution(id: "ksp", name: "State Prosecution", kinds: [.prosecution])
    /// Office for Protection and Assistance to Victims (victim advocates).
    public static let victimAdvocates = Institution(
        id: "opav", name: "Office for Protection and Assistance to Victims", kinds: [.victimAdvocate])
    /// Centre for Social Work Prishtina.
    public static let socialWorkPrishtina = Institution(
        id: "csw-prishtina", name: "Centre for Social Work Prishtina", kinds: [.socialWork])
    /// Interim Security Facility (state shelter).
    public static let interimSecurityFacility = Institution(
        id: "isf", name: "Interim Security Facility", kinds: [.shelter])
    /// PVPT Center, an NGO running a shelter.
    public static let pvpt = Institution(id: "pvpt", name: "PVPT Center", kinds: [.ngo, .shelter])
    /// IOM Kosovo.
    public static let iom = Institution(id: "iom-kosovo", name: "IOM", kinds: [.international])
    /// National Anti-Trafficking Coordinator.
    public static let nationalCoordinator = Institution(
        id: "natc", name: "National Anti-Trafficking Coordinator", kinds: [.coordinator])
    /// An audit office.
    public static let auditOffice = Institution(id: "audit", name: "Audit office", kinds: [.auditor])

    /// The demo institutions of DESIGN.md, in that order. Their ids are stable.
    public static let demo: [Institution] = [
        kosovoPolice, stateProsecution, victimAdvocates, socialWorkPrishtina, interimSecurityFacility, pvpt, iom,
        nationalCoordinator, auditOffice,
    ]

    /// The ids of ``demo``.
    public static let demoIds: Set<String> = Set(demo.map(\.id))
}
