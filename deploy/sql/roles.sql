-- deploy/sql/roles.sql - the two database roles of a farm.  Run once, as a
-- superuser, connected to the farm's database:
--
--   psql "dbname=clapper" -v ON_ERROR_STOP=1 -f deploy/sql/roles.sql
--
-- clapper_owner (no login) owns the schema: migrations run as it
-- (`clapper-coordinator --migrate-only` with options=-crole=clapper_owner,
-- see deploy/db-setup.sh).  clapper, the coordinator's login role, only
-- reads and writes rows (deploy/sql/grants.sql): it appends to the event
-- log but cannot update or delete events, truncate the table or alter and
-- disable its triggers, which only the owner can.  Names other than these
-- two: -v owner=NAME -v coord=NAME.
--
-- A database the coordinator created itself (its role owns everything) is
-- handed to the owner by REASSIGN OWNED below; run grants.sql after it.
\if :{?owner}
\else
\set owner clapper_owner
\endif
\if :{?coord}
\else
\set coord clapper
\endif

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') AS make_owner,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'coord') AS make_coord \gset
\if :make_owner
CREATE ROLE :"owner" NOLOGIN;
\endif
\if :make_coord
CREATE ROLE :"coord" LOGIN;
\endif

-- What the coordinator's role owned (an older setup) moves to the owner.
REASSIGN OWNED BY :"coord" TO :"owner";
GRANT CREATE, USAGE ON SCHEMA public TO :"owner";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM :"coord";
GRANT USAGE ON SCHEMA public TO :"coord";
