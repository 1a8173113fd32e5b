#!/bin/sh
# deploy/db-setup.sh - set up or upgrade a farm's database with separate
# roles: the schema's owner runs the migrations, the coordinator's role
# only reads and writes rows and appends events (deploy/sql/*.sql).
#
#   deploy/db-setup.sh ADMIN_CONNINFO [psql -v options]
#
# ADMIN_CONNINFO: a libpq conninfo of a superuser on the farm's database,
# e.g. "dbname=clapper user=postgres".  Run it at install and after every
# upgrade of clapper (before starting the new coordinator):
#   1. deploy/sql/roles.sql: the roles clapper_owner and clapper;
#   2. clapper-coordinator --migrate-only, connected as the admin acting as
#      clapper_owner (options=-crole=...), so the schema is the owner's;
#   3. deploy/sql/grants.sql: the coordinator role's rights.
# Other role names: deploy/db-setup.sh CONNINFO -v owner=NAME -v coord=NAME.
# CLAPPER_SQL_DIR or --sql-dir as for the coordinator.
set -eu
admin=${1:?usage: db-setup.sh ADMIN_CONNINFO [-v owner=NAME] [-v coord=NAME]}
shift
here=$(cd "$(dirname "$0")" && pwd)
owner=clapper_owner
for a in "$@"; do
  case "$a" in owner=*) owner=${a#owner=} ;; esac
done
psql "$admin" -X -q -v ON_ERROR_STOP=1 "$@" -f "$here/sql/roles.sql"
clapper-coordinator --db "$admin options=-crole=$owner" --migrate-only --log-level warn
psql "$admin" -X -q -v ON_ERROR_STOP=1 "$@" -f "$here/sql/grants.sql"
echo "db-setup: roles, migrations and grants done"
