-- The event store: one append-only table of events, hash-chained per stream, written only through
-- handoff.append(). See docs/hash-chain.md for the exact canonical bytes.

CREATE SCHEMA IF NOT EXISTS handoff;

-- Roles are cluster-wide: create them once, whoever migrates first.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'handoff_app') THEN
        CREATE ROLE handoff_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'handoff_auditor') THEN
        CREATE ROLE handoff_auditor NOLOGIN;
    END IF;
EXCEPTION WHEN unique_violation OR duplicate_object THEN
    NULL; -- another migrator created them at the same moment
END
$$;

-- One row per stream: its current version and head hash. Appenders lock this row, so writers to
-- one stream serialize and writers to different streams do not wait for each other.
CREATE TABLE handoff.streams (
    stream    text PRIMARY KEY,
    version   bigint NOT NULL CHECK (version >= 0),
    head_hash bytea NOT NULL
);

CREATE TABLE handoff.events (
    position    bigint GENERATED ALWAYS AS IDENTITY,
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream      text NOT NULL,
    version     bigint NOT NULL CHECK (version >= 1),
    id          uuid NOT NULL,
    type        text NOT NULL,
    data        jsonb NOT NULL,
    metadata    jsonb NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL,
    CONSTRAINT events_stream_version PRIMARY KEY (stream, version),
    CONSTRAINT events_id UNIQUE (id),
    -- Stream names, types and data are validated by handoff.append, the only writer; the table
    -- keeps only checks that cost nothing on the hot path.
    CONSTRAINT events_hash_size CHECK (octet_length(hash) = 32 AND octet_length(prev_hash) = 32)
);

-- The gap-free global order: (xid, position), read only below the oldest running transaction.
-- (Positions are unique by construction; no index of their own is needed.)
CREATE UNIQUE INDEX events_global_order ON handoff.events (xid, position);

-- Rows are never changed or removed; corrections are new events.
CREATE FUNCTION handoff.reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'handoff.events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'HF010', HINT = 'Append a RecordCorrected event instead.';
END
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON handoff.events
    FOR EACH STATEMENT EXECUTE FUNCTION handoff.reject_change();

