/// Who is calling, as a token says.
public struct Principal: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable, CaseIterable, Codable {
        /// Acts for one institution: reads and writes the cases it is party to.
        case institution
        /// The National Anti-Trafficking Coordinator's office: reads everything.
        case coordinator
        /// Read-only, everything.
        case auditor
    }

    public var role: Role
    /// The institution an `institution` principal acts for (and, optionally, the office of a
    /// coordinator or auditor).
    public var institution: String?
    /// A pseudonymous user, e.g. `officer-1182`.
    public var user: String

    public init(role: Role, institution: String?, user: String) {
        self.role = role
        self.institution = institution
        self.user = user
    }

    /// Whom a per-caller limit counts against: an institution, all its tokens and persons together
    /// (a monitored institution is one caller however many of its people's tokens it uses); a
    /// coordinator or an auditor by person.
    public var caller: String {
        role == .institution ? "institution:" + (institution ?? "") : role.rawValue + ":" + user
    }

    /// An `institution` principal.
    public static func institution(_ id: String, user: String) -> Principal {
        Principal(role: .institution, institution: id, user: user)
    }
}
