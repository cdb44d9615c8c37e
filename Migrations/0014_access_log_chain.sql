-- The access log hash-chained like the events (docs/hash-chain.md, sections 8-10): every row,
-- allowed and denied alike, carries
--   prev_hash      the hash of the row before it in the whole log (seq - 1; 32 zero bytes for seq 1),
--   case_seq       its number among the rows of its case (1, 2, 3 …),
--   case_prev_hash the hash of the previous row of the same case (32 zero bytes for case_seq 1),
--   hash           SHA-256(prev_hash ‖ case_prev_hash ‖ canonical bytes).
-- One chain through the whole log proves that no row was removed, edited or inserted anywhere;
-- the per-case links let one case's read record be checked on its own, from its rows alone.
--
-- Concurrency: rows are written only by handoff.log_access, one batch per call, and a batch takes
-- the head row's lock once; a service process writes one batch at a time (group commit), so
-- reads wait for the commit of the batch they joined — as before the chain — never for one
-- another. `access_log_head` holds the newest (seq, hash); `access_case_heads` the newest
-- (case_seq, hash) of each case: both let a deleted tail be seen without a checkpoint (as
-- handoff.streams does for events), and checkpoints record the log's head (section 9).

ALTER TABLE handoff.access_log
    ADD COLUMN case_seq bigint,
    ADD COLUMN prev_hash bytea,
    ADD COLUMN case_prev_hash bytea,
    ADD COLUMN hash bytea;

ALTER TABLE handoff.access_log_head
    ADD COLUMN hash bytea NOT NULL DEFAULT decode(repeat('00', 32), 'hex') CHECK (octet_length(hash) = 32);

CREATE TABLE handoff.access_case_heads (
    case_id  text PRIMARY KEY,
    case_seq bigint NOT NULL CHECK (case_seq >= 1),
    hash     bytea NOT NULL CHECK (octet_length(hash) = 32)
);

-- The canonical text of an access-log row (docs/hash-chain.md, section 8): ten fields joined by LF.
CREATE FUNCTION handoff.access_canonical_text(
    p_seq bigint, p_case_seq bigint, p_at timestamptz, p_outcome text, p_role text, p_institution text,
    p_user text, p_case_id text, p_endpoint text
)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT concat_ws(E'\n', 'handoff-access-v1', p_seq::text, p_case_seq::text,
                     to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                     p_outcome, p_role, coalesce(p_institution, ''), p_user, p_case_id, p_endpoint)
$$;

-- Chain the rows already written, in seq order. (A one-time pass: on a large log it takes a while.)
ALTER TABLE handoff.access_log DISABLE TRIGGER access_log_append_only;
DO $$
DECLARE
    r           record;
    v_zero      bytea := decode(repeat('00', 32), 'hex');
    v_prev      bytea := decode(repeat('00', 32), 'hex');
    v_case_seq  bigint;
    v_case_prev bytea;
    v_hash      bytea;
BEGIN
    FOR r IN SELECT seq, at, outcome, role, institution, "user", case_id, endpoint
               FROM handoff.access_log ORDER BY seq LOOP
        SELECT h.case_seq, h.hash INTO v_case_seq, v_case_prev FROM handoff.access_case_heads h WHERE h.case_id = r.case_id;
        IF NOT FOUND THEN
            v_case_seq := 0;
            v_case_prev := v_zero;
        END IF;
        v_case_seq := v_case_seq + 1;
        v_hash := sha256(v_prev || v_case_prev || convert_to(handoff.access_canonical_text(
            r.seq, v_case_seq, r.at, r.outcome, r.role, r.institution, r."user", r.case_id, r.endpoint), 'UTF8'));
        UPDATE handoff.access_log
           SET case_seq = v_case_seq, prev_hash = v_prev, case_prev_hash = v_case_prev, hash = v_hash
         WHERE seq = r.seq;
        INSERT INTO handoff.access_case_heads (case_id, case_seq, hash) VALUES (r.case_id, v_case_seq, v_hash)
            ON CONFLICT (case_id) DO UPDATE SET case_seq = EXCLUDED.case_seq, hash = EXCLUDED.hash;
        v_prev := v_hash;
    END LOOP;
    UPDATE handoff.access_log_head SET hash = v_prev;
END
$$;
ALTER TABLE handoff.access_log ENABLE TRIGGER access_log_append_only;

ALTER TABLE handoff.access_log
    ALTER COLUMN case_seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN case_prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL,
    ADD CONSTRAINT access_log_hashes CHECK (
        octet_length(prev_hash) = 32 AND octet_length(case_prev_hash) = 32 AND octet_length(hash) = 32),
    -- The canonical text joins fields with LF: no field may hold one (role, institution, case id
    -- and outcome are narrower still).
    ADD CONSTRAINT access_log_single_line CHECK (
        strpos("user", E'\n') = 0 AND strpos(endpoint, E'\n') = 0 AND strpos(case_id, E'\n') = 0
        AND strpos(coalesce(institution, ''), E'\n') = 0 AND strpos(role, E'\n') = 0);

