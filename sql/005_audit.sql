-- 005_audit.sql: the sign-off audit's figures (takes by review state, what each cost) as views, for
-- `clapper audit` and for BI tools.
--
-- Money is bigint micro-units and energy bigint millijoules, as in the
-- ledger; the reports turn them into currency and kWh.

-- One row per take with the ledger rows that made it: a generated take's
-- own attempt (attempt_id is the ledger's key: one row at most), a
-- rendered take's succeeded attempts of its job.  One branch per kind, so
-- that each is a plain equi-join.
CREATE VIEW take_cost AS
SELECT t.id AS take_id, t.job_id, j.episode_id, s.name AS shot, t.kind, t.state,
       (l.attempt_id IS NOT NULL)::int::bigint AS attempts,
       coalesce(l.amount_micros, 0) AS cost_micros, coalesce(l.energy_mj, 0) AS energy_mj
FROM takes t
JOIN jobs j ON j.id = t.job_id
LEFT JOIN shots s ON s.id = j.shot_id
LEFT JOIN ledger l ON l.attempt_id = t.attempt_id
WHERE t.kind = 'generate'
UNION ALL
SELECT t.id, t.job_id, j.episode_id, s.name, t.kind, t.state, count(l.attempt_id),
       coalesce(sum(l.amount_micros), 0)::bigint, coalesce(sum(l.energy_mj), 0)::bigint
FROM takes t
JOIN jobs j ON j.id = t.job_id
LEFT JOIN shots s ON s.id = j.shot_id
LEFT JOIN ledger l ON l.job_id = t.job_id AND l.state = 'succeeded'
WHERE t.kind = 'render'
GROUP BY t.id, j.episode_id, s.name;

-- One row per episode and shot (NULL: the episode's jobs without a shot)
-- that has jobs: its takes by state, their cost and energy by take state,
-- that of failed (failed, timed_out) attempts, everything else ("other":
-- lost and canceled attempts, succeeded ones that made no take) and the
-- totals, which are the ledger's and so equal shot_cost's.
--
-- Jobs, takes and ledger rows are stacked (src says which) and grouped
-- once, each figure an aggregate FILTER; stacking rather than joining
-- keeps takes and ledger rows from multiplying each other, and every part
-- carries episode_id, so `WHERE episode_id = ...` reaches all of them.
CREATE VIEW shot_audit AS
SELECT p.name AS project, e.name AS episode, a.episode_id, a.shot, a.jobs,
       a.takes, a.approved_takes, a.rejected_takes, a.pending_takes,
       a.changes_requested_takes,
       a.approved_cost_micros, a.rejected_cost_micros, a.pending_cost_micros,
       a.changes_requested_cost_micros, a.failed_cost_micros,
       a.cost_micros - a.approved_cost_micros - a.rejected_cost_micros - a.pending_cost_micros
         - a.changes_requested_cost_micros - a.failed_cost_micros AS other_cost_micros,
       a.cost_micros,
       a.approved_energy_mj, a.rejected_energy_mj, a.pending_energy_mj,
       a.changes_requested_energy_mj, a.failed_energy_mj,
       a.energy_mj - a.approved_energy_mj - a.rejected_energy_mj - a.pending_energy_mj
         - a.changes_requested_energy_mj - a.failed_energy_mj AS other_energy_mj,
       a.energy_mj
FROM (
  SELECT f.episode_id, f.shot,
    count(*) FILTER (WHERE f.src = 'job') AS jobs,
    count(*) FILTER (WHERE f.src = 'take') AS takes,
    count(*) FILTER (WHERE f.src = 'take' AND f.state = 'approved') AS approved_takes,
    count(*) FILTER (WHERE f.src = 'take' AND f.state = 'rejected') AS rejected_takes,
    count(*) FILTER (WHERE f.src = 'take' AND f.state = 'pending_review') AS pending_takes,
    count(*) FILTER (WHERE f.src = 'take' AND f.state = 'changes_requested')
      AS changes_requested_takes,
    coalesce(sum(f.micros) FILTER (WHERE f.src = 'take' AND f.state = 'approved'), 0)::bigint
      AS approved_cost_micros,
    coalesce(sum(f.micros) FILTER (WHERE f.src = 'take' AND f.state = 'rejected'), 0)::bigint
      AS rejected_cost_micros,
    coalesce(sum(f.micros) FILTER (WHERE f.src = 'take' AND f.state = 'pending_review'), 0)::bigint
      AS pending_cost_micros,
    coalesce(sum(f.micros) FILTER (WHERE f.src = 'take' AND f.state = 'changes_requested'),
             0)::bigint AS changes_requested_cost_micros,
    coalesce(sum(f.micros) FILTER (WHERE f.src = 'ledger' AND f.state IN ('failed', 'timed_out')),
             0)::bigint AS failed_cost_micros,
    coalesce(sum(f.micros) FILTER (WHERE f.src = 'ledger'), 0)::bigint AS cost_micros,
    coalesce(sum(f.mj) FILTER (WHERE f.src = 'take' AND f.state = 'approved'), 0)::bigint
      AS approved_energy_mj,
    coalesce(sum(f.mj) FILTER (WHERE f.src = 'take' AND f.state = 'rejected'), 0)::bigint
      AS rejected_energy_mj,
    coalesce(sum(f.mj) FILTER (WHERE f.src = 'take' AND f.state = 'pending_review'), 0)::bigint
      AS pending_energy_mj,
    coalesce(sum(f.mj) FILTER (WHERE f.src = 'take' AND f.state = 'changes_requested'),
             0)::bigint AS changes_requested_energy_mj,
    coalesce(sum(f.mj) FILTER (WHERE f.src = 'ledger' AND f.state IN ('failed', 'timed_out')),
             0)::bigint AS failed_energy_mj,
    coalesce(sum(f.mj) FILTER (WHERE f.src = 'ledger'), 0)::bigint AS energy_mj
  FROM (
    SELECT j.episode_id, s.name AS shot, 'job' AS src, j.state, 0::bigint AS micros,
           0::bigint AS mj
    FROM jobs j LEFT JOIN shots s ON s.id = j.shot_id
    UNION ALL
    SELECT episode_id, shot, 'take', state, cost_micros, energy_mj FROM take_cost
    UNION ALL
    SELECT j.episode_id, s.name, 'ledger', l.state, l.amount_micros, l.energy_mj
    FROM ledger l JOIN jobs j ON j.id = l.job_id LEFT JOIN shots s ON s.id = j.shot_id
  ) f
  GROUP BY f.episode_id, f.shot
) a
JOIN episodes e ON e.id = a.episode_id
JOIN projects p ON p.id = e.project_id;
