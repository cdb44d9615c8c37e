-- handoff.log_access, cheaper per row; what it writes is unchanged: the same rows, the same seq and
-- case_seq numbering, the same canonical bytes and hashes (docs/hash-chain.md, sections 8-10), the
-- same refusals (HF011, nothing written) and the same locking (the head row FOR UPDATE once per
-- batch, `at` read after it). Measured on a 1M-event store with ~540k access-log rows, one batch of
-- 3,712 rows over 58 cases (docs/benchmarks.md): where 0014's function spent its time, and what
-- changed:
--   * validation: `^[A-Za-z0-9-]{1,64}$` expands to 64 bounded copies in the regex engine (~3 µs a
--     row). Now a byte-length test plus `^[…]+$`: the bracket matches ASCII only, so the byte
--     length is the length in characters and the accepted values are the same. LF/CR by strpos;
--     role and outcome as one array containment each (NULL elements are never contained).
--   * case heads: 0014 joined every stored case head (a hash of the whole table on every call,
--     growing with the number of cases); now only the batch's cases are looked up, by key. The new
--     heads are the numbering's last row of each case, not a second sort of the batch.
--   * numbering: the window sorts only (case id, position), in byte order (`COLLATE "C"`: the same
--     partitions, since equal texts are equal bytes, without strcoll); the canonical texts are built
--     by their own statement over the rows in order.
--   * the SHA-256 loop does only what needs the previous hash; each row's prev_hash is the previous
--     row's hash, set-based in the INSERT, which reads the arrays in lockstep instead of through a
--     materialized ten-column function scan.
-- About 72 ms became 48 for that batch. What remains is mostly the INSERT itself: heap, five
-- indexes and their WAL.

-- Its lookups of the batch's case heads (`case_id = ANY (…)`) go by the primary key whatever the
-- table's statistics say: PL/pgSQL keeps a plan for the session, and one made while the table was
-- new and small (a sequential scan) made every call scan every case's head once it had grown —
-- on a fresh store that turned the SSE deliveries' access rows into seconds of delay within a minute.
-- No JIT: a plan priced with sequential scans off costs enough to be compiled on every call.
CREATE OR REPLACE FUNCTION handoff.log_access(
    p_role text[], p_institution text[], p_user text[], p_case_id text[], p_endpoint text[], p_outcome text[]
)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = handoff, pg_temp SET enable_seqscan = off SET jit = off AS $$
DECLARE
    v_count  int := coalesce(cardinality(p_role), 0);
    v_zero   bytea := decode(repeat('00', 32), 'hex');
    v_seq    bigint;
    v_first  bytea;
    v_prev   bytea;
    v_at     timestamptz;
    a_cs     bigint[];
    a_prev_n bigint[];
    a_head   bytea[];
    a_text   bytea[];
    a_cprev  bytea[] := '{}';
    a_hash   bytea[] := '{}';
    a_last_n bigint[];
    a_last_c text[];
    a_last_s bigint[];
    a_last_h bytea[] := '{}';
