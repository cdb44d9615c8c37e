-- Records the monitored institutions cannot bend (docs/time-of-record.md).
--
-- 1. Time of record. `recorded_at` is taken after the stream lock is held and never decreases
--    along a stream (streams.last_recorded_at), so a history "as recorded by" a time has no hole.
-- 2. Deadlines remember whether a SopDeadlineMissed notice exists for them (`notified`): such a
--    deadline is never met (at best met-late), never cancelled, and overdue while unmet.
--    `deadline_status` takes the flag; the status is still derived from stored columns only.
-- 3. Referrals carry the consent override they were issued with and when a consent they relied
--    on was withdrawn: both are findings the coordinator sees.
-- 4. Case ids issued by the server: one counter per (prefix, year), `KS-2026-000123`.

ALTER TABLE handoff.streams ADD COLUMN last_recorded_at timestamptz;
UPDATE handoff.streams s SET last_recorded_at = (SELECT max(e.recorded_at) FROM handoff.events e WHERE e.stream = s.stream);

-- 1. The append function: as in 0005 and 0008, with the time of record taken after the lock.
CREATE OR REPLACE FUNCTION handoff.append(
    p_stream text, p_expected text, p_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb[],
    p_occurred_at timestamptz[]
)
RETURNS TABLE (
    event_id uuid, event_version bigint, event_position bigint, event_xid xid8, event_hash bytea,
    event_recorded_at timestamptz, deduplicated boolean
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = handoff, pg_temp SET plan_cache_mode = force_generic_plan
    SET enable_seqscan = off AS $$
DECLARE
    v_count     int := coalesce(cardinality(p_ids), 0);
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
    a_occurred  timestamptz[];
    a_text      bytea[];
    a_prev      bytea[] := '{}';
    a_hash      bytea[] := '{}';
BEGIN
    IF v_count = 0 THEN
        RAISE EXCEPTION 'an append needs at least one event' USING ERRCODE = 'HF003', DETAIL = 'field=events';
    END IF;
    IF cardinality(p_types) IS DISTINCT FROM v_count OR cardinality(p_data) IS DISTINCT FROM v_count
       OR cardinality(p_metadata) IS DISTINCT FROM v_count OR cardinality(p_occurred_at) IS DISTINCT FROM v_count THEN
        RAISE EXCEPTION 'event arrays differ in length' USING ERRCODE = 'HF003', DETAIL = 'field=events';
    END IF;
    IF NOT ((p_stream ~ '^(case|sop)-[A-Za-z0-9-]+$' AND length(p_stream) - position('-' IN p_stream) <= 64)
            OR p_stream IN ('institutions', 'checkpoints')) THEN
        RAISE EXCEPTION 'unknown stream name pattern' USING ERRCODE = 'HF003', DETAIL = 'field=stream';
    END IF;
    IF NOT (p_expected IN ('any', 'no-stream', 'exists') OR (p_expected ~ '^[0-9]+$' AND length(p_expected) <= 18)) THEN
        RAISE EXCEPTION 'expected version must be a number, any, no-stream or exists'
            USING ERRCODE = 'HF003', DETAIL = 'field=expectedVersion';
    END IF;

    -- Serialize with other writers of this stream only. (Its own statement: what follows must be
    -- read with a snapshot taken after the lock is held.)
    PERFORM pg_advisory_xact_lock(hashtextextended(p_stream, 7));

    SELECT s.version, s.head_hash, s.last_recorded_at, (SELECT count(*) FROM events e WHERE e.id = ANY (p_ids))
      INTO v_version, v_head, v_last_rec, v_existing
      FROM (SELECT 1) AS one LEFT JOIN streams s ON s.stream = p_stream;
    -- The time of record, taken once the stream lock is held, and never before the stream's
    -- previous event's: recorded_at never decreases along a stream's versions, so `?asOf=` never
    -- returns a history with a hole (a clock stepped back by NTP included).
    v_recorded := greatest(clock_timestamp(), v_last_rec);

    -- Idempotency: ids seen before, with the same content, return the original result.
    IF v_existing > 0 THEN
        SELECT x.id INTO v_id
          FROM unnest(p_ids, p_types, p_data, p_metadata, p_occurred_at) AS x(id, type, data, metadata, occurred_at)
          LEFT JOIN events e ON e.id = x.id
         WHERE e.id IS NULL OR e.stream <> p_stream OR e.type <> x.type OR e.data <> x.data
            OR e.metadata->'actor' IS DISTINCT FROM x.metadata->'actor'
            OR (x.occurred_at IS NOT NULL AND e.occurred_at <> x.occurred_at)
         LIMIT 1;
        IF NOT FOUND AND v_existing = v_count THEN
            RETURN QUERY
                SELECT e.id, e.version, e.position, e.xid, e.hash, e.recorded_at, true
                  FROM unnest(p_ids) WITH ORDINALITY AS x(id, n) JOIN events e ON e.id = x.id
                 ORDER BY x.n;
            RETURN;
        END IF;
        SELECT e.id INTO v_id FROM events e WHERE e.id = ANY (p_ids) LIMIT 1;
        RAISE EXCEPTION 'event id already used with different content' USING ERRCODE = 'HF002', DETAIL = 'id=' || v_id;
    END IF;

    IF v_version IS NULL THEN
        v_version := 0;
        v_head := decode(repeat('00', 32), 'hex');
    END IF;
    IF (p_expected = 'no-stream' AND v_version <> 0)
       OR (p_expected = 'exists' AND v_version = 0)
       OR (p_expected ~ '^[0-9]+$' AND v_version <> p_expected::bigint) THEN
        RAISE EXCEPTION 'wrong expected version' USING ERRCODE = 'HF001',
            DETAIL = 'expected=' || p_expected || ';actual=' || v_version;
    END IF;

    -- One event (most appends): plain expressions, which PL/pgSQL evaluates without starting an
    -- executor; the batch path's aggregate and unnest cost more to set up than to run for one row.
    IF v_count = 1 THEN
        v_occurred := coalesce(p_occurred_at[1], v_recorded);
        IF p_ids[1] IS NULL THEN
            RAISE EXCEPTION 'event id missing' USING ERRCODE = 'HF003', DETAIL = 'field=id';
        ELSIF p_types[1] IS NULL OR length(p_types[1]) > 64 OR p_types[1] !~ '^[A-Za-z][A-Za-z0-9]*$' THEN
            RAISE EXCEPTION 'event type must be a name' USING ERRCODE = 'HF003', DETAIL = 'field=type';
        ELSIF p_data[1] IS NULL OR jsonb_typeof(p_data[1]) <> 'object' THEN
            RAISE EXCEPTION 'event data must be a JSON object' USING ERRCODE = 'HF003', DETAIL = 'field=data';
        ELSIF p_metadata[1] IS NULL OR jsonb_typeof(p_metadata[1]) <> 'object' THEN
            RAISE EXCEPTION 'event metadata must be a JSON object' USING ERRCODE = 'HF003', DETAIL = 'field=metadata';
        ELSIF v_occurred > v_recorded + interval '5 minutes' THEN
            RAISE EXCEPTION 'occurredAt is in the future' USING ERRCODE = 'HF003', DETAIL = 'field=occurredAt';
        ELSIF v_occurred < timestamptz '0001-01-01 00:00:00+00' THEN
            RAISE EXCEPTION 'occurredAt is before the year 1' USING ERRCODE = 'HF003', DETAIL = 'field=occurredAt';
        END IF;
        v_hash := sha256(v_head || convert_to(canonical_text(
            p_stream, v_version + 1, p_ids[1], p_types[1], v_occurred, v_recorded, p_data[1], p_metadata[1]), 'UTF8'));
        RETURN QUERY
            WITH inserted AS (
                INSERT INTO events (stream, version, id, type, data, metadata, occurred_at, recorded_at, prev_hash, hash)
                VALUES (p_stream, v_version + 1, p_ids[1], p_types[1], p_data[1], p_metadata[1], v_occurred, v_recorded,
                        v_head, v_hash)
                RETURNING events.id, events.version, events.position, events.xid, events.hash
            ), head AS (
                INSERT INTO streams AS s (stream, version, head_hash, last_recorded_at)
                    VALUES (p_stream, v_version + 1, v_hash, v_recorded)
                    ON CONFLICT (stream) DO UPDATE
                    SET version = excluded.version, head_hash = excluded.head_hash,
                        last_recorded_at = excluded.last_recorded_at
            )
            SELECT i.id, i.version, i.position, i.xid, i.hash, v_recorded, false FROM inserted i;
        RETURN;
    END IF;

    -- Validate the whole batch and make every event's canonical text in one statement. v_bad is
    -- the first failing check of the first bad event: event number * 8 + check number.
    SELECT array_agg(o.occurred ORDER BY o.n),
           array_agg(convert_to(canonical_text(p_stream, v_version + o.n, o.id, o.type, o.occurred, v_recorded,
                                               o.data, o.metadata), 'UTF8') ORDER BY o.n),
           min(o.n * 8 + CASE
                   WHEN o.id IS NULL THEN 1
                   WHEN o.type IS NULL OR length(o.type) > 64 OR o.type !~ '^[A-Za-z][A-Za-z0-9]*$' THEN 2
                   WHEN o.data IS NULL OR jsonb_typeof(o.data) <> 'object' THEN 3
                   WHEN o.metadata IS NULL OR jsonb_typeof(o.metadata) <> 'object' THEN 4
                   WHEN o.occurred > v_recorded + interval '5 minutes' THEN 5
                   WHEN o.occurred < timestamptz '0001-01-01 00:00:00+00' THEN 6
               END)
      INTO a_occurred, a_text, v_bad
      FROM (SELECT x.n, x.id, x.type, x.data, x.metadata, coalesce(x.occurred_at, v_recorded) AS occurred
              FROM unnest(p_ids, p_types, p_data, p_metadata, p_occurred_at) WITH ORDINALITY
                   AS x(id, type, data, metadata, occurred_at, n)) AS o;
    CASE v_bad % 8
        WHEN 1 THEN RAISE EXCEPTION 'event id missing' USING ERRCODE = 'HF003', DETAIL = 'field=id';
        WHEN 2 THEN RAISE EXCEPTION 'event type must be a name' USING ERRCODE = 'HF003', DETAIL = 'field=type';
        WHEN 3 THEN RAISE EXCEPTION 'event data must be a JSON object' USING ERRCODE = 'HF003', DETAIL = 'field=data';
        WHEN 4 THEN
            RAISE EXCEPTION 'event metadata must be a JSON object' USING ERRCODE = 'HF003', DETAIL = 'field=metadata';
        WHEN 5 THEN RAISE EXCEPTION 'occurredAt is in the future' USING ERRCODE = 'HF003', DETAIL = 'field=occurredAt';
        WHEN 6 THEN RAISE EXCEPTION 'occurredAt is before the year 1' USING ERRCODE = 'HF003', DETAIL = 'field=occurredAt';
        ELSE NULL;  -- v_bad IS NULL: every event is valid
    END CASE;

    -- The chain: each hash covers the previous one and the event's canonical bytes.
    FOREACH v_text IN ARRAY a_text LOOP
        a_prev := a_prev || v_head;
        v_head := sha256(v_head || v_text);
        a_hash := a_hash || v_head;
    END LOOP;

    RETURN QUERY
        WITH inserted AS (
            INSERT INTO events (stream, version, id, type, data, metadata, occurred_at, recorded_at, prev_hash, hash)
            SELECT p_stream, v_version + x.n, x.id, x.type, x.data, x.metadata, x.occurred_at, v_recorded,
                   x.prev_hash, x.hash
              FROM unnest(p_ids, p_types, p_data, p_metadata, a_occurred, a_prev, a_hash) WITH ORDINALITY
                   AS x(id, type, data, metadata, occurred_at, prev_hash, hash, n)
            RETURNING events.id, events.version, events.position, events.xid, events.hash
        ), head AS (
            INSERT INTO streams AS s (stream, version, head_hash, last_recorded_at)
                VALUES (p_stream, v_version + v_count, v_head, v_recorded)
                ON CONFLICT (stream) DO UPDATE
                SET version = excluded.version, head_hash = excluded.head_hash,
                    last_recorded_at = excluded.last_recorded_at
        )
        SELECT i.id, i.version, i.position, i.xid, i.hash, v_recorded, false FROM inserted i ORDER BY i.version;
END
$$;

-- 2. Deadlines and notices.
ALTER TABLE handoff.deadlines ADD COLUMN notified boolean NOT NULL DEFAULT false;

DROP FUNCTION handoff.deadline_status(timestamptz, timestamptz, timestamptz, timestamptz, boolean, timestamptz);
CREATE FUNCTION handoff.deadline_status(
    p_satisfied_at timestamptz, p_due_at timestamptz, p_warn_at timestamptz, p_cancelled_at timestamptz,
    p_missed_at_closure boolean, p_notified boolean, p_now timestamptz
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_satisfied_at IS NOT NULL THEN
            CASE WHEN p_satisfied_at <= p_due_at AND NOT p_notified THEN 'met' ELSE 'met-late' END
        WHEN p_cancelled_at IS NOT NULL THEN 'cancelled'
        WHEN p_missed_at_closure OR p_notified OR p_now >= p_due_at THEN 'overdue'
        WHEN p_now >= p_warn_at THEN 'due-soon'
        ELSE 'pending'
    END
$$;
GRANT EXECUTE ON FUNCTION handoff.deadline_status(timestamptz, timestamptz, timestamptz, timestamptz, boolean, boolean,
    timestamptz) TO handoff_app, handoff_auditor;

-- Overdue whatever their due_at: missed at closure, or notified.
DROP INDEX handoff.deadlines_missed_open_page;
CREATE INDEX deadlines_missed_open_page ON handoff.deadlines (due_at, case_id, ordinal)
    WHERE (missed_at_closure OR notified) AND satisfied_at IS NULL AND cancelled_at IS NULL;

-- 3. Consent findings on referrals.
ALTER TABLE handoff.referrals ADD COLUMN consent_override text, ADD COLUMN consent_withdrawn_at timestamptz;

-- 4. Server-issued case ids.
CREATE TABLE handoff.case_id_counters (
    prefix text NOT NULL CHECK (prefix ~ '^[A-Z][A-Z0-9]{1,7}$'),
    year   int NOT NULL CHECK (year BETWEEN 1970 AND 9999),
    last   bigint NOT NULL,
    PRIMARY KEY (prefix, year)
);
REVOKE ALL ON handoff.case_id_counters FROM PUBLIC;

-- The next free id of the (prefix, year) sequence: `KS-2026-000123` (six digits at least, more
-- past 999999). The counter's row lock serializes two openings under one prefix and year only
-- for the counter update; an id issued to an opening that then fails is skipped, never reused.
-- Ids whose stream exists already (written before this function, or by hand) are skipped.
CREATE FUNCTION handoff.issue_case_id(p_prefix text, p_year int) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = handoff, pg_temp AS $$
DECLARE
    v_n  bigint;
    v_id text;
BEGIN
    LOOP
        INSERT INTO case_id_counters AS c (prefix, year, last) VALUES (p_prefix, p_year, 1)
            ON CONFLICT (prefix, year) DO UPDATE SET last = c.last + 1
            RETURNING c.last INTO v_n;
        v_id := p_prefix || '-' || p_year || '-' || lpad(v_n::text, 6, '0');
        EXIT WHEN NOT EXISTS (SELECT 1 FROM streams WHERE stream = 'case-' || v_id);
    END LOOP;
    RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION handoff.issue_case_id(text, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION handoff.issue_case_id(text, int) TO handoff_app;
