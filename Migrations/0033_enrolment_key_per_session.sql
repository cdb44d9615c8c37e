-- A one-time-code key waiting for confirmation belongs to the one dashboard session it was shown to
-- (an attack pass: a key seen by whoever once had an account's first password was shown again to the
-- real person, who confirmed it, and the copy then signed in). Another session is shown a new key,
-- which replaces it; only the session that saw a key can confirm it; a password reset forgets it.
ALTER TABLE handoff.accounts ADD COLUMN totp_pending_session bigint;
UPDATE handoff.accounts SET totp_pending = NULL, totp_pending_key_id = NULL WHERE totp_pending IS NOT NULL;
