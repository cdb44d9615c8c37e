import Foundation

extension Ruleset {
    /// Loads and strictly validates a ruleset document.
    ///
    /// Everything is checked: required members and their types, no unknown members, ids
    /// (`a-z 0-9 -`), a positive integer `version`, `effectiveFrom` as `YYYY-MM-DD`, unique rule
    /// ids, known event types, condition fields that exist on every listed event with values of
    /// the field's domain, ISO 8601 durations, and combinations that make sense (`sameReferral`,
    /// `byRecipient`, `urgentWithin` and referral-based `responsible` need referral triggers).
    ///
    /// - Throws: `invalid_ruleset` with `field` naming the path, e.g. `rules[3].within`.
    public static func load(_ document: JSONValue) throws(ReferralsError) -> Ruleset {
        var r = try FieldReader(document, path: "", code: .invalidRuleset)
        let id = try r.string("id", maxLength: 64)
        guard Identifiers.isValidInstitutionId(id) else {
            throw r.error("id", "must be 1-64 characters of a-z, 0-9 and -")
        }
        let version = try r.int("version", in: 1...1_000_000)
        let title = try r.string("title", maxLength: 200)
        let titles = try loadTitles(&r)
        var timeZone: TimeZone?
        if let name = try r.optionalString("timeZone", maxLength: 64) {
            // IANA names only (Europe/Belgrade, UTC): not abbreviations or offsets, whose meaning
            // Foundation guesses.
            guard name == "UTC" || name.contains("/"), let zone = TimeZone(identifier: name) else {
                throw r.error("timeZone", "must be an IANA time zone such as Europe/Belgrade")
            }
            timeZone = zone
        }
        var holidays: HolidayCalendar?
        if r.object["holidays"] != nil {
            holidays = try loadHolidays(try r.object("holidays"))
        } else {
            _ = r.optionalValue("holidays")
        }
        let clock = timeZone == nil && holidays == nil ? .utc : RulesetClock(timeZone: timeZone, holidays: holidays)
        let effectiveText = try r.string("effectiveFrom", maxLength: 10)
        guard let utcMidnight = Timestamp.parseDate(effectiveText) else {
            throw r.error("effectiveFrom", "must be a date YYYY-MM-DD")
        }
        let (ey, em, ed) = Timestamp.civil(utcMidnight)
        // A local date in the ruleset's zone.
        let effectiveFrom = timeZone == nil ? utcMidnight : clock.startOfDay(year: ey, month: em, day: ed)
        let notice = try r.optionalString("notice", maxLength: 4000)
        let jurisdiction = try r.optionalString("jurisdiction", maxLength: 2)
        if let jurisdiction, !CountryCodes.isValidNationality(jurisdiction) {
            throw r.error("jurisdiction", "must be an ISO 3166-1 alpha-2 code")
        }
        let ruleValues = try r.array("rules", maxCount: 1000)
        guard !ruleValues.isEmpty else { throw r.error("rules", "must not be empty") }
        var rules: [SopRule] = []
        for (i, value) in ruleValues.enumerated() {
            let rule = try loadRule(value, path: "rules[\(i)]")
            if rule.withinWorkingDays != nil, holidays == nil {
                throw ReferralsError(
                    .invalidRuleset, field: "rules[\(i)].within",
                    "working days need the ruleset's holiday calendar (holidays)")
            }
            guard !rules.contains(where: { $0.id == rule.id }) else {
                throw ReferralsError(.invalidRuleset, field: "rules[\(i)].id", "is used by another rule")
            }
            rules.append(rule)
        }
        let grace = try elapsedGrace(&r, "lateEntryGrace") ?? Ruleset.defaultLateEntryGrace
        let triggerGrace = try elapsedGrace(&r, "lateTriggerGrace") ?? Ruleset.defaultLateTriggerGrace
        guard triggerGrace.fixedSeconds <= grace.fixedSeconds else {
            throw r.error("lateTriggerGrace", "must not be longer than lateEntryGrace")
        }
        var backfill: Ruleset.Backfill?
        if r.object["backfill"] != nil {
            var b = try r.object("backfill")
            guard let before = Timestamp.parse(try b.string("recordedBefore", maxLength: 40)) else {
                throw b.error("recordedBefore", "must be an RFC 3339 timestamp")
            }
            let entry = try elapsedGrace(&b, "lateEntryGrace") ?? grace
            let trigger = try elapsedGrace(&b, "lateTriggerGrace") ?? triggerGrace
            guard trigger.fixedSeconds <= entry.fixedSeconds else {
                throw b.error("lateTriggerGrace", "must not be longer than lateEntryGrace")
            }
            try b.finish()
            backfill = Ruleset.Backfill(recordedBefore: before, lateEntryGrace: entry, lateTriggerGrace: trigger)
        } else {
            _ = r.optionalValue("backfill")
        }
        var consent: ConsentPolicy?
        if r.object["consent"] != nil {
            consent = try loadConsent(try r.object("consent"))
        }
        try r.finish()
        var ruleset = Ruleset(
            id: id, version: version, title: title, effectiveFrom: effectiveFrom, notice: notice,
            jurisdiction: jurisdiction, rules: rules, lateEntryGrace: grace, consent: consent, document: document)
        ruleset.lateTriggerGrace = triggerGrace
        ruleset.backfill = backfill
        ruleset.clock = clock
        ruleset.titles = titles
        return ruleset
    }

