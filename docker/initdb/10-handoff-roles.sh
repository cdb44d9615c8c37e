#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised: the login role the services use.
# It is a member of handoff_app (append through handoff.append, read, maintain read models) and
# holds no privilege to change or delete events. Migrations run as the admin user.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v service_password="$HANDOFF_DB_SERVICE_PASSWORD" <<'SQL'
CREATE ROLE handoff_app NOLOGIN;
CREATE ROLE handoff_auditor NOLOGIN;
CREATE ROLE handoff_service LOGIN PASSWORD :'service_password' IN ROLE handoff_app;
SQL
