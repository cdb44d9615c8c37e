-- Read models: tables the projectors (Sources/Projections) build from handoff.events.
--
-- Every row here is a pure function of the events up to the owning projector's checkpoint, so a
-- rebuild from the start yields exactly the same rows. No column holds a wall-clock time of the
-- projector itself; statuses that depend on "now" (deadline pending / due-soon / overdue) are
-- derived at query time by handoff.deadline_status(…, now).

-- Where each projector stands in the gap-free global order. A batch of events and the advance of
-- this row commit in one transaction.
CREATE TABLE handoff.projector_checkpoints (
    name           text PRIMARY KEY,
    xid            xid8 NOT NULL DEFAULT '0',
    position       bigint NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    events_applied bigint NOT NULL DEFAULT 0
);

-- Projector "cases" ---------------------------------------------------------------------------

-- One row per case: the fold of its stream (corrections applied).
CREATE TABLE handoff.case_summary (
    case_id               text PRIMARY KEY,
    status                text NOT NULL,            -- open | closed
    identification_status text NOT NULL,
    risk_level            text,
    risk_assessed_at      timestamptz,
    opened_by             text NOT NULL,
    opened_at             timestamptz NOT NULL,     -- occurredAt of CaseOpened
    opened_year           int NOT NULL,             -- UTC year of opened_at, for statistics
    opening_event_id      uuid NOT NULL,
    child                 boolean NOT NULL,
    sex                   text NOT NULL,
    age_band              text NOT NULL,
    nationality           text NOT NULL,
    exploitation          text[] NOT NULL,
    guardian_appointed_at timestamptz,
    reflection_started_at timestamptz,
    reflection_days       int,
    reflection_ended_at   timestamptz,
    last_reviewed_at      timestamptz,
    closed_at             timestamptz,
    closure_reason        text,
    reopen_count          int NOT NULL,
    correction_count      int NOT NULL,
    version               bigint NOT NULL,          -- the case stream's version
    last_event_id         uuid NOT NULL,
    last_event_at         timestamptz NOT NULL      -- recordedAt of the case's last event
);
CREATE INDEX case_summary_opened_year ON handoff.case_summary (opened_year);

-- Who may see a case: its opener and every referral recipient.
CREATE TABLE handoff.case_parties (
    case_id     text NOT NULL,
    institution text NOT NULL,
    ordinal     int NOT NULL,                       -- 0 = opener, then in order of first referral
    PRIMARY KEY (case_id, institution)
);
CREATE INDEX case_parties_institution ON handoff.case_parties (institution, case_id);

-- Every referral of every case; the inbox is the open ones addressed to an institution.
CREATE TABLE handoff.referrals (
    case_id         text NOT NULL,
    referral_id     text NOT NULL,
    from_institution text NOT NULL,
    to_institution  text NOT NULL,
    purpose         text NOT NULL,
    urgency         text NOT NULL,
    status          text NOT NULL,                  -- issued | acknowledged | accepted | declined | completed
    issued_at       timestamptz NOT NULL,
    issued_event_id uuid NOT NULL,
    acknowledged_at timestamptz,
    accepted_at     timestamptz,
    declined_at     timestamptz,
    decline_reason  text,
    completed_at    timestamptz,
    outcome         text,
    ordinal         int NOT NULL,
    PRIMARY KEY (case_id, referral_id)
);
CREATE INDEX referrals_recipient ON handoff.referrals (to_institution, status);

