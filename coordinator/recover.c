/*
 * recover.c - rebuild memory from the database, see recover.h.
 */
#include "recover.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "dispatch.h"
#include "review.h"
#include "log.h"
#include "store.h"
#include "workers.h"

#define US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

static PGresult *query(PGconn *conn, const char *sql, char *err, size_t errlen) {
  return pgconn_query_sync(conn, sql, "recovery query failed", err, errlen);
}

static int64_t i64(PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int load_workers(coord_t *c, PGconn *conn, char *err, size_t errlen) {
  PGresult *r = query(conn,
                      "SELECT name, hostname, cpus, memory_mb, gpus::text, version, "
                      "array_to_json(tags)::text, " US("last_seen") ", state, drained"
                      " FROM workers ORDER BY name",
                      err, errlen);
  if (!r)
    return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    worker_t *w = workers_add(c, PQgetvalue(r, i, 0));
    w->persisted = true;
    w->hostname = xstrdup(PQgetvalue(r, i, 1));
    w->cpus = (uint32_t)i64(r, i, 2);
    w->memory_mb = (uint64_t)i64(r, i, 3);
    w->version = xstrdup(PQgetvalue(r, i, 5));
    w->last_seen_us = i64(r, i, 7); /* kept: the row is rewritten below */
    w->drained = PQgetvalue(r, i, 9)[0] == 't';
    json_t *gpus = json_loads(PQgetvalue(r, i, 4), 0, NULL);
    size_t ng = json_is_array(gpus) ? json_array_size(gpus) : 0;
    w->gpus = xcalloc(ng ? ng : 1, sizeof *w->gpus);
    for (size_t g = 0; g < ng && g < 64; g++) {
      json_t *o = json_array_get(gpus, g);
      w->gpus[g].index = (uint32_t)json_integer_value(json_object_get(o, "index"));
      const char *uuid = json_string_value(json_object_get(o, "uuid"));
      const char *model = json_string_value(json_object_get(o, "model"));
      w->gpus[g].uuid = xstrdup(uuid ? uuid : "");
      w->gpus[g].model = xstrdup(model ? model : "");
      w->gpus[g].memory_mb = (uint64_t)json_integer_value(json_object_get(o, "memory_mb"));
      w->ngpus++;
    }
    json_decref(gpus);
    json_t *tags = json_loads(PQgetvalue(r, i, 6), 0, NULL);
    size_t nt = json_is_array(tags) ? json_array_size(tags) : 0;
    w->tags = xcalloc(nt ? nt : 1, sizeof *w->tags);
    for (size_t t = 0; t < nt; t++) {
      const char *s = json_string_value(json_array_get(tags, t));
      w->tags[w->ntags++] = xstrdup(s ? s : "");
    }
    json_decref(tags);
    w->cpus_free = w->cpus;
    w->mem_free = w->memory_mb;
    /* Offline until it says hello: a decision, so it goes through the
     * transition function (and the event log) when it changes the row. */
    const char *was = PQgetvalue(r, i, 8);
    for (int k = 0; k < WORKER_STATE_COUNT; k++)
      if (!strcmp(was, worker_state_name((worker_state_t)k)))
        w->state = (uint8_t)k;
    worker_set_state(c, w, WORKER_OFFLINE, "the coordinator restarted");
  }
  PQclear(r);
  return 0;
}

/* Weights, budgets and what each episode spent (the ledger's sum). */
static int load_episodes(coord_t *c, PGconn *conn, char *err, size_t errlen) {
  PGresult *r = query(conn,
                      "SELECT p.name, e.name, e.weight, coalesce(e.budget_micros, -1), "
                      "coalesce((SELECT sum(amount_micros) FROM ledger l "
                      "          WHERE l.episode_id = e.id), 0) "
                      "FROM episodes e JOIN projects p ON p.id = e.project_id "
                      "WHERE e.weight <> 1 OR e.budget_micros IS NOT NULL",
                      err, errlen);
  if (!r)
    return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    episode_t *ep = dispatch_episode(c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    dispatch_set_weight(c, ep, (uint32_t)i64(r, i, 2));
    ep->budget_micros = i64(r, i, 3);
    ep->spent_micros = i64(r, i, 4);
  }
  PQclear(r);
  return 0;
}

