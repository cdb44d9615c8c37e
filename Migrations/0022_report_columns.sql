-- The annual report (issue 15): how a case's latest reflection period ended, from
-- ReflectionPeriodEnded.outcome. Filled by the cases projector; NULL while a period runs or when
-- none was started. A `handoff project rebuild cases` fills it for existing rows.
ALTER TABLE handoff.case_summary ADD COLUMN reflection_outcome text;