-- Writes one batch of rows, in the order given, chained onto the log's head and onto each case's
-- head, and returns the last seq written. Set-based except for the SHA-256 steps: one statement
-- computes every row's numbers, case links and canonical bytes; the loop only chains the hashes;
-- one statement inserts the rows and one moves the case heads.
CREATE OR REPLACE FUNCTION handoff.log_access(
    p_role text[], p_institution text[], p_user text[], p_case_id text[], p_endpoint text[], p_outcome text[]
)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = handoff, pg_temp AS $$
DECLARE
    v_count  int := coalesce(cardinality(p_role), 0);
    v_zero   bytea := decode(repeat('00', 32), 'hex');
    v_seq    bigint;
    v_prev   bytea;
    v_at     timestamptz;
    v_cp     bytea;
    a_cs     bigint[];
    a_prev_n bigint[];
    a_head   bytea[];
    a_text   bytea[];
    a_prevs  bytea[] := '{}';
    a_cprev  bytea[] := '{}';
    a_hash   bytea[] := '{}';
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
        SELECT 1 FROM unnest(p_role, p_institution, p_user, p_case_id, p_endpoint, p_outcome) AS x(ro, i, u, c, e, o)
         WHERE ro IS NULL OR ro NOT IN ('institution', 'coordinator', 'auditor')
            OR (i IS NOT NULL AND i !~ '^[a-z0-9-]{1,64}$')
            OR u IS NULL OR length(u) NOT BETWEEN 1 AND 128 OR u ~ '[\n\r]'
            OR c IS NULL OR c !~ '^[A-Za-z0-9-]{1,64}$'
            OR e IS NULL OR length(e) NOT BETWEEN 1 AND 200 OR e ~ '[\n\r]'
            OR o IS NULL OR o NOT IN ('allowed', 'denied')) THEN
        RAISE EXCEPTION 'an access log row is malformed' USING ERRCODE = 'HF011';
    END IF;
    -- One writer at a time, once per batch. (Its own statement: what follows is read with a
    -- snapshot taken after the lock is held.)
    SELECT h.seq, h.hash INTO v_seq, v_prev FROM access_log_head h FOR UPDATE;
    -- Taken after the lock: `at` never decreases along seq.
    v_at := clock_timestamp();
    -- Per row: case_seq (the case's head plus its rank in the batch), the batch row of the same
    -- case before it (NULL: the case's stored head comes before it), and the canonical bytes.
    WITH x AS (
        SELECT r.ro, r.i, r.u, r.c, r.e, r.o, r.n,
               coalesce(h.case_seq, 0) + row_number() OVER (PARTITION BY r.c ORDER BY r.n) AS cs,
               lag(r.n) OVER (PARTITION BY r.c ORDER BY r.n) AS prev_n,
               coalesce(h.hash, v_zero) AS head_hash
          FROM unnest(p_role, p_institution, p_user, p_case_id, p_endpoint, p_outcome)
               WITH ORDINALITY AS r(ro, i, u, c, e, o, n)
          LEFT JOIN access_case_heads h ON h.case_id = r.c)
    SELECT array_agg(x.cs ORDER BY x.n), array_agg(x.prev_n ORDER BY x.n), array_agg(x.head_hash ORDER BY x.n),
           array_agg(convert_to(access_canonical_text(v_seq + x.n, x.cs, v_at, x.o, x.ro, x.i, x.u, x.c, x.e), 'UTF8')
                     ORDER BY x.n)
      INTO a_cs, a_prev_n, a_head, a_text
      FROM x;
    FOR k IN 1..v_count LOOP
        IF a_prev_n[k] IS NULL THEN
            v_cp := a_head[k];
        ELSE
            v_cp := a_hash[a_prev_n[k]];
        END IF;
        a_prevs[k] := v_prev;
        a_cprev[k] := v_cp;
        v_prev := sha256(v_prev || v_cp || a_text[k]);
        a_hash[k] := v_prev;
    END LOOP;
    INSERT INTO access_log (seq, at, role, institution, "user", case_id, endpoint, outcome,
                            case_seq, prev_hash, case_prev_hash, hash)
    SELECT v_seq + r.n, v_at, r.ro, r.i, r.u, r.c, r.e, r.o, r.cs, r.ph, r.cph, r.h
      FROM unnest(p_role, p_institution, p_user, p_case_id, p_endpoint, p_outcome, a_cs, a_prevs, a_cprev, a_hash)
           WITH ORDINALITY AS r(ro, i, u, c, e, o, cs, ph, cph, h, n)
     ORDER BY r.n;
    INSERT INTO access_case_heads (case_id, case_seq, hash)
    SELECT DISTINCT ON (t.c) t.c, t.cs, t.h FROM unnest(p_case_id, a_cs, a_hash) AS t(c, cs, h) ORDER BY t.c, t.cs DESC
        ON CONFLICT (case_id) DO UPDATE SET case_seq = EXCLUDED.case_seq, hash = EXCLUDED.hash;
    UPDATE access_log_head SET seq = v_seq + v_count, hash = v_prev;
    RETURN v_seq + v_count;
END
$$;

REVOKE ALL ON handoff.access_case_heads FROM PUBLIC;
GRANT SELECT ON handoff.access_case_heads TO handoff_app, handoff_auditor;
REVOKE ALL ON FUNCTION handoff.access_canonical_text(bigint, bigint, timestamptz, text, text, text, text, text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION handoff.access_canonical_text(bigint, bigint, timestamptz, text, text, text, text, text, text)
    TO handoff_app, handoff_auditor;
