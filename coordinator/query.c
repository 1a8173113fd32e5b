/*
 * query.c - client reads from PostgreSQL, see query.h.
 */
#include "query.h"
#include "verbs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsondoc.h"
#include "log.h"
#include "states.h"
#include "reads.h"
#include "workers.h"
#include <jansson.h>

#define JOB_COLUMNS                                                                        \
  "j.id AS job_id, j.name, p.name AS project, e.name AS episode, s.name AS shot, j.kind, " \
  "j.state, j.priority, j.ntasks, j.task_counts AS tasks, j.reason, j.submitted_by, "      \
  JSONDOC_TIME("j.submitted_at") " AS submitted_at, " JSONDOC_TIME("j.started_at")         \
  " AS started_at, " JSONDOC_TIME("j.finished_at") " AS finished_at, j.attempts, "           \
  "round(j.wall_us / 1e6, 3) AS wall_s"
#define JOB_FROM                                                                           \
  " FROM jobs j JOIN episodes e ON e.id = j.episode_id JOIN projects p ON p.id = "         \
  "e.project_id LEFT JOIN shots s ON s.id = j.shot_id"

/* $1: ids (bigint[]).  Returns the ids that do not exist (text, NULL
 * when none) and the document. */
static const char SQL_JOBS_IDS[] =
    "WITH want AS (SELECT DISTINCT unnest($1::bigint[]) AS id), "
    "x AS (SELECT " JOB_COLUMNS JOB_FROM " WHERE j.id = ANY ($1::bigint[])) "
    "SELECT (SELECT string_agg(w.id::text, ', ' ORDER BY w.id) FROM want w "
    "        WHERE NOT EXISTS (SELECT 1 FROM x WHERE x.job_id = w.id)), "
    "       json_build_object('jobs', coalesce((SELECT json_agg(x ORDER BY x.job_id) FROM x), "
    "'[]'::json))::text";


/* The filters of a list of jobs: $3 episode "P/E", $4 states (text[]),
 * $5 the submitter (each NULL: any).  Without states, UNFINISHED keeps
 * the unfinished jobs only (a literal, so that PostgreSQL can use the
 * partial index jobs_unfinished); ANY keeps finished ones too. */
#define JOBS_FILTER(UNFINISHED)                                                                \
  " ($3::text IS NULL OR j.episode_id IN (SELECT e2.id FROM episodes e2 JOIN projects p2 ON "  \
  "p2.id = e2.project_id WHERE p2.name || '/' || e2.name = $3::text)) AND ($4::text[] IS NULL " \
  "OR j.state = ANY ($4::text[])) AND ($5::text IS NULL OR j.submitted_by = $5::text)"        \
  UNFINISHED
#define JOBS_UNFINISHED " AND ($4::text[] IS NOT NULL OR j.state NOT IN ('succeeded', 'failed', 'canceled'))"
#define JOBS_ANY ""

/* $1 limit, $2 after: the jobs after job $2, oldest first, filtered. */
#define SQL_JOBS_PAGE(F)                                                                       \
  PAGE_SQL("jobs", "SELECT x.job_id AS id, row_to_json(x) AS o FROM (SELECT " JOB_COLUMNS      \
                   JOB_FROM " WHERE j.id > $2::bigint AND" F " ORDER BY j.id LIMIT $1::int + 1) x")
static const char SQL_JOBS_PAGE_ALL[] = SQL_JOBS_PAGE(JOBS_FILTER(JOBS_ANY));
static const char SQL_JOBS_PAGE_UNFINISHED[] = SQL_JOBS_PAGE(JOBS_FILTER(JOBS_UNFINISHED));

/* $1 limit ($2 unused): the newest $1 jobs, filtered, oldest first;
 * "more" is false (nothing is newer) and "earlier" says whether older
 * such jobs exist (list them from the first with --after 0). */
#define SQL_JOBS_NEWEST(F)                                                                     \
  "WITH x AS (SELECT " JOB_COLUMNS JOB_FROM " WHERE $2::bigint IS NOT NULL AND" F              \
  " ORDER BY j.id DESC LIMIT $1::int), "                                                       \
  "sized AS (SELECT x.job_id, row_to_json(x) AS o, sum(octet_length(row_to_json(x)::text)) "   \
  "  OVER (ORDER BY x.job_id DESC) AS bytes, row_number() OVER (ORDER BY x.job_id DESC) AS rn " \
  "  FROM x), "                                                                                \
  "kept AS (SELECT * FROM sized WHERE rn = 1 OR bytes <= " QUERY_PAGE_BYTES_SQL ") "           \
  "SELECT json_build_object('jobs', coalesce((SELECT json_agg(o ORDER BY job_id) FROM kept), " \
  "'[]'::json), 'more', false, 'next_after', NULL::bigint, 'earlier', "                        \
  "EXISTS (SELECT 1 FROM jobs j WHERE j.id < (SELECT min(job_id) FROM kept) AND" F "))::text"
