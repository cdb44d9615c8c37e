-- Person accounts (issue 14): a person signs in to the dashboard with a user name, a password and,
-- for coordinator and auditor accounts always (for others when they enrol), a time-based one-time
-- code (TOTP, RFC 6238). API tokens stay for machine clients.
--
-- Passwords are hashed by PostgreSQL's pgcrypto (`crypt` with a bcrypt salt of cost 12): a
-- maintained implementation, not one of ours. pgcrypto ships with PostgreSQL (Debian: in the
-- postgresql-15 package; the postgres image: included) and is a trusted extension, so the role
-- that runs `handoff migrate` may create it when it owns the database.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- One row per person. `user_name` is what the person types and what events and the access log
-- record as `actor.user`. The TOTP secret is stored sealed (pgp_sym_encrypt_bytea, AES-256 with an
-- integrity check) under a key the service derives from the system event key `totp_key_id`
-- (docs/system-events.md): a reader of this table alone cannot compute codes. `totp_pending` holds a
-- secret shown on the enrolment page until a code confirms it. `totp_last_step` is the time step of
-- the last code accepted: a code is never accepted twice.
CREATE TABLE handoff.accounts (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_name           text NOT NULL UNIQUE CHECK (user_name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    role                text NOT NULL CHECK (role IN ('institution', 'coordinator', 'auditor')),
    institution         text CHECK (institution IS NULL OR institution ~ '^[a-z0-9-]{1,64}$'),
    display_name        text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 128),
    password_hash       text NOT NULL CHECK (password_hash LIKE '$2a$%'),
    password_changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    disabled_at         timestamptz,
    totp_secret         bytea,
    totp_key_id         integer REFERENCES handoff.system_event_keys (key_id),
    totp_pending        bytea,
    totp_pending_key_id integer REFERENCES handoff.system_event_keys (key_id),
    totp_last_step      bigint,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT accounts_institution_role CHECK (role <> 'institution' OR institution IS NOT NULL),
    CONSTRAINT accounts_totp_key CHECK ((totp_secret IS NULL) = (totp_key_id IS NULL)),
    CONSTRAINT accounts_totp_pending_key CHECK ((totp_pending IS NULL) = (totp_pending_key_id IS NULL))
);
REVOKE ALL ON handoff.accounts FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON handoff.accounts TO handoff_app;

-- Failed sign-ins per user name typed, whether or not an account has that name: an unknown name
-- is slowed down and locked exactly like a known one, so neither the answer nor its timing tells
-- which names exist. A row is reserved before a password is checked (so concurrent guesses cannot
-- overrun the limit), removed by a successful sign-in, a password reset or `handoff user unlock`.
CREATE TABLE handoff.sign_in_throttle (
    user_name       text PRIMARY KEY CHECK (length(user_name) BETWEEN 1 AND 64),
    attempts        integer NOT NULL CHECK (attempts >= 0),
    locked_until    timestamptz,
    last_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
REVOKE ALL ON handoff.sign_in_throttle FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON handoff.sign_in_throttle TO handoff_app;

-- A session made from an account names it; a coordinator's or auditor's first sign-in makes a
-- session that may only finish enrolling a one-time code (`enrolment_pending`).
ALTER TABLE handoff.dashboard_sessions
    ADD CONSTRAINT dashboard_sessions_account FOREIGN KEY (account_id) REFERENCES handoff.accounts (id),
    ADD COLUMN enrolment_pending boolean NOT NULL DEFAULT false;
CREATE INDEX dashboard_sessions_account ON handoff.dashboard_sessions (account_id);

-- The one definition of a live session (0017), now also: made from a token that is live, or from
-- an account that is not disabled. Disabling an account or resetting its password also ends its
-- sessions explicitly (revoked_at).
CREATE OR REPLACE FUNCTION handoff.session_is_live(
    s handoff.dashboard_sessions, idle_seconds double precision, lifetime_seconds double precision
) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT s.revoked_at IS NULL
       AND s.last_seen_at > clock_timestamp() - make_interval(secs => idle_seconds)
       AND s.created_at > clock_timestamp() - make_interval(secs => lifetime_seconds)
       AND (s.token_id IS NULL OR EXISTS (
            SELECT 1 FROM handoff.api_tokens t WHERE t.id = s.token_id AND t.revoked_at IS NULL))
       AND (s.account_id IS NULL OR EXISTS (
            SELECT 1 FROM handoff.accounts a WHERE a.id = s.account_id AND a.disabled_at IS NULL))
$$;

-- pgcrypto behind four small functions, bound to the schema pgcrypto was installed in (whatever
-- the caller's search_path), so the service never names pgcrypto itself. Passwords reach them as
-- bind parameters only.
--   password_hash(p)         bcrypt, cost 12 (the one place the cost is chosen)
--   password_matches(p, h)   crypt(p, h) = h; for h NULL (no such account) the same work on a
--                            fresh salt, and false: an unknown name costs what a wrong password does
--   totp_seal(b, k)          pgp_sym_encrypt_bytea, AES-256
--   totp_open(b, k)          pgp_sym_decrypt_bytea
DO $do$
DECLARE
    crypto text := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                     WHERE e.extname = 'pgcrypto');
BEGIN
    EXECUTE format($f$
        CREATE FUNCTION handoff.password_hash(password text) RETURNS text
        LANGUAGE sql VOLATILE STRICT SET search_path = %1$I, pg_temp AS
        'SELECT crypt(password, gen_salt(''bf'', 12))'$f$, crypto);
    EXECUTE format($f$
        CREATE FUNCTION handoff.password_matches(password text, hash text) RETURNS boolean
        LANGUAGE sql VOLATILE SET search_path = %1$I, pg_temp AS
        'SELECT CASE WHEN hash IS NULL THEN crypt(password, gen_salt(''bf'', 12)) IS NULL
                     ELSE crypt(password, hash) = hash END'$f$, crypto);
    EXECUTE format($f$
        CREATE FUNCTION handoff.totp_seal(secret bytea, key text) RETURNS bytea
        LANGUAGE sql VOLATILE STRICT SET search_path = %1$I, pg_temp AS
        'SELECT pgp_sym_encrypt_bytea(secret, key, ''cipher-algo=aes256, s2k-mode=1'')'$f$, crypto);
    EXECUTE format($f$
        CREATE FUNCTION handoff.totp_open(sealed bytea, key text) RETURNS bytea
        LANGUAGE sql VOLATILE STRICT SET search_path = %1$I, pg_temp AS
        'SELECT pgp_sym_decrypt_bytea(sealed, key)'$f$, crypto);
END
$do$;
REVOKE ALL ON FUNCTION handoff.password_hash(text), handoff.password_matches(text, text),
    handoff.totp_seal(bytea, text), handoff.totp_open(bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION handoff.password_hash(text), handoff.password_matches(text, text),
    handoff.totp_seal(bytea, text), handoff.totp_open(bytea, text) TO handoff_app;