    /// Parses and loads a ruleset from JSON bytes.
    /// - Throws: `invalid_json` or `invalid_ruleset`.
    public static func load(json bytes: [UInt8]) throws(ReferralsError) -> Ruleset {
        try load(try JSONValue.parse(bytes))
    }

    /// `"consent": {"shelter": {"policy": "required", "source": {…}, "confirmed": false}, "investigation":
    /// {"policy": "not-required", "legalBasis": "…", "source": {…}, "confirmed": false}, …}`.
    private static func loadConsent(_ reader: FieldReader) throws(ReferralsError) -> ConsentPolicy {
        var c = reader
        var entries: [ReferralPurpose: ConsentPolicy.Entry] = [:]
        for key in c.object.keys.sorted() {
            guard let purpose = ReferralPurpose(rawValue: key) else {
                throw c.error(key, "is not a referral purpose")
            }
            var e = try c.object(key)
            let required: Bool
            switch try e.string("policy", maxLength: 20) {
            case "required": required = true
            case "not-required": required = false
            default: throw e.error("policy", "must be required or not-required")
            }
            let legalBasis = try e.optionalString("legalBasis", maxLength: 1000)
            if !required, legalBasis == nil {
                throw e.error("legalBasis", "is required when consent is not-required")
            }
            let source = try loadSource(&e)
            let confirmed = try e.bool("confirmed")
            try e.finish()
            entries[purpose] = ConsentPolicy.Entry(
                required: required, legalBasis: legalBasis, source: source, confirmed: confirmed)
        }
        try c.finish()
        return ConsentPolicy(entries: entries)
    }

    /// The languages a `titles` member may name: English is `title` itself.
    public static let titleLanguages = ["sq", "sr-Latn", "sr-Cyrl"]

    /// The optional `titles` member of a ruleset or a rule: `{"sq": "…", "sr-Latn": "…"}`, each a
    /// title of at most 200 characters in one of ``titleLanguages``.
    static func loadTitles(_ r: inout FieldReader) throws(ReferralsError) -> [String: String] {
        guard r.object["titles"] != nil else {
            _ = r.optionalValue("titles")
            return [:]
        }
        var t = try r.object("titles")
        var titles: [String: String] = [:]
        for language in titleLanguages {
            if let title = try t.optionalString(language, maxLength: 200) { titles[language] = title }
        }
        if t.object.keys.contains(where: { !titleLanguages.contains($0) }) {
            throw r.error("titles", "names a language other than sq, sr-Latn and sr-Cyrl (English is title)")
        }
        try t.finish()
        return titles
    }

    /// The `source` member of a rule or a consent entry: `{document, section?, note?}`.
    static func loadSource(_ r: inout FieldReader) throws(ReferralsError) -> SopRule.Source {
        var s = try r.object("source")
        let source = SopRule.Source(
            document: try s.string("document", maxLength: 300),
            section: try s.optionalString("section", maxLength: 300),
            note: try s.optionalString("note", maxLength: 1000))
        try s.finish()
        return source
    }

