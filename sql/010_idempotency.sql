-- 010_idempotency.sql: idempotent submit.
--
-- Every submission carries a key (`clapper submit` makes one, pipelines
-- pass --idempotency-key).  The key is written on the rows of the jobs the
-- submission created, in the same transaction, so that a retry after a
-- timeout or a coordinator crash finds the jobs instead of creating them
-- again.  Keys are scoped to the submitter (submitted_by, the key's name):
-- a submission of n jobs writes the key on n rows with submission_seq
-- 0..n-1, and the constraint makes a second set of rows for the same key
-- impossible.  submission_digest (BLAKE2b of the job file, hex) tells a
-- retry of the same submission from another submission that reused the key.
-- Jobs submitted before this migration, and retakes, have no key (NULL).

ALTER TABLE jobs
  ADD COLUMN idempotency_key   text,
  ADD COLUMN submission_digest text,
  ADD COLUMN submission_seq    integer CHECK (submission_seq >= 0),
  ADD CONSTRAINT jobs_idempotency_key_unique UNIQUE (submitted_by, idempotency_key, submission_seq),
  ADD CONSTRAINT jobs_idempotency_key_whole CHECK (
    (idempotency_key IS NULL) = (submission_digest IS NULL) AND
    (idempotency_key IS NULL) = (submission_seq IS NULL));
