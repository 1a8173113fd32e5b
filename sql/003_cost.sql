-- 003_cost.sql: what things cost.
--
-- Money is bigint micro-units of the one configured currency (settings
-- row 'currency'), never floating point.  The rate card keeps every rate
-- with the time it takes effect; an attempt is priced by the rates in force
-- when it started, so a rate change never rewrites history.  Every finished
-- attempt writes exactly one ledger row: the primary key on attempt_id makes
-- a second charge impossible.

CREATE TABLE settings (
  name  text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE rates (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            text NOT NULL CHECK (kind IN ('gpu_model', 'default_gpu', 'cpu')),
  gpu_model       text,                  -- as NVML names it, for kind gpu_model
  micros_per_hour bigint NOT NULL CHECK (micros_per_hour >= 0),
  valid_from      timestamptz NOT NULL,
  set_by          text NOT NULL,
  set_at          timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'gpu_model') = (gpu_model IS NOT NULL))
);
CREATE INDEX rates_lookup ON rates (kind, gpu_model, valid_from);

CREATE TABLE ledger (
  attempt_id          bigint PRIMARY KEY REFERENCES attempts (id),
  job_id              bigint NOT NULL REFERENCES jobs (id),
  episode_id          bigint NOT NULL REFERENCES episodes (id),
  state               text NOT NULL CHECK (state IN ('succeeded', 'failed', 'timed_out',
                                                     'lost', 'canceled')),
  started_at          timestamptz,
  ended_at            timestamptz NOT NULL,
  wall_us             bigint NOT NULL CHECK (wall_us >= 0),
  gpus                integer NOT NULL CHECK (gpus >= 0),
  cpus                integer NOT NULL CHECK (cpus >= 0),
  gpu_model           text NOT NULL DEFAULT '',
  gpu_micros_per_hour bigint NOT NULL CHECK (gpu_micros_per_hour >= 0), -- all its GPUs together
  cpu_micros_per_hour bigint NOT NULL CHECK (cpu_micros_per_hour >= 0), -- all its CPUs together
  amount_micros       bigint NOT NULL CHECK (amount_micros >= 0),
  energy_mj           bigint NOT NULL DEFAULT 0 CHECK (energy_mj >= 0),
  recorded_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_job ON ledger (job_id);
CREATE INDEX ledger_episode ON ledger (episode_id);

ALTER TABLE episodes ADD COLUMN budget_micros bigint CHECK (budget_micros >= 0);

-- Reports, for the CLI and for BI tools.  *_micros columns are exact
-- integers; the numeric columns are the same amounts in currency units.
CREATE VIEW job_cost AS
SELECT j.id AS job_id, j.name AS job, j.kind, p.name AS project, e.name AS episode,
       e.id AS episode_id, s.name AS shot,
       count(l.attempt_id) AS attempts,
       coalesce(sum(l.amount_micros), 0)::bigint AS cost_micros,
       coalesce(sum(l.amount_micros) FILTER (WHERE l.state IN ('failed', 'timed_out')), 0)::bigint
         AS failed_cost_micros,
       coalesce(sum(l.amount_micros) FILTER (WHERE l.state IN ('lost', 'canceled')), 0)::bigint
         AS lost_cost_micros,
       coalesce(sum(l.wall_us::numeric * l.gpus), 0) / 3600e6 AS gpu_hours,
       coalesce(sum(l.wall_us::numeric * l.cpus), 0) / 3600e6 AS cpu_hours,
       coalesce(sum(l.energy_mj), 0) / 3600e6 AS energy_kwh
FROM jobs j
JOIN episodes e ON e.id = j.episode_id
JOIN projects p ON p.id = e.project_id
LEFT JOIN shots s ON s.id = j.shot_id
LEFT JOIN ledger l ON l.job_id = j.id
GROUP BY j.id, p.name, e.name, e.id, s.name;

CREATE VIEW shot_cost AS
SELECT project, episode, episode_id, shot, count(*) AS jobs, sum(attempts)::bigint AS attempts,
       sum(cost_micros)::bigint AS cost_micros, sum(cost_micros) / 1e6 AS cost,
       sum(failed_cost_micros)::bigint AS failed_cost_micros,
       sum(lost_cost_micros)::bigint AS lost_cost_micros,
       sum(gpu_hours) AS gpu_hours, sum(cpu_hours) AS cpu_hours, sum(energy_kwh) AS energy_kwh
FROM job_cost GROUP BY project, episode, episode_id, shot;

CREATE VIEW episode_cost AS
SELECT p.name AS project, e.name AS episode, e.id AS episode_id, e.budget_micros,
       coalesce(sum(c.cost_micros), 0)::bigint AS cost_micros,
       coalesce(sum(c.cost_micros), 0) / 1e6 AS cost,
       coalesce(sum(c.failed_cost_micros), 0)::bigint AS failed_cost_micros,
       coalesce(sum(c.lost_cost_micros), 0)::bigint AS lost_cost_micros,
       coalesce(sum(c.gpu_hours), 0) AS gpu_hours, coalesce(sum(c.cpu_hours), 0) AS cpu_hours,
       coalesce(sum(c.energy_kwh), 0) AS energy_kwh,
       e.budget_micros - coalesce(sum(c.cost_micros), 0)::bigint AS left_micros
FROM episodes e
JOIN projects p ON p.id = e.project_id
LEFT JOIN job_cost c ON c.episode_id = e.id
GROUP BY p.name, e.name, e.id, e.budget_micros;
