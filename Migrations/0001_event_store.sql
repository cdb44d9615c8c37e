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
    position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
    CONSTRAINT events_stream_version UNIQUE (stream, version),
    CONSTRAINT events_id UNIQUE (id),
    CONSTRAINT events_stream_name CHECK (
        stream ~ '^(case|sop)-[A-Za-z0-9-]{1,64}$' OR stream IN ('institutions', 'checkpoints')),
    CONSTRAINT events_type_name CHECK (type ~ '^[A-Za-z][A-Za-z0-9]{0,63}$'),
    CONSTRAINT events_data_object CHECK (jsonb_typeof(data) = 'object'),
    CONSTRAINT events_hash_size CHECK (octet_length(hash) = 32 AND octet_length(prev_hash) = 32)
);

-- The gap-free global order: (xid, position), read only below the oldest running transaction.
CREATE INDEX events_global_order ON handoff.events (xid, position);

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
-- p_events:   a JSON array of {"id": uuid, "type": text, "data": "<JSON object as text>", "metadata": {…},
--             "occurredAt": timestamptz or null (null: now)}.
-- Returns one row per event. When every id already exists with the same content, nothing is
-- written and the original rows come back with deduplicated = true.
--
-- Errors (SQLSTATE, DETAIL):
--   HF001 wrong expected version   DETAIL 'expected=<e>;actual=<n>'
--   HF002 duplicate event id        DETAIL 'id=<uuid>'  (same id, different content)
--   HF003 invalid append            DETAIL names the field
CREATE FUNCTION handoff.append(p_stream text, p_expected text, p_events jsonb)
RETURNS TABLE (
    event_id uuid, event_version bigint, event_position bigint, event_xid xid8, event_hash bytea,
    event_recorded_at timestamptz, deduplicated boolean
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = handoff, pg_temp AS $$
DECLARE
    v_version   bigint;
    v_head      bytea;
    v_count     int;
    v_existing  int;
    v_matching  int;
    v_recorded  timestamptz := clock_timestamp();
    v_event     jsonb;
    v_id        uuid;
    v_type      text;
    v_data      jsonb;
    v_meta      jsonb;
    v_occurred  timestamptz;
    v_hash      bytea;
    v_position  bigint;
    v_xid       xid8;
BEGIN
    IF p_events IS NULL OR jsonb_typeof(p_events) <> 'array' OR jsonb_array_length(p_events) = 0 THEN
        RAISE EXCEPTION 'an append needs at least one event' USING ERRCODE = 'HF003', DETAIL = 'field=events';
    END IF;
    IF NOT (p_stream ~ '^(case|sop)-[A-Za-z0-9-]{1,64}$' OR p_stream IN ('institutions', 'checkpoints')) THEN
        RAISE EXCEPTION 'unknown stream name pattern' USING ERRCODE = 'HF003', DETAIL = 'field=stream';
    END IF;
    IF NOT (p_expected IN ('any', 'no-stream', 'exists') OR p_expected ~ '^[0-9]{1,18}$') THEN
        RAISE EXCEPTION 'expected version must be a number, any, no-stream or exists'
            USING ERRCODE = 'HF003', DETAIL = 'field=expectedVersion';
    END IF;
    v_count := jsonb_array_length(p_events);

    -- Serialize with other writers of this stream only.
    SELECT s.version, s.head_hash INTO v_version, v_head FROM streams s WHERE s.stream = p_stream FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO streams (stream, version, head_hash) VALUES (p_stream, 0, decode(repeat('00', 32), 'hex'))
            ON CONFLICT (stream) DO NOTHING;
        SELECT s.version, s.head_hash INTO v_version, v_head FROM streams s WHERE s.stream = p_stream FOR UPDATE;
    END IF;

    -- Idempotency: ids seen before, with the same content, return the original result.
    SELECT count(*), count(*) FILTER (
               WHERE e.stream = p_stream AND e.type = x.value->>'type' AND e.data = (x.value->>'data')::jsonb
                 AND e.metadata->'actor' IS NOT DISTINCT FROM x.value->'metadata'->'actor'
                 AND (x.value->>'occurredAt' IS NULL OR e.occurred_at = (x.value->>'occurredAt')::timestamptz))
      INTO v_existing, v_matching
      FROM jsonb_array_elements(p_events) x
      JOIN events e ON e.id = (x.value->>'id')::uuid;
    IF v_existing > 0 THEN
        IF v_existing = v_count AND v_matching = v_count THEN
            RETURN QUERY
                SELECT e.id, e.version, e.position, e.xid, e.hash, e.recorded_at, true
                  FROM jsonb_array_elements(p_events) WITH ORDINALITY x(value, n)
                  JOIN events e ON e.id = (x.value->>'id')::uuid
                 ORDER BY x.n;
            RETURN;
        END IF;
        SELECT e.id INTO v_id FROM jsonb_array_elements(p_events) x JOIN events e ON e.id = (x.value->>'id')::uuid
          WHERE NOT (e.stream = p_stream AND e.type = x.value->>'type' AND e.data = (x.value->>'data')::jsonb
                 AND e.metadata->'actor' IS NOT DISTINCT FROM x.value->'metadata'->'actor'
                 AND (x.value->>'occurredAt' IS NULL OR e.occurred_at = (x.value->>'occurredAt')::timestamptz))
          LIMIT 1;
        IF v_id IS NULL THEN
            SELECT e.id INTO v_id FROM jsonb_array_elements(p_events) x JOIN events e ON e.id = (x.value->>'id')::uuid LIMIT 1;
        END IF;
        RAISE EXCEPTION 'event id already used with different content' USING ERRCODE = 'HF002', DETAIL = 'id=' || v_id;
    END IF;

    IF (p_expected = 'no-stream' AND v_version <> 0)
       OR (p_expected = 'exists' AND v_version = 0)
       OR (p_expected ~ '^[0-9]+$' AND v_version <> p_expected::bigint) THEN
        RAISE EXCEPTION 'wrong expected version' USING ERRCODE = 'HF001',
            DETAIL = 'expected=' || p_expected || ';actual=' || v_version;
    END IF;

    FOR v_event IN SELECT value FROM jsonb_array_elements(p_events) LOOP
        v_version := v_version + 1;
        v_id := (v_event->>'id')::uuid;
        v_type := v_event->>'type';
        v_data := (v_event->>'data')::jsonb;
        v_meta := coalesce(v_event->'metadata', '{}'::jsonb);
        v_occurred := coalesce((v_event->>'occurredAt')::timestamptz, v_recorded);
        IF v_id IS NULL THEN
            RAISE EXCEPTION 'event id missing' USING ERRCODE = 'HF003', DETAIL = 'field=id';
        END IF;
        IF v_type IS NULL OR v_type !~ '^[A-Za-z][A-Za-z0-9]{0,63}$' THEN
            RAISE EXCEPTION 'event type must be a name' USING ERRCODE = 'HF003', DETAIL = 'field=type';
        END IF;
        IF v_data IS NULL OR jsonb_typeof(v_data) <> 'object' THEN
            RAISE EXCEPTION 'event data must be a JSON object' USING ERRCODE = 'HF003', DETAIL = 'field=data';
        END IF;
        IF jsonb_typeof(v_meta) <> 'object' THEN
            RAISE EXCEPTION 'event metadata must be a JSON object' USING ERRCODE = 'HF003', DETAIL = 'field=metadata';
        END IF;
        IF v_occurred > v_recorded + interval '5 minutes' THEN
            RAISE EXCEPTION 'occurredAt is in the future' USING ERRCODE = 'HF003', DETAIL = 'field=occurredAt';
        END IF;
        v_hash := sha256(v_head || convert_to(
            canonical_text(p_stream, v_version, v_id, v_type, v_occurred, v_recorded, v_data, v_meta), 'UTF8'));
        INSERT INTO events (stream, version, id, type, data, metadata, occurred_at, recorded_at, prev_hash, hash)
            VALUES (p_stream, v_version, v_id, v_type, v_data, v_meta, v_occurred, v_recorded, v_head, v_hash)
            RETURNING position, xid INTO v_position, v_xid;
        v_head := v_hash;
        event_id := v_id; event_version := v_version; event_position := v_position; event_xid := v_xid;
        event_hash := v_hash; event_recorded_at := v_recorded; deduplicated := false;
        RETURN NEXT;
    END LOOP;

    UPDATE streams SET version = v_version, head_hash = v_head WHERE stream = p_stream;
    -- Only a wake-up call: readers never trust a notification, they read the table.
    PERFORM pg_notify('handoff_events', '');
END
$$;

REVOKE ALL ON FUNCTION handoff.append(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON handoff.events, handoff.streams FROM PUBLIC;
GRANT USAGE ON SCHEMA handoff TO handoff_app, handoff_auditor;
GRANT SELECT ON handoff.events, handoff.streams TO handoff_app, handoff_auditor;
GRANT EXECUTE ON FUNCTION handoff.append(text, text, jsonb) TO handoff_app;
GRANT EXECUTE ON FUNCTION handoff.canonical_text(text, bigint, uuid, text, timestamptz, timestamptz, jsonb, jsonb)
    TO handoff_app, handoff_auditor;