-- One row per SOP deadline, recomputed per case with DeadlineEvaluator and the rulesets published
-- in sop-rulesets (up to the projector's checkpoint). No status column: see deadline_status().
CREATE TABLE handoff.deadlines (
    case_id               text NOT NULL,
    rule_id               text NOT NULL,
    ruleset_id            text NOT NULL,
    ruleset_version       int NOT NULL,
    trigger_event_id      uuid NOT NULL,
    title                 text NOT NULL,
    confirmed             boolean NOT NULL,
    triggered_at          timestamptz NOT NULL,
    referral_id           text,
    due_at                timestamptz NOT NULL,
    warn_at               timestamptz NOT NULL,
    responsible           text NOT NULL,
    satisfied_at          timestamptz,
    satisfied_by_event_id uuid,
    cancelled_at          timestamptz,
    missed_at_closure     boolean NOT NULL,
    ordinal               int NOT NULL,
    PRIMARY KEY (case_id, rule_id, ruleset_id, trigger_event_id)
);
CREATE INDEX deadlines_responsible ON handoff.deadlines (responsible);
CREATE INDEX deadlines_open_due ON handoff.deadlines (due_at) WHERE satisfied_at IS NULL AND cancelled_at IS NULL;

-- SopDeadlineMissed notices from sop-<caseId> streams.
CREATE TABLE handoff.deadline_notices (
    event_id         uuid PRIMARY KEY,
    case_id          text NOT NULL,
    rule_id          text NOT NULL,
    trigger_event_id uuid NOT NULL,
    due_at           timestamptz NOT NULL,
    responsible      text NOT NULL,
    recorded_at      timestamptz NOT NULL
);
CREATE INDEX deadline_notices_deadline ON handoff.deadline_notices (case_id, rule_id, trigger_event_id);

-- Projector "registry" ------------------------------------------------------------------------

-- Registered institutions (InstitutionRegistered in `institutions`; a re-registration replaces).
CREATE TABLE handoff.institutions (
    institution_id text PRIMARY KEY,
    name           text NOT NULL,
    kinds          text[] NOT NULL,
    registered_at  timestamptz NOT NULL,
    event_id       uuid NOT NULL
);

-- Published SOP ruleset versions (SopRulesetPublished in `sop-rulesets`; data = the document).
CREATE TABLE handoff.sop_rulesets (
    ruleset_id     text NOT NULL,
    version        int NOT NULL,
    title          text NOT NULL,
    effective_from date NOT NULL,
    rule_count     int NOT NULL,
    published_at   timestamptz NOT NULL,
    event_id       uuid NOT NULL,
    PRIMARY KEY (ruleset_id, version)
);

-- A deadline's status at `p_now` (DeadlineEvaluator's rules, in SQL so that stored rows never go stale).
CREATE FUNCTION handoff.deadline_status(
    p_satisfied_at timestamptz, p_due_at timestamptz, p_warn_at timestamptz, p_cancelled_at timestamptz,
    p_missed_at_closure boolean, p_now timestamptz
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_satisfied_at IS NOT NULL THEN CASE WHEN p_satisfied_at <= p_due_at THEN 'met' ELSE 'met-late' END
        WHEN p_cancelled_at IS NOT NULL THEN 'cancelled'
        WHEN p_missed_at_closure OR p_now >= p_due_at THEN 'overdue'
        WHEN p_now >= p_warn_at THEN 'due-soon'
        ELSE 'pending'
    END
$$;

-- Rebuilds: a shadow copy of a read-model table, filled by a replay and then swapped in.
CREATE FUNCTION handoff.create_shadow(p_table text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_table NOT IN ('case_summary', 'case_parties', 'referrals', 'deadlines', 'deadline_notices',
                       'institutions', 'sop_rulesets') THEN
        RAISE EXCEPTION 'not a read-model table' USING ERRCODE = 'HF020';
    END IF;
    EXECUTE format('DROP TABLE IF EXISTS handoff.%I', p_table || '_shadow');
    EXECUTE format('CREATE TABLE handoff.%I (LIKE handoff.%I INCLUDING ALL)', p_table || '_shadow', p_table);
END
$$;

-- Replaces a read-model table by its shadow (call inside the swap transaction): drops the live
-- table, renames the shadow and its indexes to the live names and grants the roles again.
CREATE FUNCTION handoff.swap_in_shadow(p_table text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    v_shadow text := p_table || '_shadow';
BEGIN
    IF p_table NOT IN ('case_summary', 'case_parties', 'referrals', 'deadlines', 'deadline_notices',
                       'institutions', 'sop_rulesets') THEN
        RAISE EXCEPTION 'not a read-model table' USING ERRCODE = 'HF020';
    END IF;
    EXECUTE format('DROP TABLE handoff.%I', p_table);
    EXECUTE format('ALTER TABLE handoff.%I RENAME TO %I', v_shadow, p_table);
    FOR r IN
        SELECT i.relname FROM pg_index x
          JOIN pg_class i ON i.oid = x.indexrelid
          JOIN pg_class t ON t.oid = x.indrelid
          JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = 'handoff' AND t.relname = p_table AND left(i.relname, length(v_shadow)) = v_shadow
    LOOP
        EXECUTE format('ALTER INDEX handoff.%I RENAME TO %I', r.relname,
                       p_table || substr(r.relname, length(v_shadow) + 1));
    END LOOP;
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON handoff.%I TO handoff_app', p_table);
    EXECUTE format('GRANT SELECT ON handoff.%I TO handoff_auditor', p_table);
END
$$;

REVOKE ALL ON handoff.projector_checkpoints, handoff.case_summary, handoff.case_parties, handoff.referrals,
    handoff.deadlines, handoff.deadline_notices, handoff.institutions, handoff.sop_rulesets FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON handoff.projector_checkpoints, handoff.case_summary, handoff.case_parties,
    handoff.referrals, handoff.deadlines, handoff.deadline_notices, handoff.institutions, handoff.sop_rulesets
    TO handoff_app;
GRANT SELECT ON handoff.projector_checkpoints, handoff.case_summary, handoff.case_parties, handoff.referrals,
    handoff.deadlines, handoff.deadline_notices, handoff.institutions, handoff.sop_rulesets TO handoff_auditor;
REVOKE ALL ON FUNCTION handoff.create_shadow(text), handoff.swap_in_shadow(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION handoff.deadline_status(timestamptz, timestamptz, timestamptz, timestamptz, boolean,
    timestamptz) TO handoff_app, handoff_auditor;
