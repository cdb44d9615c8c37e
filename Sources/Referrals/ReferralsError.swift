/// The one error type of the `Referrals` module.
///
/// Every rejection — a malformed JSON body, an event the vocabulary forbids, an append the
/// policy does not allow, a malformed ruleset — is a `ReferralsError` with a stable ``Code``
/// (the snake_case strings of API.md), the `field` path it concerns (for example
/// `data.profile.nationality`) and a `message` that is safe to show to a person: it names the
/// field and the rule, never the offending value, so no case data leaks into logs or responses.
public struct ReferralsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, open set of error codes. Clients match on `rawValue`.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The body is not strict RFC 8259 JSON.
        public static let invalidJSON = Code(rawValue: "invalid_json")
        /// An unknown type, a missing or ill-typed field, an unknown institution or referral,
        /// a future `occurredAt`, or anything else the vocabulary forbids.
        public static let invalidEvent = Code(rawValue: "invalid_event")
        /// The principal may not do this.
        public static let forbidden = Code(rawValue: "forbidden")
        /// An event for a case that does not exist.
        public static let notFound = Code(rawValue: "not_found")
        /// `CaseOpened` on a case that already exists.
        public static let wrongExpectedVersion = Code(rawValue: "wrong_expected_version")
        /// A SOP ruleset document is malformed.
        public static let invalidRuleset = Code(rawValue: "invalid_ruleset")
        /// A referral whose purpose needs the victim's consent, without it or an override (422).
        public static let consentRequired = Code(rawValue: "consent_required")
    }

    public let code: Code
    /// The path of the offending field (`data.referralId`, `rules[2].within`), if any.
    public let field: String?
    /// A sentence for a person; never contains submitted values.
    public let message: String

    public init(_ code: Code, field: String? = nil, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public var description: String {
        if let field { return "\(code.rawValue) at \(field): \(message)" }
        return "\(code.rawValue): \(message)"
    }

    static func invalidEvent(_ field: String?, _ message: String) -> ReferralsError {
        ReferralsError(.invalidEvent, field: field, message)
    }
}

/// The name the event-validation contract uses for ``ReferralsError``: a violation with a
/// stable `code`, a `field` path and a safe `message`.
public typealias ValidationError = ReferralsError