/* A job whose dependency failed or was canceled while the coordinator was
 * down, and why: canceled once everything is loaded. */
typedef struct to_cancel {
  job_t *job;
  char *why;  /* owned */
  job_t *dep; /* the failed job in memory it comes back with, or NULL */
} to_cancel_t;
typedef struct cancels {
  to_cancel_t *v;
  size_t n, cap;
} cancels_t;

/* Links waiting jobs to the unfinished jobs they run after and their
 * approval gates; adds to cx the jobs whose dependency failed or was
 * canceled meanwhile. */
static int load_deps(coord_t *c, PGconn *conn, cancels_t *cx, char *err, size_t errlen) {
  PGresult *g = query(conn,
                      "SELECT d.job_id, d.depends_on, EXISTS (SELECT 1 FROM takes t "
                      "  JOIN jobs j2 ON j2.id = t.job_id WHERE t.state = 'approved' "
                      "  AND coalesce(j2.gate_root, j2.id) = d.depends_on) "
                      "FROM job_deps d JOIN jobs w ON w.id = d.job_id "
                      "WHERE d.kind = 'after_approval' "
                      "AND w.state NOT IN ('succeeded', 'failed', 'canceled') ORDER BY d.job_id",
                      err, errlen);
  if (!g)
    return -1;
  for (int i = 0; i < PQntuples(g); i++) {
    job_t *j = idmap_get(&c->jobs, (uint64_t)i64(g, i, 0));
    if (!j || PQgetvalue(g, i, 2)[0] == 't')
      continue; /* met: its approved output is in the job's row */
    uint64_t root = (uint64_t)i64(g, i, 1);
    job_add_gate(c, j, root, NULL);
  }
  PQclear(g);
  /* Every job in memory keeps what it runs after (a revived job waits
   * for them again); the unfinished ones wait now. */
  PGresult *r = query(conn,
                      "SELECT d.job_id, d.depends_on, j.state, d.kind = 'after_frames' "
                      "FROM job_deps d JOIN jobs j ON j.id = d.depends_on "
                      "JOIN jobs w ON w.id = d.job_id "
                      "WHERE d.kind IN ('after', 'after_frames') "
                      "AND (w.state NOT IN ('succeeded', 'failed', 'canceled') "
                      "     OR w.state = 'failed' OR w.canceled_by IS NOT NULL) "
                      "ORDER BY d.job_id, d.depends_on",
                      err, errlen);
  if (!r)
    return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    job_t *j = idmap_get(&c->jobs, (uint64_t)i64(r, i, 0));
    uint64_t dep_id = (uint64_t)i64(r, i, 1);
    const char *st = PQgetvalue(r, i, 2);
    bool frames = PQgetvalue(r, i, 3)[0] == 't';
    if (!j)
      continue;
    j->deps = xreallocarray(j->deps, j->ndeps + 1, sizeof *j->deps);
    j->deps_frames = xreallocarray(j->deps_frames, j->ndeps + 1, sizeof *j->deps_frames);
    j->deps_frames[j->ndeps] = frames;
    j->deps[j->ndeps++] = dep_id;
    if (job_state_terminal((job_state_t)j->state) || !strcmp(st, "succeeded"))
      continue;
    job_t *dep = idmap_get(&c->jobs, dep_id);
    if (dep && strcmp(st, "failed") && strcmp(st, "canceled")) {
      if (frames)
        job_add_frame_dependent(dep, j);
      else
        job_add_dependent(dep, j);
      continue;
    }
    char *why = xasprintf("dependency job %" PRIu64 " %s", dep_id,
                          dep ? (strcmp(st, "failed") ? "was canceled" : "failed")
                              : "could not be recovered");
    bool back = dep && (dep->state == JOB_FAILED || dep->canceled_by);
    ARRAY_PUSH(cx->v, cx->n, cx->cap, ((to_cancel_t){j, why, back ? dep : NULL}));
  }
  PQclear(r);
  /* Canceled jobs that come back with a failed one (REVIVABLE). */
  uint64_t key;
  void *val;
  for (size_t pos = 0; idmap_next(&c->jobs, &pos, &key, &val);) {
    job_t *j = val;
    job_t *cause = j->state == JOB_CANCELED && j->canceled_by
                       ? idmap_get(&c->jobs, j->canceled_by)
                       : NULL;
    if (cause)
      job_add_revivable(cause, j);
  }
  return 0;
}

