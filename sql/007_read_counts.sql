-- 007_read_counts.sql: what `clapper job` shows, kept on the job's row.
--
-- A job's number of attempts and their summed wall time used to be
-- counted over its tasks' attempts at every read, which on a job of a
-- million tasks took over a second and held a read connection.  The
-- coordinator now keeps both in memory and writes them with the job's row
-- (the row it already writes whenever a task of the job changes state), so
-- reading a job is one row whatever its size.  Jobs written before this
-- migration get their figures from the attempts once, here.

ALTER TABLE jobs
  ADD COLUMN attempts bigint NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  ADD COLUMN wall_us  bigint NOT NULL DEFAULT 0 CHECK (wall_us >= 0);

UPDATE jobs j SET attempts = x.n, wall_us = x.w
FROM (SELECT t.job_id, count(*) AS n, coalesce(sum(a.wall_us), 0) AS w
      FROM attempts a JOIN tasks t ON t.id = a.task_id GROUP BY t.job_id) x
WHERE j.id = x.job_id;
