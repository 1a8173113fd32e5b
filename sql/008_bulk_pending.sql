-- 008_bulk_pending.sql: bulk writes that have not finished.
--
-- Big submits and cancels are written on a connection of their own, beside
-- the coordinator's batches (coordinator/store.h).  A row here says such a
-- write is under way: a submit's row is inserted with its jobs and tasks
-- and deleted with the batch that logs job.submitted; a cancel's row is
-- inserted with the batch that cancels the job and deleted with the task
-- rows.  Recovery finds here what a crash interrupted: a submit's jobs are
-- deleted with their tasks (no client was answered, no event names them),
-- a cancel is finished.

CREATE TABLE bulk_pending (
  job_id bigint NOT NULL,
  kind   text NOT NULL CHECK (kind IN ('submit', 'cancel')),
  PRIMARY KEY (job_id, kind)
);