/* Rebuilds the parsed specification of a stored job (its dependencies are
 * in job_deps, resolved to ids at submit). */
static jobfile_t *reparse(const char *project, const char *episode, const char *spec,
                          char *err, size_t errlen) {
  json_t *s = json_loads(spec, 0, NULL);
  if (!s) {
    snprintf(err, errlen, "stored spec is not JSON");
    return NULL;
  }
  json_t *doc = json_pack("{s:s,s:s,s:[o]}", "project", project, "episode", episode, "jobs", s);
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  jobfile_t *jf = jobfile_parse_flags(text, strlen(text), JOBFILE_STORED, err, errlen);
  free(text);
  return jf;
}

/* The job holding task id tid among jobs sorted by first task id. */
static job_t *job_of_task(job_t **jobs, size_t n, uint64_t tid) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (jobs[mid]->first_task_id + jobs[mid]->ntasks <= tid)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < n && jobs[lo]->first_task_id <= tid)
    return jobs[lo];
  return NULL;
}

/* The jobs memory holds: the unfinished ones and the failed ones (`retry`
 * can run them again), found through jobs_unfinished and jobs_failed. */
#define RECOVERED_JOBS(j)                                                                          \
  "(" j ".state NOT IN ('succeeded', 'failed', 'canceled') OR " j ".state = 'failed')"

#define TASK_COLS                                                                                  \
  "t.id, t.job_id, t.seq, t.state, t.frame_start, t.frame_end, t.frame_step, t.take, t.seed, "     \
  "t.failures, t.losses, " US("t.not_before") ", t.tries"

/* Fills in the tasks of r (TASK_COLS) in their jobs, counting them in
 * *nread; a task read before is skipped.  r is cleared.  0, or -1 with
 * err when a task does not fit its job. */
static int load_tasks(coord_t *c, PGresult *r, size_t *nread, char *err, size_t errlen) {
  for (int i = 0; i < PQntuples(r); i++) {
    uint64_t tid = (uint64_t)i64(r, i, 0);
    job_t *j = idmap_get(&c->jobs, (uint64_t)i64(r, i, 1));
    if (!j)
      continue; /* its job was left as it is */
    int64_t seq = i64(r, i, 2);
    int st = task_state_parse(PQgetvalue(r, i, 3));
    if (seq < 0 || (uint64_t)seq >= j->ntasks || st < 0 ||
        j->first_task_id + (uint64_t)seq != tid) {
      snprintf(err, errlen, "task %" PRIu64 " does not fit its job; refusing to start", tid);
      PQclear(r);
      return -1;
    }
    task_t *t = &j->tasks[seq]; /* job_new numbered it */
    if (t->persisted)
      continue;
    (*nread)++;
    t->state = (uint8_t)st;
    t->persisted = true;
    t->spec.frame_start = i64(r, i, 4);
    t->spec.frame_end = i64(r, i, 5);
    t->spec.frame_step = PQgetisnull(r, i, 6) ? 1 : i64(r, i, 6);
    t->spec.take = i64(r, i, 7);
    t->spec.seed = i64(r, i, 8);
    t->failures = (uint16_t)i64(r, i, 9);
    t->losses = (uint16_t)i64(r, i, 10);
    t->not_before_us = i64(r, i, 11);
    t->tries = (uint32_t)i64(r, i, 12);
    j->counts[st]++;
  }
  PQclear(r);
  return 0;
}

/* Finishes what bulk writes a crash interrupted (store.h, bulk_pending):
 * a submit whose job.submitted was not logged is deleted with its tasks
 * and dependencies; a cancel whose job's row says canceled cancels the
 * tasks that had not started.  Idempotent: a crash between its two
 * statements leaves the rest to the next recovery. */
