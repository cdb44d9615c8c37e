-- Tokens that may read /metrics and nothing else (issue 19): `handoff token create --role metrics`.
-- The role names no principal, so every route but /metrics treats such a token as unknown (401);
-- anonymous callers no longer see counts of case activity.
ALTER TABLE handoff.api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE handoff.api_tokens
    ADD CONSTRAINT api_tokens_role_check CHECK (role IN ('institution', 'coordinator', 'auditor', 'metrics'));
ALTER TABLE handoff.api_tokens
    ADD CONSTRAINT api_tokens_metrics_role CHECK (role <> 'metrics' OR institution IS NULL);
