-- The access log answers newest first, pages with a stable cursor, and records refused reads.
--
-- `seq` numbers the rows 1, 2, 3 … in commit order: rows are written only through
-- handoff.log_access(), which takes the one head row's lock for the length of its (short)
-- transaction, so a row with a higher `seq` never becomes visible before a lower one. A reader
-- that saw `seq` N has seen every row below it, and "the rows below N" never change: that is the
-- cursor of GET /v1/audit/access. (`id`, an identity, is handed out at insert, not at commit.)
-- `outcome` says whether the read was answered (`allowed`) or refused with 403/404 (`denied`).

ALTER TABLE handoff.access_log
    ADD COLUMN outcome text NOT NULL DEFAULT 'allowed' CHECK (outcome IN ('allowed', 'denied')),
    ADD COLUMN seq bigint;

-- Number the rows already written in the order they were inserted. The append-only trigger is a
-- statement trigger on UPDATE; it is set aside for this one statement of the migration only.
ALTER TABLE handoff.access_log DISABLE TRIGGER access_log_append_only;
UPDATE handoff.access_log a SET seq = n.seq
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS seq FROM handoff.access_log) n
 WHERE a.id = n.id;
ALTER TABLE handoff.access_log ENABLE TRIGGER access_log_append_only;

-- seq is the key now (every reader orders by it); `id` stays as a plain column, without an index
-- to maintain on every insert.
ALTER TABLE handoff.access_log
    ALTER COLUMN seq SET NOT NULL,
    ALTER COLUMN outcome DROP DEFAULT,
    DROP CONSTRAINT access_log_pkey,
    ADD CONSTRAINT access_log_pkey PRIMARY KEY (seq);

-- The filters of GET /v1/audit/access, each ordered by seq for "newest first". `at` grows with
-- seq (it is taken under the head lock), so a BRIN index serves from/to at almost no write cost.
DROP INDEX handoff.access_log_case;
CREATE INDEX access_log_case ON handoff.access_log (case_id, seq);
CREATE INDEX access_log_institution ON handoff.access_log (institution, seq);
CREATE INDEX access_log_user ON handoff.access_log ("user", seq);
CREATE INDEX access_log_at ON handoff.access_log USING brin (at);

-- The newest row's seq; writers lock this row, one batch at a time.
CREATE TABLE handoff.access_log_head (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq bigint NOT NULL CHECK (seq >= 0)
);
INSERT INTO handoff.access_log_head (seq) SELECT coalesce(max(seq), 0) FROM handoff.access_log;

-- Writes one batch of rows, in the order given, and returns the last seq written. Every field
-- is checked here as well as in the service: the log is evidence, so what it holds is narrow.
CREATE FUNCTION handoff.log_access(
    p_role text[], p_institution text[], p_user text[], p_case_id text[], p_endpoint text[], p_outcome text[]
)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = handoff, pg_temp AS $$
DECLARE
    v_count int := coalesce(cardinality(p_role), 0);
    v_seq   bigint;
    v_at    timestamptz;
BEGIN
    IF cardinality(p_institution) IS DISTINCT FROM v_count OR cardinality(p_user) IS DISTINCT FROM v_count
       OR cardinality(p_case_id) IS DISTINCT FROM v_count OR cardinality(p_endpoint) IS DISTINCT FROM v_count
       OR cardinality(p_outcome) IS DISTINCT FROM v_count THEN
        RAISE EXCEPTION 'access log arrays differ in length' USING ERRCODE = 'HF011';
    END IF;
    IF v_count = 0 THEN
        RETURN NULL;
    END IF;
    IF EXISTS (
        SELECT 1 FROM unnest(p_role, p_institution, p_user, p_case_id, p_endpoint, p_outcome) AS r(ro, i, u, c, e, o)
         WHERE ro IS NULL OR ro NOT IN ('institution', 'coordinator', 'auditor')
            OR (i IS NOT NULL AND i !~ '^[a-z0-9-]{1,64}$')
            OR u IS NULL OR length(u) NOT BETWEEN 1 AND 128 OR u ~ '[\n\r]'
            OR c IS NULL OR c !~ '^[A-Za-z0-9-]{1,64}$'
            OR e IS NULL OR length(e) NOT BETWEEN 1 AND 200 OR e ~ '[\n\r]'
            OR o IS NULL OR o NOT IN ('allowed', 'denied')) THEN
        RAISE EXCEPTION 'an access log row is malformed' USING ERRCODE = 'HF011';
    END IF;
    SELECT seq INTO v_seq FROM access_log_head FOR UPDATE;
    -- Taken after the lock: `at` never decreases along seq.
    v_at := clock_timestamp();
    INSERT INTO access_log (seq, at, role, institution, "user", case_id, endpoint, outcome)
    SELECT v_seq + n, v_at, ro, i, u, c, e, o
      FROM unnest(p_role, p_institution, p_user, p_case_id, p_endpoint, p_outcome)
           WITH ORDINALITY AS r(ro, i, u, c, e, o, n)
     ORDER BY n;
    UPDATE access_log_head SET seq = v_seq + v_count;
    RETURN v_seq + v_count;
END
$$;

-- The service writes rows only through the function, never around it.
REVOKE INSERT ON handoff.access_log FROM handoff_app;
REVOKE ALL ON handoff.access_log_head FROM PUBLIC;
GRANT SELECT ON handoff.access_log_head TO handoff_app, handoff_auditor;
REVOKE ALL ON FUNCTION handoff.log_access(text[], text[], text[], text[], text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION handoff.log_access(text[], text[], text[], text[], text[], text[]) TO handoff_app;
