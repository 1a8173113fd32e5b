-- 011_unfinished_tasks.sql: recovery reads the work still to do, not the
-- history.
--
-- A coordinator that starts (or a standby that takes over) rebuilds its
-- memory from the unfinished jobs (and the failed ones, which `retry` can
-- run again).  It used to read every task row of those jobs, found by a
-- scan that grew with the whole tasks table (3.4-6.5 s at 6.1M rows).  Of
-- a task that succeeded it needs nothing but the fact, and the job's row
-- counts those (task_counts, written with the task rows); so it reads
-- the tasks that did not succeed, through this index, and marks the rest
-- of each job succeeded.  The failed jobs are found through the second
-- index (jobs_unfinished, of 001, does not hold them).
CREATE INDEX tasks_not_succeeded ON tasks (job_id, seq) WHERE state <> 'succeeded';
CREATE INDEX jobs_failed ON jobs (id) WHERE state = 'failed';
