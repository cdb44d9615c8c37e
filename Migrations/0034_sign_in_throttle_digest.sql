-- The sign-in throttle keeps a digest of each name tried, never the name itself (issue: an attack
-- pass typed a password, and an API token, into the name field: both were stored here in clear).
-- A name typed by mistake is often a secret; the digest still lets a known account's row be found
-- (handoff.name_digest(a.user_name)) to show its lock, and a lock is lifted by name as before.
-- The rows are a few minutes of failed attempts: they are dropped, not converted.
CREATE FUNCTION handoff.name_digest(p_name text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(p_name, 'UTF8')), 'hex')
$$;
GRANT EXECUTE ON FUNCTION handoff.name_digest(text) TO handoff_app;

DELETE FROM handoff.sign_in_throttle;
ALTER TABLE handoff.sign_in_throttle RENAME COLUMN user_name TO name_digest;
ALTER TABLE handoff.sign_in_throttle DROP CONSTRAINT sign_in_throttle_user_name_check;
ALTER TABLE handoff.sign_in_throttle ADD CONSTRAINT sign_in_throttle_name_digest_check
    CHECK (name_digest ~ '^[0-9a-f]{64}$');
