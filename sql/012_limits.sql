-- 012_limits.sql: licence limits and pools of workers.
--
-- A limit is a named count (e.g. houdini 20): a task of a job that
-- requires it (requires.limits) holds one unit while its attempt is live,
-- and the coordinator never lets more live attempts hold it than its
-- count.  What is in use is not stored: it is the live attempts of the
-- jobs that require the limit, counted again at recovery.
--
-- A pool is a named set of workers, by tag (every worker with one of the
-- tags) or by name; a job with requires.pool runs only on its members.
-- Both are set by operators (`clapper limit set`, `clapper pool set`),
-- written here and logged as events.
CREATE TABLE limits (
  name   clapper_ident PRIMARY KEY,
  count  integer NOT NULL CHECK (count BETWEEN 0 AND 1000000),
  set_by text NOT NULL,
  set_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pools (
  name    clapper_ident PRIMARY KEY,
  tags    text[] NOT NULL DEFAULT '{}',
  workers text[] NOT NULL DEFAULT '{}',
  set_by  text NOT NULL,
  set_at  timestamptz NOT NULL DEFAULT now()
);