static const char SQL_JOBS_NEWEST_ALL[] = SQL_JOBS_NEWEST(JOBS_FILTER(JOBS_ANY));
static const char SQL_JOBS_NEWEST_UNFINISHED[] = SQL_JOBS_NEWEST(JOBS_FILTER(JOBS_UNFINISHED));

/* One row: the job's attempts and wall time are kept on it (sql/007). */
static const char SQL_JOB[] =
    "SELECT row_to_json(x)::text FROM (SELECT " JOB_COLUMNS
    ", j.spec -> 'command' AS command, j.requires, coalesce(j.spec -> 'outputs', '[]') AS "
    "outputs, j.provenance, j.output_dir, j.max_attempts, j.max_lost, j.timeout_s, "
    "j.retry_backoff_s, j.seed" JOB_FROM
    " WHERE j.id = $1) x";

/* $1 limit, $2 after (a task id), $3 the job.  NULL when the job does not
 * exist.  A job's task ids are consecutive in seq order and its seqs are
 * 0, 1, ... (job_new), so the page after task $2 is the seq range
 * (lo, lo + $1 + 1] with lo = $2 - the first task's id: a range of the
 * (job_id, seq) index, whatever plan PostgreSQL picks (even before the
 * table's statistics know the job), and each page costs its own size, not
 * the job's.  The latest attempt is joined to those rows only. */
static const char SQL_TASKS[] =
    "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM jobs WHERE id = $3) THEN NULL ELSE (" PAGE_SQL(
        "tasks",
        "SELECT x.task_id AS id, row_to_json(x) AS o FROM (SELECT t.id AS task_id, t.job_id, "
        "t.seq, t.state, (SELECT count(*) FROM attempts a WHERE a.task_id = t.id) AS attempts, "
        "t.failures, t.losses, la.worker, la.exit_code, t.frame_start, t.frame_end, "
        "t.frame_step, t.take, t.seed, la.try_no AS attempt, la.id AS attempt_id, "
        "la.state AS attempt_state, "
        JSONDOC_TIME("la.started_at") " AS started_at, " JSONDOC_TIME("la.ended_at")
        " AS ended_at, round(la.wall_us / 1e6, 3) AS wall_s, "
        "round(la.cpu_us / 1e6, 3) AS cpu_s, la.max_rss_kb, nullif(la.error, '') AS error "
        "FROM (SELECT t1.* FROM tasks t1, (SELECT greatest($2::bigint - coalesce((SELECT t0.id - "
        "t0.seq FROM tasks t0 WHERE t0.job_id = $3::bigint AND t0.seq = 0), 0), -1) AS lo) b "
        "WHERE t1.job_id = $3::bigint AND t1.seq > b.lo AND t1.seq - $1::int <= b.lo + 1) t "
        "LEFT JOIN LATERAL (SELECT * FROM attempts a WHERE a.task_id = t.id "
        "ORDER BY a.id DESC LIMIT 1) la ON true ORDER BY t.seq LIMIT $1::int + 1) x") ") END";

typedef struct qctx {
  coord_t *c;
  creq_t *r;
  bool missing_first;   /* column 0 lists ids that do not exist, column 1 is the document */
  char not_found[160];  /* the reply when there is no document */
} qctx_t;

static void on_document(void *arg, PGresult *const *res, size_t n, const char *error) {
  qctx_t *q = arg;
  coord_t *c = q->c;
  char msg[160];
  if (clients_reply_failed(c, q->r, res, n, error)) {
    /* replied */
  } else if (q->missing_first) {
    if (!PQgetisnull(res[0], 0, 0)) {
      snprintf(msg, sizeof msg, "no such job: %.120s", PQgetvalue(res[0], 0, 0));
      clients_reply_error(c, q->r, "not_found", msg);
    } else {
      clients_reply_ok(c, q->r, PQgetvalue(res[0], 0, 1));
    }
  } else if (PQntuples(res[0]) < 1 || PQgetisnull(res[0], 0, 0)) {
    clients_reply_error(c, q->r, "not_found", q->not_found);
  } else {
    clients_reply_ok(c, q->r, PQgetvalue(res[0], 0, 0));
  }
  free(q);
}

