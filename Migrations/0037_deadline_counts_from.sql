-- The year a deadline counts in (the annual report's compliance tables): when it counts from for
-- the institution responsible (DeadlineEvaluator.countsFrom: the trigger's stated time for the
-- trigger's own actor, else when the trigger was on the record), not the trigger's stated
-- `occurredAt`. An issuer that dated a referral into the previous year moved the recipient's
-- deadlines, and their misses, into a year already published (an attack pass). Rows projected
-- before this migration get it when the live projector renders every case again, on its first
-- batch after finding one; until then the report falls back to `triggered_at`.
ALTER TABLE handoff.deadlines ADD COLUMN counts_from timestamptz;
