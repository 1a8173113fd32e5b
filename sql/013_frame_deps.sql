-- 013_frame_deps.sql: frame-wise dependencies, and chains that come back.
--
-- A job may run after another frame by frame ({"job": ..., "frames":
-- true} in `after`): its task starts once the other job's tasks covering
-- its frames succeeded.  Such a dependency is a job_deps row of kind
-- 'after_frames'; the coordinator rebuilds the per-task waits from the
-- tasks' frames when it recovers.
--
-- A job canceled because a job it runs after failed (or was canceled
-- because of such a failure, and so on) remembers that job in canceled_by:
-- retrying the failed job brings it back.  A job a person canceled has
-- none, and never comes back.

ALTER TABLE job_deps DROP CONSTRAINT job_deps_kind_check;
ALTER TABLE job_deps ADD CONSTRAINT job_deps_kind_check
  CHECK (kind IN ('after', 'after_frames', 'after_approval'));

ALTER TABLE jobs ADD COLUMN canceled_by bigint; -- a job id (no foreign key: rows of one batch)
CREATE INDEX jobs_canceled_by ON jobs (canceled_by) WHERE canceled_by IS NOT NULL;
