import Foundation
import Testing

@testable import Referrals

@Suite struct RulesetTests {
    static let fileURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Rulesets/kosovo-default.json")

    @Test func defaultFileIsTheEmbeddedRuleset() throws {
        let file = try String(contentsOf: Self.fileURL, encoding: .utf8)
        #expect(file == Ruleset.kosovoDefaultJSON, "paste Rulesets/kosovo-default.json into KosovoDefaultRuleset.swift")
    }

    @Test func defaultRulesetMatchesTheDesignTable() throws {
        let ruleset = Ruleset.kosovoDefault
        #expect(ruleset.id == "kosovo-default" && ruleset.version == 8 && ruleset.jurisdiction == "XK")
        // A local date in Europe/Belgrade: midnight there is 23:00 UTC the day before.
        #expect(ruleset.effectiveFrom == Timestamp.parse("2013-12-31T23:00:00Z"))
        #expect(ruleset.clock.timeZone?.identifier == "Europe/Belgrade")
        #expect(ruleset.notice?.contains("not available in full text") == true)
        #expect(ruleset.notice?.contains("placeholder") == true)
        #expect(
            ruleset.rules.map(\.id) == [
                "referral-acknowledged", "referral-decided", "victim-advocate-assigned", "risk-assessed",
                "guardian-for-child",
                "reflection-period-ends", "case-review", "identification-decided",
            ])
        #expect(ruleset.rules.allSatisfy { !$0.confirmed })
        let r = Dictionary(uniqueKeysWithValues: ruleset.rules.map { ($0.id, $0) })
        #expect(r["referral-acknowledged"]?.within == ISODuration(hours: 24))
        #expect(r["referral-acknowledged"]?.urgentWithin == ISODuration(hours: 2))
        #expect(r["referral-decided"]?.within == ISODuration(hours: 72))
        #expect(r["victim-advocate-assigned"]?.within == ISODuration(hours: 24))
        #expect(r["risk-assessed"]?.within == ISODuration(hours: 72))
        #expect(r["guardian-for-child"]?.within == ISODuration(hours: 24))
        #expect(r["reflection-period-ends"]?.within == ISODuration(days: 90))
        #expect(r["reflection-period-ends"]?.warnBefore == ISODuration(days: 7))
        #expect(r["reflection-period-ends"]?.withinDaysFromField == "days")
        #expect(r["reflection-period-ends"]?.source.note?.contains("US TIP 2024") == true)
        #expect(r["case-review"]?.within == ISODuration(days: 30) && r["case-review"]?.recurring == true)
        #expect(r["identification-decided"]?.within == ISODuration(days: 30))
        #expect(r["guardian-for-child"]?.source.section == "Article 10(4)")
    }

    static let baseRule: JSONValue = [
        "id": "r", "title": "T", "source": ["document": "D"], "confirmed": false,
        "trigger": ["events": ["ReferralIssued"]],
        "satisfiedBy": ["events": ["ReferralAccepted"], "sameReferral": true, "byRecipient": true],
        "within": "PT24H", "responsible": ["kind": "referral-recipient"],
    ]

    static func document(rule: JSONValue = baseRule, top: JSONValue = [:]) -> JSONValue {
        (["id": "test", "version": 1, "title": "Test", "effectiveFrom": "2020-01-01", "rules": [rule]] as JSONValue)
            .merging(top)
    }

    static func without(_ value: JSONValue, _ key: String) -> JSONValue {
        guard var object = value.objectValue else { return value }
        object[key] = nil
        return .object(object)
    }

    static let malformed: [(String, JSONValue, String)] = [
        ("not an object", [], ""),
        ("id missing", without(document(), "id"), "id"),
        ("id format", document(top: ["id": "Kosovo Default"]), "id"),
        ("version zero", document(top: ["version": 0]), "version"),
        ("version string", document(top: ["version": "1"]), "version"),
        ("version fraction", document(top: ["version": 1.5]), "version"),
        ("effectiveFrom time", document(top: ["effectiveFrom": "2020-01-01T00:00:00Z"]), "effectiveFrom"),
        ("effectiveFrom impossible", document(top: ["effectiveFrom": "2021-02-29"]), "effectiveFrom"),
        ("jurisdiction", document(top: ["jurisdiction": "KS"]), "jurisdiction"),
        ("unknown top field", document(top: ["extra": 1]), "extra"),
        ("rules empty", document(top: ["rules": []]), "rules"),
        ("rule not object", document(top: ["rules": [1]]), "rules[0]"),
        ("duplicate rule id", document(top: ["rules": [baseRule, baseRule]]), "rules[1].id"),
        ("rule id missing", document(rule: without(baseRule, "id")), "rules[0].id"),
        // cancelledBy and reopenRetriggers (docs/rulesets.md).
        (
            "cancelledBy unknown event",
            document(rule: baseRule.merging(["cancelledBy": [["events": ["CaseDeleted"]]]])),
            "rules[0].cancelledBy[0].events[0]"
        ),
        (
            "cancelledBy second entry unknown event",
            document(
                rule: baseRule.merging([
                    "cancelledBy": [["events": ["CaseClosed"]], ["events": ["CaseClosed", "SopDeadlineMissed"]]]
                ])), "rules[0].cancelledBy[1].events[1]"
        ),
        (
            "cancelledBy not a list", document(rule: baseRule.merging(["cancelledBy": "CaseClosed"])),
            "rules[0].cancelledBy"
        ),
        (
            "exceptActorKinds unknown kind",
            document(rule: baseRule.merging(["trigger": ["events": ["CaseOpened"], "exceptActorKinds": ["wizard"]]])),
            "rules[0].trigger.exceptActorKinds[0]"
        ),
        (
            "exceptActorKinds empty",
            document(rule: baseRule.merging(["trigger": ["events": ["CaseOpened"], "exceptActorKinds": []]])),
            "rules[0].trigger.exceptActorKinds"
        ),
        (
            "oneOpenAtATime not a boolean",
            document(rule: baseRule.merging(["trigger": ["events": ["CaseOpened"], "oneOpenAtATime": "yes"]])),
            "rules[0].trigger.oneOpenAtATime"
        ),
        (
            "condition for an event the trigger does not list",
            document(
                rule: baseRule.merging([
                    "trigger": [
                        "events": ["CaseOpened"],
                        "where": [["event": "CaseClosed", "field": "reason", "equals": "x"]],
                    ]
                ])), "rules[0].trigger.where[0].event"
        ),
        (
            "condition for an unknown event type",
            document(
                rule: baseRule.merging([
                    "trigger": [
                        "events": ["CaseOpened"], "where": [["event": "CaseDeleted", "field": "x", "equals": 1]],
                    ]
                ])), "rules[0].trigger.where[0].event"
        ),
        (
            // With `event`, the field is that type's: `status` is not a field of CaseOpened.
            "condition field of another event type",
            document(
                rule: baseRule.merging([
                    "trigger": [
                        "events": ["CaseOpened", "IdentificationStatusChanged"],
                        "where": [["event": "CaseOpened", "field": "status", "equals": "presumed"]],
                    ]
                ])), "rules[0].trigger.where[0].field"
        ),
        (
            // Without `event`, the field must be every listed type's.
            "condition field not on every listed type",
            document(
                rule: baseRule.merging([
                    "trigger": [
                        "events": ["CaseOpened", "IdentificationStatusChanged"],
                        "where": [["field": "status", "equals": "presumed"]],
                    ]
                ])), "rules[0].trigger.where[0].field"
        ),
        (
            "cancelledBy empty events", document(rule: baseRule.merging(["cancelledBy": [["events": []]]])),
            "rules[0].cancelledBy[0].events"
        ),
        (
            "cancelledBy condition field",
            document(
                rule: baseRule.merging([
                    "cancelledBy": [
                        ["events": ["IdentificationStatusChanged"], "where": [["field": "x", "equals": 1]]]
                    ]
                ])), "rules[0].cancelledBy[0].where[0].field"
        ),
        (
            "cancelledBy condition value",
            document(
                rule: baseRule.merging([
                    "cancelledBy": [
                        ["events": ["IdentificationStatusChanged"], "where": [["field": "status", "equals": "gone"]]]
                    ]
                ])), "rules[0].cancelledBy[0].where[0].equals"
        ),
        (
            "cancelledBy sameReferral without referral",
            document(rule: baseRule.merging(["cancelledBy": [["events": ["CaseClosed"], "sameReferral": true]]])),
            "rules[0].cancelledBy[0].sameReferral"
        ),
        (
            "cancelledBy unknown member",
            document(rule: baseRule.merging(["cancelledBy": [["events": ["CaseClosed"], "when": "always"]]])),
            "rules[0].cancelledBy[0].when"
        ),
        (
            "reopenRetriggers on a referral rule", document(rule: baseRule.merging(["reopenRetriggers": true])),
            "rules[0].reopenRetriggers"
        ),
        (
            "reopenRetriggers string", document(rule: baseRule.merging(["reopenRetriggers": "yes"])),
            "rules[0].reopenRetriggers"
        ),
        (
            "reopenRetriggers object without value",
            document(rule: baseRule.merging(["reopenRetriggers": ["confirmed": false]])),
            "rules[0].reopenRetriggers.value"
        ),
        ("title missing", document(rule: without(baseRule, "title")), "rules[0].title"),
        (
            "source document missing",
            document(rule: baseRule.merging(["source": ["section": "x"]]).merging(["source": ["document": nil]])),
            "rules[0].source.document"
        ),
        ("source unknown field", document(rule: baseRule.merging(["source": ["url": "x"]])), "rules[0].source.url"),
        ("confirmed missing", document(rule: without(baseRule, "confirmed")), "rules[0].confirmed"),
        ("confirmed string", document(rule: baseRule.merging(["confirmed": "no"])), "rules[0].confirmed"),
        (
            "trigger event unknown", document(rule: baseRule.merging(["trigger": ["events": ["CaseCreated"]]])),
            "rules[0].trigger.events[0]"
        ),
        (
            "trigger events empty", document(rule: baseRule.merging(["trigger": ["events": []]])),
            "rules[0].trigger.events"
        ),
        ("trigger unknown field", document(rule: baseRule.merging(["trigger": ["if": 1]])), "rules[0].trigger.if"),
        (
            "condition unknown field",
            document(rule: baseRule.merging(["trigger": ["where": [["field": "profile.child", "equals": true]]]])),
            "rules[0].trigger.where[0].field"
        ),
        (
            "condition bad value",
            document(rule: baseRule.merging(["trigger": ["where": [["field": "urgency", "equals": "asap"]]]])),
            "rules[0].trigger.where[0].equals"
        ),
        (
            "condition bad option",
            document(
                rule: baseRule.merging(["trigger": ["where": [["field": "purpose", "in": ["shelter", "spa"]]]]])),
            "rules[0].trigger.where[0].in[1]"
        ),
        (
            "condition two tests",
            document(
                rule: baseRule.merging([
                    "trigger": ["where": [["field": "purpose", "in": ["shelter"], "equals": "shelter"]]]
                ])), "rules[0].trigger.where[0].field"
        ),
        (
            "contains on scalar",
            document(rule: baseRule.merging(["trigger": ["where": [["field": "purpose", "contains": "shelter"]]]])),
            "rules[0].trigger.where[0].contains"
        ),
        (
            "satisfier unknown", document(rule: baseRule.merging(["satisfiedBy": ["events": ["Done"]]])),
            "rules[0].satisfiedBy.events[0]"
        ),
        (
            "sameReferral without referrals",
            document(rule: baseRule.merging(["satisfiedBy": ["events": ["CaseReviewed"]]])),
            "rules[0].satisfiedBy.sameReferral"
        ),
        (
            "byRecipient without referral trigger",
            document(
                rule: baseRule.merging([
                    "trigger": ["events": ["CaseOpened"]], "satisfiedBy": ["sameReferral": false],
                    "responsible": ["kind": "case-opener"],
                ])), "rules[0].satisfiedBy.byRecipient"
        ),
        (
            "referralPurposes unknown",
            document(rule: baseRule.merging(["satisfiedBy": ["referralPurposes": ["spa"]]])),
            "rules[0].satisfiedBy.referralPurposes[0]"
        ),
        ("within missing", document(rule: without(baseRule, "within")), "rules[0].within"),
        ("within malformed", document(rule: baseRule.merging(["within": "24h"])), "rules[0].within"),
        ("within zero", document(rule: baseRule.merging(["within": "PT0S"])), "rules[0].within"),
        ("urgentWithin malformed", document(rule: baseRule.merging(["urgentWithin": "PT2"])), "rules[0].urgentWithin"),
        ("warnBefore malformed", document(rule: baseRule.merging(["warnBefore": "-PT1H"])), "rules[0].warnBefore"),
        (
            "days field not integer", document(rule: baseRule.merging(["withinDaysFromField": "purpose"])),
            "rules[0].withinDaysFromField"
        ),
        (
            "responsible kind unknown", document(rule: baseRule.merging(["responsible": ["kind": "everyone"]])),
            "rules[0].responsible.kind"
        ),
        (
            "responsible institution missing",
            document(rule: baseRule.merging(["responsible": ["kind": "institution"]])),
            "rules[0].responsible.institution"
        ),
        (
            "responsible role unknown",
            document(rule: baseRule.merging(["responsible": ["kind": "role", "role": "mayor"]])),
            "rules[0].responsible.role"
        ),
        ("recurring string", document(rule: baseRule.merging(["recurring": "yes"])), "rules[0].recurring"),
        ("unknown rule field", document(rule: baseRule.merging(["priority": 1])), "rules[0].priority"),
        ("titles not an object", document(rule: baseRule.merging(["titles": "Titulli"])), "rules[0].titles"),
        ("titles in English", document(rule: baseRule.merging(["titles": ["en": "T"]])), "rules[0].titles"),
        ("titles unknown language", document(top: ["titles": ["de": "Titel"]]), "titles"),
        ("title in a language empty", document(rule: baseRule.merging(["titles": ["sq": ""]])), "rules[0].titles.sq"),
        ("title in a language a number", document(top: ["titles": ["sr-Latn": 3]]), "titles.sr-Latn"),
        (
            "title in a language too long",
            document(rule: baseRule.merging(["titles": ["sq": .string(String(repeating: "a", count: 201))]])),
            "rules[0].titles.sq"
        ),
    ]

    @Test(arguments: malformed)
    func rejectsMalformedRulesets(name: String, document: JSONValue, field: String) {
        do {
            _ = try Ruleset.load(document)
            Issue.record("accepted: \(name)")
        } catch {
            #expect(error.code == .invalidRuleset, "\(name)")
            #expect(error.field == (field.isEmpty ? "" : field), "\(name): \(error)")
        }
    }

    /// `titles` beside `title`: the ruleset's and each rule's title in Albanian and Serbian; English
    /// is `title` itself (docs/rulesets.md, "Titles in several languages").
    @Test func titlesInOtherLanguagesAreReadBesideTheEnglishTitle() throws {
        let ruleset = try Ruleset.load(
            Self.document(
                rule: Self.baseRule.merging(["titles": ["sq": "Titulli", "sr-Latn": "Naslov", "sr-Cyrl": "Наслов"]]),
                top: ["titles": ["sq": "Provë"]]))
        #expect(ruleset.title == "Test" && ruleset.titles == ["sq": "Provë"])
        #expect(ruleset.rules[0].title == "T")
        #expect(ruleset.rules[0].titles == ["sq": "Titulli", "sr-Latn": "Naslov", "sr-Cyrl": "Наслов"])
        #expect(try Ruleset.load(Self.document()).rules[0].titles.isEmpty)
        // The default ruleset gives every rule and itself Albanian and Serbian titles.
        let kosovo = Ruleset.kosovoDefault
        #expect(Set(kosovo.titles.keys) == ["sq", "sr-Latn"])
        for rule in kosovo.rules { #expect(Set(rule.titles.keys) == ["sq", "sr-Latn"], "\(rule.id)") }
        #expect(kosovo.notice?.contains("UNREVIEWED") == true)
    }

    @Test func acceptsTheBaseDocument() throws {
        let ruleset = try Ruleset.load(Self.document())
        #expect(ruleset.rules.count == 1 && ruleset.document == Self.document())
        #expect(throws: ReferralsError.self) { try Ruleset.load(json: Array("{".utf8)) }
    }
}
