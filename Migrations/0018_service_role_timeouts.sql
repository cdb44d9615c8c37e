-- Every statement of the services has a deadline (docs/operations.md, "Timeouts"). The clients set
-- their own per session (`statement_timeout` from their configuration, plus a client-side deadline
-- that cancels with PQcancel); these role defaults hold for any session of the service roles that
-- does not, e.g. psql as the service user, and end transactions left open and idle.
--
-- Role settings apply to the role a session logs in as, not to the roles it is a member of: the
-- defaults go on handoff_app and handoff_auditor and on every login role that is a member of
-- either (docker/initdb's handoff_service). A login role created later needs the same two lines;
-- operations.md says so. Migrations run as an admin user and are not bound by these.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT DISTINCT role.rolname
        FROM pg_roles role
        WHERE role.rolname IN ('handoff_app', 'handoff_auditor')
           OR (role.rolcanlogin AND NOT role.rolsuper AND EXISTS (
                SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                WHERE m.member = role.oid AND g.rolname IN ('handoff_app', 'handoff_auditor')))
    LOOP
        EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', r.rolname, '30s');
        EXECUTE format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', r.rolname, '60s');
    END LOOP;
END
$$;