-- The canonical text of an event (docs/hash-chain.md). Its UTF-8 bytes follow prev_hash into SHA-256.
CREATE FUNCTION handoff.canonical_text(
    p_stream text, p_version bigint, p_id uuid, p_type text, p_occurred_at timestamptz,
    p_recorded_at timestamptz, p_data jsonb, p_metadata jsonb
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 'handoff-event-v1' || E'\n' || p_stream || E'\n' || p_version::text || E'\n' || p_id::text || E'\n'
        || p_type || E'\n'
        || to_char(p_occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || E'\n'
        || to_char(p_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || E'\n'
        || p_data::text || E'\n' || p_metadata::text
$$;

-- Appends a batch of events to one stream, atomically, in one round trip.
--
-- p_expected: a version number, 'any', 'no-stream' or 'exists'.
-- The arrays hold one element per event, in order; p_occurred_at elements may be NULL (now).
-- Returns one row per event. When every id already exists with the same content, nothing is
-- written and the original rows come back with deduplicated = true.
--
-- Writers to one stream serialize on a transaction-scoped advisory lock keyed by the stream's
-- name (no row lock, no global lock). Readers are not woken from here: a NOTIFY inside the
-- transaction would serialize every appender's commit on PostgreSQL's notify queue lock, so the
-- application notifies after commit (coalesced), and readers poll as a fallback.
--
-- Errors (SQLSTATE, DETAIL):
--   HF001 wrong expected version   DETAIL 'expected=<e>;actual=<n>'
--   HF002 duplicate event id        DETAIL 'id=<uuid>'  (same id, different content)
--   HF003 invalid append            DETAIL 'field=<name>'
CREATE FUNCTION handoff.append(
    p_stream text, p_expected text, p_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb[],
    p_occurred_at timestamptz[]
)
RETURNS TABLE (
    event_id uuid, event_version bigint, event_position bigint, event_xid xid8, event_hash bytea,
    event_recorded_at timestamptz, deduplicated boolean
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = handoff, pg_temp AS $$
DECLARE
    v_count     int := coalesce(cardinality(p_ids), 0);
    v_version   bigint;
    v_head      bytea;
    v_recorded  timestamptz := clock_timestamp();
    v_occurred  timestamptz;
    v_hash      bytea;
    v_id        uuid;
    v_bad       uuid;
    v_existing  int;
    r           record;
    a_occurred  timestamptz[] := '{}';
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
    IF NOT (p_stream ~ '^(case|sop)-[A-Za-z0-9-]{1,64}$' OR p_stream IN ('institutions', 'checkpoints')) THEN
        RAISE EXCEPTION 'unknown stream name pattern' USING ERRCODE = 'HF003', DETAIL = 'field=stream';
    END IF;
    IF NOT (p_expected IN ('any', 'no-stream', 'exists') OR p_expected ~ '^[0-9]{1,18}$') THEN
        RAISE EXCEPTION 'expected version must be a number, any, no-stream or exists'
            USING ERRCODE = 'HF003', DETAIL = 'field=expectedVersion';
    END IF;

    -- Serialize with other writers of this stream only.
    PERFORM pg_advisory_xact_lock(hashtextextended(p_stream, 7));

    -- Idempotency: ids seen before, with the same content, return the original result.
    SELECT count(*) INTO v_existing FROM events e WHERE e.id = ANY (p_ids);
    IF v_existing > 0 THEN
        SELECT x.id INTO v_bad
          FROM unnest(p_ids, p_types, p_data, p_metadata, p_occurred_at) AS x(id, type, data, metadata, occurred_at)
          LEFT JOIN events e ON e.id = x.id
         WHERE e.id IS NULL OR e.stream <> p_stream OR e.type <> x.type OR e.data <> x.data
            OR e.metadata->'actor' IS DISTINCT FROM x.metadata->'actor'
            OR (x.occurred_at IS NOT NULL AND e.occurred_at <> x.occurred_at)
         LIMIT 1;
        IF v_bad IS NULL AND v_existing = v_count THEN
            RETURN QUERY
                SELECT e.id, e.version, e.position, e.xid, e.hash, e.recorded_at, true
                  FROM unnest(p_ids) WITH ORDINALITY AS x(id, n) JOIN events e ON e.id = x.id
                 ORDER BY x.n;
            RETURN;
        END IF;
        SELECT e.id INTO v_id FROM events e WHERE e.id = ANY (p_ids) LIMIT 1;
        RAISE EXCEPTION 'event id already used with different content' USING ERRCODE = 'HF002', DETAIL = 'id=' || v_id;
    END IF;

    SELECT s.version, s.head_hash INTO v_version, v_head FROM streams s WHERE s.stream = p_stream;
    IF NOT FOUND THEN
        v_version := 0;
        v_head := decode(repeat('00', 32), 'hex');
    END IF;
    IF (p_expected = 'no-stream' AND v_version <> 0)
       OR (p_expected = 'exists' AND v_version = 0)
       OR (p_expected ~ '^[0-9]+$' AND v_version <> p_expected::bigint) THEN
        RAISE EXCEPTION 'wrong expected version' USING ERRCODE = 'HF001',
            DETAIL = 'expected=' || p_expected || ';actual=' || v_version;
    END IF;

    -- Chain the batch in order, then insert it with one statement. (Rows come from unnest, not
    -- from subscripts: p_data[i] on an array of variable-length values walks it from the start.)
    FOR r IN SELECT x.id, x.type, x.data, x.metadata, x.occurred_at
               FROM unnest(p_ids, p_types, p_data, p_metadata, p_occurred_at) WITH ORDINALITY
                    AS x(id, type, data, metadata, occurred_at, n)
              ORDER BY x.n LOOP
        v_version := v_version + 1;
        v_occurred := coalesce(r.occurred_at, v_recorded);
        IF r.id IS NULL THEN
            RAISE EXCEPTION 'event id missing' USING ERRCODE = 'HF003', DETAIL = 'field=id';
        END IF;
        IF r.type IS NULL OR r.type !~ '^[A-Za-z][A-Za-z0-9]{0,63}$' THEN
            RAISE EXCEPTION 'event type must be a name' USING ERRCODE = 'HF003', DETAIL = 'field=type';
        END IF;
        IF r.data IS NULL OR jsonb_typeof(r.data) <> 'object' THEN
            RAISE EXCEPTION 'event data must be a JSON object' USING ERRCODE = 'HF003', DETAIL = 'field=data';
        END IF;
        IF r.metadata IS NULL OR jsonb_typeof(r.metadata) <> 'object' THEN
            RAISE EXCEPTION 'event metadata must be a JSON object' USING ERRCODE = 'HF003', DETAIL = 'field=metadata';
        END IF;
        IF v_occurred > v_recorded + interval '5 minutes' THEN
            RAISE EXCEPTION 'occurredAt is in the future' USING ERRCODE = 'HF003', DETAIL = 'field=occurredAt';
        END IF;
        v_hash := sha256(v_head || convert_to(canonical_text(
            p_stream, v_version, r.id, r.type, v_occurred, v_recorded, r.data, r.metadata), 'UTF8'));
        a_occurred := a_occurred || v_occurred;
        a_prev := a_prev || v_head;
        a_hash := a_hash || v_hash;
        v_head := v_hash;
    END LOOP;

    RETURN QUERY
        WITH inserted AS (
            INSERT INTO events (stream, version, id, type, data, metadata, occurred_at, recorded_at, prev_hash, hash)
            SELECT p_stream, v_version - v_count + x.n, x.id, x.type, x.data, x.metadata, x.occurred_at, v_recorded,
                   x.prev_hash, x.hash
              FROM unnest(p_ids, p_types, p_data, p_metadata, a_occurred, a_prev, a_hash) WITH ORDINALITY
                   AS x(id, type, data, metadata, occurred_at, prev_hash, hash, n)
            RETURNING events.id, events.version, events.position, events.xid, events.hash
        )
        SELECT i.id, i.version, i.position, i.xid, i.hash, v_recorded, false FROM inserted i ORDER BY i.version;

    INSERT INTO streams AS s (stream, version, head_hash) VALUES (p_stream, v_version, v_head)
        ON CONFLICT (stream) DO UPDATE SET version = excluded.version, head_hash = excluded.head_hash;
END
$$;

REVOKE ALL ON FUNCTION handoff.append(text, text, uuid[], text[], jsonb[], jsonb[], timestamptz[]) FROM PUBLIC;
REVOKE ALL ON handoff.events, handoff.streams FROM PUBLIC;
GRANT USAGE ON SCHEMA handoff TO handoff_app, handoff_auditor;
GRANT SELECT ON handoff.events, handoff.streams TO handoff_app, handoff_auditor;
GRANT EXECUTE ON FUNCTION handoff.append(text, text, uuid[], text[], jsonb[], jsonb[], timestamptz[]) TO handoff_app;
GRANT EXECUTE ON FUNCTION handoff.canonical_text(text, bigint, uuid, text, timestamptz, timestamptz, jsonb, jsonb)
    TO handoff_app, handoff_auditor;
