-- 001_core.sql: the work model.
--
-- project -> episode -> shot -> job -> task -> attempt, the workers that run
-- attempts, and an append-only event log.  Job, task and attempt ids are
-- allocated by the leader coordinator (it holds the leader advisory lock, so
-- it is the only writer) and written explicitly; that lets it decide in
-- memory and persist in batches.  The constraints below guard what must
-- never happen whatever the coordinator does: two live attempts of one task,
-- unknown states, malformed identifiers, edits of the event log.

CREATE DOMAIN clapper_ident AS text
  CHECK (VALUE ~ '^[a-z0-9][a-z0-9_.-]{0,63}$');

-- The coordinator sends times as unix microseconds; this turns them into
-- timestamptz exactly (no floating point).  NULL stays NULL.
CREATE FUNCTION clapper_ts(us bigint) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT timestamptz 'epoch' + us * interval '1 microsecond' $$;

CREATE TABLE projects (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name       clapper_ident NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE episodes (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id bigint NOT NULL REFERENCES projects (id),
  name       clapper_ident NOT NULL,
  weight     integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, name)
);

CREATE TABLE shots (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  episode_id bigint NOT NULL REFERENCES episodes (id),
  name       clapper_ident NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (episode_id, name)
);

CREATE TABLE workers (
  name       clapper_ident PRIMARY KEY,
  hostname   text NOT NULL DEFAULT '',
  state      text NOT NULL CHECK (state IN ('online', 'draining', 'offline', 'lost')),
  cpus       integer NOT NULL CHECK (cpus >= 0),
  memory_mb  bigint NOT NULL CHECK (memory_mb >= 0),
  gpus       jsonb NOT NULL DEFAULT '[]',
  tags       text[] NOT NULL DEFAULT '{}',
  version    text NOT NULL DEFAULT '',
  first_seen timestamptz NOT NULL DEFAULT now(),
  last_seen  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
  id              bigint PRIMARY KEY CHECK (id > 0),
  episode_id      bigint NOT NULL REFERENCES episodes (id),
  shot_id         bigint REFERENCES shots (id),
  name            clapper_ident NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('generate', 'render', 'process')),
  state           text NOT NULL CHECK (state IN ('waiting', 'queued', 'running', 'paused',
                                                 'held', 'succeeded', 'failed', 'canceled')),
  priority        integer NOT NULL CHECK (priority BETWEEN 0 AND 100),
  max_attempts    integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
  max_lost        integer NOT NULL CHECK (max_lost BETWEEN 0 AND 100),
  retry_backoff_s integer NOT NULL CHECK (retry_backoff_s >= 0),
  timeout_s       integer NOT NULL CHECK (timeout_s >= 0),
  seed            bigint NOT NULL DEFAULT 0,
  requires        jsonb NOT NULL,
  provenance      jsonb NOT NULL DEFAULT '{}',
  spec            jsonb NOT NULL,            -- the job object as submitted
  output_dir      text NOT NULL,
  ntasks          integer NOT NULL CHECK (ntasks > 0),
  task_counts     jsonb NOT NULL DEFAULT '{}', -- per task state, written by the coordinator
  reason          text NOT NULL DEFAULT '',    -- why it waits, failed or was canceled
  submitted_by    text NOT NULL,
  submitted_at    timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_episode ON jobs (episode_id);
CREATE INDEX jobs_unfinished ON jobs (id) WHERE state NOT IN ('succeeded', 'failed', 'canceled');

-- after: the job runs when every named job succeeded.
-- after_approval: the job runs when a take of the named job is approved.
CREATE TABLE job_deps (
  job_id       bigint NOT NULL REFERENCES jobs (id),
  depends_on   bigint NOT NULL REFERENCES jobs (id),
  kind         text NOT NULL CHECK (kind IN ('after', 'after_approval')),
  PRIMARY KEY (job_id, depends_on, kind),
  CHECK (job_id <> depends_on)
);
CREATE INDEX job_deps_depends_on ON job_deps (depends_on);

CREATE TABLE tasks (
  id          bigint PRIMARY KEY CHECK (id > 0),
  job_id      bigint NOT NULL REFERENCES jobs (id),
  seq         integer NOT NULL CHECK (seq >= 0),  -- position within its job
  state       text NOT NULL CHECK (state IN ('waiting', 'ready', 'dispatched', 'running',
                                             'succeeded', 'failed', 'canceled', 'held', 'paused')),
  frame_start bigint,
  frame_end   bigint,
  frame_step  bigint,
  take        integer,
  seed        bigint NOT NULL DEFAULT 0,
  failures    integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
  losses      integer NOT NULL DEFAULT 0 CHECK (losses >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (job_id, seq)
) WITH (fillfactor = 70);

CREATE TABLE attempts (
  id            bigint PRIMARY KEY CHECK (id > 0),
  task_id       bigint NOT NULL REFERENCES tasks (id),
  worker        clapper_ident NOT NULL REFERENCES workers (name),
  state         text NOT NULL CHECK (state IN ('dispatched', 'running', 'succeeded', 'failed',
                                               'timed_out', 'lost', 'canceled')),
  gpus          integer[] NOT NULL DEFAULT '{}',
  cpus          integer NOT NULL DEFAULT 0,
  memory_mb     bigint NOT NULL DEFAULT 0,
  dispatched_at timestamptz NOT NULL,
  started_at    timestamptz,
  ended_at      timestamptz,
  exit_code     integer,
  term_signal   integer,
  wall_us       bigint CHECK (wall_us >= 0),
  cpu_us        bigint CHECK (cpu_us >= 0),
  max_rss_kb    bigint CHECK (max_rss_kb >= 0),
  gpu_energy_mj bigint CHECK (gpu_energy_mj >= 0),
  error         text NOT NULL DEFAULT '',
  outputs       jsonb NOT NULL DEFAULT '[]',
  CHECK ((state IN ('dispatched', 'running')) = (ended_at IS NULL))
);
-- Double booking is impossible, not just unlikely: at most one live attempt
-- per task.
CREATE UNIQUE INDEX attempts_one_live_per_task ON attempts (task_id)
  WHERE state IN ('dispatched', 'running');
CREATE INDEX attempts_task ON attempts (task_id);

-- The event log: every human action and every system decision that changes
-- the state of a job or a worker.  (Per-task history lives in attempts,
-- one row per run.)  Rows can be added, never changed or removed.
CREATE TABLE events (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor        text NOT NULL,
  kind         text NOT NULL,
  subject_type text NOT NULL,
  subject_id   text NOT NULL,
  details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_subject ON events (subject_type, subject_id);

CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the event log is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