static int finish_bulk(PGconn *conn, char *err, size_t errlen) {
  PGresult *r = query(conn,
                      "WITH s AS (SELECT job_id FROM bulk_pending WHERE kind = 'submit'), "
                      "c AS (SELECT b.job_id FROM bulk_pending b JOIN jobs j ON j.id = b.job_id "
                      "      WHERE b.kind = 'cancel' AND j.state = 'canceled'), "
                      "dt AS (DELETE FROM tasks WHERE job_id IN (SELECT job_id FROM s) "
                      "       RETURNING 1), "
                      "dd AS (DELETE FROM job_deps WHERE job_id IN (SELECT job_id FROM s) "
                      "       RETURNING 1), "
                      "ct AS (UPDATE tasks SET state = 'canceled', updated_at = now() "
                      "       WHERE job_id IN (SELECT job_id FROM c) "
                      "       AND state IN ('waiting', 'ready', 'held', 'paused') RETURNING 1) "
                      "SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM dt), "
                      "(SELECT count(*) FROM c), (SELECT count(*) FROM ct)",
                      err, errlen);
  if (!r)
    return -1;
  long subs = strtol(PQgetvalue(r, 0, 0), NULL, 10);
  long tasks = strtol(PQgetvalue(r, 0, 1), NULL, 10);
  long cancels = strtol(PQgetvalue(r, 0, 2), NULL, 10);
  long canceled = strtol(PQgetvalue(r, 0, 3), NULL, 10);
  PQclear(r);
  /* The jobs' rows after their tasks (a data-modifying WITH sees no rows
   * its siblings deleted, so a second statement). */
  r = query(conn,
            "WITH s AS (DELETE FROM bulk_pending RETURNING job_id, kind) "
            "DELETE FROM jobs WHERE id IN (SELECT job_id FROM s WHERE kind = 'submit') "
            "RETURNING id",
            err, errlen);
  if (!r)
    return -1;
  PQclear(r);
  if (subs || cancels)
    log_warn("recovery: %ld submits interrupted before they were logged were deleted (%ld tasks); "
             "%ld cancels finished (%ld tasks canceled)",
             subs, tasks, cancels, canceled);
  return 0;
}

/* The columns load_jobs reads, from jobs j (a WHERE follows). */
#define JOB_QUERY                                                                                  \
  "SELECT j.id, p.name, e.name, j.state, j.spec::text, j.output_dir, j.submitted_by, "             \
  US("j.submitted_at") ", " US("j.started_at") ", j.reason, j.ntasks, "                           \
  "(SELECT t.id FROM tasks t WHERE t.job_id = j.id AND t.seq = 0), j.retake_of, "                  \
  "coalesce(j.gate_root, j.id), j.approved_output, j.attempts, j.wall_us, "                        \
  "coalesce((j.task_counts->>'succeeded')::bigint, -1), j.canceled_by "                           \
  "FROM jobs j JOIN episodes e ON e.id = j.episode_id JOIN projects p ON p.id = e.project_id "

/* The canceled jobs that retrying a failed job revives: canceled by it,
 * or by one of those, and so on (canceled_by, 013). */
#define REVIVABLE                                                                                  \
  "WITH RECURSIVE revivable(id) AS (SELECT c.id FROM jobs f JOIN jobs c ON c.canceled_by = f.id "  \
  "  WHERE f.state = 'failed' AND c.state = 'canceled' "                                           \
  "  UNION SELECT c.id FROM revivable v JOIN jobs c ON c.canceled_by = v.id "                      \
  "  WHERE c.state = 'canceled') "

/* Makes the jobs of r (JOB_QUERY) in memory, appended to jobs[] with
 * their rows' counts of succeeded tasks. */
