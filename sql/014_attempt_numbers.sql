-- 014_attempt_numbers.sql: the try number of an attempt.
--
-- An attempt has a global id (the fencing token, unique on the farm) and,
-- from here on, its try number within its task: 1 for the first run, 2
-- for the second, whatever the outcome of the first (failed, timed out,
-- lost or canceled).  {attempt} expands to it, `clapper attempts TASK`
-- lists it and `clapper logs TASK --attempt N` finds the Nth try.  The
-- task keeps how many tries it made (tries), so that a coordinator that
-- recovers numbers the next one without reading the task's attempts.
-- Rows made before are numbered here in the order of their ids.

ALTER TABLE attempts ADD COLUMN try_no integer CHECK (try_no >= 1);
UPDATE attempts a SET try_no = n.try_no
  FROM (SELECT id, row_number() OVER (PARTITION BY task_id ORDER BY id) AS try_no
          FROM attempts) n
  WHERE a.id = n.id;
-- The coordinator always writes it; rows made by hand (tests, repairs) are a
-- first try unless they say otherwise.
ALTER TABLE attempts ALTER COLUMN try_no SET DEFAULT 1;
ALTER TABLE attempts ALTER COLUMN try_no SET NOT NULL;

ALTER TABLE tasks ADD COLUMN tries integer NOT NULL DEFAULT 0 CHECK (tries >= 0);
UPDATE tasks t SET tries = n.tries
  FROM (SELECT task_id, max(try_no) AS tries FROM attempts GROUP BY task_id) n
  WHERE t.id = n.task_id;
