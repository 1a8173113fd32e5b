/*
 * metrics.c - Prometheus metrics, see metrics.h and docs/metrics.md.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "http.h"
#include "log.h"
#include "money.h"
#include "reads.h"
#include "states.h"
#include "store.h"

/* HTTP statuses counted one by one (others count as 0: "other"). */
#define HTTP_STATUS_MIN 100
#define HTTP_STATUS_MAX 599

/* Results by the state they ended their attempt in, and one more slot:
 * ignored. */
#define RESULT_IGNORED ATTEMPT_STATE_COUNT

struct metrics {
  int64_t start_us;        /* wall clock, when made */
  metrics_hist_t dispatch; /* ready -> Assign sent */
  metrics_hist_t commit;   /* batch sent -> commit confirmed */
  uint64_t results[ATTEMPT_STATE_COUNT + 1];
  uint64_t http[HTTP_STATUS_MAX - HTTP_STATUS_MIN + 2]; /* last: any other status */
};

/* Dispatch latency: from a millisecond (an idle farm's commit) to an hour
 * (a task that waited for room). */
static const metrics_bound_t DISPATCH_BOUNDS[] = {
    {1000, "0.001"},    {2500, "0.0025"},   {5000, "0.005"},      {10000, "0.01"},
    {25000, "0.025"},   {50000, "0.05"},    {100000, "0.1"},      {250000, "0.25"},
    {500000, "0.5"},    {1000000, "1"},     {2500000, "2.5"},     {5000000, "5"},
    {10000000, "10"},   {30000000, "30"},   {60000000, "60"},     {120000000, "120"},
    {300000000, "300"}, {600000000, "600"}, {1800000000, "1800"}, {3600000000, "3600"},
};

/* Commit latency: from half a millisecond to ten seconds. */
static const metrics_bound_t COMMIT_BOUNDS[] = {
    {500, "0.0005"}, {1000, "0.001"}, {2000, "0.002"}, {5000, "0.005"},  {10000, "0.01"},
    {20000, "0.02"}, {50000, "0.05"}, {100000, "0.1"}, {200000, "0.2"},  {500000, "0.5"},
    {1000000, "1"},  {2000000, "2"},  {5000000, "5"},  {10000000, "10"},
};

#define NBOUNDS(a) (sizeof(a) / sizeof *(a))

/* ------------------------------------------------------------ observations */

void metrics_hist_observe(metrics_hist_t *h, uint64_t us) {
  size_t i = 0;
  while (i < h->nbounds && us > h->bounds[i].us)
    i++;
  h->counts[i]++;
  h->count++;
  h->sum_us += us;
}

/* Store listener: the batch that just committed took last_commit_us. */
static void on_commit(coord_t *c, uint64_t seq, void *arg) {
  (void)seq;
  (void)arg;
  if (c->metrics)
    metrics_hist_observe(&c->metrics->commit, store_stats(c).last_commit_us);
}

void metrics_new(coord_t *c) {
  metrics_t *m = xcalloc(1, sizeof *m);
  m->start_us = util_wall_us();
  m->dispatch.bounds = DISPATCH_BOUNDS;
  m->dispatch.nbounds = NBOUNDS(DISPATCH_BOUNDS);
  m->commit.bounds = COMMIT_BOUNDS;
  m->commit.nbounds = NBOUNDS(COMMIT_BOUNDS);
  c->metrics = m;
  store_listen(c, on_commit, NULL);
}

void metrics_free(coord_t *c) {
  free(c->metrics);
  c->metrics = NULL;
}

void metrics_observe_assign(coord_t *c, const attempt_t *a) {
  if (!c->metrics || !a || !a->task)
    return;
  uint64_t now = util_mono_us(), since = a->task->not_before;
  metrics_hist_observe(&c->metrics->dispatch, since && since < now ? now - since : 0);
}

void metrics_observe_result(coord_t *c, int to) {
  if (!c->metrics)
    return;
  size_t i = to >= ATTEMPT_SUCCEEDED && to < ATTEMPT_STATE_COUNT ? (size_t)to : RESULT_IGNORED;
  c->metrics->results[i]++;
}