static void load_jobs(coord_t *c, PGresult *r, job_t **jobs, int64_t *succeeded, size_t *pn) {
  size_t njobs = *pn;
  for (int i = 0; i < PQntuples(r); i++) {
    uint64_t id = (uint64_t)i64(r, i, 0);
    char perr[512];
    jobfile_t *jf = reparse(PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 4),
                            perr, sizeof perr);
    int st = job_state_parse(PQgetvalue(r, i, 3));
    if (!jf || st < 0) {
      /* Leave it in the database, untouched, and say so loudly. */
      log_error("job %" PRIu64 " cannot be recovered and is left as it is: %s", id,
                jf ? "unknown state" : perr);
      jobfile_free(&jf);
      continue;
    }
    jf_job_t *sp = &jf->jobs[0];
    free(sp->tasks); /* the stored tasks are the truth */
    sp->tasks = NULL;
    job_t *j = job_new(c, id, jfref_new(jf), sp, dispatch_episode(c, jf->project, jf->episode),
                       (uint32_t)i64(r, i, 10), (uint64_t)i64(r, i, 11));
    j->state = (uint8_t)st;
    j->persisted = true;
    j->output_dir = xstrdup(PQgetvalue(r, i, 5));
    j->submitted_by = xstrdup(PQgetvalue(r, i, 6));
    j->submitted_us = i64(r, i, 7);
    j->started_us = i64(r, i, 8);
    j->reason = xstrdup(PQgetvalue(r, i, 9));
    j->retake_of = (uint64_t)i64(r, i, 12);
    j->gate_root = (uint64_t)i64(r, i, 13);
    if (!PQgetisnull(r, i, 14))
      j->approved_output = xstrdup(PQgetvalue(r, i, 14));
    j->nattempts = (uint64_t)i64(r, i, 15);
    j->wall_us = (uint64_t)i64(r, i, 16);
    succeeded[njobs] = i64(r, i, 17);
    jobs[njobs++] = j;
    j->canceled_by = (uint64_t)i64(r, i, 18);
  }
  *pn = njobs;
}

/* Sorts jobs[] (and succeeded[] with it) by id, which orders their tasks. */
static void sort_jobs(job_t **jobs, int64_t *succeeded, size_t n) {
  for (size_t i = 1; i < n; i++) /* two sorted runs: an insertion sort will do */
    for (size_t k = i; k > 0 && jobs[k - 1]->id > jobs[k]->id; k--) {
      job_t *t = jobs[k];
      jobs[k] = jobs[k - 1];
      jobs[k - 1] = t;
      int64_t s = succeeded[k];
      succeeded[k] = succeeded[k - 1];
      succeeded[k - 1] = s;
    }
}

