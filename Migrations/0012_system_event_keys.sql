-- System event ids that no client can predict (docs/system-events.md).
--
-- The ids of system events (SopDeadlineMissed, InstitutionRegistered, SopRulesetPublished) are
-- HMAC-SHA-256 of the event's identity under a secret key the server holds. The keys live here:
-- `handoff migrate` creates key 1 (32 bytes from the operating system's secure random source) when
-- the table is empty, `handoff secret rotate` adds the next one; the highest key_id is the current
-- key. Keys are never deleted by the application: an id derived under an older key stays valid.
--
-- Who reads them: the service role (handoff_app: the deadline watcher and the registry commands
-- derive ids). Not the auditor role, not PUBLIC; no route returns them. Writing a key is an
-- operator's act (the owner role that runs migrate), never the application's.
CREATE TABLE handoff.system_event_keys (
    key_id     integer PRIMARY KEY CHECK (key_id >= 1),
    secret     bytea NOT NULL CHECK (octet_length(secret) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON handoff.system_event_keys FROM PUBLIC;
REVOKE ALL ON handoff.system_event_keys FROM handoff_auditor;
GRANT SELECT ON handoff.system_event_keys TO handoff_app;

-- An alarm per system event id found taken by another event (another stream, or other content):
-- with a secret key this should never happen, so each row is worth a look. /metrics counts them
-- (handoff_system_event_id_conflicts_total). The row holds ids and names, never event data.
CREATE TABLE handoff.system_event_id_conflicts (
    position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    event_type  text NOT NULL,
    stream      text NOT NULL,
    event_id    uuid NOT NULL
);
REVOKE ALL ON handoff.system_event_id_conflicts FROM PUBLIC;
GRANT SELECT, INSERT ON handoff.system_event_id_conflicts TO handoff_app;
GRANT SELECT ON handoff.system_event_id_conflicts TO handoff_auditor;

-- A SopDeadlineMissed notice names the ruleset series of its deadline (two series may share a
-- rule id). NULL for notices written before the series was recorded: such a notice stands for
-- the rule and trigger in every series, as it always did.
ALTER TABLE handoff.deadline_notices ADD COLUMN ruleset_id text;
