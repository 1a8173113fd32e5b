/*
 * query.c - client reads from PostgreSQL, see query.h.
 */
#include "query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define JOB_COLUMNS                                                                        \
  "j.id AS job_id, j.name, p.name AS project, e.name AS episode, s.name AS shot, j.kind, " \
  "j.state, j.priority, j.ntasks, j.task_counts AS tasks, j.reason, j.submitted_by, "      \
  "j.submitted_at, j.started_at, j.finished_at"
#define JOB_FROM                                                                           \
  " FROM jobs j JOIN episodes e ON e.id = j.episode_id JOIN projects p ON p.id = "         \
  "e.project_id LEFT JOIN shots s ON s.id = j.shot_id"

/* $1: ids (bigint[] or NULL), $2: limit (NULL = none).  Returns the ids
 * that do not exist (text, NULL when none) and the document. */
static const char SQL_JOBS[] =
    "WITH want AS (SELECT DISTINCT unnest($1::bigint[]) AS id), "
    "x AS (SELECT " JOB_COLUMNS JOB_FROM
    " WHERE $1::bigint[] IS NULL OR j.id = ANY ($1::bigint[]) ORDER BY j.id DESC LIMIT $2) "
    "SELECT (SELECT string_agg(w.id::text, ', ' ORDER BY w.id) FROM want w "
    "        WHERE NOT EXISTS (SELECT 1 FROM x WHERE x.job_id = w.id)), "
    "       json_build_object('jobs', coalesce((SELECT json_agg(x ORDER BY x.job_id) FROM x), "
    "'[]'::json))::text";

static const char SQL_JOB[] =
    "SELECT row_to_json(x)::text FROM (SELECT " JOB_COLUMNS
    ", j.spec -> 'command' AS command, j.requires, coalesce(j.spec -> 'outputs', '[]') AS "
    "outputs, j.provenance, j.output_dir, j.max_attempts, j.max_lost, j.timeout_s, "
    "j.retry_backoff_s, j.seed, "
    "(SELECT count(*) FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.job_id = j.id) "
    "AS attempts, "
    "(SELECT round(coalesce(sum(a.wall_us), 0) / 1e6, 3) FROM attempts a JOIN tasks t "
    "ON t.id = a.task_id WHERE t.job_id = j.id) AS wall_s" JOB_FROM " WHERE j.id = $1) x";

static const char SQL_TASKS[] =
    "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM jobs WHERE id = $1) THEN NULL ELSE "
    "(SELECT json_build_object('tasks', coalesce(json_agg(x ORDER BY x.seq), '[]'::json)) "
    "FROM (SELECT t.id AS task_id, t.job_id, t.seq, t.state, "
    "(SELECT count(*) FROM attempts a WHERE a.task_id = t.id) AS attempts, t.failures, "
    "t.losses, la.worker, la.exit_code, t.frame_start, t.frame_end, t.frame_step, t.take, "
    "t.seed, la.id AS attempt_id, la.state AS attempt_state, la.started_at, la.ended_at, "
    "round(la.wall_us / 1e6, 3) AS wall_s, round(la.cpu_us / 1e6, 3) AS cpu_s, "
    "la.max_rss_kb, nullif(la.error, '') AS error "
    "FROM tasks t LEFT JOIN LATERAL (SELECT * FROM attempts a WHERE a.task_id = t.id "
    "ORDER BY a.id DESC LIMIT 1) la ON true WHERE t.job_id = $1) x)::text END";

typedef struct qctx {
  coord_t *c;
  creq_t *r;
  uint64_t id;
  int kind; /* 0 jobs, 1 job, 2 tasks */
} qctx_t;

static void on_result(void *arg, PGresult *const *res, size_t n, const char *error) {
  qctx_t *q = arg;
  coord_t *c = q->c;
  char msg[160];
  if (error || n < 1 || !res[0] || PQresultStatus(res[0]) != PGRES_TUPLES_OK) {
    log_error("query failed: %s", error ? error : "no result");
    clients_reply_error(c, q->r, "internal", "the database query failed; see the coordinator log");
  } else if (q->kind == 0) {
    if (!PQgetisnull(res[0], 0, 0)) {
      snprintf(msg, sizeof msg, "no such job: %.120s", PQgetvalue(res[0], 0, 0));
      clients_reply_error(c, q->r, "not_found", msg);
    } else {
      clients_reply_ok(c, q->r, PQgetvalue(res[0], 0, 1));
    }
  } else if (PQntuples(res[0]) < 1 || PQgetisnull(res[0], 0, 0)) {
    snprintf(msg, sizeof msg, "no such job: %" PRIu64, q->id);
    clients_reply_error(c, q->r, "not_found", msg);
  } else {
    clients_reply_ok(c, q->r, PQgetvalue(res[0], 0, 0));
  }
  free(q);
}

static void run(coord_t *c, creq_t *r, int kind, uint64_t id, const char *sql, int nparams,
                char **params) {
  qctx_t *q = xcalloc(1, sizeof *q);
  q->c = c;
  q->r = r;
  q->kind = kind;
  q->id = id;
  pgq_t *pq = pgq_new();
  pgq_add(pq, sql, nparams, params);
  pgconn_submit(c->rdb, pq, on_result, q);
}

void query_jobs(coord_t *c, creq_t *r, const Clapper__Request *req) {
  char *p[2] = {NULL, NULL};
  if (req->n_ids) {
    if (req->n_ids > 10000) {
      clients_reply_error(c, r, "bad_request", "at most 10000 job ids per request");
      return;
    }
    sbuf_t b = {0};
    sbuf_putc(&b, '{');
    for (size_t i = 0; i < req->n_ids; i++)
      sbuf_printf(&b, "%s%" PRIu64, i ? "," : "", req->ids[i] > INT64_MAX ? 0 : req->ids[i]);
    sbuf_putc(&b, '}');
    p[0] = sbuf_steal(&b);
  } else if (!req->all) {
    p[1] = xasprintf("%u", req->limit ? req->limit : 100);
  }
  run(c, r, 0, 0, SQL_JOBS, 2, p);
}

static bool one_id(coord_t *c, creq_t *r, const Clapper__Request *req, uint64_t *id) {
  if (req->n_ids != 1 || req->ids[0] == 0 || req->ids[0] > INT64_MAX) {
    clients_reply_error(c, r, "bad_request", "expected one job id");
    return false;
  }
  *id = req->ids[0];
  return true;
}

void query_job(coord_t *c, creq_t *r, const Clapper__Request *req) {
  uint64_t id;
  if (!one_id(c, r, req, &id))
    return;
  char *p[1] = {xasprintf("%" PRIu64, id)};
  run(c, r, 1, id, SQL_JOB, 1, p);
}

void query_tasks(coord_t *c, creq_t *r, const Clapper__Request *req) {
  uint64_t id;
  if (!one_id(c, r, req, &id))
    return;
  char *p[1] = {xasprintf("%" PRIu64, id)};
  run(c, r, 2, id, SQL_TASKS, 1, p);
}
