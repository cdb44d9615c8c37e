// The text of Rulesets/kosovo-default.json, embedded so the binary carries its default ruleset.
// A test keeps the two identical: edit the JSON file, then paste it here.

import Foundation

extension Ruleset {
    /// The default Kosovo ruleset (`Rulesets/kosovo-default.json`), byte for byte.
    public static let kosovoDefaultJSON: String = #"""
        {
          "id": "kosovo-default",
          "version": 8,
          "title": "Kosovo SOP deadlines for trafficked persons (default)",
          "titles": {"sq": "Afatet e PSV-së së Kosovës për personat e trafikuar (parazgjedhje)", "sr-Latn": "Rokovi SOP-a Kosova za žrtve trgovine ljudima (podrazumevani)"},
          "jurisdiction": "XK",
          "effectiveFrom": "2014-01-01",
          "timeZone": "Europe/Belgrade",
          "holidays": {
            "fixed": [
              {"date": "01-01", "name": "New Year's Day", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "Date as commonly published; not confirmed from the law's text."}, "confirmed": false},
              {"date": "01-02", "name": "New Year's Day (second day)", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "Date as commonly published; not confirmed from the law's text."}, "confirmed": false},
              {"date": "01-07", "name": "Orthodox Christmas", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "Date as commonly published; not confirmed from the law's text."}, "confirmed": false},
              {"date": "02-17", "name": "Independence Day", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "Date as commonly published; not confirmed from the law's text."}, "confirmed": false},
              {"date": "04-09", "name": "Constitution Day", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "Date as commonly published; not confirmed from the law's text."}, "confirmed": false},
              {"date": "05-01", "name": "International Labour Day", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "Date as commonly published; not confirmed from the law's text."}, "confirmed": false},
              {"date": "05-09", "name": "Europe Day", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "Date as commonly published; not confirmed from the law's text."}, "confirmed": false},
              {"date": "12-25", "name": "Catholic Christmas", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "Date as commonly published; not confirmed from the law's text."}, "confirmed": false}
            ],
            "easter": [
              {"computus": "gregorian", "offsetDays": 1, "name": "Catholic Easter Monday", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "Catholic Easter is an official holiday; whether the Monday is the day off is not confirmed."}, "confirmed": false},
              {"computus": "julian", "offsetDays": 1, "name": "Orthodox Easter Monday", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "Orthodox Easter is an official holiday; whether the Monday is the day off is not confirmed."}, "confirmed": false}
            ],
            "dates": [
              {"date": "2025-03-30", "name": "Eid al-Fitr (Ramazan Bajram) 2025", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "A lunar holiday: the date is announced each year; this one is an astronomical estimate, to be confirmed against the government's announcement."}, "confirmed": false},
              {"date": "2025-06-06", "name": "Eid al-Adha (Kurban Bajram) 2025", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "A lunar holiday: the date is announced each year; this one is an astronomical estimate, to be confirmed against the government's announcement."}, "confirmed": false},
              {"date": "2026-03-20", "name": "Eid al-Fitr (Ramazan Bajram) 2026", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "A lunar holiday: the date is announced each year; this one is an astronomical estimate, to be confirmed against the government's announcement."}, "confirmed": false},
              {"date": "2026-05-27", "name": "Eid al-Adha (Kurban Bajram) 2026", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "A lunar holiday: the date is announced each year; this one is an astronomical estimate, to be confirmed against the government's announcement."}, "confirmed": false},
              {"date": "2027-03-10", "name": "Eid al-Fitr (Ramazan Bajram) 2027", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "A lunar holiday: the date is announced each year; this one is an astronomical estimate, to be confirmed against the government's announcement."}, "confirmed": false},
              {"date": "2027-05-17", "name": "Eid al-Adha (Kurban Bajram) 2027", "source": {"document": "Law No. 03/L-064 on Official Holidays in the Republic of Kosovo (as amended)", "note": "A lunar holiday: the date is announced each year; this one is an astronomical estimate, to be confirmed against the government's announcement."}, "confirmed": false}
            ]
          },
          "notice": "The Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14) and the Minimum Standards of Care (2010) were not available in full text when this ruleset was written. Every rule with \"confirmed\": false has a timing that is a configurable placeholder, not law: it is not confirmed from the SOP text. The same holds for the consent policy: every entry with \"confirmed\": false, and its legal basis, is a placeholder to be confirmed by a lawyer. Version 2 adds the consent policy and the late-entry grace to version 1. Version 3 says which events cancel each rule (cancelledBy) and whether reopening a case restarts it (reopenRetriggers); each such choice is Handoff's reading, marked \"confirmed\": false. It also names its time zone (Europe/Belgrade: days are calendar days there, effectiveFrom a local date) and Kosovo's public holidays for working-day rules, every one marked \"confirmed\": false; the lunar holidays (Eid) are listed per year and must be added for each new year. Version 4 gives the ruleset and every rule titles in Albanian and Serbian (titles; translations by the developers, UNREVIEWED by a native-speaker practitioner) and changes nothing else. Version 5 adds lateTriggerGrace PT0S: a deadline another institution must meet runs from the moment its trigger is recorded, so no entry dated back within the late-entry grace makes another institution late (under version 4 an urgent referral dated back 23 hours was overdue for its recipient on arrival). Version 6 changes the victim-advocate rule (victim-advocate-assigned): under version 5 the opener answered for the advocate's acceptance, which the advocate has 72 hours to give, and a case a victim advocate opened itself was overdue for want of a referral to itself; now the opener answers for issuing the victim-advocacy referral within the same 24 hours, and a case a victim advocate opens starts no such deadline (trigger.exceptActorKinds). Version 7 changes the identification rule (identification-decided): under version 6 only a case opened presumed or potential started it, so a case opened as identified and then changed to presumed, or decided after its deadline and changed back, was undecided with no deadline at all; now a change to presumed or potential starts it too, unless one is already open (trigger.oneOpenAtATime), so moving between undecided statuses starts no second term. Version 8 changes the guardian rule (guardian-for-child): only the responsible institution's GuardianAppointed meets it (satisfiedBy.byResponsible); under version 7 any party's record of an appointment met the centre's deadline. Publish a new version when the figures are confirmed.",
          "lateEntryGrace": "PT24H",
          "lateTriggerGrace": "PT0S",
          "consent": {
            "victim-advocacy": {"policy": "not-required", "legalBasis": "Victim advocates assist presumed victims by law (Law No. 04/L-218 on Preventing and Combating Trafficking in Human Beings and Protecting Victims of Trafficking); whether referral to them needs prior consent is unconfirmed.", "source": {"document": "Law No. 04/L-218 on Preventing and Combating Trafficking in Human Beings and Protecting Victims of Trafficking", "note": "Article not confirmed from the text; placeholder."}, "confirmed": false},
            "investigation": {"policy": "not-required", "legalBasis": "Criminal investigation is a legal duty of the police and prosecution, not a service offered to the victim (Criminal Procedure Code of Kosovo).", "source": {"document": "Criminal Procedure Code of Kosovo (Code No. 08/L-032)", "note": "Article not confirmed from the text; placeholder."}, "confirmed": false},
            "prosecution": {"policy": "not-required", "legalBasis": "Prosecution is a legal duty of the State Prosecutor (Criminal Procedure Code of Kosovo).", "source": {"document": "Criminal Procedure Code of Kosovo (Code No. 08/L-032)", "note": "Article not confirmed from the text; placeholder."}, "confirmed": false},
            "guardianship": {"policy": "not-required", "legalBasis": "A guardian is appointed for an unaccompanied or separated child by the centre for social work as a legal obligation (Council of Europe Convention on Action against Trafficking in Human Beings, Art. 10(4); Law on Family of Kosovo).", "source": {"document": "Council of Europe Convention on Action against Trafficking in Human Beings (CETS No. 197)", "section": "Art. 10(4)", "note": "Kosovo's implementing provision not confirmed; placeholder."}, "confirmed": false},
            "shelter": {"policy": "required", "source": {"document": "Council of Europe Convention on Action against Trafficking in Human Beings (CETS No. 197)", "section": "Art. 12(7)", "note": "Assistance on a consensual and informed basis; Kosovo SOP wording not confirmed."}, "confirmed": false},
            "medical": {"policy": "required", "source": {"document": "Council of Europe Convention on Action against Trafficking in Human Beings (CETS No. 197)", "section": "Art. 12(7)", "note": "Assistance on a consensual and informed basis; Kosovo SOP wording not confirmed."}, "confirmed": false},
            "psychosocial": {"policy": "required", "source": {"document": "Council of Europe Convention on Action against Trafficking in Human Beings (CETS No. 197)", "section": "Art. 12(7)", "note": "Kosovo SOP wording not confirmed."}, "confirmed": false},
            "legal-aid": {"policy": "required", "source": {"document": "Council of Europe Convention on Action against Trafficking in Human Beings (CETS No. 197)", "section": "Art. 12(7)", "note": "Kosovo SOP wording not confirmed."}, "confirmed": false},
            "social-welfare": {"policy": "required", "source": {"document": "Council of Europe Convention on Action against Trafficking in Human Beings (CETS No. 197)", "section": "Art. 12(7)", "note": "Kosovo SOP wording not confirmed."}, "confirmed": false},
            "return-assistance": {"policy": "required", "source": {"document": "Council of Europe Convention on Action against Trafficking in Human Beings (CETS No. 197)", "section": "Art. 16", "note": "Return with due regard for rights, safety and dignity; Kosovo SOP wording not confirmed."}, "confirmed": false},
            "reintegration": {"policy": "required", "source": {"document": "Council of Europe Convention on Action against Trafficking in Human Beings (CETS No. 197)", "section": "Art. 12(7)", "note": "Kosovo SOP wording not confirmed."}, "confirmed": false},
            "other": {"policy": "required", "source": {"document": "Council of Europe Convention on Action against Trafficking in Human Beings (CETS No. 197)", "section": "Art. 12(7)", "note": "Kosovo SOP wording not confirmed."}, "confirmed": false}
          },
          "rules": [
            {
              "id": "referral-acknowledged",
              "title": "Referral acknowledged by the recipient",
              "titles": {"sq": "Pranimi i referimit konfirmohet nga marrësi", "sr-Latn": "Primalac potvrđuje prijem upućivanja"},
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
              "urgentWarnBefore": "PT30M",
              "cancelledBy": [
                {"events": ["CaseClosed"], "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "Closing the case ends what is not yet due; a deadline already missed stays missed. Handoff's reading, not confirmed from the SOP text."}, "confirmed": false},
                {"events": ["ReferralWithdrawn"], "sameReferral": true, "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "A withdrawn referral can no longer be acknowledged or decided; Handoff's reading, unconfirmed."}, "confirmed": false},
                {"events": ["ReferralDeclined"], "sameReferral": true, "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "A declined referral needs no further step from its recipient; unconfirmed."}, "confirmed": false}
              ],
              "reopenRetriggers": {"value": false, "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "A referral's deadlines restart with a new referral, not with the case."}, "confirmed": false}
            },
            {
              "id": "referral-decided",
              "title": "Referral accepted or declined by the recipient",
              "titles": {"sq": "Referimi pranohet ose refuzohet nga marrësi", "sr-Latn": "Primalac prihvata ili odbija upućivanje"},
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
              "warnBefore": "PT12H",
              "cancelledBy": [
                {"events": ["CaseClosed"], "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "Closing the case ends what is not yet due; a deadline already missed stays missed. Handoff's reading, not confirmed from the SOP text."}, "confirmed": false},
                {"events": ["ReferralWithdrawn"], "sameReferral": true, "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "A withdrawn referral can no longer be acknowledged or decided; Handoff's reading, unconfirmed."}, "confirmed": false},
                {"events": ["ReferralDeclined"], "sameReferral": true, "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "A declined referral needs no further step from its recipient; unconfirmed."}, "confirmed": false}
              ],
              "reopenRetriggers": {"value": false, "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "A referral's deadlines restart with a new referral, not with the case."}, "confirmed": false}
            },
            {
              "id": "victim-advocate-assigned",
              "title": "Referred to a victim advocate (victim-advocacy referral issued)",
              "titles": {"sq": "Referohet te mbrojtësi i viktimave (lëshohet referimi për mbrojtje të viktimave)", "sr-Latn": "Upućuje se zaštitniku žrtava (izdato upućivanje radi zaštite žrtava)"},
              "source": {
                "document": "US Department of State, Trafficking in Persons Report, Kosovo chapters 2020-2022",
                "section": "Protection",
                "note": "A victim advocate is present at identification; the 24-hour timing is an unconfirmed placeholder. The opener answers for referring the case to a victim advocate; the advocate's acknowledgement and decision are the advocate's own deadlines (referral-acknowledged, referral-decided). A case a victim advocate opens needs no such referral. Handoff's reading, not confirmed from the SOP text."
              },
              "confirmed": false,
              "trigger": {"events": ["CaseOpened"], "exceptActorKinds": ["victim-advocate"]},
              "satisfiedBy": {
                "events": ["ReferralIssued"],
                "referralPurposes": ["victim-advocacy"]
              },
              "within": "PT24H",
              "responsible": {"kind": "case-opener"},
              "warnBefore": "PT6H",
              "cancelledBy": [
                {"events": ["CaseClosed"], "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "Closing the case ends what is not yet due; a deadline already missed stays missed. Handoff's reading, not confirmed from the SOP text."}, "confirmed": false},
                {"events": ["IdentificationStatusChanged"], "where": [{"field": "status", "equals": "not-a-victim"}], "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "Assistance offered to a presumed victim ends when the person is found not to be a victim; unconfirmed."}, "confirmed": false}
              ],
              "reopenRetriggers": {"value": true, "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "A reopened case needs a victim advocate again if none was assigned before the closure; unconfirmed."}, "confirmed": false}
            },
            {
              "id": "risk-assessed",
              "title": "Risk assessed",
              "titles": {"sq": "Vlerësohet rreziku", "sr-Latn": "Procenjuje se rizik"},
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
              "warnBefore": "PT12H",
              "cancelledBy": [
                {"events": ["CaseClosed"], "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "Closing the case ends what is not yet due; a deadline already missed stays missed. Handoff's reading, not confirmed from the SOP text."}, "confirmed": false}
              ],
              "reopenRetriggers": {"value": true, "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "A reopened case is assessed for risk again if it was not before the closure; risk to the person's safety does not end with a not-a-victim finding. Unconfirmed."}, "confirmed": false}
            },
            {
              "id": "guardian-for-child",
              "title": "Guardian appointed for a child",
              "titles": {"sq": "Caktohet kujdestari për fëmijën", "sr-Latn": "Postavlja se staratelj za dete"},
              "source": {
                "document": "Council of Europe Convention on Action against Trafficking in Human Beings (CETS No. 197)",
                "section": "Article 10(4)",
                "note": "The Convention says \"as soon as\" an unaccompanied child is identified; 24 hours is an unconfirmed placeholder. Only the responsible institution's GuardianAppointed meets it (byResponsible, from version 8): the centre for social work is the guardianship authority, so another party recording an appointment does not discharge the centre; Handoff's reading, unconfirmed."
              },
              "confirmed": false,
              "trigger": {
                "events": ["CaseOpened"],
                "where": [{"field": "profile.child", "equals": true}]
              },
              "satisfiedBy": {"events": ["GuardianAppointed"], "byResponsible": true},
              "within": "PT24H",
              "responsible": {"kind": "role", "role": "social-work"},
              "warnBefore": "PT6H",
              "cancelledBy": [
                {"events": ["CaseClosed"], "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "Closing the case ends what is not yet due; a deadline already missed stays missed. Handoff's reading, not confirmed from the SOP text."}, "confirmed": false}
              ],
              "reopenRetriggers": {"value": true, "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "A child in a reopened case still needs a guardian if none was appointed; a child needs one whether or not trafficked. Unconfirmed."}, "confirmed": false}
            },
            {
              "id": "reflection-period-ends",
              "title": "Reflection and recovery period ended with an outcome",
              "titles": {"sq": "Periudha e reflektimit dhe rimëkëmbjes përfundon me një rezultat", "sr-Latn": "Period za razmišljanje i oporavak završava se ishodom"},
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
              "warnBefore": "P7D",
              "cancelledBy": [
                {"events": ["CaseClosed"], "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "Closing the case ends what is not yet due; a deadline already missed stays missed. Handoff's reading, not confirmed from the SOP text."}, "confirmed": false},
                {"events": ["IdentificationStatusChanged"], "where": [{"field": "status", "equals": "not-a-victim"}], "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "Assistance offered to a presumed victim ends when the person is found not to be a victim; unconfirmed."}, "confirmed": false}
              ],
              "reopenRetriggers": {"value": false, "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "A reflection period is started again by ReflectionPeriodStarted, not by reopening; unconfirmed."}, "confirmed": false}
            },
            {
              "id": "case-review",
              "title": "Case reviewed",
              "titles": {"sq": "Rishikohet rasti", "sr-Latn": "Razmatra se slučaj"},
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
              "recurring": true,
              "cancelledBy": [
                {"events": ["CaseClosed"], "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "Closing the case ends what is not yet due; a deadline already missed stays missed. Handoff's reading, not confirmed from the SOP text."}, "confirmed": false}
              ],
              "reopenRetriggers": {"value": true, "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "Reviews resume when a case is reopened (CaseReopened also triggers the rule); unconfirmed."}, "confirmed": false}
            },
            {
              "id": "identification-decided",
              "title": "Identification decided (identified or not a victim)",
              "titles": {"sq": "Vendoset për identifikimin (e identifikuar ose jo viktimë)", "sr-Latn": "Odlučuje se o identifikaciji (identifikovana ili nije žrtva)"},
              "source": {
                "document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)",
                "section": "Identification",
                "note": "30 days is an unconfirmed placeholder."
              },
              "confirmed": false,
              "trigger": {
                "events": ["CaseOpened", "IdentificationStatusChanged"],
                "where": [
                  {"event": "CaseOpened", "field": "identificationStatus", "in": ["presumed", "potential"]},
                  {"event": "IdentificationStatusChanged", "field": "status", "in": ["presumed", "potential"]}
                ],
                "oneOpenAtATime": true
              },
              "satisfiedBy": {
                "events": ["IdentificationStatusChanged"],
                "where": [{"field": "status", "in": ["identified", "not-a-victim"]}]
              },
              "within": "P30D",
              "responsible": {"kind": "case-opener"},
              "warnBefore": "P5D",
              "cancelledBy": [
                {"events": ["CaseClosed"], "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "Closing the case ends what is not yet due; a deadline already missed stays missed. Handoff's reading, not confirmed from the SOP text."}, "confirmed": false}
              ],
              "reopenRetriggers": {"value": true, "source": {"document": "Kosovo Standard Operating Procedures for Trafficked Persons (revised 2013/14)", "note": "An identification still undecided at closure must be decided after reopening; unconfirmed."}, "confirmed": false}
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

extension Ruleset {
    /// The default ruleset as the demo and the synthetic data sets publish it: the same rules and
    /// graces, with a `backfill` that gives a late-entry grace and a late-trigger grace of a year
    /// to the events recorded before `recordedBefore` — their synthetic history (a year of cases)
    /// is entered all at once, long after it "occurred". Everything recorded later (a demo user's
    /// own entries) is judged by the real graces. Never for real records.
    public static func kosovoDefaultForBackfill(recordedBefore: Date) -> JSONValue {
        var document = kosovoDefault.document.objectValue!
        document["backfill"] = [
            "recordedBefore": .string(Timestamp.format(recordedBefore)), "lateEntryGrace": "PT8760H",
            "lateTriggerGrace": "PT8760H",
        ]
        document["notice"] = .string(
            (kosovoDefault.notice ?? "")
                + " SYNTHETIC BACKFILL: events recorded before backfill.recordedBefore (a synthetic history entered "
                + "all at once) are judged with a late-entry grace and a late-trigger grace of a year; everything "
                + "recorded later with the real ones.")
        return .object(document)
    }

    /// A `recordedBefore` for a synthetic history written after its ruleset was published (tests and
    /// benchmarks): 2100-01-01.
    public static let backfillForever = Date(timeIntervalSince1970: 4_102_444_800)
}
