-- One definition of a deadline's status (issue 13): the evaluator decides what is settled — met,
-- met-late, cancelled, or overdue for good (missed before its case closed, or notified) — and the
-- projector stores it in `settled` (Deadline.settled in Swift). Only what depends on the clock is
-- left to the query: an unsettled deadline is overdue from due_at, due-soon from warn_at, else
-- pending, comparisons of stored columns with `now`. `deadline_status` and the paging conditions
-- read `settled`; satisfied_at, cancelled_at, missed_at_closure and notified stay as facts.

ALTER TABLE handoff.deadlines ADD COLUMN settled text
    CHECK (settled IS NULL OR settled IN ('met', 'met-late', 'cancelled', 'overdue'));

-- Rows projected before: the same decision the evaluator makes (Deadline.settled).
UPDATE handoff.deadlines SET settled = CASE
        WHEN satisfied_at IS NOT NULL THEN
            CASE WHEN satisfied_at <= due_at AND NOT notified THEN 'met' ELSE 'met-late' END
        WHEN cancelled_at IS NOT NULL THEN 'cancelled'
        WHEN missed_at_closure OR notified THEN 'overdue'
    END;

DROP FUNCTION handoff.deadline_status(timestamptz, timestamptz, timestamptz, timestamptz, boolean, boolean, timestamptz);
CREATE FUNCTION handoff.deadline_status(
    p_settled text, p_due_at timestamptz, p_warn_at timestamptz, p_now timestamptz
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(p_settled, CASE
        WHEN p_now >= p_due_at THEN 'overdue'
        WHEN p_now >= p_warn_at THEN 'due-soon'
        ELSE 'pending'
    END)
$$;
GRANT EXECUTE ON FUNCTION handoff.deadline_status(text, timestamptz, timestamptz, timestamptz)
    TO handoff_app, handoff_auditor;

-- The paging indexes of 0006, 0009 and 0020 on the stored decision.
DROP INDEX handoff.deadlines_open_page;
DROP INDEX handoff.deadlines_missed_open_page;
DROP INDEX handoff.deadlines_case_status_open_page;
DROP INDEX handoff.deadlines_case_status_missed_open_page;
CREATE INDEX deadlines_open_page ON handoff.deadlines (due_at, case_id, ordinal) WHERE settled IS NULL;
CREATE INDEX deadlines_missed_open_page ON handoff.deadlines (due_at, case_id, ordinal) WHERE settled = 'overdue';
CREATE INDEX deadlines_case_status_open_page ON handoff.deadlines (case_status, due_at, case_id, ordinal)
    WHERE settled IS NULL;
CREATE INDEX deadlines_case_status_missed_open_page ON handoff.deadlines (case_status, due_at, case_id, ordinal)
    WHERE settled = 'overdue';