/* Runs sql (prepared as name) with params on the read pool; see
 * query_document. */
static void run(coord_t *c, creq_t *r, bool missing_first, const char *not_found,
                const char *name, const char *sql, int nparams, char **params) {
  qctx_t *q = xcalloc(1, sizeof *q);
  q->c = c;
  q->r = r;
  q->missing_first = missing_first;
  snprintf(q->not_found, sizeof q->not_found, "%s", not_found ? not_found : "not found");
  pgq_t *pq = pgq_new();
  pgq_add_prepared(pq, name, sql, nparams, params);
  reads_submit(c, r, pq, on_document, q);
}

void query_document(coord_t *c, creq_t *r, const char *name, const char *sql, int nparams,
                    char **params, const char *not_found) {
  run(c, r, false, not_found, name, sql, nparams, params);
}

unsigned query_page_limit(const Clapper__Request *req, unsigned dflt) {
  if (!req->limit)
    return dflt;
  return req->limit > QUERY_PAGE_MAX ? QUERY_PAGE_MAX : req->limit;
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const query_named_t *)a)->name, ((const query_named_t *)b)->name);
}

json_t *query_name_page(const char *list, query_named_t *items, size_t n, unsigned limit,
                        const char *after, json_t *(*obj)(const void *item)) {
  size_t k = 0; /* the items after `after`, first */
  for (size_t i = 0; i < n; i++)
    if (!after || strcmp(items[i].name, after) > 0)
      items[k++] = items[i];
  qsort(items, k, sizeof *items, by_name);
  json_t *arr = json_array();
  size_t bytes = 0, kept = 0;
  while (kept < k && kept < limit) {
    json_t *o = obj(items[kept].item);
    bytes += json_dumpb(o, NULL, 0, JSON_COMPACT);
    if (kept && bytes > QUERY_PAGE_BYTES) {
      json_decref(o);
      break;
    }
    json_array_append_new(arr, o);
    kept++;
  }
  bool more = kept < k;
  return json_pack("{s:o,s:b,s:s?}", list, arr, "more", more, "next_after",
                   more && kept ? items[kept - 1].name : NULL);
}

void query_jobs(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
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
    char *p[1] = {sbuf_steal(&b)};
    run(c, r, true, NULL, "SQL_JOBS_IDS", SQL_JOBS_IDS, 1, p);
    return;
  }
  /* The filters: --state S[,S] (job states), --episode P/E, --mine. */
  sbuf_t states = {0};
  if (*req->state) {
    sbuf_putc(&states, '{');
    for (const char *s = req->state; *s;) {
      size_t len = strcspn(s, ",");
      char name[32];
      snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), s);
      if (len >= sizeof name || job_state_parse(name) < 0) {
        sbuf_free(&states);
        clients_reply_error(c, r, "bad_request",
                            "state: expected waiting, queued, running, paused, held, "
                            "succeeded, failed or canceled, comma-separated");
        return;
      }
      sbuf_printf(&states, "%s%s", states.len > 1 ? "," : "", name);
      s += len + (s[len] == ',');
    }
    sbuf_putc(&states, '}');
  }
  if (strlen(req->name) > 2 * IDENT_MAX + 1) {
    sbuf_free(&states);
    clients_reply_error(c, r, "bad_request", "episode: expected PROJECT/EPISODE");
    return;
  }
  unsigned limit = query_page_limit(req, QUERY_JOBS_DEFAULT);
  bool paged = req->all || req->after;
  char *p[5] = {xasprintf("%u", limit),
                xasprintf("%" PRIu64, req->after > INT64_MAX ? INT64_MAX : req->after),
                *req->name ? xstrdup(req->name) : NULL, states.len ? sbuf_steal(&states) : NULL,
                req->mine ? xstrdup(v->actor) : NULL};
  sbuf_free(&states);
  if (paged && req->finished)
    run(c, r, false, NULL, "SQL_JOBS_PAGE_ALL", SQL_JOBS_PAGE_ALL, 5, p);
  else if (paged)
    run(c, r, false, NULL, "SQL_JOBS_PAGE_UNFINISHED", SQL_JOBS_PAGE_UNFINISHED, 5, p);
  else if (req->finished)
    run(c, r, false, NULL, "SQL_JOBS_NEWEST_ALL", SQL_JOBS_NEWEST_ALL, 5, p);
  else
    run(c, r, false, NULL, "SQL_JOBS_NEWEST_UNFINISHED", SQL_JOBS_NEWEST_UNFINISHED, 5, p);
}

