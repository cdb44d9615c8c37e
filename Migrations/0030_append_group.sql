-- Group commit (issue 17): several appends, each to its own stream with its own expected version,
-- written by one call in one transaction (one round trip, one commit, one WAL flush).
--
-- handoff.append_group is now the one definition of an append. Each append ("item") keeps its
-- own outcome: a wrong expected version, a reused id or an invalid event is returned as that
-- item's outcome, never raised, so it cannot roll back, fail or reorder the others. What it checks,
-- and in which order, is what handoff.append checked (0005, 0008, 0009); handoff.append is now a
-- wrapper that calls it for one item and raises the item's outcome as before.
--
-- Arguments: per item p_streams[i], p_expected[i] and p_counts[i] (how many events it carries);
-- per event, the items' events one after another: p_ids, p_types, p_data, p_metadata,
-- p_occurred_at (elements may be NULL: the time of record).
--
-- Returns, for an item written or found again: one row per event, in version order, with outcome
-- 'appended' or 'deduplicated'; for a refused item: one row with the SQLSTATE handoff.append
-- raises (HF001 wrong expected version, HF002 duplicate event id, HF003 invalid), its DETAIL and
-- its message, and no event columns. Items come in no particular order (item_no says which).
--
-- Locks: every item's stream lock is taken first, in one canonical order (by lock key), so two
-- groups that share streams never deadlock, and each item's time of record is taken after its
-- stream is locked. Items of one group that share a stream are applied in item order, the later
-- one seeing the earlier's events; an item whose ids an earlier item of the group wrote sees them
-- as existing. No global lock: a group waits only for the writers of its own streams.
--
-- Raised for the whole call (a malformed call, not one append's outcome): arrays of different
-- lengths (HF003 field=events). A unique violation on events.id can still end the call when a
-- concurrent transaction commits the same id between this call's dedupe probe and its insert;
-- the client then retries the items one by one (EventStore's group committer does).
-- The rules every append path applies, each defined once (used by both paths of append_group).
-- Stream names: case-<id> and sop-<id> (an id of at most 64 letters, digits and dashes), or the
-- two system streams.
CREATE FUNCTION handoff.stream_name_ok(p_stream text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_stream IS NOT NULL
       AND ((p_stream ~ '^(case|sop)-[A-Za-z0-9-]+$' AND length(p_stream) - position('-' IN p_stream) <= 64)
            OR p_stream IN ('institutions', 'checkpoints'))
$$;
-- Expected versions: a number (at most 18 digits), any, no-stream or exists.
CREATE FUNCTION handoff.expected_version_ok(p_expected text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_expected IS NOT NULL
       AND (p_expected IN ('any', 'no-stream', 'exists') OR (p_expected ~ '^[0-9]+$' AND length(p_expected) <= 18))
$$;
-- Whether a stream at `p_version` is what `p_expected` (valid, see above) expects.
CREATE FUNCTION handoff.expected_version_matches(p_expected text, p_version bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT NOT ((p_expected = 'no-stream' AND p_version <> 0)
                OR (p_expected = 'exists' AND p_version = 0)
                OR (p_expected ~ '^[0-9]+$' AND p_version <> p_expected::bigint))
$$;
-- An event's first problem (NULL: none): 1 id, 2 type, 3 data, 4 metadata, 5 occurredAt in the
-- future, 6 occurredAt before the year 1 (field and message: event_problem_field/_message).
-- STABLE, not IMMUTABLE: timestamptz arithmetic is STABLE, and a function declared IMMUTABLE
-- around it would not be inlined.
CREATE FUNCTION handoff.event_problem(
    p_id uuid, p_type text, p_data jsonb, p_metadata jsonb, p_occurred timestamptz, p_recorded timestamptz
) RETURNS int
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_id IS NULL THEN 1
        WHEN p_type IS NULL OR length(p_type) > 64 OR p_type !~ '^[A-Za-z][A-Za-z0-9]*$' THEN 2
        WHEN p_data IS NULL OR jsonb_typeof(p_data) <> 'object' THEN 3
        WHEN p_metadata IS NULL OR jsonb_typeof(p_metadata) <> 'object' THEN 4
        WHEN p_occurred > p_recorded + interval '5 minutes' THEN 5
        WHEN p_occurred < timestamptz '0001-01-01 00:00:00+00' THEN 6
    END
$$;
CREATE FUNCTION handoff.event_problem_field(p_problem int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'field=' || (ARRAY['id', 'type', 'data', 'metadata', 'occurredAt', 'occurredAt'])[p_problem]
$$;
CREATE FUNCTION handoff.event_problem_message(p_problem int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ARRAY['event id missing', 'event type must be a name', 'event data must be a JSON object',
                  'event metadata must be a JSON object', 'occurredAt is in the future',
                  'occurredAt is before the year 1'])[p_problem]
$$;
GRANT EXECUTE ON FUNCTION handoff.stream_name_ok(text), handoff.expected_version_ok(text),
    handoff.expected_version_matches(text, bigint),
    handoff.event_problem(uuid, text, jsonb, jsonb, timestamptz, timestamptz), handoff.event_problem_field(int),
    handoff.event_problem_message(int) TO handoff_app, handoff_auditor;

CREATE FUNCTION handoff.append_group(
    p_streams text[], p_expected text[], p_counts int[],
    p_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb[], p_occurred_at timestamptz[]
)
RETURNS TABLE (
    item_no int, outcome text, outcome_detail text, outcome_message text,
    event_id uuid, event_version bigint, event_position bigint, event_xid xid8, event_hash bytea,
    event_recorded_at timestamptz
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = handoff, pg_temp SET plan_cache_mode = force_generic_plan
    SET enable_seqscan = off AS $$
DECLARE
    v_items     int := coalesce(cardinality(p_streams), 0);
    v_total     int := coalesce(cardinality(p_ids), 0);
    v_from      int := 0;
    v_i         int;
    v_count     int;
    v_stream    text;
    v_expected  text;
    v_version   bigint;
    v_head      bytea;
    v_recorded  timestamptz;
    v_last_rec  timestamptz;
    v_existing  bigint;
    v_bad       bigint;
    v_id        uuid;
    v_text      bytea;
    v_occurred  timestamptz;
    v_hash      bytea;
    i_ids       uuid[];
    i_types     text[];
    i_data      jsonb[];
    i_metadata  jsonb[];
    i_occurred  timestamptz[];
    a_occurred  timestamptz[];
    a_text      bytea[];
    a_prev      bytea[];
    a_hash      bytea[];
    a_fast      int[];
BEGIN
    IF v_items = 0 THEN
        RETURN;
    END IF;
    IF cardinality(p_expected) IS DISTINCT FROM v_items OR cardinality(p_counts) IS DISTINCT FROM v_items
       OR (SELECT sum(c) FILTER (WHERE c >= 0) = v_total AND count(*) FILTER (WHERE c IS NULL OR c < 0) = 0
             FROM unnest(p_counts) AS c) IS NOT TRUE
       OR cardinality(p_types) IS DISTINCT FROM v_total OR cardinality(p_data) IS DISTINCT FROM v_total
       OR cardinality(p_metadata) IS DISTINCT FROM v_total OR cardinality(p_occurred_at) IS DISTINCT FROM v_total THEN
        RAISE EXCEPTION 'event arrays differ in length' USING ERRCODE = 'HF003', DETAIL = 'field=events';
    END IF;

    -- Every stream's lock, in ascending key order (the subquery's sort is not flattened away), so
    -- that two groups locking overlapping streams take them in the same order. (Its own statement:
    -- what follows must be read with snapshots taken after the locks are held.)
    PERFORM pg_advisory_xact_lock(k.key)
       FROM (SELECT DISTINCT hashtextextended(s, 7) AS key FROM unnest(p_streams) AS s
              WHERE s IS NOT NULL ORDER BY 1) AS k;

    -- The set-based path, for the appends that share nothing with the rest of the group (most):
    -- one event, a valid stream name and expected version, a stream no other append of the group
    -- names, an id no other append carries and none stored. Each is independent of every other
    -- append of the group, so writing them together, before the others, changes no outcome; they
    -- take a handful of statements for the whole group instead of a few each. The rest go one by
    -- one, in order, below.
    SELECT array_agg(it.i ORDER BY it.i) INTO a_fast
      FROM (SELECT i, p_streams[i] AS stream, p_expected[i] AS expected, p_counts[i] AS cnt,
                   ((sum(p_counts[i]) OVER (ORDER BY i)) - p_counts[i])::int AS before
              FROM generate_subscripts(p_streams, 1) AS i) AS it
     WHERE it.cnt = 1 AND stream_name_ok(it.stream) AND expected_version_ok(it.expected)
       AND p_ids[it.before + 1] IS NOT NULL
       AND (SELECT count(*) FROM unnest(p_streams) AS s WHERE s = it.stream) = 1
       AND (SELECT count(*) FROM unnest(p_ids) AS x WHERE x = p_ids[it.before + 1]) = 1
       AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = p_ids[it.before + 1]);

    IF a_fast IS NOT NULL THEN
        RETURN QUERY
            WITH fast AS (
                SELECT it.i, it.k FROM (
                    SELECT i, (sum(p_counts[i]) OVER (ORDER BY i))::int AS k
                      FROM generate_subscripts(p_streams, 1) AS i) AS it
                 WHERE it.i = ANY (a_fast)
            ), candidate AS (
                SELECT f.i, p_streams[f.i] AS stream, p_expected[f.i] AS expected, e.id, e.type, e.data, e.metadata,
                       e.occurred_at, coalesce(s.version, 0) AS version,
                       coalesce(s.head_hash, decode(repeat('00', 32), 'hex')) AS head,
                       -- The time of record, after the stream lock, never before the stream's last.
                       greatest(clock_timestamp(), s.last_recorded_at) AS recorded
                  FROM fast f
                  JOIN unnest(p_ids, p_types, p_data, p_metadata, p_occurred_at) WITH ORDINALITY
                       AS e(id, type, data, metadata, occurred_at, k) ON e.k = f.k
                  LEFT JOIN streams s ON s.stream = p_streams[f.i]
            ), judged AS (
                SELECT c.*, coalesce(c.occurred_at, c.recorded) AS occurred,
                       expected_version_matches(c.expected, c.version) AS matches,
                       event_problem(c.id, c.type, c.data, c.metadata, coalesce(c.occurred_at, c.recorded), c.recorded)
                           AS problem
                  FROM candidate c
            ), accepted AS (
                SELECT j.*, sha256(j.head || convert_to(canonical_text(
                           j.stream, j.version + 1, j.id, j.type, j.occurred, j.recorded, j.data, j.metadata), 'UTF8'))
                           AS hash
                  FROM judged j WHERE j.matches AND j.problem IS NULL
            ), inserted AS (
                INSERT INTO events (stream, version, id, type, data, metadata, occurred_at, recorded_at, prev_hash, hash)
                SELECT a.stream, a.version + 1, a.id, a.type, a.data, a.metadata, a.occurred, a.recorded, a.head, a.hash
                  FROM accepted a ORDER BY a.i
                RETURNING events.id, events.version, events.position, events.xid, events.hash, events.recorded_at
            ), head AS (
                INSERT INTO streams AS s (stream, version, head_hash, last_recorded_at)
                    SELECT a.stream, a.version + 1, a.hash, a.recorded FROM accepted a
                    ON CONFLICT (stream) DO UPDATE
                    SET version = excluded.version, head_hash = excluded.head_hash,
                        last_recorded_at = excluded.last_recorded_at
            )
            SELECT j.i,
                   CASE WHEN NOT j.matches THEN 'HF001' WHEN j.problem IS NOT NULL THEN 'HF003' ELSE 'appended' END,
                   CASE WHEN NOT j.matches THEN 'expected=' || j.expected || ';actual=' || j.version
                        WHEN j.problem IS NOT NULL THEN event_problem_field(j.problem) END,
                   CASE WHEN NOT j.matches THEN 'wrong expected version'
                        WHEN j.problem IS NOT NULL THEN event_problem_message(j.problem) END,
                   i.id, i.version, i.position, i.xid, i.hash, i.recorded_at
              FROM judged j LEFT JOIN inserted i ON i.id = j.id
             ORDER BY j.i;
    END IF;

    FOR v_i IN 1..v_items LOOP
        item_no := v_i;
        outcome := NULL;
        outcome_detail := NULL;
        outcome_message := NULL;
        v_count := p_counts[v_i];
        v_stream := p_streams[v_i];
        v_expected := p_expected[v_i];
        -- (Slices, not unnest per item: the arrays are walked once per item, and an item's own
        -- arrays are what the statements below take.)
        i_ids := p_ids[v_from + 1 : v_from + v_count];
        i_types := p_types[v_from + 1 : v_from + v_count];
        i_data := p_data[v_from + 1 : v_from + v_count];
        i_metadata := p_metadata[v_from + 1 : v_from + v_count];
        i_occurred := p_occurred_at[v_from + 1 : v_from + v_count];
        v_from := v_from + v_count;
        IF v_i = ANY (a_fast) THEN
            CONTINUE;  -- written above
        END IF;

        IF v_count = 0 THEN
            outcome := 'HF003'; outcome_detail := 'field=events';
            outcome_message := 'an append needs at least one event';
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF NOT stream_name_ok(v_stream) THEN
            outcome := 'HF003'; outcome_detail := 'field=stream'; outcome_message := 'unknown stream name pattern';
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF NOT expected_version_ok(v_expected) THEN
            outcome := 'HF003'; outcome_detail := 'field=expectedVersion';
            outcome_message := 'expected version must be a number, any, no-stream or exists';
            RETURN NEXT;
            CONTINUE;
        END IF;

        SELECT s.version, s.head_hash, s.last_recorded_at, (SELECT count(*) FROM events e WHERE e.id = ANY (i_ids))
          INTO v_version, v_head, v_last_rec, v_existing
          FROM (SELECT 1) AS one LEFT JOIN streams s ON s.stream = v_stream;
        -- The time of record, taken once the stream lock is held, and never before the stream's
        -- previous event's: recorded_at never decreases along a stream's versions.
        v_recorded := greatest(clock_timestamp(), v_last_rec);

        -- Idempotency: ids seen before, with the same content, return the original result.
        IF v_existing > 0 THEN
            SELECT x.id INTO v_id
              FROM unnest(i_ids, i_types, i_data, i_metadata, i_occurred) AS x(id, type, data, metadata, occurred_at)
              LEFT JOIN events e ON e.id = x.id
             WHERE e.id IS NULL OR e.stream <> v_stream OR e.type <> x.type OR e.data <> x.data
                OR e.metadata->'actor' IS DISTINCT FROM x.metadata->'actor'
                OR (x.occurred_at IS NOT NULL AND e.occurred_at <> x.occurred_at)
             LIMIT 1;
            IF NOT FOUND AND v_existing = v_count THEN
                RETURN QUERY
                    SELECT v_i, 'deduplicated', NULL::text, NULL::text,
                           e.id, e.version, e.position, e.xid, e.hash, e.recorded_at
                      FROM unnest(i_ids) WITH ORDINALITY AS x(id, n) JOIN events e ON e.id = x.id
                     ORDER BY x.n;
                CONTINUE;
            END IF;
            SELECT e.id INTO v_id FROM events e WHERE e.id = ANY (i_ids) LIMIT 1;
            outcome := 'HF002'; outcome_detail := 'id=' || v_id;
            outcome_message := 'event id already used with different content';
            RETURN NEXT;
            CONTINUE;
        END IF;

        IF v_version IS NULL THEN
            v_version := 0;
            v_head := decode(repeat('00', 32), 'hex');
        END IF;
        IF NOT expected_version_matches(v_expected, v_version) THEN
            outcome := 'HF001'; outcome_detail := 'expected=' || v_expected || ';actual=' || v_version;
            outcome_message := 'wrong expected version';
            RETURN NEXT;
            CONTINUE;
        END IF;

        -- Validation: v_bad is the first failing check of the first bad event (event number * 8 +
        -- check number). One event (most appends): plain expressions, which PL/pgSQL evaluates
        -- without starting an executor; a batch: one set-based statement that also makes every
        -- event's canonical text.
        IF v_count = 1 THEN
            v_occurred := coalesce(i_occurred[1], v_recorded);
            v_bad := event_problem(i_ids[1], i_types[1], i_data[1], i_metadata[1], v_occurred, v_recorded);
        ELSE
            SELECT array_agg(o.occurred ORDER BY o.n),
                   array_agg(convert_to(canonical_text(v_stream, v_version + o.n, o.id, o.type, o.occurred,
                                                       v_recorded, o.data, o.metadata), 'UTF8') ORDER BY o.n),
                   min(o.n * 8 + event_problem(o.id, o.type, o.data, o.metadata, o.occurred, v_recorded)),
                   (count(DISTINCT o.id) <> count(o.id))::int
              INTO a_occurred, a_text, v_bad, v_existing
              FROM (SELECT x.n, x.id, x.type, x.data, x.metadata, coalesce(x.occurred_at, v_recorded) AS occurred
                      FROM unnest(i_ids, i_types, i_data, i_metadata, i_occurred) WITH ORDINALITY
                           AS x(id, type, data, metadata, occurred_at, n)) AS o;
            -- (v_existing, reused: 1 when an id appears twice in this append.)
            IF v_bad IS NULL AND v_existing = 1 THEN
                outcome := 'HF003'; outcome_detail := 'field=id';
                outcome_message := 'an event id appears twice in one append';
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;
        IF v_bad IS NOT NULL THEN
            outcome := 'HF003';
            outcome_detail := event_problem_field((v_bad % 8)::int);
            outcome_message := event_problem_message((v_bad % 8)::int);
            RETURN NEXT;
            CONTINUE;
        END IF;

        IF v_count = 1 THEN
            v_hash := sha256(v_head || convert_to(canonical_text(
                v_stream, v_version + 1, i_ids[1], i_types[1], v_occurred, v_recorded, i_data[1], i_metadata[1]),
                'UTF8'));
            RETURN QUERY
                WITH inserted AS (
                    INSERT INTO events (stream, version, id, type, data, metadata, occurred_at, recorded_at, prev_hash,
                                        hash)
                    VALUES (v_stream, v_version + 1, i_ids[1], i_types[1], i_data[1], i_metadata[1], v_occurred,
                            v_recorded, v_head, v_hash)
                    RETURNING events.id, events.version, events.position, events.xid, events.hash
                ), head AS (
                    INSERT INTO streams AS s (stream, version, head_hash, last_recorded_at)
                        VALUES (v_stream, v_version + 1, v_hash, v_recorded)
                        ON CONFLICT (stream) DO UPDATE
                        SET version = excluded.version, head_hash = excluded.head_hash,
                            last_recorded_at = excluded.last_recorded_at
                )
                SELECT v_i, 'appended', NULL::text, NULL::text, i.id, i.version, i.position, i.xid, i.hash, v_recorded
                  FROM inserted i;
            CONTINUE;
        END IF;

        -- The chain: each hash covers the previous one and the event's canonical bytes.
        a_prev := '{}';
        a_hash := '{}';
        FOREACH v_text IN ARRAY a_text LOOP
            a_prev := a_prev || v_head;
            v_head := sha256(v_head || v_text);
            a_hash := a_hash || v_head;
        END LOOP;

        RETURN QUERY
            WITH inserted AS (
                INSERT INTO events (stream, version, id, type, data, metadata, occurred_at, recorded_at, prev_hash, hash)
                SELECT v_stream, v_version + x.n, x.id, x.type, x.data, x.metadata, x.occurred_at, v_recorded,
                       x.prev_hash, x.hash
                  FROM unnest(i_ids, i_types, i_data, i_metadata, a_occurred, a_prev, a_hash) WITH ORDINALITY
                       AS x(id, type, data, metadata, occurred_at, prev_hash, hash, n)
                RETURNING events.id, events.version, events.position, events.xid, events.hash
            ), head AS (
                INSERT INTO streams AS s (stream, version, head_hash, last_recorded_at)
                    VALUES (v_stream, v_version + v_count, v_head, v_recorded)
                    ON CONFLICT (stream) DO UPDATE
                    SET version = excluded.version, head_hash = excluded.head_hash,
                        last_recorded_at = excluded.last_recorded_at
            )
            SELECT v_i, 'appended', NULL::text, NULL::text, i.id, i.version, i.position, i.xid, i.hash, v_recorded
              FROM inserted i ORDER BY i.version;
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION handoff.append_group(text[], text[], int[], uuid[], text[], jsonb[], jsonb[], timestamptz[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION handoff.append_group(text[], text[], int[], uuid[], text[], jsonb[], jsonb[], timestamptz[])
    TO handoff_app;

-- The one-stream append, for clients other than EventStore (and pgbench): one item of a group,
-- its outcome raised as before (SQLSTATE, DETAIL and message unchanged).
CREATE OR REPLACE FUNCTION handoff.append(
    p_stream text, p_expected text, p_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb[],
    p_occurred_at timestamptz[]
)
RETURNS TABLE (
    event_id uuid, event_version bigint, event_position bigint, event_xid xid8, event_hash bytea,
    event_recorded_at timestamptz, deduplicated boolean
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = handoff, pg_temp AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM append_group(ARRAY[p_stream], ARRAY[p_expected], ARRAY[coalesce(cardinality(p_ids), 0)],
                                        p_ids, p_types, p_data, p_metadata, p_occurred_at) LOOP
        IF r.outcome NOT IN ('appended', 'deduplicated') THEN
            RAISE EXCEPTION USING MESSAGE = r.outcome_message, ERRCODE = r.outcome, DETAIL = r.outcome_detail;
        END IF;
        event_id := r.event_id;
        event_version := r.event_version;
        event_position := r.event_position;
        event_xid := r.event_xid;
        event_hash := r.event_hash;
        event_recorded_at := r.event_recorded_at;
        deduplicated := r.outcome = 'deduplicated';
        RETURN NEXT;
    END LOOP;
END
$$;
ALTER FUNCTION handoff.append(text, text, uuid[], text[], jsonb[], jsonb[], timestamptz[])
    RESET plan_cache_mode;
ALTER FUNCTION handoff.append(text, text, uuid[], text[], jsonb[], jsonb[], timestamptz[])
    RESET enable_seqscan;