int recover_load(coord_t *c, PGconn *conn, char *err, size_t errlen) {
  int rc = -1;
  uint64_t t0 = util_mono_us();
  job_t **jobs = NULL;
  int64_t *succeeded = NULL; /* per job: its row's count of succeeded tasks, -1 if none */
  size_t njobs = 0, nread = 0;
  if (finish_bulk(conn, err, errlen) < 0)
    return -1;
  PGresult *r = query(conn,
                      "SELECT (SELECT coalesce(max(id), 0) FROM jobs), "
                      "(SELECT coalesce(max(id), 0) FROM tasks), "
                      "(SELECT coalesce(max(id), 0) FROM attempts)",
                      err, errlen);
  if (!r)
    return -1;
  c->next_job_id = (uint64_t)i64(r, 0, 0) + 1;
  c->next_task_id = (uint64_t)i64(r, 0, 1) + 1;
  c->next_attempt_id = (uint64_t)i64(r, 0, 2) + 1;
  PQclear(r);

  if (load_workers(c, conn, err, errlen) < 0 || load_episodes(c, conn, err, errlen) < 0)
    return -1;

  r = query(conn, JOB_QUERY "WHERE " RECOVERED_JOBS("j") " ORDER BY j.id", err, errlen);
  if (!r)
    return -1;
  /* And the canceled jobs a retry of a failed job would revive (013). */
  PGresult *rv = query(conn, REVIVABLE JOB_QUERY "WHERE j.id IN (SELECT id FROM revivable) "
                       "ORDER BY j.id", err, errlen);
  if (!rv) {
    PQclear(r);
    return -1;
  }
  int n = PQntuples(r) + PQntuples(rv);
  jobs = xcalloc((size_t)n + 1, sizeof *jobs);
  succeeded = xcalloc((size_t)n + 1, sizeof *succeeded);
  load_jobs(c, r, jobs, succeeded, &njobs);
  load_jobs(c, rv, jobs, succeeded, &njobs);
  PQclear(r);
  PQclear(rv);
  sort_jobs(jobs, succeeded, njobs);

  /* The tasks that did not succeed (tasks_not_succeeded, 011); the rest
   * of a job succeeded when its row counts as many. */
  r = query(conn, "SELECT " TASK_COLS " FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE "
            RECOVERED_JOBS("j") " AND t.state <> 'succeeded'",
            err, errlen);
  if (!r || load_tasks(c, r, &nread, err, errlen) < 0)
    goto out;
  r = query(conn, REVIVABLE "SELECT " TASK_COLS " FROM tasks t WHERE t.job_id IN "
            "(SELECT id FROM revivable) AND t.state <> 'succeeded'",
            err, errlen);
  if (!r || load_tasks(c, r, &nread, err, errlen) < 0)
    goto out;
  for (size_t i = 0; i < njobs; i++) {
    job_t *j = jobs[i];
    uint32_t rest = 0;
    for (uint32_t k = 0; k < j->ntasks; k++)
      rest += !j->tasks[k].persisted;
    if ((int64_t)rest == succeeded[i]) {
      for (uint32_t k = 0; k < j->ntasks; k++)
        if (!j->tasks[k].persisted) {
          j->tasks[k].state = TASK_SUCCEEDED;
          j->tasks[k].persisted = true;
        }
      j->counts[TASK_SUCCEEDED] += rest;
      continue;
    }
    /* The row disagrees with the tasks (or the job is incomplete): read
     * every task of this job, then check that none is missing. */
    log_warn("job %" PRIu64 ": its row counts %" PRId64 " succeeded tasks, %u were not read; "
             "reading all its tasks", j->id, succeeded[i], rest);
    char sql[sizeof TASK_COLS + 96];
    snprintf(sql, sizeof sql, "SELECT " TASK_COLS " FROM tasks t WHERE t.job_id = %" PRIu64,
             j->id);
    r = query(conn, sql, err, errlen);
    if (!r || load_tasks(c, r, &nread, err, errlen) < 0)
      goto out;
  }
  for (size_t i = 0; i < njobs; i++)
    for (uint32_t k = 0; k < jobs[i]->ntasks; k++)
      if (!jobs[i]->tasks[k].persisted) {
        snprintf(err, errlen, "job %" PRIu64 " is missing task %u; refusing to start",
                 jobs[i]->id, k);
        goto out;
      }

  r = query(conn,
            "SELECT a.id, a.task_id, a.worker, a.state, array_to_json(a.gpus)::text, a.cpus, "
            "a.memory_mb, " US("a.dispatched_at") ", " US("a.started_at")
            ", a.log_bytes, a.log_truncated, a.try_no"
            " FROM attempts a WHERE a.state IN ('dispatched', 'running') ORDER BY a.id",
            err, errlen);
  if (!r)
    goto out;
  uint64_t now_mono = util_mono_us();
  for (int i = 0; i < PQntuples(r); i++) {
    uint64_t aid = (uint64_t)i64(r, i, 0), tid = (uint64_t)i64(r, i, 1);
    job_t *j = job_of_task(jobs, njobs, tid);
    worker_t *w = workers_find(c, PQgetvalue(r, i, 2));
    if (!j || !w) {
      log_error("live attempt %" PRIu64 " has no unfinished task or known worker; ignored",
                aid);
      continue;
    }
    task_t *t = &j->tasks[tid - j->first_task_id];
    attempt_t *a = xcalloc(1, sizeof *a);
    a->id = aid;
    a->task = t;
    a->state = (uint8_t)attempt_state_parse(PQgetvalue(r, i, 3));
    a->persisted = true;
    a->cpus = (uint32_t)i64(r, i, 5);
    a->memory_mb = (uint64_t)i64(r, i, 6);
    json_t *g = json_loads(PQgetvalue(r, i, 4), 0, NULL);
    for (size_t k = 0; json_is_array(g) && k < json_array_size(g); k++) {
      uint32_t idx = (uint32_t)json_integer_value(json_array_get(g, k));
      for (uint32_t p = 0; p < w->ngpus && p < 64; p++)
        if (w->gpus[p].index == idx)
          a->gpu_mask |= 1ull << p;
    }
    json_decref(g);
    a->dispatched_us = i64(r, i, 7);
    a->started_us = i64(r, i, 8);
    a->log_next = a->log_bytes = (uint64_t)i64(r, i, 9);
    a->log_truncated = PQgetvalue(r, i, 10)[0] == 't';
    a->try_no = (uint32_t)i64(r, i, 11);
    a->dispatched_mono = now_mono; /* the start deadline counts from now */
    workers_attach(w, a);
    t->live = a;
    idmap_put(&c->attempts, a->id, a);
    dispatch_usage(c, a, +1);
    cost_attempt_started(c, a);
  }
  PQclear(r);

  cancels_t cx = {0};
  if (load_deps(c, conn, &cx, err, errlen) < 0) {
    for (size_t i = 0; i < cx.n; i++)
      free(cx.v[i].why);
    free(cx.v);
    goto out;
  }

  /* Back into the ready index; repair tasks that claim to run without a
   * live attempt (cannot happen when both were written in one batch). */
  size_t ready = 0, live = 0;
  for (size_t i = 0; i < njobs; i++) {
    job_t *j = jobs[i];
    for (uint32_t k = 0; k < j->ntasks; k++) {
      task_t *t = &j->tasks[k];
      if ((t->state == TASK_DISPATCHED || t->state == TASK_RUNNING) && !t->live) {
        log_warn("task %" PRIu64 " was %s without a live attempt: ready again", t->id,
                 task_state_name((task_state_t)t->state));
        task_set_state(c, t, TASK_READY);
      }
      if (t->state == TASK_READY) {
        /* Still backing off: the rest of the wait, in monotonic time. */
        int64_t left = t->not_before_us - util_wall_us();
        dispatch_task_ready(c, t, left > 0 ? util_mono_us() + (uint64_t)left : 0);
        ready++;
      }
      live += t->live != NULL;
    }
    job_refresh(c, j);
    if (j->state == JOB_WAITING)
      job_deps_settled(c, j);
  }
  /* Tasks whose frames were done just before the stop. */
  for (size_t i = 0; i < njobs; i++)
    if (!job_state_terminal((job_state_t)jobs[i]->state))
      job_frames_settled(c, jobs[i]);
  /* Jobs held for a budget come back held; the check settles who stays. */
  for (size_t i = 0; i < njobs; i++)
    if (jobs[i]->state == JOB_HELD && jobs[i]->ep)
      jobs[i]->ep->over_budget = true;
  for (size_t i = 0; i < c->nepisodes; i++)
    cost_check(c, c->episodes[i]);
  for (size_t i = 0; i < cx.n; i++) {
    char ignored[160];
    if (cx.v[i].dep && !cx.v[i].job->cause)
      job_add_revivable(cx.v[i].dep, cx.v[i].job);
    if (job_cancel(c, cx.v[i].job, "coordinator", cx.v[i].why, ignored, sizeof ignored) == 0)
      log_warn("job %" PRIu64 " canceled on recovery: %s", cx.v[i].job->id, cx.v[i].why);
    free(cx.v[i].why);
  }
  free(cx.v);
  log_info("recovered %zu unfinished jobs, %zu ready tasks, %zu live attempts, %zu workers "
           "(%zu task rows read) in %" PRIu64 " ms; "
           "next ids: job %" PRIu64 ", task %" PRIu64 ", attempt %" PRIu64,
           njobs, ready, live, c->nworkers, nread, (util_mono_us() - t0) / 1000,
           c->next_job_id, c->next_task_id, c->next_attempt_id);
  rc = 0;
out:
  free(jobs);
  free(succeeded);
  return rc;
}
