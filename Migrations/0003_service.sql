-- The query service's own tables: API tokens (hashed only), the append-only access log, and
-- durable named subscriptions.

-- A token is shown once when created; only its SHA-256 is kept. `lookup` is the first 8 bytes of
-- that hash, indexed, so a request finds its candidate rows by index and then compares the full
-- hash in constant time in the service.
CREATE TABLE handoff.api_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lookup      bytea NOT NULL CHECK (octet_length(lookup) = 8),
    token_hash  bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    role        text NOT NULL CHECK (role IN ('institution', 'coordinator', 'auditor')),
    institution text CHECK (institution IS NULL OR institution ~ '^[a-z0-9-]{1,64}$'),
    "user"      text NOT NULL CHECK (length("user") BETWEEN 1 AND 128),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    revoked_at  timestamptz,
    CONSTRAINT api_tokens_institution_role CHECK (role <> 'institution' OR institution IS NOT NULL)
);
CREATE INDEX api_tokens_lookup ON handoff.api_tokens (lookup);

-- Every read of case data: who, when, which case, which endpoint. Never changed or removed.
CREATE TABLE handoff.access_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    role        text NOT NULL,
    institution text,
    "user"      text NOT NULL,
    case_id     text NOT NULL,
    endpoint    text NOT NULL
);
CREATE INDEX access_log_case ON handoff.access_log (case_id, id);

CREATE FUNCTION handoff.reject_access_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'handoff.access_log is append-only: % is not allowed', TG_OP USING ERRCODE = 'HF010';
END
$$;

CREATE TRIGGER access_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON handoff.access_log
    FOR EACH STATEMENT EXECUTE FUNCTION handoff.reject_access_log_change();

-- A durable subscription: its owner, an optional type filter and the acknowledged cursor
-- (`<xid>-<position>`, the same opaque form clients see).
CREATE TABLE handoff.subscriptions (
    name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    owner       text NOT NULL,
    types       text[],
    cursor_xid  xid8 NOT NULL DEFAULT '0',
    cursor_pos  bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    acked_at    timestamptz
);

REVOKE ALL ON handoff.api_tokens, handoff.access_log, handoff.subscriptions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON handoff.api_tokens TO handoff_app;
GRANT SELECT, INSERT ON handoff.access_log TO handoff_app;
GRANT SELECT ON handoff.access_log TO handoff_auditor;
GRANT SELECT, INSERT, UPDATE ON handoff.subscriptions TO handoff_app;