    private static func loadRule(_ value: JSONValue, path: String) throws(ReferralsError) -> SopRule {
        var r = try FieldReader(value, path: path, code: .invalidRuleset)
        let id = try r.string("id", maxLength: 64)
        guard Identifiers.isValidInstitutionId(id) else {
            throw r.error("id", "must be 1-64 characters of a-z, 0-9 and -")
        }
        let title = try r.string("title", maxLength: 200)
        let titles = try loadTitles(&r)

        let source = try loadSource(&r)
        let confirmed = try r.bool("confirmed")

        var t = try r.object("trigger")
        let triggerEvents = try eventTypes(&t)
        var trigger = SopRule.Trigger(events: triggerEvents, conditions: try conditions(&t, events: triggerEvents))
        if t.object["exceptActorKinds"] != nil {
            trigger.exceptActorKinds = try t.codeList("exceptActorKinds", InstitutionKind.self, allowEmpty: false)
        }
        trigger.oneOpenAtATime = try t.optionalBool("oneOpenAtATime") ?? false
        try t.finish()

        var sb = try r.object("satisfiedBy")
        let satisfierEvents = try eventTypes(&sb)
        let satisfierConditions = try conditions(&sb, events: satisfierEvents)
        let sameReferral = try sb.optionalBool("sameReferral") ?? false
        let byRecipient = try sb.optionalBool("byRecipient") ?? false
        let byResponsible = try sb.optionalBool("byResponsible") ?? false
        var purposes: [ReferralPurpose]?
        if sb.object["referralPurposes"] != nil {
            purposes = try sb.codeList("referralPurposes", ReferralPurpose.self, allowEmpty: false)
            guard satisfierEvents.allSatisfy(\.carriesReferralId) else {
                throw sb.error("referralPurposes", "needs satisfying events that name a referral")
            }
        }
        let triggersNameReferral = triggerEvents.allSatisfy(\.carriesReferralId)
        if sameReferral, !(triggersNameReferral && satisfierEvents.allSatisfy(\.carriesReferralId)) {
            throw sb.error("sameReferral", "needs trigger and satisfying events that name a referral")
        }
        if byRecipient, !triggersNameReferral {
            throw sb.error("byRecipient", "needs trigger events that name a referral")
        }
        try sb.finish()

        var within = ISODuration()
        var workingDays: Int?
        if r.object["within"]?.objectValue != nil {
            var w = try r.object("within")
            workingDays = try w.int("workingDays", in: 1...365)
            try w.finish()
        } else {
            within = try duration(&r, "within")!
            guard within != ISODuration() else { throw r.error("within", "must not be zero") }
        }
        let urgentWithin = try duration(&r, "urgentWithin", required: false)
        if urgentWithin != nil, !triggersNameReferral {
            throw r.error("urgentWithin", "needs trigger events that name a referral")
        }
        let daysField = try r.optionalString("withinDaysFromField", maxLength: 64)
        if let daysField {
            if workingDays != nil { throw r.error("withinDaysFromField", "counts calendar days, not working days") }
            for type in triggerEvents where FieldDomain.fields(of: type)[daysField] != .integer {
                throw r.error("withinDaysFromField", "must be an integer field of \(type.rawValue)")
            }
        }

        var resp = try r.object("responsible")
        let responsible: SopRule.Responsible
        switch try resp.string("kind", maxLength: 64) {
        case "referral-recipient": responsible = .referralRecipient
        case "referral-issuer": responsible = .referralIssuer
        case "case-opener": responsible = .caseOpener
        case "trigger-actor": responsible = .triggerActor
        case "institution":
            let institution = try resp.string("institution", maxLength: 64)
            guard Identifiers.isValidInstitutionId(institution) else {
                throw resp.error("institution", "must be an institution id")
            }
            responsible = .institution(institution)
        case "role":
            responsible = .role(try resp.code("role", InstitutionKind.self))
        default:
            throw resp.error(
                "kind",
                "must be one of referral-recipient, referral-issuer, case-opener, trigger-actor, institution, role")
        }
        if responsible == .referralRecipient || responsible == .referralIssuer, !triggersNameReferral {
            throw resp.error("kind", "a referral party needs trigger events that name a referral")
        }
        try resp.finish()

        let warnBefore = try duration(&r, "warnBefore", required: false)
        let urgentWarnBefore = try duration(&r, "urgentWarnBefore", required: false)
        let recurring = try r.optionalBool("recurring") ?? false
        let cancelledBy =
            try cancellations(&r, triggerNamesReferral: triggersNameReferral)
            ?? SopRule.defaultCancellations(trigger: trigger)
        var reopenRetriggers = false
        var reopenSource: SopRule.Source?
        var reopenConfirmed = false
        if let value = r.optionalValue("reopenRetriggers") {
            if let flag = value.boolValue {
                reopenRetriggers = flag
            } else {
                var o = try FieldReader(value, path: r.fieldPath("reopenRetriggers"), code: .invalidRuleset)
                reopenRetriggers = try o.bool("value")
                reopenSource = try optionalSource(&o)
                reopenConfirmed = try o.optionalBool("confirmed") ?? false
                try o.finish()
            }
            if reopenRetriggers, triggersNameReferral {
                throw r.error(
                    "reopenRetriggers",
                    "a rule whose trigger names a referral restarts with a new referral, not on reopening")
            }
        }
        try r.finish()
        var rule = SopRule(
            id: id, title: title, source: source, confirmed: confirmed, trigger: trigger,
            satisfiedBy: SopRule.Satisfaction(
                events: satisfierEvents, conditions: satisfierConditions, sameReferral: sameReferral,
                byRecipient: byRecipient, referralPurposes: purposes, byResponsible: byResponsible),
            within: within, urgentWithin: urgentWithin, withinDaysFromField: daysField, responsible: responsible,
            warnBefore: warnBefore, urgentWarnBefore: urgentWarnBefore, recurring: recurring,
            cancelledBy: cancelledBy, reopenRetriggers: reopenRetriggers, reopenSource: reopenSource,
            reopenConfirmed: reopenConfirmed)
        rule.withinWorkingDays = workingDays
        rule.titles = titles
        return rule
    }

