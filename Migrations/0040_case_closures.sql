-- Every closure of a case, one row each, with the reopening that undid it: the annual report's
-- closures by reason and "how the year ended" for each case. The report read the one closure
-- case_summary keeps, which a reopening clears: a case closed in a published year and reopened
-- later vanished from that year's closures and turned "open" at its end (an auditor's pass).
--
-- A store projected before this migration gets each closed case's current closure here at once;
-- the live projector writes every closure of a case whenever it renders the case again, and
-- `handoff project rebuild cases` writes them all (a reopened case's earlier closures need one of
-- the two: docs/operations.md).
CREATE TABLE handoff.case_closures (
    case_id     text NOT NULL,
    ordinal     int NOT NULL CHECK (ordinal >= 0),
    closed_at   timestamptz NOT NULL,
    reason      text NOT NULL,
    reopened_at timestamptz,
    PRIMARY KEY (case_id, ordinal)
);
CREATE INDEX case_closures_closed ON handoff.case_closures (closed_at);

INSERT INTO handoff.case_closures (case_id, ordinal, closed_at, reason, reopened_at)
SELECT case_id, 0, closed_at, coalesce(closure_reason, 'other'), NULL
  FROM handoff.case_summary
 WHERE closed_at IS NOT NULL;

REVOKE ALL ON handoff.case_closures FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON handoff.case_closures TO handoff_app;
GRANT SELECT ON handoff.case_closures TO handoff_auditor;

-- A rebuild may shadow it like the other read models.
CREATE OR REPLACE FUNCTION handoff.require_read_model_table(p_table text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_table NOT IN ('case_summary', 'case_parties', 'referrals', 'deadlines', 'deadline_notices',
                       'case_documents', 'reflection_periods', 'case_closures', 'institutions',
                       'sop_rulesets') THEN
        RAISE EXCEPTION 'not a read-model table' USING ERRCODE = 'HF020';
    END IF;
END
$$;
