-- Auditors read everything that describes the record and its use. Subscriptions (who follows
-- which events, and how far they have read) are part of that; API tokens are not (they hold only
-- hashes, but there is nothing an audit needs from them).
GRANT SELECT ON handoff.subscriptions TO handoff_auditor;
