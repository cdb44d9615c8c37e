-- A closure undone by a reopening that says the case was closed in error was no closure: the
-- annual report counts it neither among the year's closures nor as the case closed at a year's end
-- (CaseState.Closure.inError). Rows projected before this migration are taken as no error until
-- the projector renders their case again (a reopened case's rows: `handoff project rebuild cases`).
ALTER TABLE handoff.case_closures ADD COLUMN in_error boolean NOT NULL DEFAULT false;
