-- deploy/sql/grants.sql - what the coordinator's role may do.  Run as a
-- superuser (or the owner) after every migration, since new tables need
-- their grants (deploy/db-setup.sh does):
--
--   psql "dbname=clapper" -v ON_ERROR_STOP=1 -f deploy/sql/grants.sql
--
-- Rows: read and write, except the event log, which it may only read and
-- append to.  Its triggers stay the owner's: a role that does not own the
-- table cannot ALTER TABLE ... DISABLE TRIGGER or DROP TRIGGER.  (The
-- chain's key is not in the database at all: see KEYS/audit.key.)
\if :{?coord}
\else
\set coord clapper
\endif

GRANT USAGE ON SCHEMA public TO :"coord";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"coord";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"coord";
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON events FROM :"coord";
GRANT SELECT, INSERT ON events TO :"coord";
