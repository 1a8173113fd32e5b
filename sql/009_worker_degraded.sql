-- 009_worker_degraded.sql: a worker may be 'degraded'.
--
-- A worker that finds its own disk full, its journal unwritable or its
-- workdir gone says so in its heartbeats; the coordinator then sends it no
-- new work (it keeps what it runs) and lists it as degraded, with the
-- reason, until the worker says it is healthy again.

ALTER TABLE workers DROP CONSTRAINT workers_state_check;
ALTER TABLE workers ADD CONSTRAINT workers_state_check
  CHECK (state IN ('online', 'draining', 'offline', 'lost', 'degraded'));