void query_job(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  if (req->n_ids != 1 || req->ids[0] == 0 || req->ids[0] > INT64_MAX) {
    clients_reply_error(c, r, "bad_request", "expected one job id");
    return;
  }
  char msg[64];
  snprintf(msg, sizeof msg, "no such job: %" PRIu64, req->ids[0]);
  if (v->spec->arg == QUERY_JOB_TASKS) {
    char *p[3] = {xasprintf("%u", query_page_limit(req, QUERY_TASKS_DEFAULT)),
                  xasprintf("%" PRIu64, req->after > INT64_MAX ? INT64_MAX : req->after),
                  xasprintf("%" PRIu64, req->ids[0])};
    run(c, r, false, msg, "SQL_TASKS", SQL_TASKS, 3, p);
    return;
  }
  char *p[1] = {xasprintf("%" PRIu64, req->ids[0])};
  run(c, r, false, msg, "SQL_JOB", SQL_JOB, 1, p);
}

/* ------------------------------------------------------------ attempts */

/* $1 task: {"task_id", "job_id", "attempts": [...]} first try first, or
 * NULL when the task does not exist. */
static const char SQL_ATTEMPTS[] =
    "SELECT json_build_object('task_id', t.id, 'job_id', t.job_id, 'attempts', "
    "coalesce((SELECT json_agg(x ORDER BY x.attempt, x.attempt_id) FROM (SELECT a.try_no AS "
    "attempt, a.id AS attempt_id, a.worker, a.state, " JSONDOC_TIME("a.dispatched_at")
    " AS dispatched_at, " JSONDOC_TIME("a.started_at") " AS started_at, "
    JSONDOC_TIME("a.ended_at") " AS ended_at, "
    "a.exit_code, a.term_signal, round(a.wall_us / 1e6, 3) AS wall_s, nullif(a.error, '') AS "
    "error FROM attempts a WHERE a.task_id = t.id) x), '[]'::json))::text "
    "FROM tasks t WHERE t.id = $1::bigint";

void query_attempts(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  if (req->n_ids != 1 || req->ids[0] == 0 || req->ids[0] > INT64_MAX) {
    clients_reply_error(c, r, "bad_request", "expected one task id");
    return;
  }
  char msg[64];
  snprintf(msg, sizeof msg, "no such task: %" PRIu64, req->ids[0]);
  char *p[1] = {xasprintf("%" PRIu64, req->ids[0])};
  run(c, r, false, msg, "SQL_ATTEMPTS", SQL_ATTEMPTS, 1, p);
}

/* ------------------------------------------------------------ logs */

/* $1 task, $2 attempt id (0 = latest), $3 offset, $4 try number (0: any).
 * One row per stored piece from the offset on (at most 16 of 64 KiB), or
 * one row without a piece; no row when the task does not exist. */
static const char SQL_LOGS[] =
    "SELECT a.id, a.state, a.worker, a.log_bytes, a.log_truncated, l.pos, l.data, a.try_no "
    "FROM tasks t "
    "LEFT JOIN LATERAL (SELECT * FROM attempts a WHERE a.task_id = t.id "
    "                   AND ($2::bigint = 0 OR a.id = $2::bigint) "
    "                   AND ($4::int = 0 OR a.try_no = $4::int) ORDER BY a.id DESC LIMIT 1) a "
    "ON true "
    "LEFT JOIN LATERAL (SELECT pos, data FROM attempt_logs WHERE attempt_id = a.id "
    "                   AND pos + length(data) > $3::bigint ORDER BY pos LIMIT 16) l ON true "
    "WHERE t.id = $1::bigint ORDER BY l.pos";

typedef struct lctx {
  coord_t *c;
  creq_t *r;
  uint64_t task, offset;
  uint32_t try_no; /* the try asked for, 0: none */
} lctx_t;

/* Length of the longest prefix of s[0..n) that does not end inside a
 * UTF-8 sequence. */
