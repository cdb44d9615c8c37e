-- Whether a deadline counts in the compliance figures (DeadlineEvaluator.markCounted,
-- Deadline.counted): every deadline does but a recurring rule's term met before the last counted
-- term of its chain fell due. An attack pass recorded 990 case reviews in one batch and the
-- institution had 990 more met deadlines. The statistics and the annual report count only rows
-- with `counted` not false. Rows projected before this migration get it when the live projector
-- renders every case again, on its first batch after finding one; until then they count.
ALTER TABLE handoff.deadlines ADD COLUMN counted boolean;
