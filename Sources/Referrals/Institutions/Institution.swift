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

    public init(id: String, name: String, kinds: [InstitutionKind]) {
        self.id = id
        self.name = name
        self.kinds = kinds
    }

    public var primaryKind: InstitutionKind { kinds[0] }
    public func isKind(_ kind: InstitutionKind) -> Bool { kinds.contains(kind) }
}

extension Institution {
    /// Kosovo Police, Directorate against THB.
    public static let kosovoPolice = Institution(
        id: "kp-dthb", name: "Kosovo Police, Directorate against THB", kinds: [.police])
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
