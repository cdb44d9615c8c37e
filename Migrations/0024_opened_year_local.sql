-- `case_summary.opened_year` is the calendar year of the opening in the deployment's zone
-- (`HANDOFF_TIME_ZONE`, default Europe/Belgrade), no longer the UTC year: statistics years follow
-- the calendar of the institutions that report them. Rows written before this migration keep the
-- UTC year until `handoff project rebuild cases`; this recomputes them for the default zone.
UPDATE handoff.case_summary
   SET opened_year = extract(year FROM opened_at AT TIME ZONE 'Europe/Belgrade')::int
 WHERE opened_year IS DISTINCT FROM extract(year FROM opened_at AT TIME ZONE 'Europe/Belgrade')::int;
COMMENT ON COLUMN handoff.case_summary.opened_year IS
    'Calendar year of opened_at in the deployment''s zone (HANDOFF_TIME_ZONE, default Europe/Belgrade)';
