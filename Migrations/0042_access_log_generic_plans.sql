-- handoff.log_access keeps one generic plan per statement for the session (issue 17).
--
-- Its statements take the arrays as parameters, so PL/pgSQL planned each of them again on every
-- call (a custom plan for each set of arrays): about a fifth of a call's CPU went to the planner —
-- the access rows of every case read and of every page of every event stream. The plans do not
-- depend on the values: the batch's case heads are looked up by key (`enable_seqscan = off`, as
-- 0032 set), everything else is over the arguments. Measured with pgbench, one client, batches of
-- 10 rows on a log of 420k rows: 1.52 ms a call before, 1.19 ms after (docs/benchmarks.md).
-- What the function writes is unchanged.
ALTER FUNCTION handoff.log_access(text[], text[], text[], text[], text[], text[])
    SET plan_cache_mode = force_generic_plan;
