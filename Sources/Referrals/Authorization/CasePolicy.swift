/// Who may do what with a case (DESIGN.md "Who sees what"). Pure: decisions from the principal
/// and the case's own state, which callers fold from the case stream (authoritative). The one
/// exception is a read allowed by a read model's list of parties (``mayRead(_:isParty:)``):
/// parties only ever join a case, so a lagging list can only fail to name one, and then the
/// caller asks the stream.
public enum CasePolicy {
    /// Whether `principal` may read the case: a party, a coordinator or an auditor.
    public static func mayRead(_ principal: Principal, _ state: CaseState) -> Bool {
        mayRead(principal, isParty: state.isParty)
    }

    /// ``mayRead(_:_:)`` with the party test given: coordinators and auditors read every case,
    /// an institution the cases it is party to.
    public static func mayRead(_ principal: Principal, isParty: (String) -> Bool) -> Bool {
        switch principal.role {
        case .coordinator, .auditor: true
        case .institution: principal.institution.map(isParty) ?? false
        }
    }

    /// ``mayRead(_:_:)`` as a check. - Throws: `forbidden`.
    public static func authorizeRead(_ principal: Principal, _ state: CaseState) throws(ReferralsError) {
        guard mayRead(principal, state) else {
            throw ReferralsError(.forbidden, "only parties of a case, coordinators and auditors may read it")
        }
    }

    /// The refusal of an event other than `CaseOpened` on a case that does not exist. The append
    /// route answers a caller who is not a party of an existing case with this same error.
    public static let noSuchCase = ReferralsError(
        .notFound, "the case does not exist; its first event must be CaseOpened")

    /// Decides whether `principal` may append an event of `type` to a case in `state` (`nil`:
    /// the case does not exist), in this order:
    ///
    /// 1. Only an `institution` principal appends case events → `forbidden`.
    /// 2. The first event must be `CaseOpened` → `not_found` for anything else on a missing case;
    ///    `CaseOpened` on an existing case → `wrong_expected_version` (API.md: 409).
    /// 3. Only parties append to an existing case → `forbidden` (the append route answers a
    ///    non-party before this, as if the case did not exist: ``noSuchCase``).
    /// 4. After `CaseClosed` only `CaseReopened`; `CaseReopened` only when closed → `invalid_event`.
    /// 5. Only the case's leads close it (``mayClose(_:_:)``) → `forbidden`.
    /// 6. Only the institutions that identify victims change the identification status
    ///    (``mayDecideIdentification(_:_:kinds:)``; `kinds`: each registered institution's kinds)
    ///    → `forbidden`.
    /// 7. Only the institution that started the running reflection period, or the case's leads,
    ///    end it → `forbidden`.
    ///
    /// 8. A party in name only — not the opener, and every referral to it declined or withdrawn —
    ///    does not refer the case on → `forbidden` (``isActiveParty(_:_:)``). (Nor does it record
    ///    the victim's consent given: ``CaseAdmission``, which reads the record's `given`; any
    ///    party records a withdrawal.)
    ///
    /// Who may take a referral's steps (the recipient acknowledges, accepts, declines and
    /// completes; the issuer withdraws) needs the referral, so it is ``ReferralLifecycle``'s.
    public static func authorizeAppend(
        _ principal: Principal, type: CaseEventType, to state: CaseState?, kinds: [String: [InstitutionKind]]
    ) throws(ReferralsError) {
        guard principal.role == .institution, let institution = principal.institution else {
            throw ReferralsError(.forbidden, "only an institution may append case events")
        }
        guard let state else {
            guard type == .caseOpened else { throw noSuchCase }
            return
        }
        guard type != .caseOpened else {
            throw ReferralsError(.wrongExpectedVersion, field: "type", "the case already exists")
        }
        guard state.isParty(institution) else {
            throw ReferralsError(.forbidden, "only parties of the case may append to it")
        }
        if state.isClosed, type != .caseReopened {
            throw .invalidEvent("type", "the case is closed; only CaseReopened may follow")
        }
        if !state.isClosed, type == .caseReopened {
            throw .invalidEvent("type", "only a closed case can be reopened")
        }
        if type == .caseClosed, !mayClose(institution, state) {
            throw ReferralsError(
                .forbidden,
                "only the institution that opened the case, or its victim advocate (who accepted its "
                    + "victim-advocacy referral), may close it")
        }
        // Ending a reflection period says what became of the victim's time to decide (attack pass
        // 20 had a shelter end the police's 90-day period a second after it began, "victim withdrew").
        if type == .reflectionPeriodEnded, let period = state.reflectionPeriod, period.isRunning,
            period.startedBy != institution, !mayClose(institution, state)
        {
            throw ReferralsError(
                .forbidden,
                "only the institution that started the reflection period, the one that opened the case, or "
                    + "its victim advocate may end it")
        }
        // Attack pass 22: a recipient that had declined its referral recorded the victim's consent
        // to another institution and referred the case there, in one request; the other read it all.
        // (The consent given is the admission's to check: it reads the record's `given`.)
        if type == .referralIssued, !isActiveParty(institution, state) { throw partyInNameOnly }
        if type == .identificationStatusChanged, !mayDecideIdentification(institution, state, kinds: kinds) {
            throw ReferralsError(
                .forbidden,
                "only the institution that opened the case, the police, the prosecution or a victim advocate "
                    + "may change its identification status")
        }
    }

