-- 002_scheduling.sql: what scheduling on a real farm needs to remember.

-- Attempt logs as they reach the coordinator, in chunks; capped per
-- attempt (attempts.log_bytes counts what was kept, log_truncated says the
-- cap was reached).  The whole log stays on the worker.
CREATE TABLE attempt_logs (
  attempt_id bigint NOT NULL REFERENCES attempts (id),
  pos        bigint NOT NULL CHECK (pos >= 0),      -- byte offset in the log
  data       bytea NOT NULL,                         -- as the task wrote it
  PRIMARY KEY (attempt_id, pos)
);
ALTER TABLE attempts
  ADD COLUMN log_bytes bigint NOT NULL DEFAULT 0 CHECK (log_bytes >= 0),
  ADD COLUMN log_truncated boolean NOT NULL DEFAULT false,
  -- when the coordinator learnt that the attempt ended (ended_at is the
  -- worker's clock); until then the attempt held its resources
  ADD COLUMN recorded_at timestamptz;

-- An operator's drain survives the worker reconnecting and the coordinator
-- restarting; a worker's own drain (SIGTERM) does not need to.
ALTER TABLE workers ADD COLUMN drained boolean NOT NULL DEFAULT false;

-- A task backing off after a failure is not retried before this time,
-- also across a coordinator restart.
ALTER TABLE tasks ADD COLUMN not_before timestamptz;