static size_t whole_chars(const uint8_t *s, size_t n) {
  size_t i = n, k = 0;
  while (i > 0 && k < 4 && (s[i - 1] & 0xC0) == 0x80) {
    i--;
    k++;
  }
  if (i == 0)
    return n;
  uint8_t lead = s[i - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  return need > k + 1 && need <= 4 ? i - 1 : n;
}

/* s[0..n) as a JSON string value: valid UTF-8 kept, anything else U+FFFD. */
static json_t *utf8_string(const uint8_t *s, size_t n) {
  sbuf_t b = {0};
  for (size_t i = 0; i < n;) {
    uint8_t ch = s[i];
    size_t len = ch < 0x80 ? 1 : (ch >> 5) == 6 ? 2 : (ch >> 4) == 14 ? 3 : (ch >> 3) == 30 ? 4 : 0;
    bool ok = len && i + len <= n && ch != 0;
    for (size_t k = 1; ok && k < len; k++)
      ok = (s[i + k] & 0xC0) == 0x80;
    if (ok) {
      sbuf_append(&b, (const char *)s + i, len);
      i += len;
    } else {
      sbuf_append(&b, "\xEF\xBF\xBD", 3);
      i++;
    }
  }
  json_t *v = json_stringn(b.buf ? b.buf : "", b.len);
  sbuf_free(&b);
  return v ? v : json_string("");
}

static void on_logs(void *arg, PGresult *const *res, size_t n, const char *error) {
  lctx_t *q = arg;
  coord_t *c = q->c;
  char msg[120];
  if (clients_reply_failed(c, q->r, res, n, error)) {
    free(q);
    return;
  }
  PGresult *r0 = res[0];
  if (PQntuples(r0) == 0) {
    snprintf(msg, sizeof msg, "no such task: %" PRIu64, q->task);
    clients_reply_error(c, q->r, "not_found", msg);
    free(q);
    return;
  }
  json_t *doc;
  if (PQgetisnull(r0, 0, 0) && q->try_no) {
    snprintf(msg, sizeof msg, "task %" PRIu64 " has no attempt %" PRIu32, q->task, q->try_no);
    clients_reply_error(c, q->r, "not_found", msg);
    free(q);
    return;
  }
  if (PQgetisnull(r0, 0, 0)) {
    doc = json_pack("{s:I,s:n,s:n,s:n,s:I,s:s,s:b,s:b,s:n}", "task_id", (json_int_t)q->task,
                    "attempt_id", "attempt", "attempt_state", "offset", (json_int_t)q->offset, "data", "",
                    "done", false, "truncated", false, "log_path");
  } else {
    uint64_t aid = strtoull(PQgetvalue(r0, 0, 0), NULL, 10);
    const char *state = PQgetvalue(r0, 0, 1);
    const char *wname = PQgetvalue(r0, 0, 2);
    uint64_t end = strtoull(PQgetvalue(r0, 0, 3), NULL, 10);
    bool truncated = PQgetvalue(r0, 0, 4)[0] == 't';
    /* Concatenate the pieces from the offset on; a missing piece (lost on
     * the way) is skipped over. */
    sbuf_t data = {0};
    uint64_t pos = q->offset;
    for (int i = 0; i < PQntuples(r0) && !PQgetisnull(r0, i, 5); i++) {
      uint64_t at = strtoull(PQgetvalue(r0, i, 5), NULL, 10);
      size_t len = 0;
      unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(r0, i, 6), &len);
      if (!bytes)
        break;
      if (at + len > pos) {
        size_t skip = at < pos ? (size_t)(pos - at) : 0;
        sbuf_append(&data, (const char *)bytes + skip, len - skip);
        pos = at + len;
      }
      PQfreemem(bytes);
    }
    int st = attempt_state_parse(state);
    bool ended = st >= 0 && !attempt_state_live((attempt_state_t)st);
    /* Hold back a character cut in two until its end arrives. */
    size_t keep = data.len;
    if (!(ended && pos >= end))
      keep = whole_chars((const uint8_t *)data.buf, data.len);
    uint64_t next = pos - (data.len - keep);
    bool done = ended && next >= end;
    json_t *path = json_null();
    worker_t *w = workers_find(c, wname);
    if (w && w->workdir) {
      json_decref(path);
      char *p = xasprintf("%s/logs/%" PRIu64 ".log", w->workdir, aid);
      path = json_pack("{s:s,s:s}", "worker", wname, "path", p);
      free(p);
    }
    doc = json_pack("{s:I,s:I,s:I,s:s,s:I,s:o,s:b,s:b,s:o}", "task_id", (json_int_t)q->task,
                    "attempt_id", (json_int_t)aid, "attempt",
                    (json_int_t)strtoll(PQgetvalue(r0, 0, 7), NULL, 10), "attempt_state", state,
                    "offset",
                    (json_int_t)next, "data", utf8_string((const uint8_t *)data.buf, keep),
                    "done", done, "truncated", truncated, "log_path", path);
    sbuf_free(&data);
  }
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  clients_reply_ok(c, q->r, text);
  free(text);
  free(q);
}

