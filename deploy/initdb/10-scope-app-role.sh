#!/usr/bin/env bash
# Runs once, when the database volume is created (postgres image's
# docker-entrypoint-initdb.d). Creates the login role the web app and the
# scheduler connect as. Migrations (run as the owner) grant it what it may do:
# normal reads and writes, but no UPDATE, DELETE or TRUNCATE on audit_log and
# routing_decisions (migration 0011).
set -euo pipefail
: "${SCOPE_APP_DB_PASSWORD:?set SCOPE_APP_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_password="$SCOPE_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE scope_app LOGIN PASSWORD :'app_password';
SQL
