-- 015_ident_case.sql: identifiers keep their case.
--
-- Project, episode, shot, job and worker names (and key names) may hold
-- capitals, as studios write them (SH010, HOD): the rule becomes
-- [A-Za-z0-9][A-Za-z0-9_.-]{0,63}, case-sensitive (SH010 and sh010 are
-- two shots).  Every column of the domain (projects, episodes, shots,
-- jobs, workers, attempts.worker, keys.name) follows; the UNIQUE
-- indexes on them compare bytes already, so nothing else changes.  The
-- old constraint's name is PostgreSQL's default for a domain's CHECK.
ALTER DOMAIN clapper_ident DROP CONSTRAINT clapper_ident_check;
ALTER DOMAIN clapper_ident ADD CONSTRAINT clapper_ident_check
  CHECK (VALUE ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$');