    /// `"holidays": {"fixed": [{"date": "MM-DD", …}], "easter": [{"computus": "gregorian"|"julian",
    /// "offsetDays": n, …}], "dates": [{"date": "YYYY-MM-DD", …}]}`, each entry with `name`,
    /// optional `source` and `confirmed`.
    private static func loadHolidays(_ reader: FieldReader) throws(ReferralsError) -> HolidayCalendar {
        var h = reader
        var holidays: [HolidayCalendar.Holiday] = []
        for key in ["fixed", "easter", "dates"] {
            guard h.object[key] != nil else {
                _ = h.optionalValue(key)
                continue
            }
            for (i, value) in try h.array(key, maxCount: 500).enumerated() {
                var e = try FieldReader(value, path: "\(h.fieldPath(key))[\(i)]", code: .invalidRuleset)
                let name = try e.string("name", maxLength: 200)
                let rule: HolidayCalendar.Rule
                switch key {
                case "fixed":
                    let text = try e.string("date", maxLength: 5)
                    // Any year with a 29 February admits every month-day.
                    guard text.utf8.count == 5, let date = Timestamp.parseDate("2000-" + text) else {
                        throw e.error("date", "must be a month and day MM-DD")
                    }
                    let (_, m, d) = Timestamp.civil(date)
                    rule = .fixed(month: m, day: d)
                case "easter":
                    let computus = try e.code("computus", HolidayCalendar.Computus.self)
                    rule = .easter(computus, offsetDays: try e.int("offsetDays", in: -60...60))
                default:
                    guard let date = Timestamp.parseDate(try e.string("date", maxLength: 10)) else {
                        throw e.error("date", "must be a date YYYY-MM-DD")
                    }
                    let (y, m, d) = Timestamp.civil(date)
                    rule = .date(year: y, month: m, day: d)
                }
                let source = try optionalSource(&e)
                let confirmed = try e.bool("confirmed")
                try e.finish()
                holidays.append(HolidayCalendar.Holiday(name: name, rule: rule, source: source, confirmed: confirmed))
            }
        }
        try h.finish()
        guard !holidays.isEmpty else { throw ReferralsError(.invalidRuleset, field: "holidays", "must name a holiday") }
        return HolidayCalendar(holidays: holidays)
    }

