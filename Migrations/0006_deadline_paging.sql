-- Paging for GET /v1/deadlines: pages are read in (due_at, case_id, ordinal) order and resumed
-- after a cursor with a row comparison, `(due_at, case_id, ordinal) > (…)`, so each page is an
-- index range scan that stops after `limit` rows instead of a sort of every matching deadline.
-- (case_id, ordinal) is unique: the projector numbers a case's deadlines 0, 1, 2…
--
-- Rebuilds keep these indexes: a shadow table is created LIKE the live one INCLUDING ALL.

-- Every deadline: pages without a status filter, and met / met-late / cancelled.
CREATE INDEX deadlines_page ON handoff.deadlines (due_at, case_id, ordinal);

-- Open deadlines (neither met nor cancelled): overdue (due_at <= now), due-soon and pending.
CREATE INDEX deadlines_open_page ON handoff.deadlines (due_at, case_id, ordinal)
    WHERE satisfied_at IS NULL AND cancelled_at IS NULL;

-- Open deadlines already missed when their case closed: overdue whatever their due_at, so an
-- overdue page reads them from here instead of scanning every pending deadline for them.
CREATE INDEX deadlines_missed_open_page ON handoff.deadlines (due_at, case_id, ordinal)
    WHERE missed_at_closure AND satisfied_at IS NULL AND cancelled_at IS NULL;
