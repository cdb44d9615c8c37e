-- The referral lifecycle and the coordinator's board (issue 13, docs/rulesets.md).
--
-- 1. A referral may be withdrawn by its issuer (`ReferralWithdrawn`): the referrals read model
--    keeps when and why. Its status `withdrawn` is not open, so the inbox drops it.
-- 2. Deadlines carry their case's status (`open` | `closed`), written by the projector with the
--    rest of the row, so that `GET /v1/deadlines?caseStatus=open` (the dashboard's default board)
--    is a filter on a stored column. The indexes below are those of 0006 (as 0009 left them) with the case status as
--    their leading column: a page of one case status is still an index range scan in
--    (due_at, case_id, ordinal) order; pages over all cases keep using 0006's indexes.

ALTER TABLE handoff.referrals ADD COLUMN withdrawn_at timestamptz, ADD COLUMN withdrawal_reason text;

ALTER TABLE handoff.deadlines ADD COLUMN case_status text NOT NULL DEFAULT 'open';
UPDATE handoff.deadlines d SET case_status = s.status
  FROM handoff.case_summary s
 WHERE s.case_id = d.case_id AND s.status <> d.case_status;

CREATE INDEX deadlines_case_status_page ON handoff.deadlines (case_status, due_at, case_id, ordinal);

CREATE INDEX deadlines_case_status_open_page ON handoff.deadlines (case_status, due_at, case_id, ordinal)
    WHERE satisfied_at IS NULL AND cancelled_at IS NULL;

CREATE INDEX deadlines_case_status_missed_open_page ON handoff.deadlines (case_status, due_at, case_id, ordinal)
    WHERE (missed_at_closure OR notified) AND satisfied_at IS NULL AND cancelled_at IS NULL;