    /// `"cancelledBy": [{"events": [...], "where": [...]?, "sameReferral": bool?, "source": {...}?,
    /// "confirmed": bool?}, …]`; `nil` when the rule does not say (then the defaults apply).
    private static func cancellations(_ r: inout FieldReader, triggerNamesReferral: Bool) throws(ReferralsError)
        -> [SopRule.Cancellation]?
    {
        guard r.object["cancelledBy"] != nil else {
            _ = r.optionalValue("cancelledBy")
            return nil
        }
        let values = try r.array("cancelledBy", maxCount: 32)
        var result: [SopRule.Cancellation] = []
        for (i, value) in values.enumerated() {
            var c = try FieldReader(value, path: "\(r.fieldPath("cancelledBy"))[\(i)]", code: .invalidRuleset)
            let events = try eventTypes(&c)
            let tests = try conditions(&c, events: events)
            let sameReferral = try c.optionalBool("sameReferral") ?? false
            if sameReferral, !(triggerNamesReferral && events.allSatisfy(\.carriesReferralId)) {
                throw c.error("sameReferral", "needs trigger and cancelling events that name a referral")
            }
            let source = try optionalSource(&c)
            let confirmed = try c.optionalBool("confirmed") ?? false
            try c.finish()
            result.append(
                SopRule.Cancellation(
                    events: events, conditions: tests, sameReferral: sameReferral, source: source,
                    confirmed: confirmed))
        }
        return result
    }

    private static func optionalSource(_ r: inout FieldReader) throws(ReferralsError) -> SopRule.Source? {
        guard r.object["source"] != nil else {
            _ = r.optionalValue("source")
            return nil
        }
        return try loadSource(&r)
    }

    private static func duration(_ r: inout FieldReader, _ key: String, required: Bool = true) throws(ReferralsError)
        -> ISODuration?
    {
        let text = required ? try r.string(key, maxLength: 64) : try r.optionalString(key, maxLength: 64)
        guard let text else { return nil }
        guard let duration = ISODuration(text) else {
            throw r.error(key, "must be an ISO 8601 duration such as PT24H or P30D")
        }
        return duration
    }

    /// An optional grace member: elapsed time only (`PT…`), at most PT8784H (a leap year).
    private static func elapsedGrace(_ r: inout FieldReader, _ key: String) throws(ReferralsError) -> ISODuration? {
        guard let grace = try duration(&r, key, required: false) else { return nil }
        guard grace.years == 0, grace.months == 0, grace.weeks == 0, grace.days == 0, grace.fixedSeconds <= 366 * 86_400
        else {
            throw r.error(key, "must be hours, minutes or seconds (PT…), at most PT8784H")
        }
        return grace
    }

    private static func eventTypes(_ r: inout FieldReader) throws(ReferralsError) -> [CaseEventType] {
        try r.codeList("events", CaseEventType.self, allowEmpty: false)
    }