void metrics_observe_http(coord_t *c, int status) {
  if (!c->metrics)
    return;
  size_t i = status >= HTTP_STATUS_MIN && status <= HTTP_STATUS_MAX
                 ? (size_t)(status - HTTP_STATUS_MIN)
                 : HTTP_STATUS_MAX - HTTP_STATUS_MIN + 1;
  c->metrics->http[i]++;
}

/* ------------------------------------------------------------ the writer */

void metrics_family(sbuf_t *b, const char *name, const char *type, const char *help) {
  sbuf_printf(b, "# HELP %s ", name);
  for (const char *p = help; *p; p++) {
    if (*p == '\\')
      sbuf_puts(b, "\\\\");
    else if (*p == '\n')
      sbuf_puts(b, "\\n");
    else
      sbuf_putc(b, *p);
  }
  sbuf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void put_label_value(sbuf_t *b, const char *v) {
  for (const char *p = v ? v : ""; *p; p++) {
    if (*p == '\\')
      sbuf_puts(b, "\\\\");
    else if (*p == '"')
      sbuf_puts(b, "\\\"");
    else if (*p == '\n')
      sbuf_puts(b, "\\n");
    else
      sbuf_putc(b, *p);
  }
}

/* name{labels[,extra_key="extra_value"]} */
static void put_series(sbuf_t *b, const char *name, const char *const *labels,
                       const char *extra_key, const char *extra_value) {
  sbuf_puts(b, name);
  bool any = false;
  for (size_t i = 0; labels && labels[i]; i += 2) {
    sbuf_puts(b, any ? "," : "{");
    any = true;
    sbuf_printf(b, "%s=\"", labels[i]);
    put_label_value(b, labels[i + 1]);
    sbuf_putc(b, '"');
  }
  if (extra_key) {
    sbuf_puts(b, any ? "," : "{");
    any = true;
    sbuf_printf(b, "%s=\"", extra_key);
    put_label_value(b, extra_value);
    sbuf_putc(b, '"');
  }
  if (any)
    sbuf_putc(b, '}');
}

void metrics_sample(sbuf_t *b, const char *name, const char *const *labels, const char *value) {
  put_series(b, name, labels, NULL, NULL);
  sbuf_printf(b, " %s\n", value);
}

void metrics_sample_u64(sbuf_t *b, const char *name, const char *const *labels, uint64_t v) {
  put_series(b, name, labels, NULL, NULL);
  sbuf_printf(b, " %" PRIu64 "\n", v);
}

void metrics_hist_write(sbuf_t *b, const char *name, const char *const *labels,
                        const metrics_hist_t *h) {
  char series[160];
  snprintf(series, sizeof series, "%s_bucket", name);
  uint64_t cum = 0;
  for (size_t i = 0; i < h->nbounds; i++) {
    cum += h->counts[i];
    put_series(b, series, labels, "le", h->bounds[i].le);
    sbuf_printf(b, " %" PRIu64 "\n", cum);
  }
  put_series(b, series, labels, "le", "+Inf");
  sbuf_printf(b, " %" PRIu64 "\n", h->count);
  snprintf(series, sizeof series, "%s_sum", name);
  put_series(b, series, labels, NULL, NULL);
  sbuf_printf(b, " %" PRIu64 ".%06" PRIu64 "\n", h->sum_us / 1000000, h->sum_us % 1000000);
  snprintf(series, sizeof series, "%s_count", name);
  metrics_sample_u64(b, series, labels, h->count);
}

/* ------------------------------------------------------------ rendering */

int metrics_counts_add(metrics_counts_t *m, const char *kind, const char *state, uint64_t n) {
  if (!strcmp(kind, "job")) {
    for (int s = 0; s < JOB_STATE_COUNT; s++)
      if (!strcmp(state, job_state_name((job_state_t)s)))
        return m->jobs[s] += n, 0;
  } else if (!strcmp(kind, "task")) {
    for (int s = 0; s < TASK_STATE_COUNT; s++)
      if (!strcmp(state, task_state_name((task_state_t)s)))
        return m->tasks[s] += n, 0;
  }
  return -1;
}

static void render_db(sbuf_t *b, const metrics_counts_t *db) {
  metrics_family(b, "clapper_metrics_db_ok", "gauge",
                 "1 when this answer's database read (jobs and tasks by state) answered, else 0 "
                 "and clapper_jobs and clapper_tasks are left out.");
  metrics_sample(b, "clapper_metrics_db_ok", NULL, db->ok ? "1" : "0");
  if (!db->ok)
    return;
  metrics_family(b, "clapper_jobs", "gauge",
                 "Jobs by state over all time, as committed (clapper jobs --all).");
  for (int s = 0; s < JOB_STATE_COUNT; s++) {
    const char *l[] = {"state", job_state_name((job_state_t)s), NULL};
    metrics_sample_u64(b, "clapper_jobs", l, db->jobs[s]);
  }
  metrics_family(b, "clapper_tasks", "gauge",
                 "Tasks by state over all time, as committed (the sum of the jobs' task counts).");
  for (int s = 0; s < TASK_STATE_COUNT; s++) {
    const char *l[] = {"state", task_state_name((task_state_t)s), NULL};
    metrics_sample_u64(b, "clapper_tasks", l, db->tasks[s]);
  }
}

/* Ready tasks per episode and priority: every epq the dispatch index made
 * (so a series stays, at 0, once its queue emptied), with the ready
 * counts of the jobs in memory. */
static void render_queue(sbuf_t *b, coord_t *c) {
  size_t ne = c->nepisodes;
  uint64_t *depth = xcalloc(ne ? ne * PRIORITY_LEVELS : 1, sizeof *depth);
  idmap_t idx = {0};
  for (size_t i = 0; i < ne; i++)
    idmap_put(&idx, (uint64_t)(uintptr_t)c->episodes[i], (void *)(uintptr_t)(i + 1));
  uint64_t key;
  void *val;
  for (size_t pos = 0; idmap_next(&c->jobs, &pos, &key, &val);) {
    const job_t *j = val;
    if (!j->ep || !j->counts[TASK_READY])
      continue;
    uintptr_t i = (uintptr_t)idmap_get(&idx, (uint64_t)(uintptr_t)j->ep);
    if (!i)
      continue;
    int p = j->spec->priority < PRIORITY_LEVELS ? (int)j->spec->priority : PRIORITY_LEVELS - 1;
    depth[(i - 1) * PRIORITY_LEVELS + (size_t)p] += j->counts[TASK_READY];
  }
  idmap_free(&idx);
  metrics_family(b, "clapper_queue_depth", "gauge",
                 "Ready tasks (waiting for a worker, or backing off before a retry) per episode "
                 "and priority.");
  for (size_t i = 0; i < ne; i++) {
    const episode_t *ep = c->episodes[i];
    for (int p = PRIORITY_LEVELS - 1; p >= 0; p--) {
      uint64_t d = depth[i * PRIORITY_LEVELS + (size_t)p];
      if (!d && !ep->prio[p])
        continue;
      char prio[8];
      snprintf(prio, sizeof prio, "%d", p);
      const char *l[] = {"episode", ep->key, "priority", prio, NULL};
      metrics_sample_u64(b, "clapper_queue_depth", l, d);
    }
  }
  free(depth);
}

typedef struct gpu_model {
  const char *model;
  uint64_t total, busy;
} gpu_model_t;

static bool worker_connected(const worker_t *w) {
  return w->state == WORKER_ONLINE || w->state == WORKER_DRAINING || w->state == WORKER_DEGRADED;
}

static void render_workers(sbuf_t *b, coord_t *c) {
  uint64_t by_state[WORKER_STATE_COUNT] = {0};
  gpu_model_t *models = NULL;
  size_t nmodels = 0, capmodels = 0;
  for (size_t i = 0; i < c->nworkers; i++) {
    const worker_t *w = c->workers[i];
    if (w->state < WORKER_STATE_COUNT)
      by_state[w->state]++;
    if (!worker_connected(w))
      continue;
    for (uint32_t g = 0; g < w->ngpus; g++) {
      const char *model = w->gpus[g].model ? w->gpus[g].model : "";
      size_t k = 0;
      while (k < nmodels && strcmp(models[k].model, model))
        k++;
      if (k == nmodels)
        ARRAY_PUSH(models, nmodels, capmodels, ((gpu_model_t){model, 0, 0}));
      models[k].total++;
      if (g < 64 && (w->gpu_busy & (1ull << g)))
        models[k].busy++;
    }
  }
  metrics_family(b, "clapper_workers", "gauge", "Known workers by state.");
  for (int s = 0; s < WORKER_STATE_COUNT; s++) {
    const char *l[] = {"state", worker_state_name((worker_state_t)s), NULL};
    metrics_sample_u64(b, "clapper_workers", l, by_state[s]);
  }
  metrics_family(b, "clapper_gpus", "gauge",
                 "GPUs of the connected workers (online, draining or degraded) per model.");
  for (size_t k = 0; k < nmodels; k++) {
    const char *l[] = {"model", models[k].model, NULL};
    metrics_sample_u64(b, "clapper_gpus", l, models[k].total);
  }
  metrics_family(b, "clapper_gpus_busy", "gauge",
                 "GPUs held by live attempts on the connected workers per model.");
  for (size_t k = 0; k < nmodels; k++) {
    const char *l[] = {"model", models[k].model, NULL};
    metrics_sample_u64(b, "clapper_gpus_busy", l, models[k].busy);
  }
  free(models);
}

static void money_sample(sbuf_t *b, const char *name, const char *const *labels, int64_t micros) {
  char text[40];
  money_format(micros, text, sizeof text);
  metrics_sample(b, name, labels, text);
}

static void render_budgets(sbuf_t *b, coord_t *c, int64_t now_us) {
  const char *cur = c->cfg.currency ? c->cfg.currency : "";
  metrics_family(b, "clapper_episode_spent", "gauge",
                 "Money spent per episode: the ledger's sum over its ended attempts, in units "
                 "of the currency.");
  for (size_t i = 0; i < c->nepisodes; i++) {
    const char *l[] = {"episode", c->episodes[i]->key, "currency", cur, NULL};
    money_sample(b, "clapper_episode_spent", l, c->episodes[i]->spent_micros);
  }
  metrics_family(b, "clapper_episode_running_cost", "gauge",
                 "What the running attempts of an episode have cost so far, in units of the "
                 "currency.");
  for (size_t i = 0; i < c->nepisodes; i++) {
    const char *l[] = {"episode", c->episodes[i]->key, "currency", cur, NULL};
    money_sample(b, "clapper_episode_running_cost", l, cost_running(c->episodes[i], now_us));
  }
  metrics_family(b, "clapper_episode_budget", "gauge",
                 "The budget of an episode that has one, in units of the currency.");
  for (size_t i = 0; i < c->nepisodes; i++) {
    const episode_t *ep = c->episodes[i];
    if (ep->budget_micros < 0)
      continue;
    const char *l[] = {"episode", ep->key, "currency", cur, NULL};
    money_sample(b, "clapper_episode_budget", l, ep->budget_micros);
  }
  metrics_family(b, "clapper_episode_budget_remaining", "gauge",
                 "Budget minus spent minus running cost, per episode that has a budget, in units "
                 "of the currency (negative when over).");
  for (size_t i = 0; i < c->nepisodes; i++) {
    const episode_t *ep = c->episodes[i];
    if (ep->budget_micros < 0)
      continue;
    const char *l[] = {"episode", ep->key, "currency", cur, NULL};
    money_sample(b, "clapper_episode_budget_remaining", l,
                 ep->budget_micros - ep->spent_micros - cost_running(ep, now_us));
  }
  metrics_family(b, "clapper_episode_held", "gauge",
                 "1 when an episode is over its budget and its work not started is held.");
  for (size_t i = 0; i < c->nepisodes; i++) {
    const char *l[] = {"episode", c->episodes[i]->key, NULL};
    metrics_sample(b, "clapper_episode_held", l, c->episodes[i]->over_budget ? "1" : "0");
  }
}

char *metrics_render(coord_t *c, const metrics_counts_t *db, int64_t now_us) {
  sbuf_t b = {0};
  const metrics_t *m = c->metrics;
  metrics_family(&b, "clapper_up", "gauge", "1: the coordinator answers (as the leader).");
  metrics_sample(&b, "clapper_up", NULL, "1");
  metrics_family(&b, "clapper_build_info", "gauge", "The coordinator's version, as a label.");
  const char *bl[] = {"version", CLAPPER_VERSION, NULL};
  metrics_sample(&b, "clapper_build_info", bl, "1");
  if (m) {
    metrics_family(&b, "clapper_start_time_seconds", "gauge",
                   "When the coordinator started, in seconds since the epoch.");
    sbuf_printf(&b, "clapper_start_time_seconds %" PRId64 ".%06" PRId64 "\n", m->start_us / 1000000,
                m->start_us % 1000000);
  }
  render_db(&b, db);
  render_queue(&b, c);
  render_workers(&b, c);
  render_budgets(&b, c, now_us);

  metrics_family(&b, "clapper_event_log_length", "gauge",
                 "Events in the chained event log as committed (the head's seq, clapper audit "
                 "--head).");
  metrics_sample_u64(&b, "clapper_event_log_length", NULL,
                     (uint64_t)(store_chain_head(c).seq > 0 ? store_chain_head(c).seq : 0));
  store_stats_t st = store_stats(c);
  metrics_family(&b, "clapper_store_batches_total", "counter",
                 "Batches of state changes committed since start.");
  metrics_sample_u64(&b, "clapper_store_batches_total", NULL, st.batches);
  metrics_family(&b, "clapper_store_rows_total", "counter",
                 "Rows those batches wrote since start.");
  metrics_sample_u64(&b, "clapper_store_rows_total", NULL, st.rows);

  if (m) {
    metrics_family(&b, "clapper_dispatch_latency_seconds", "histogram",
                   "From a task entering the ready index to the Assign of its attempt being "
                   "sent to the worker (queue wait, placement and commit).");
    metrics_hist_write(&b, "clapper_dispatch_latency_seconds", NULL, &m->dispatch);
    metrics_family(&b, "clapper_commit_latency_seconds", "histogram",
                   "From a batch of state changes being sent to PostgreSQL to its commit being "
                   "confirmed.");
    metrics_hist_write(&b, "clapper_commit_latency_seconds", NULL, &m->commit);
    metrics_family(&b, "clapper_results_total", "counter",
                   "Results received from workers since start, by what they did: the state the "
                   "attempt ended in, or ignored (late, duplicate or another worker's).");
    for (size_t i = ATTEMPT_SUCCEEDED; i <= RESULT_IGNORED; i++) {
      const char *l[] = {
          "result", i == RESULT_IGNORED ? "ignored" : attempt_state_name((attempt_state_t)i), NULL};
      metrics_sample_u64(&b, "clapper_results_total", l, m->results[i]);
    }
    metrics_family(&b, "clapper_http_requests_total", "counter",
                   "HTTP requests answered since start, by status code.");
    for (size_t i = 0; i < NBOUNDS(m->http); i++) {
      if (!m->http[i])
        continue;
      char code[8];
      if (i == NBOUNDS(m->http) - 1)
        snprintf(code, sizeof code, "other");
      else
        snprintf(code, sizeof code, "%zu", i + HTTP_STATUS_MIN);
      const char *l[] = {"code", code, NULL};
      metrics_sample_u64(&b, "clapper_http_requests_total", l, m->http[i]);
    }
  }
  return sbuf_steal(&b);
}

/* ------------------------------------------------------------ the route */

/* Jobs and tasks by state over all time, read the way `clapper jobs
 * --all` and `clapper job` show them (the jobs table's state and
 * task_counts, written with the job's row): a row per job state with its
 * count and, in a column named after each task state, the sum of the
 * jobs' counts of it.  One pass over the jobs table, a row per job (not
 * per task); extracting the nine keys is about twice as fast as
 * jsonb_each (docs/metrics.md has the figures). */
#define TASK_SUM(s) ", coalesce(sum((task_counts->>'" s "')::bigint), 0) AS " s
const char METRICS_SQL_COUNTS[] =
    "SELECT state, count(*) AS jobs" TASK_SUM("waiting") TASK_SUM("ready") TASK_SUM("dispatched")
        TASK_SUM("running") TASK_SUM("succeeded") TASK_SUM("failed") TASK_SUM("canceled")
            TASK_SUM("held") TASK_SUM("paused") " FROM jobs GROUP BY state";

/* A scrape waiting for its read. */
typedef struct scrape {
  coord_t *c;
  http_req_t *h;
  creq_t r; /* its place in the read pool (the identity's client) */
} scrape_t;

static void scrape_answer(scrape_t *s, const metrics_counts_t *db) {
  char *text = metrics_render(s->c, db, util_wall_us());
  http_reply(s->h, 200, METRICS_CONTENT_TYPE, text, strlen(text), NULL);
  free(text);
  reads_release(s->c, &s->r);
  free(s);
}

static void on_counts(void *arg, PGresult *const *res, size_t n, const char *error) {
  scrape_t *s = arg;
  metrics_counts_t db = {0};
  if (!error && n >= 1 && res[0] && PQresultStatus(res[0]) == PGRES_TUPLES_OK) {
    db.ok = true;
    const PGresult *r = res[0];
    for (int i = 0; i < PQntuples(r); i++) {
      if (metrics_counts_add(&db, "job", PQgetvalue(r, i, 0),
                             strtoull(PQgetvalue(r, i, 1), NULL, 10)) < 0)
        log_warn("metrics: unknown job state '%.40s' in the database: left out",
                 PQgetvalue(r, i, 0));
      for (int k = 2; k < PQnfields(r); k++)
        (void)metrics_counts_add(&db, "task", PQfname(r, k),
                                 strtoull(PQgetvalue(r, i, k), NULL, 10));
    }
  } else {
    static log_limit_t lim = LOG_LIMIT_INIT("metrics reads failed", 5);
    log_warn_limited(&lim,
                     "metrics: the read of jobs and tasks by state failed, answered "
                     "without them: %s",
                     error ? error : "no result");
  }
  scrape_answer(s, &db);
}

/* GET /metrics */
static void get_metrics(coord_t *c, http_req_t *h) {
  scrape_t *s = xcalloc(1, sizeof *s);
  s->c = c;
  s->h = h;
  /* Prometheus says how long it waits: the read gives up before that. */
  const char *t = http_header(h, "X-Prometheus-Scrape-Timeout-Seconds");
  char *end = NULL;
  double secs = t ? strtod(t, &end) : 0;
  if (t && end != t && secs >= 0.01 && secs <= 3600)
    s->r.wait_ms = (uint32_t)(secs * 1000 * 0.9);
  /* The person's client, as the API's reads name it (api.c). */
  char client[IDENT_MAX + 8], err[256];
  snprintf(client, sizeof client, "http:%s", http_ident(h)->name);
  if (!reads_admit(c, &s->r, client, err, sizeof err)) {
    http_reply_error(h, "busy", err);
    free(s);
    return;
  }
  pgq_t *q = pgq_new();
  pgq_add_prepared(q, "metrics_counts", METRICS_SQL_COUNTS, 0, NULL);
  reads_submit(c, &s->r, q, on_counts, s);
}

static const http_route_t ROUTES[] = {
    {"GET", "/metrics", get_metrics, 0},
};

void metrics_routes(coord_t *c) { http_add_routes(c, ROUTES, NBOUNDS(ROUTES)); }
