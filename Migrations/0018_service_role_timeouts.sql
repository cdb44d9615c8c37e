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
    setting text;
    attempt int;
BEGIN
    FOR r IN
        SELECT DISTINCT role.rolname, role.oid
        FROM pg_roles role
        WHERE role.rolname IN ('handoff_app', 'handoff_auditor')
           OR (role.rolcanlogin AND NOT role.rolsuper AND EXISTS (
                SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                WHERE m.member = role.oid AND g.rolname IN ('handoff_app', 'handoff_auditor')))
    LOOP
        FOREACH setting IN ARRAY ARRAY['statement_timeout=30s', 'idle_in_transaction_session_timeout=60s'] LOOP
            -- Roles belong to the whole cluster: another database's migrator may be setting the
            -- same one right now ("tuple concurrently updated"). Skip what is set; retry a clash.
            CONTINUE WHEN EXISTS (
                SELECT 1 FROM pg_db_role_setting
                WHERE setrole = r.oid AND setdatabase = 0 AND setting = ANY (setconfig));
            FOR attempt IN 1..5 LOOP
                BEGIN
                    EXECUTE format('ALTER ROLE %I SET %s = %L', r.rolname, split_part(setting, '=', 1),
                        split_part(setting, '=', 2));
                    EXIT;
                EXCEPTION WHEN internal_error OR unique_violation THEN
                    IF attempt = 5 THEN RAISE; END IF;
                    PERFORM pg_sleep(0.05 * attempt);
                END;
            END LOOP;
        END LOOP;
    END LOOP;
END
$$;