void query_logs(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  if (req->n_ids != 1 || !req->ids[0] || req->ids[0] > INT64_MAX || req->offset > INT64_MAX ||
      req->value < 0 || req->try_no > INT32_MAX) {
    clients_reply_error(c, r, "bad_request", "expected one task id");
    return;
  }
  lctx_t *q = xcalloc(1, sizeof *q);
  q->c = c;
  q->r = r;
  q->task = req->ids[0];
  q->offset = req->offset;
  q->try_no = req->try_no;
  char *p[4] = {xasprintf("%" PRIu64, req->ids[0]), xasprintf("%" PRId64, req->value),
                xasprintf("%" PRIu64, req->offset), xasprintf("%" PRIu32, req->try_no)};
  pgq_t *pq = pgq_new();
  pgq_add_prepared(pq, "SQL_LOGS", SQL_LOGS, 4, p);
  reads_submit(c, r, pq, on_logs, q);
}

/* ------------------------------------------------------------ cost */

/* $1 project, $2 episode, $3 currency.  NULL when the episode does not
 * exist.  Money is a decimal string, hours and kWh numbers. */
#define MONEY(x) "((" x ")::numeric / 1000000)::numeric(30,6)::text"
#define FIGURES(n, c, f, l, gh, ch, kwh)                                                       \
  "'attempts', coalesce(" n ", 0), 'total_cost', " MONEY("coalesce(" c ", 0)")                 \
  ", 'failed_cost', " MONEY("coalesce(" f ", 0)") ", 'lost_cost', " MONEY("coalesce(" l ", 0)") \
  ", 'gpu_hours', round(coalesce(" gh ", 0), 6), 'cpu_hours', round(coalesce(" ch ", 0), 6), "  \
  "'energy_kwh', round(coalesce(" kwh ", 0), 6)"
#define COST_HEAD                                                                              \
  "WITH ep AS (SELECT e.id, e.budget_micros FROM episodes e JOIN projects p "                  \
  "            ON p.id = e.project_id WHERE p.name = $1 AND e.name = $2), "                    \
  "jc AS (SELECT * FROM job_cost WHERE episode_id = (SELECT id FROM ep)), "                     \
  "tot AS (SELECT sum(attempts) AS n, sum(cost_micros) AS c, sum(failed_cost_micros) AS f, "  \
  "        sum(lost_cost_micros) AS l, sum(gpu_hours) AS gh, sum(cpu_hours) AS ch, "          \
  "        sum(energy_kwh) AS kwh FROM jc), "
#define COST_TAIL(key, list, rel, order)                                                       \
  "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM ep) THEN NULL ELSE json_build_object("          \
  "'episode', $1 || '/' || $2, 'currency', $3::text, 'by', " key "::text, "                    \
  FIGURES("tot.n", "tot.c", "tot.f", "tot.l", "tot.gh", "tot.ch", "tot.kwh")                   \
  ", 'budget', (SELECT " MONEY("budget_micros") " FROM ep), "                                  \
  "'left', (SELECT " MONEY("budget_micros - coalesce(tot.c, 0)") " FROM ep), "                 \
  list ", coalesce((SELECT json_agg(r.o ORDER BY " order ") FROM " rel " r), '[]'::json))::text END " \
  "FROM tot"

#define ROW_FIGURES FIGURES("sum(attempts)", "sum(cost_micros)", "sum(failed_cost_micros)",    \
                            "sum(lost_cost_micros)", "sum(gpu_hours)", "sum(cpu_hours)",       \
                            "sum(energy_kwh)")

static const char SQL_COST_SHOT[] =
    COST_HEAD "r AS (SELECT shot, json_build_object('shot', shot, " ROW_FIGURES ") AS o "
              "FROM jc GROUP BY shot) " COST_TAIL("'shot'", "'shots'", "r", "r.shot NULLS FIRST");
/* By job the rows are a page ($4 limit, $5 after: the jobs after job $5),
 * the totals the whole episode's. */
static const char SQL_COST_JOB[] =
    COST_HEAD "page AS (SELECT job_id AS id, json_build_object('job_id', job_id, 'job', "
              "min(job), 'kind', min(kind), 'shot', min(shot), " ROW_FIGURES ") AS o "
              "FROM jc WHERE job_id > $5::bigint GROUP BY job_id ORDER BY job_id "
              "LIMIT $4::int + 1), " PAGE_KEPT("$4::int")
    COST_TAIL("'job'", PAGE_MORE ", 'jobs'", "kept", "r.id");