    /// Whether `institution` may change the case's identification status: it opened the case, or it
    /// is a police, prosecution or victim-advocate institution (the SOP's identifying bodies), or
    /// the case's victim advocate (``mayClose(_:_:)``). A decision changed by another party makes
    /// the institution that answers for it act again, so no shelter, clinic or NGO party may do it
    /// (an attack pass had a shelter undo the police's decision just before its due time).
    public static func mayDecideIdentification(
        _ institution: String, _ state: CaseState, kinds: [String: [InstitutionKind]]
    ) -> Bool {
        mayClose(institution, state)
            || (kinds[institution] ?? []).contains { [.police, .prosecution, .victimAdvocate].contains($0) }
    }

    /// Refused: a party in name only passes the case on (``isActiveParty(_:_:)``).
    public static let partyInNameOnly = ReferralsError(
        .forbidden,
        "every referral of this case to this institution was declined or withdrawn: it no longer refers the "
            + "case on or records the victim's consent given")

    /// Whether the recipient of `referral` may decline it: not when, after this referral reached
    /// it, it referred the case on to an institution that was no party yet, and this referral is
    /// its only part in the case — it took the case on and brought another in (attack pass 23
    /// recorded consent, referred the case to a new institution and declined, in one batch, to pass
    /// it on and be a party in name only). Such an onward referral withdrawn or declined since
    /// still counts: the case went out. A referral on to an existing party (a shelter asking the
    /// case's advocate for legal aid) does not; the opener, or a recipient taking part through
    /// another referral, declines as before. (Admission refuses the decline; the dashboard does
    /// not offer it.)
    public static func mayDecline(_ referral: Referral, _ state: CaseState) -> Bool {
        guard let at = state.referralOrder.firstIndex(of: referral.id) else { return true }
        var parties: Set<String> = [state.openedBy, referral.to]
        for id in state.referralOrder[..<at] { if let r = state.referrals[id] { parties.insert(r.to) } }
        var broughtIn = false
        for id in state.referralOrder[(at + 1)...] {
            guard let r = state.referrals[id] else { continue }
            if r.from == referral.to, !parties.contains(r.to) {
                broughtIn = true
                break
            }
            parties.insert(r.to)
        }
        return !broughtIn || takesPart(referral.to, state, besides: referral.id)
    }

    /// Whether `institution` takes part in the case now: it opened it, or some referral to it was
    /// not declined or withdrawn (open, or completed). A recipient whose every referral was
    /// declined or withdrawn stays a party (it reads the case, and what it recorded stands) but
    /// does not pass the case on. (A recipient that passed it on may not decline afterwards:
    /// ``CaseAdmission``.)
    public static func isActiveParty(_ institution: String, _ state: CaseState) -> Bool {
        takesPart(institution, state, besides: nil)
    }

    /// ``isActiveParty(_:_:)``, leaving out the referral `besides` (the one being declined).
    private static func takesPart(_ institution: String, _ state: CaseState, besides: String?) -> Bool {
        institution == state.openedBy
            || state.referrals.values.contains { r in
                r.id != besides && r.to == institution && r.status != .declined && r.status != .withdrawn
            }
    }

    /// Whether `institution` may close the case: it opened the case, or it is the case's victim
    /// advocate — the recipient of a victim-advocacy referral it accepted (and has not had withdrawn),
    /// who coordinates the victim's assistance. Closing ends every running deadline of every party,
    /// so no other party — a shelter, a clinic — may do it; any party may reopen (which excuses
    /// nothing: docs/time-of-record.md, section 2).
    public static func mayClose(_ institution: String, _ state: CaseState) -> Bool {
        institution == state.openedBy
            || state.referrals.values.contains { r in
                r.to == institution && r.purpose == .victimAdvocacy && (r.status == .accepted || r.status == .completed)
            }
    }
}
