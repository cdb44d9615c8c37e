-- Every reflection period of a case, one row each, for the annual report's tables of periods by
-- length and outcome. The report counted the one period case_summary keeps, the latest: a new
-- period started after the last one ended took its place, and the earlier period's length, outcome
-- and year vanished from the figures — a closed year's too (attack pass 17).
--
-- A store projected before this migration gets each case's latest period here at once (what the
-- report counted until now); the live projector writes every period of a case whenever it renders
-- the case again, and `handoff project rebuild cases` writes them all.
CREATE TABLE handoff.reflection_periods (
    case_id    text NOT NULL,
    ordinal    int NOT NULL CHECK (ordinal >= 0),
    started_at timestamptz NOT NULL,
    days       int,
    ended_at   timestamptz,
    outcome    text,
    PRIMARY KEY (case_id, ordinal)
);
CREATE INDEX reflection_periods_started ON handoff.reflection_periods (started_at);

INSERT INTO handoff.reflection_periods (case_id, ordinal, started_at, days, ended_at, outcome)
SELECT case_id, 0, reflection_started_at, reflection_days, reflection_ended_at, reflection_outcome
  FROM handoff.case_summary
 WHERE reflection_started_at IS NOT NULL;

REVOKE ALL ON handoff.reflection_periods FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON handoff.reflection_periods TO handoff_app;
GRANT SELECT ON handoff.reflection_periods TO handoff_auditor;

-- A rebuild may shadow it like the other read models.
CREATE OR REPLACE FUNCTION handoff.require_read_model_table(p_table text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_table NOT IN ('case_summary', 'case_parties', 'referrals', 'deadlines', 'deadline_notices',
                       'case_documents', 'reflection_periods', 'institutions', 'sop_rulesets') THEN
        RAISE EXCEPTION 'not a read-model table' USING ERRCODE = 'HF020';
    END IF;
END
$$;