static const char SQL_COST_KIND[] =
    COST_HEAD "r AS (SELECT kind, json_build_object('kind', kind, " ROW_FIGURES ") AS o "
              "FROM jc GROUP BY kind) " COST_TAIL("'kind'", "'kinds'", "r", "r.kind");

/* Runs an episode report (sql, prepared as name: $1 project, $2 episode,
 * $3 currency, then the page's $4 limit and $5 after when page) for
 * req->name and replies with its document. */
static void episode_report(coord_t *c, creq_t *r, const Clapper__Request *req, const char *name,
                           const char *sql, bool page) {
  char *project;
  const char *episode;
  if (!clients_split_episode(c, r, req->name, &project, &episode))
    return;
  char *p[5] = {project, xstrdup(episode), xstrdup(c->cfg.currency), NULL, NULL};
  if (page) {
    p[3] = xasprintf("%u", query_page_limit(req, QUERY_COST_JOBS_DEFAULT));
    p[4] = xasprintf("%" PRIu64, req->after > INT64_MAX ? INT64_MAX : req->after);
  }
  run(c, r, false, "no such episode (nothing was ever submitted to it)", name, sql,
      page ? 5 : 3, p);
}

void query_cost(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  const char *by = req->by && *req->by ? req->by : "shot";
  if (!strcmp(by, "shot"))
    episode_report(c, r, req, "SQL_COST_SHOT", SQL_COST_SHOT, false);
  else if (!strcmp(by, "job"))
    episode_report(c, r, req, "SQL_COST_JOB", SQL_COST_JOB, true);
  else if (!strcmp(by, "kind"))
    episode_report(c, r, req, "SQL_COST_KIND", SQL_COST_KIND, false);
  else
    clients_reply_error(c, r, "bad_request", "by: expected shot, job or kind");
}

/* ------------------------------------------------------------ audit */

#define KWH(x) "round(coalesce(" x ", 0) / 3600000000.0, 6)"
/* The audit's figures of x, a row of shot_audit or of the totals. */
#define AUDIT_TAKES(x)                                                                         \
  "json_build_object('generated', " x ".takes, 'approved', " x ".approved_takes, 'rejected', "  \
  x ".rejected_takes, 'pending', " x ".pending_takes, 'changes_requested', "                    \
  x ".changes_requested_takes)"
#define AUDIT_COST(x)                                                                          \
  "'cost', json_build_object('approved', " MONEY(x ".approved_cost_micros") ", 'rejected', "    \
  MONEY(x ".rejected_cost_micros") ", 'pending', " MONEY(x ".pending_cost_micros")              \
  ", 'changes_requested', " MONEY(x ".changes_requested_cost_micros") ", 'failed_attempts', "   \
  MONEY(x ".failed_cost_micros") ", 'other', " MONEY(x ".other_cost_micros") ", 'total', "      \
  MONEY(x ".cost_micros") "), "                                                                 \
  "'energy_kwh', json_build_object('approved', " KWH(x ".approved_energy_mj") ", 'rejected', "  \
  KWH(x ".rejected_energy_mj") ", 'pending', " KWH(x ".pending_energy_mj")                      \
  ", 'changes_requested', " KWH(x ".changes_requested_energy_mj") ", 'failed_attempts', "       \
  KWH(x ".failed_energy_mj") ", 'other', " KWH(x ".other_energy_mj") ", 'total', "              \
  KWH(x ".energy_mj") ")"
#define AUDIT_SUM(col) "coalesce(sum(" col "), 0) AS " col

/* $1 project, $2 episode, $3 currency.  NULL when there is no such
 * episode.  Per shot: takes by state, who decided what, what was approved
 * (machine-generated or not, model, outputs with SHA-256), cost and energy
 * of approved, rejected, pending and changes-requested takes, of failed
 * attempts and of everything else; the totals equal the cost report's.
 * The figures are the shot_audit view's (sql/005_audit.sql); the lists
 * are one pass over the episode's takes, grouped by shot. */