BEGIN
    IF cardinality(p_institution) IS DISTINCT FROM v_count OR cardinality(p_user) IS DISTINCT FROM v_count
       OR cardinality(p_case_id) IS DISTINCT FROM v_count OR cardinality(p_endpoint) IS DISTINCT FROM v_count
       OR cardinality(p_outcome) IS DISTINCT FROM v_count THEN
        RAISE EXCEPTION 'access log arrays differ in length' USING ERRCODE = 'HF011';
    END IF;
    IF v_count = 0 THEN
        RETURN NULL;
    END IF;
    -- The checks of 0014, field by field (each is about one field, so a row is malformed exactly when
    -- one of its fields is). `<@` is false for an array holding NULL. The brackets match ASCII only,
    -- so octet_length is the length in characters there.
    IF NOT (p_role <@ ARRAY['institution', 'coordinator', 'auditor'])
       OR NOT (p_outcome <@ ARRAY['allowed', 'denied'])
       OR EXISTS (SELECT 1 FROM unnest(p_institution) AS i
                   WHERE octet_length(i) NOT BETWEEN 1 AND 64 OR i !~ '^[a-z0-9-]+$')
       OR EXISTS (SELECT 1 FROM unnest(p_user) AS u
                   WHERE u IS NULL OR length(u) NOT BETWEEN 1 AND 128 OR strpos(u, E'\n') > 0 OR strpos(u, E'\r') > 0)
       OR EXISTS (SELECT 1 FROM unnest(p_case_id) AS c
                   WHERE c IS NULL OR octet_length(c) NOT BETWEEN 1 AND 64 OR c !~ '^[A-Za-z0-9-]+$')
       OR EXISTS (SELECT 1 FROM unnest(p_endpoint) AS e
                   WHERE e IS NULL OR length(e) NOT BETWEEN 1 AND 200 OR strpos(e, E'\n') > 0 OR strpos(e, E'\r') > 0)
    THEN
        RAISE EXCEPTION 'an access log row is malformed' USING ERRCODE = 'HF011';
    END IF;
    -- One writer at a time, once per batch. (Its own statement: what follows is read with a
    -- snapshot taken after the lock is held.)
    SELECT h.seq, h.hash INTO v_seq, v_first FROM access_log_head h FOR UPDATE;
    -- Taken after the lock: `at` never decreases along seq.
    v_at := clock_timestamp();
    -- Per row, in batch order: case_seq (the case's stored head plus the row's rank among the
    -- batch's rows of that case), the batch row of the same case before it, and — for the first
    -- row of a case in the batch — the case's stored head hash (zeros for a new case). Per case,
    -- its last row in the batch: the new head. Only the batch's cases are looked up, by key.
    SELECT array_agg(x.cs ORDER BY x.n), array_agg(x.prev_n ORDER BY x.n),
           array_agg(CASE WHEN x.prev_n IS NULL THEN coalesce(x.head, v_zero) END ORDER BY x.n),
           array_agg(x.n ORDER BY x.n) FILTER (WHERE x.next_n IS NULL),
           array_agg(x.c ORDER BY x.n) FILTER (WHERE x.next_n IS NULL),
           array_agg(x.cs ORDER BY x.n) FILTER (WHERE x.next_n IS NULL)
      INTO a_cs, a_prev_n, a_head, a_last_n, a_last_c, a_last_s
      FROM (SELECT r.n, r.c, coalesce(h.case_seq, 0) + row_number() OVER w AS cs, lag(r.n) OVER w AS prev_n,
                   lead(r.n) OVER w AS next_n, h.hash AS head
              FROM unnest(p_case_id) WITH ORDINALITY AS r(c, n)
              LEFT JOIN (SELECT hh.case_id, hh.case_seq, hh.hash FROM access_case_heads hh
                          WHERE hh.case_id = ANY (p_case_id)) h ON h.case_id = r.c
            -- Byte order: the same partitions as the default collation (equal texts are equal
            -- bytes), without strcoll.
            WINDOW w AS (PARTITION BY r.c COLLATE "C" ORDER BY r.n)) x;
    -- The canonical bytes (section 8), by the one function that defines them. Several
    -- set-returning functions in a select list advance in lockstep: n is each element's position.
    SELECT array_agg(convert_to(access_canonical_text(v_seq + r.n, r.cs, v_at, r.o, r.ro, r.i, r.u, r.c, r.e), 'UTF8')
                     ORDER BY r.n)
      INTO a_text
      FROM (SELECT generate_series(1, v_count) AS n, unnest(a_cs) AS cs, unnest(p_outcome) AS o,
                   unnest(p_role) AS ro, unnest(p_institution) AS i, unnest(p_user) AS u, unnest(p_case_id) AS c,
                   unnest(p_endpoint) AS e) r;
    -- Only what needs the previous hash.
    v_prev := v_first;
    FOR k IN 1..v_count LOOP
        a_cprev[k] := coalesce(a_head[k], a_hash[a_prev_n[k]]);
        v_prev := sha256(v_prev || a_cprev[k] || a_text[k]);
        a_hash[k] := v_prev;
    END LOOP;
    -- prev_hash of row k is the hash of row k - 1 (of the log's head for the first).
    INSERT INTO access_log (seq, at, role, institution, "user", case_id, endpoint, outcome,
                            case_seq, prev_hash, case_prev_hash, hash)
    SELECT v_seq + generate_series(1, v_count), v_at, unnest(p_role), unnest(p_institution), unnest(p_user),
           unnest(p_case_id), unnest(p_endpoint), unnest(p_outcome), unnest(a_cs),
           unnest(ARRAY[v_first] || a_hash[1:v_count - 1]), unnest(a_cprev), unnest(a_hash);
    FOR k IN 1..cardinality(a_last_n) LOOP
        a_last_h[k] := a_hash[a_last_n[k]];
    END LOOP;
    INSERT INTO access_case_heads (case_id, case_seq, hash)
    SELECT unnest(a_last_c), unnest(a_last_s), unnest(a_last_h)
        ON CONFLICT (case_id) DO UPDATE SET case_seq = EXCLUDED.case_seq, hash = EXCLUDED.hash;
    UPDATE access_log_head SET seq = v_seq + v_count, hash = v_prev;
    RETURN v_seq + v_count;
END
$$;