    private static func conditions(_ r: inout FieldReader, events: [CaseEventType]) throws(ReferralsError) -> [SopRule
        .Condition]
    {
        guard r.object["where"] != nil else {
            _ = r.optionalValue("where")
            return []
        }
        let values = try r.array("where", maxCount: 16)
        var result: [SopRule.Condition] = []
        for (i, value) in values.enumerated() {
            var c = try FieldReader(value, path: "\(r.fieldPath("where"))[\(i)]", code: .invalidRuleset)
            // `event`: the test applies to events of that type only (one of the listed types).
            let only = try c.optionalCode("event", CaseEventType.self)
            if let only, !events.contains(only) { throw c.error("event", "is not one of the listed events") }
            let tested = only.map { [$0] } ?? events
            let field = try c.string("field", maxLength: 64)
            for type in tested where FieldDomain.fields(of: type)[field] == nil {
                throw c.error("field", "is not a field of \(type.rawValue)")
            }
            // A value must be possible on every event type the test applies to.
            let domain = FieldDomain.intersection(tested.map { FieldDomain.fields(of: $0)[field]! })
            let tests = ["equals", "in", "contains"].filter { c.object[$0] != nil }
            guard tests.count == 1 else { throw c.error("field", "needs exactly one of equals, in, contains") }
            let test: SopRule.Condition.Test
            switch tests[0] {
            case "equals":
                let v = try c.value("equals")
                guard domain.admits(v) else { throw c.error("equals", "is not a possible value of the field") }
                test = .equals(v)
            case "in":
                let options = try c.array("in", maxCount: 64)
                guard !options.isEmpty else { throw c.error("in", "must not be empty") }
                for (j, option) in options.enumerated() where !domain.admits(option) {
                    throw ReferralsError(
                        .invalidRuleset, field: "\(c.fieldPath("in"))[\(j)]", "is not a possible value of the field")
                }
                test = .isOneOf(options)
            default:
                let v = try c.value("contains")
                guard domain.isList, domain.admits(v) else {
                    throw c.error("contains", "needs a list field and one of its values")
                }
                test = .contains(v)
            }
            try c.finish()
            result.append(SopRule.Condition(field: field, test: test, event: only))
        }
        return result
    }
}

/// The fields of each event type's `data` that rules may test, and their values.
enum FieldDomain: Equatable {
    case codes(Set<String>)
    case codeList(Set<String>)
    case bool
    case integer
    case identifier
    case identifierList
    indirect case all([FieldDomain])

    /// A domain admitting only what every one of `domains` admits.
    static func intersection(_ domains: [FieldDomain]) -> FieldDomain {
        domains.count == 1 ? domains[0] : .all(domains)
    }

    var isList: Bool {
        switch self {
        case .codeList, .identifierList: true
        case .all(let domains): domains.allSatisfy(\.isList)
        default: false
        }
    }

    func admits(_ value: JSONValue) -> Bool {
        switch self {
        case .codes(let codes), .codeList(let codes): value.stringValue.map(codes.contains) ?? false
        case .bool: value.boolValue != nil
        case .integer: value.numberValue?.intValue != nil
        case .identifier, .identifierList: value.stringValue.map(Identifiers.isValidCaseId) ?? false
        case .all(let domains): domains.allSatisfy { $0.admits(value) }
        }
    }

    static func codes<E: RawRepresentable & CaseIterable>(_: E.Type) -> FieldDomain where E.RawValue == String {
        .codes(Set(E.allCases.map(\.rawValue)))
    }

    static func fields(of type: CaseEventType) -> [String: FieldDomain] {
        switch type {
        case .caseOpened:
            [
                "identificationStatus": codes(IdentificationStatus.self), "profile.sex": codes(Sex.self),
                "profile.ageBand": codes(AgeBand.self), "profile.child": .bool,
                "profile.nationality": .codes(CountryCodes.nationalities),
                "profile.exploitation": .codeList(Set(Exploitation.allCases.map(\.rawValue))),
            ]
        case .referralIssued:
            [
                "referralId": .identifier, "to": .identifier, "purpose": codes(ReferralPurpose.self),
                "urgency": codes(Urgency.self),
            ]
        case .referralAcknowledged, .referralAccepted: ["referralId": .identifier]
        case .referralDeclined: ["referralId": .identifier, "reason": codes(DeclineReason.self)]
        case .referralCompleted: ["referralId": .identifier, "outcome": codes(CompletionOutcome.self)]
        case .referralWithdrawn: ["referralId": .identifier, "reason": codes(WithdrawalReason.self)]
        case .riskAssessed: ["level": codes(RiskLevel.self)]
        case .identificationStatusChanged: ["status": codes(IdentificationStatus.self)]
        case .consentRecorded: ["purpose": codes(ConsentPurpose.self), "recipients": .identifierList, "given": .bool]
        case .reflectionPeriodStarted: ["days": .integer]
        case .reflectionPeriodEnded: ["outcome": codes(ReflectionOutcome.self)]
        case .caseClosed: ["reason": codes(ClosureReason.self)]
        case .caseReopened: ["reason": codes(ReopenReason.self)]
        case .recordCorrected: ["reason": codes(CorrectionReason.self)]
        case .guardianAppointed, .caseReviewed: [:]
        }
    }
}
