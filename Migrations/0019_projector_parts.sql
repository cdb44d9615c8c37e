-- Short projector transactions (Sources/Projections/Runner/ProjectionRunner.swift).
--
-- A projector reads the log and computes its rows outside any transaction, then writes them and
-- advances its checkpoint in one short transaction. That transaction takes an advisory lock per
-- projector (no transaction id yet), checks that `revision` is still the one it read before
-- computing, writes, and bumps `revision` with the checkpoint: a runner that computed from a
-- checkpoint another runner has moved since commits nothing.
--
-- A batch that changes the registry (a ruleset published, an institution registered) recomputes
-- every case, in parts of a few hundred cases, each its own short transaction. While such a batch
-- is under way, `xid`/`position` still name the last batch applied in full, `pending_xid` and
-- `pending_position` the end of the batch under way, and `pending_after` the last case id (in
-- byte order) whose rows are already at that end: every case is either wholly as of the
-- checkpoint or wholly as of the pending end, and a crash resumes after `pending_after`.
ALTER TABLE handoff.projector_checkpoints
    ADD COLUMN revision bigint NOT NULL DEFAULT 0,
    ADD COLUMN pending_xid xid8,
    ADD COLUMN pending_position bigint,
    ADD COLUMN pending_after text,
    ADD CONSTRAINT projector_checkpoints_pending_whole CHECK (
        (pending_xid IS NULL) = (pending_position IS NULL) AND (pending_xid IS NULL) = (pending_after IS NULL));
