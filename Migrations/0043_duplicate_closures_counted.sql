-- Terms met by the institution that closed their case as a duplicate, while that closure stands,
-- do not count in the compliance figures (DeadlineEvaluator.leaveOutOwnDuplicates, attack pass 24:
-- throw-away cases opened, met and closed as duplicates padded the police's on-time rate). Rows
-- projected before this migration still say they count; marking those cases' deadlines unknown
-- makes the live projector render every case again on its first batch (as after 0039), and until
-- it has, they count as before. Nothing else changes.
UPDATE handoff.deadlines d
   SET counted = NULL
  FROM handoff.case_summary s
 WHERE s.case_id = d.case_id AND s.status = 'closed' AND s.closure_reason = 'duplicate';
