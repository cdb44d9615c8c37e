// The text of Rulesets/kosovo-default.json, embedded so the binary carries its default ruleset.
// A test keeps the two identical: edit the JSON file, then paste it here.

extension Ruleset {
    /// The default Kosovo ruleset (`Rulesets/kosovo-default.json`), byte for byte.
    public static let kosovoDefaultJSON: String = #"""
        {
          "id": "kosovo-default",
          "version": 1,
          "title": "Kosovo SOP deadlines for trafficked persons (default)",
          "jurisdiction": "XK",
          "effectiveFrom": "2014-01-01",
          "notice": "The Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14) and the Minimum Standards of Care (2010) were not available in full text when this ruleset was written. Every rule with \"confirmed\": false has a timing that is a configurable placeholder, not law: it is not confirmed from the SOP text. Publish a new version when the figures are confirmed.",
          "rules": [
            {
              "id": "referral-acknowledged",
              "title": "Referral acknowledged by the recipient",
              "source": {
                "document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)",
                "section": "Referral practice",
                "note": "24 hours (urgent: 2 hours) is an unconfirmed placeholder."
              },
              "confirmed": false,
              "trigger": {"events": ["ReferralIssued"]},
              "satisfiedBy": {
                "events": ["ReferralAcknowledged", "ReferralAccepted", "ReferralDeclined"],
                "sameReferral": true,
                "byRecipient": true
              },
              "within": "PT24H",
              "urgentWithin": "PT2H",
              "responsible": {"kind": "referral-recipient"},
              "warnBefore": "PT6H",
              "urgentWarnBefore": "PT30M"
            },
            {
              "id": "referral-decided",
              "title": "Referral accepted or declined by the recipient",
              "source": {
                "document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)",
                "section": "Referral practice",
                "note": "72 hours is an unconfirmed placeholder."
              },
              "confirmed": false,
              "trigger": {"events": ["ReferralIssued"]},
              "satisfiedBy": {
                "events": ["ReferralAccepted", "ReferralDeclined"],
                "sameReferral": true,
                "byRecipient": true
              },
              "within": "PT72H",
              "responsible": {"kind": "referral-recipient"},
              "warnBefore": "PT12H"
            },
            {
              "id": "victim-advocate-assigned",
              "title": "Victim advocate assigned (victim-advocacy referral accepted)",
              "source": {
                "document": "US Department of State, Trafficking in Persons Report, Kosovo chapters 2020-2022",
                "section": "Protection",
                "note": "A victim advocate is present at identification; the 24-hour timing is an unconfirmed placeholder."
              },
              "confirmed": false,
              "trigger": {"events": ["CaseOpened"]},
              "satisfiedBy": {
                "events": ["ReferralAccepted"],
                "referralPurposes": ["victim-advocacy"]
              },
              "within": "PT24H",
              "responsible": {"kind": "case-opener"},
              "warnBefore": "PT6H"
            },
            {
              "id": "risk-assessed",
              "title": "Risk assessed",
              "source": {
                "document": "US Department of State, Trafficking in Persons Report, Kosovo chapters 2020-2022",
                "section": "Protection",
                "note": "Joint police and victim advocate risk rating; the 72-hour timing is an unconfirmed placeholder."
              },
              "confirmed": false,
              "trigger": {"events": ["CaseOpened"]},
              "satisfiedBy": {"events": ["RiskAssessed"]},
              "within": "PT72H",
              "responsible": {"kind": "case-opener"},
              "warnBefore": "PT12H"
            },
            {
              "id": "guardian-for-child",
              "title": "Guardian appointed for a child",
              "source": {
                "document": "Council of Europe Convention on Action against Trafficking in Human Beings (CETS No. 197)",
                "section": "Article 10(4)",
                "note": "The Convention says \"as soon as\" an unaccompanied child is identified; 24 hours is an unconfirmed placeholder."
              },
              "confirmed": false,
              "trigger": {
                "events": ["CaseOpened"],
                "where": [{"field": "profile.child", "equals": true}]
              },
              "satisfiedBy": {"events": ["GuardianAppointed"]},
              "within": "PT24H",
              "responsible": {"kind": "role", "role": "social-work"},
              "warnBefore": "PT6H"
            },
            {
              "id": "reflection-period-ends",
              "title": "Reflection and recovery period ended with an outcome",
              "source": {
                "document": "US Department of State, Trafficking in Persons Report 2024, Kosovo chapter",
                "section": "Protection",
                "note": "90 days in Kosovo per a secondary source (US TIP 2024), not confirmed from the SOP text; the Council of Europe Convention, Article 13, requires at least 30 days. The period's own days field, when given, sets the limit."
              },
              "confirmed": false,
              "trigger": {"events": ["ReflectionPeriodStarted"]},
              "satisfiedBy": {"events": ["ReflectionPeriodEnded"]},
              "within": "P90D",
              "withinDaysFromField": "days",
              "responsible": {"kind": "trigger-actor"},
              "warnBefore": "P7D"
            },
            {
              "id": "case-review",
              "title": "Case reviewed",
              "source": {
                "document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)",
                "section": "Case management",
                "note": "A review every 30 days is an unconfirmed placeholder. Recurring: each review starts the next period."
              },
              "confirmed": false,
              "trigger": {"events": ["CaseOpened", "CaseReopened"]},
              "satisfiedBy": {"events": ["CaseReviewed"]},
              "within": "P30D",
              "responsible": {"kind": "case-opener"},
              "warnBefore": "P5D",
              "recurring": true
            },
            {
              "id": "identification-decided",
              "title": "Identification decided (identified or not a victim)",
              "source": {
                "document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)",
                "section": "Identification",
                "note": "30 days is an unconfirmed placeholder."
              },
              "confirmed": false,
              "trigger": {
                "events": ["CaseOpened"],
                "where": [{"field": "identificationStatus", "in": ["presumed", "potential"]}]
              },
              "satisfiedBy": {
                "events": ["IdentificationStatusChanged"],
                "where": [{"field": "status", "in": ["identified", "not-a-victim"]}]
              },
              "within": "P30D",
              "responsible": {"kind": "case-opener"},
              "warnBefore": "P5D"
            }
          ]
        }

        """#

    /// ``kosovoDefaultJSON`` loaded. Its figures are unconfirmed placeholders (see `notice`).
    public static let kosovoDefault: Ruleset = {
        // The embedded document is tested to load; a failure here is a build defect.
        do { return try load(json: Array(kosovoDefaultJSON.utf8)) } catch { fatalError("embedded ruleset: \(error)") }
    }()
}
