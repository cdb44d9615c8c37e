-- Dashboard sessions (issue 19): the browser's cookie holds a random session id, never an API
-- token; only the id's SHA-256 is stored. A session belongs to a principal (role, institution,
-- user) and to the credential it was made from: an API token now (`token_id`), a person's
-- account later (`account_id`, issue 14; its foreign key comes with its table). It ends when
-- idle or old (limits set by the service), at logout (`revoked_at`), or when its token is
-- revoked (every lookup requires the token to be live).
CREATE TABLE handoff.dashboard_sessions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_hash  bytea NOT NULL UNIQUE CHECK (octet_length(session_hash) = 32),
    role          text NOT NULL CHECK (role IN ('institution', 'coordinator', 'auditor')),
    institution   text CHECK (institution IS NULL OR institution ~ '^[a-z0-9-]{1,64}$'),
    "user"        text NOT NULL CHECK (length("user") BETWEEN 1 AND 128),
    token_id      bigint REFERENCES handoff.api_tokens (id),
    account_id    bigint,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_seen_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    revoked_at    timestamptz,
    CONSTRAINT dashboard_sessions_one_credential CHECK ((token_id IS NULL) <> (account_id IS NULL)),
    CONSTRAINT dashboard_sessions_institution_role CHECK (role <> 'institution' OR institution IS NOT NULL)
);
CREATE INDEX dashboard_sessions_token ON handoff.dashboard_sessions (token_id);
CREATE INDEX dashboard_sessions_created ON handoff.dashboard_sessions (created_at);

REVOKE ALL ON handoff.dashboard_sessions FROM PUBLIC;
-- DELETE only to prune sessions long expired; a live session is ended by setting revoked_at.
GRANT SELECT, INSERT, UPDATE, DELETE ON handoff.dashboard_sessions TO handoff_app;

-- The one definition of a live session: not ended, used within `idle_seconds`, begun within
-- `lifetime_seconds` (both set by the service), and made from a token that is still live.
CREATE FUNCTION handoff.session_is_live(
    s handoff.dashboard_sessions, idle_seconds double precision, lifetime_seconds double precision
) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT s.revoked_at IS NULL
       AND s.last_seen_at > clock_timestamp() - make_interval(secs => idle_seconds)
       AND s.created_at > clock_timestamp() - make_interval(secs => lifetime_seconds)
       AND (s.token_id IS NULL OR EXISTS (
            SELECT 1 FROM handoff.api_tokens t WHERE t.id = s.token_id AND t.revoked_at IS NULL))
$$;
GRANT EXECUTE ON FUNCTION handoff.session_is_live(handoff.dashboard_sessions, double precision, double precision)
    TO handoff_app;