const char SQL_AUDIT[] =
    "WITH ep AS (SELECT e.id FROM episodes e JOIN projects p ON p.id = e.project_id "
    "            WHERE p.name = $1 AND e.name = $2), "
    "sa AS (SELECT * FROM shot_audit WHERE episode_id = (SELECT id FROM ep)), "
    "tl AS (SELECT s.name AS shot, "
    "  json_agg(json_build_object('take_id', t.id, 'job', j.name, 'kind', t.kind, 'state', "
    "    t.state, 'decided_by', t.decided_by, 'decided_at', " JSONDOC_TIME("t.decided_at")
    ", 'note', t.note) "
    "    ORDER BY t.decided_at, t.id) FILTER (WHERE t.decided_by IS NOT NULL) AS decisions, "
    "  json_agg(json_build_object('take_id', t.id, 'job', j.name, 'kind', t.kind, "
    "    'machine_generated', t.kind = 'generate', 'model', t.provenance->>'model', "
    "    'model_version', t.provenance->>'model_version', 'outputs', "
    "    (SELECT coalesce(json_agg(json_build_object('path', o->>'path', 'sha256', "
    "     o->>'sha256')), '[]'::json) FROM jsonb_array_elements(t.outputs) o)) ORDER BY t.id) "
    "    FILTER (WHERE t.state = 'approved') AS approved "
    "  FROM takes t JOIN jobs j ON j.id = t.job_id LEFT JOIN shots s ON s.id = j.shot_id "
    "  WHERE j.episode_id = (SELECT id FROM ep) GROUP BY s.name), "
    "tot AS (SELECT " AUDIT_SUM("takes") ", " AUDIT_SUM("approved_takes") ", "
    "  " AUDIT_SUM("rejected_takes") ", " AUDIT_SUM("pending_takes") ", "
    "  " AUDIT_SUM("changes_requested_takes") ", " AUDIT_SUM("approved_cost_micros") ", "
    "  " AUDIT_SUM("rejected_cost_micros") ", " AUDIT_SUM("pending_cost_micros") ", "
    "  " AUDIT_SUM("changes_requested_cost_micros") ", " AUDIT_SUM("failed_cost_micros") ", "
    "  " AUDIT_SUM("other_cost_micros") ", " AUDIT_SUM("cost_micros") ", "
    "  " AUDIT_SUM("approved_energy_mj") ", " AUDIT_SUM("rejected_energy_mj") ", "
    "  " AUDIT_SUM("pending_energy_mj") ", " AUDIT_SUM("changes_requested_energy_mj") ", "
    "  " AUDIT_SUM("failed_energy_mj") ", " AUDIT_SUM("other_energy_mj") ", "
    "  " AUDIT_SUM("energy_mj") " FROM sa) "
    "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM ep) THEN NULL ELSE json_build_object("
    "'episode', $1 || '/' || $2, 'currency', $3::text, "
    "'shots', coalesce((SELECT json_agg(json_build_object('shot', x.shot, "
    "  'takes', " AUDIT_TAKES("x") ", "
    "  'decisions', coalesce(l.decisions, '[]'::json), "
    "  'approved', coalesce(l.approved, '[]'::json), "
    "  " AUDIT_COST("x") ") ORDER BY x.shot NULLS FIRST) "
    "  FROM sa x LEFT JOIN tl l ON l.shot IS NOT DISTINCT FROM x.shot), '[]'::json), "
    "'totals', json_build_object('takes', " AUDIT_TAKES("t") ", " AUDIT_COST("t") "))::text END "
    "FROM tot t";

/* $1 limit, $2 after (a position in the log), $3 a kind prefix (NULL:
 * any): a page of the event log in its order. */
static const char SQL_EVENTS_PAGE[] = PAGE_SQL(
    "events", "SELECT x.id, row_to_json(x) AS o FROM (SELECT e.seq AS id, e.kind, "
    JSONDOC_TIME("e.at") " AS at, e.actor, e.subject_type, e.subject_id, e.details "
    "FROM events e WHERE e.seq > $2::bigint AND ($3::text IS NULL OR "
    "left(e.kind, length($3::text)) = $3::text) ORDER BY e.seq LIMIT $1::int + 1) x");

void query_events(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  if (strlen(req->kind) > 64) {
    clients_reply_error(c, r, "bad_request", "kind: at most 64 bytes");
    return;
  }
  char *p[3] = {xasprintf("%u", query_page_limit(req, QUERY_EVENTS_DEFAULT)),
                xasprintf("%" PRIu64, req->after > INT64_MAX ? INT64_MAX : req->after),
                *req->kind ? xstrdup(req->kind) : NULL};
  run(c, r, false, NULL, "SQL_EVENTS_PAGE", SQL_EVENTS_PAGE, 3, p);
}

void query_audit(coord_t *c, creq_t *r, const verb_call_t *v) {
  const Clapper__Request *req = v->req;
  episode_report(c, r, req, "SQL_AUDIT", SQL_AUDIT, false);
}
