/*
 * store.c - group commit of dirty entities, see store.h.
 *
 * A batch is one pgq: per-row data travels as PostgreSQL array literals
 * (one per column) and is expanded with unnest, so the number of
 * statements does not grow with the number of rows.  Order inside the
 * batch respects the constraints: projects, episodes and shots before
 * jobs, workers before attempts, tasks before attempts, and attempt
 * updates (live -> ended) before attempt inserts, so that the "one live
 * attempt per task" index never sees two.
 */
#include "store.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dispatch.h"
#include "review.h"
#include "log.h"
#include "workers.h"

/* ------------------------------------------------------------ array literals */

/* One column of a batch as a PostgreSQL array literal "{1,2,NULL}". */
typedef struct col {
  sbuf_t b;
  size_t n;
} col_t;

static void col_sep(col_t *c) { sbuf_putc(&c->b, c->n++ ? ',' : '{'); }

static void col_i64(col_t *c, int64_t v) {
  char tmp[24], *p = tmp + sizeof tmp;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    *--p = '-';
  col_sep(c);
  sbuf_append(&c->b, p, (size_t)(tmp + sizeof tmp - p));
}

static void col_null(col_t *c) {
  col_sep(c);
  sbuf_append(&c->b, "NULL", 4);
}

/* A time in unix microseconds, 0 meaning unset. */
static void col_us(col_t *c, int64_t us) {
  if (us)
    col_i64(c, us);
  else
    col_null(c);
}

typedef struct action {
  store_commit_fn fn;
  void *arg;
} action_t;

typedef struct vec {
  void **items;
  size_t n, cap;
} vec_t;

static void vec_push(vec_t *v, void *p) {
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 256;
    v->items = xreallocarray(v->items, v->cap, sizeof *v->items);
  }
  v->items[v->n++] = p;
}

typedef struct batch {
  coord_t *c;
  uint64_t seq;
  action_t *actions;
  size_t nactions;
  vec_t free_attempts; /* ended attempts: release after the commit */
  vec_t free_jobs;     /* finished jobs: release after the commit */
  size_t rows;
} batch_t;

struct store {
  coord_t *c;
  uint64_t seq;          /* batch accumulating */
  bool pending;          /* something waits for a batch */
  vec_t jobs, tasks, attempts, workers;
  sbuf_t ev_at, ev_actor, ev_kind, ev_stype, ev_sid, ev_details;
  size_t nevents;
  struct col logs[3]; /* attempt id, position, data (bytea) */
  size_t nlogs;
  struct col ledger[13]; /* one row per ended attempt */
  size_t nledger;
  struct extra {
    const char *name, *sql;
    int nparams;
    char *params[8];
  } *extras;          /* one-off statements (store_stmt) */
  size_t nextras, capextras;
  action_t *actions;
  size_t nactions, capactions;
  batch_t *inflight;
  store_stats_t stats;
};

store_t *store_new(coord_t *c) {
  store_t *s = xcalloc(1, sizeof *s);
  s->c = c;
  s->seq = 1;
  return s;
}

static void batch_free(batch_t *b) {
  free(b->actions);
  free(b->free_attempts.items);
  free(b->free_jobs.items);
  free(b);
}

void store_free(store_t **sp) {
  store_t *s = *sp;
  if (!s)
    return;
  *sp = NULL;
  free(s->jobs.items);
  free(s->tasks.items);
  free(s->attempts.items);
  free(s->workers.items);
  sbuf_free(&s->ev_at);
  sbuf_free(&s->ev_actor);
  sbuf_free(&s->ev_kind);
  sbuf_free(&s->ev_stype);
  sbuf_free(&s->ev_sid);
  sbuf_free(&s->ev_details);
  for (int k = 0; k < 3; k++)
    sbuf_free(&s->logs[k].b);
  for (int k = 0; k < 13; k++)
    sbuf_free(&s->ledger[k].b);
  for (size_t i = 0; i < s->nextras; i++)
    for (int k = 0; k < s->extras[i].nparams; k++)
      free(s->extras[i].params[k]);
  free(s->extras);
  free(s->actions);
  if (s->inflight)
    batch_free(s->inflight);
  free(s);
}

void store_job(coord_t *c, job_t *j) {
  c->store->pending = true;
  if (!j->dirty) {
    j->dirty = true;
    vec_push(&c->store->jobs, j);
  }
}

void store_task(coord_t *c, task_t *t) {
  c->store->pending = true;
  if (!t->dirty) {
    t->dirty = true;
    vec_push(&c->store->tasks, t);
  }
}

void store_attempt(coord_t *c, attempt_t *a) {
  c->store->pending = true;
  if (!a->dirty) {
    a->dirty = true;
    vec_push(&c->store->attempts, a);
  }
}

void store_worker(coord_t *c, worker_t *w) {
  c->store->pending = true;
  if (!w->dirty) {
    w->dirty = true;
    vec_push(&c->store->workers, w);
  }
}

static void quote_into(sbuf_t *b, const char *s) {
  sbuf_putc(b, '"');
  for (const char *p = s; *p; p++) {
    if (*p == '"' || *p == '\\')
      sbuf_putc(b, '\\');
    sbuf_putc(b, *p);
  }
  sbuf_putc(b, '"');
}

static void col_text(col_t *c, const char *s) {
  col_sep(c);
  quote_into(&c->b, s ? s : "");
}

/* The literal; the caller owns it. */
static char *col_end(col_t *c) {
  if (!c->n)
    sbuf_putc(&c->b, '{');
  sbuf_putc(&c->b, '}');
  return sbuf_steal(&c->b);
}

/* bytea in hex, quoted for an array literal: "\\x0a1b..." */
static void col_bytea(col_t *c, const uint8_t *data, size_t len) {
  static const char hex[] = "0123456789abcdef";
  col_sep(c);
  sbuf_reserve(&c->b, 2 * len + 6);
  sbuf_append(&c->b, "\"\\\\x", 4);
  for (size_t i = 0; i < len; i++) {
    char two[2] = {hex[data[i] >> 4], hex[data[i] & 15]};
    sbuf_append(&c->b, two, 2);
  }
  sbuf_putc(&c->b, '"');
}

void store_ledger(coord_t *c, const attempt_t *a, uint64_t wall_us, const char *gpu_models,
                  int64_t gpu_rate, int64_t cpu_rate, int64_t amount) {
  store_t *s = c->store;
  col_t *x = s->ledger;
  col_i64(&x[0], (int64_t)a->id);
  col_i64(&x[1], (int64_t)a->task->job->id);
  col_text(&x[2], attempt_state_name((attempt_state_t)a->state));
  col_us(&x[3], a->started_us);
  col_i64(&x[4], a->ended_us);
  col_i64(&x[5], (int64_t)wall_us);
  col_i64(&x[6], __builtin_popcountll(a->gpu_mask));
  col_i64(&x[7], a->cpus);
  col_text(&x[8], gpu_models ? gpu_models : "");
  col_i64(&x[9], gpu_rate);
  col_i64(&x[10], cpu_rate);
  col_i64(&x[11], amount);
  col_i64(&x[12], (int64_t)(a->gpu_energy_mj > INT64_MAX ? 0 : a->gpu_energy_mj));
  s->nledger++;
  s->pending = true;
}

void store_log(coord_t *c, uint64_t attempt_id, uint64_t pos, const uint8_t *data, size_t len) {
  store_t *s = c->store;
  col_i64(&s->logs[0], (int64_t)attempt_id);
  col_i64(&s->logs[1], (int64_t)pos);
  col_bytea(&s->logs[2], data, len);
  s->nlogs++;
  s->pending = true;
}

/* ------------------------------------------------------------ statements */

static const char SQL_PROJECT[] =
    "INSERT INTO projects (name) VALUES ($1) ON CONFLICT (name) DO NOTHING";
static const char SQL_EPISODE[] =
    "INSERT INTO episodes (project_id, name) SELECT id, $2 FROM projects WHERE name = $1 "
    "ON CONFLICT (project_id, name) DO NOTHING";
static const char SQL_SHOT[] =
    "INSERT INTO shots (episode_id, name) SELECT e.id, $3 FROM episodes e "
    "JOIN projects p ON p.id = e.project_id WHERE p.name = $1 AND e.name = $2 "
    "ON CONFLICT (episode_id, name) DO NOTHING";
static const char SQL_JOB_INSERT[] =
    "INSERT INTO jobs (id, episode_id, shot_id, name, kind, state, priority, max_attempts, "
    "max_lost, retry_backoff_s, timeout_s, seed, requires, provenance, spec, output_dir, "
    "ntasks, task_counts, reason, submitted_by, submitted_at, started_at, finished_at, "
    "retake_of, gate_root, approved_output) "
    "SELECT $3, e.id, (SELECT s.id FROM shots s WHERE s.episode_id = e.id AND s.name = $4), "
    "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15::jsonb, $16::jsonb, $17, $18, "
    "$19::jsonb, $20, $21, clapper_ts($22), clapper_ts($23), clapper_ts($24), $25, $26, $27 "
    "FROM episodes e JOIN projects p ON p.id = e.project_id WHERE p.name = $1 AND e.name = $2";
static const char SQL_JOB_UPDATE[] =
    "UPDATE jobs j SET state = u.state, task_counts = u.counts::jsonb, reason = u.reason, "
    "started_at = clapper_ts(u.started), finished_at = clapper_ts(u.finished), "
    "approved_output = u.approved, updated_at = now() "
    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], "
    "$6::bigint[], $7::text[]) AS u(id, state, counts, reason, started, finished, approved) "
    "WHERE j.id = u.id";
static const char SQL_WORKER_UPSERT[] =
    "INSERT INTO workers (name, hostname, state, cpus, memory_mb, gpus, tags, version, "
    "last_seen, drained) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::text[], $8, "
    "clapper_ts($9), $10) "
    "ON CONFLICT (name) DO UPDATE SET hostname = EXCLUDED.hostname, state = EXCLUDED.state, "
    "cpus = EXCLUDED.cpus, memory_mb = EXCLUDED.memory_mb, gpus = EXCLUDED.gpus, "
    "tags = EXCLUDED.tags, version = EXCLUDED.version, last_seen = EXCLUDED.last_seen, "
    "drained = EXCLUDED.drained";
static const char SQL_TASK_INSERT[] =
    "INSERT INTO tasks (id, job_id, seq, state, frame_start, frame_end, frame_step, take, "
    "seed, failures, losses, not_before) "
    "SELECT u.id, u.job_id, u.seq, u.state, u.fs, u.fe, u.step, u.take, u.seed, u.failures, "
    "u.losses, clapper_ts(u.nb) "
    "FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::bigint[], "
    "$6::bigint[], $7::bigint[], $8::int[], $9::bigint[], $10::int[], $11::int[], "
    "$12::bigint[]) AS u(id, job_id, seq, state, fs, fe, step, take, seed, failures, losses, "
    "nb)";
static const char SQL_TASK_UPDATE[] =
    "UPDATE tasks t SET state = u.state, failures = u.failures, losses = u.losses, "
    "not_before = clapper_ts(u.nb), updated_at = now() "
    "FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[], $5::bigint[]) "
    "AS u(id, state, failures, losses, nb) WHERE t.id = u.id";
static const char SQL_ATTEMPT_UPDATE[] =
    "UPDATE attempts a SET state = u.state, started_at = clapper_ts(u.started), "
    "ended_at = clapper_ts(u.ended), exit_code = u.exit_code, term_signal = u.term_signal, "
    "wall_us = u.wall_us, cpu_us = u.cpu_us, max_rss_kb = u.rss, gpu_energy_mj = u.energy, "
    "error = u.error, outputs = u.outputs::jsonb, log_bytes = u.log_bytes, "
    "log_truncated = u.log_truncated, recorded_at = clapper_ts(u.recorded) "
    "FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], $6::int[], "
    "$7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], "
    "$13::bigint[], $14::boolean[], $15::bigint[]) "
    "AS u(id, state, started, ended, exit_code, term_signal, wall_us, cpu_us, rss, energy, "
    "error, outputs, log_bytes, log_truncated, recorded) WHERE a.id = u.id";
static const char SQL_ATTEMPT_INSERT[] =
    "INSERT INTO attempts (id, task_id, worker, state, gpus, cpus, memory_mb, dispatched_at, "
    "started_at, ended_at, exit_code, term_signal, wall_us, cpu_us, max_rss_kb, "
    "gpu_energy_mj, error, outputs, log_bytes, log_truncated, recorded_at) "
    "SELECT u.id, u.task_id, u.worker, u.state, u.gpus::int[], u.cpus, u.mem, "
    "clapper_ts(u.disp), clapper_ts(u.started), clapper_ts(u.ended), u.exit_code, "
    "u.term_signal, u.wall_us, u.cpu_us, u.rss, u.energy, u.error, u.outputs::jsonb, "
    "u.log_bytes, u.log_truncated, clapper_ts(u.recorded) "
    "FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::int[], "
    "$7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::int[], $12::int[], "
    "$13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::text[], $18::text[], "
    "$19::bigint[], $20::boolean[], $21::bigint[]) "
    "AS u(id, task_id, worker, state, gpus, cpus, mem, disp, started, ended, exit_code, "
    "term_signal, wall_us, cpu_us, rss, energy, error, outputs, log_bytes, log_truncated, "
    "recorded)";
static const char SQL_LOGS[] =
    "INSERT INTO attempt_logs (attempt_id, pos, data) "
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) "
    "ON CONFLICT (attempt_id, pos) DO NOTHING";
static const char SQL_LEDGER[] =
    "INSERT INTO ledger (attempt_id, job_id, episode_id, state, started_at, ended_at, wall_us, "
    "gpus, cpus, gpu_model, gpu_micros_per_hour, cpu_micros_per_hour, amount_micros, energy_mj) "
    "SELECT u.a, u.j, j.episode_id, u.state, clapper_ts(u.s), clapper_ts(u.e), u.w, u.g, u.c, "
    "u.m, u.gr, u.cr, u.amount, u.energy "
    "FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], "
    "$6::bigint[], $7::int[], $8::int[], $9::text[], $10::bigint[], $11::bigint[], "
    "$12::bigint[], $13::bigint[]) "
    "AS u(a, j, state, s, e, w, g, c, m, gr, cr, amount, energy) JOIN jobs j ON j.id = u.j";
static const char SQL_DEPS[] =
    "INSERT INTO job_deps (job_id, depends_on, kind) "
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]) ON CONFLICT DO NOTHING";
static const char SQL_EVENTS[] =
    "INSERT INTO events (at, actor, kind, subject_type, subject_id, details) "
    "SELECT clapper_ts(u.at), u.actor, u.kind, u.stype, u.sid, u.details::jsonb "
    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) "
    "AS u(at, actor, kind, stype, sid, details)";

/* Statements of every batch are prepared once per connection. */
#define PGQ_ADD(q, sql, n, params) pgq_add_prepared(q, #sql, sql, n, params)

void store_event(coord_t *c, const char *actor, const char *kind, const char *subject_type,
                 const char *subject_id, const char *details_json) {
  store_t *s = c->store;
  const char *sep = s->nevents ? "," : "";
  sbuf_printf(&s->ev_at, "%s%" PRId64, sep, util_wall_us());
  sbuf_puts(&s->ev_actor, sep);
  quote_into(&s->ev_actor, actor);
  sbuf_puts(&s->ev_kind, sep);
  quote_into(&s->ev_kind, kind);
  sbuf_puts(&s->ev_stype, sep);
  quote_into(&s->ev_stype, subject_type);
  sbuf_puts(&s->ev_sid, sep);
  quote_into(&s->ev_sid, subject_id);
  sbuf_puts(&s->ev_details, sep);
  quote_into(&s->ev_details, details_json ? details_json : "{}");
  s->nevents++;
  s->pending = true;
}

static char *wrap(sbuf_t *b) {
  sbuf_t out = {0};
  sbuf_putc(&out, '{');
  if (b->len)
    sbuf_append(&out, b->buf, b->len);
  sbuf_putc(&out, '}');
  sbuf_reset(b);
  return sbuf_steal(&out);
}

static char *i64s(int64_t v) { return xasprintf("%" PRId64, v); }

/* The task counts of a job as a JSON object text. */
static char *counts_json(const job_t *j) {
  sbuf_t b = {0};
  sbuf_putc(&b, '{');
  for (int i = 0; i < TASK_STATE_COUNT; i++)
    sbuf_printf(&b, "%s\"%s\":%u", i ? "," : "", task_state_name((task_state_t)i),
                j->counts[i]);
  sbuf_putc(&b, '}');
  return sbuf_steal(&b);
}

static char *requires_json(const jf_requires_t *r) {
  json_t *tags = json_array();
  for (size_t i = 0; i < r->ntags; i++)
    json_array_append_new(tags, json_string(r->tags[i]));
  json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:o}", "gpus", (json_int_t)r->gpus, "gpu_memory_mb",
                        (json_int_t)r->gpu_memory_mb, "cpus", (json_int_t)r->cpus,
                        "memory_mb", (json_int_t)r->memory_mb, "tags", tags);
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return text;
}

static void add_new_job(pgq_t *q, const job_t *j, const job_t *prev) {
  const jf_job_t *sp = j->spec;
  /* Consecutive jobs of one submission share project and episode. */
  bool same_ep = prev && prev->src == j->src;
  if (!same_ep) {
    char *p1[] = {xstrdup(j->project)};
    PGQ_ADD(q, SQL_PROJECT, 1, p1);
    char *p2[] = {xstrdup(j->project), xstrdup(j->episode)};
    PGQ_ADD(q, SQL_EPISODE, 2, p2);
  }
  if (sp->shot && !(same_ep && prev->spec->shot && !strcmp(prev->spec->shot, sp->shot))) {
    char *p3[] = {xstrdup(j->project), xstrdup(j->episode), xstrdup(sp->shot)};
    PGQ_ADD(q, SQL_SHOT, 3, p3);
  }
  /* A job is usually dispatched, and may even finish, within the batch
   * that creates it: its times go in with the row. */
  char *p[27] = {
      xstrdup(j->project),
      xstrdup(j->episode),
      i64s((int64_t)j->id),
      sp->shot ? xstrdup(sp->shot) : NULL,
      xstrdup(sp->name),
      xstrdup(job_kind_name(sp->kind)),
      xstrdup(job_state_name((job_state_t)j->state)),
      i64s(sp->priority),
      i64s(sp->max_attempts),
      i64s(sp->max_lost),
      i64s(sp->retry_backoff_s),
      i64s(sp->timeout_s),
      i64s(sp->seed),
      requires_json(&sp->req),
      xstrdup(sp->provenance_json),
      xstrdup(sp->spec_json),
      xstrdup(j->output_dir),
      i64s(j->ntasks),
      counts_json(j),
      xstrdup(j->reason),
      xstrdup(j->submitted_by),
      i64s(j->submitted_us),
      j->started_us ? i64s(j->started_us) : NULL,
      j->finished_us ? i64s(j->finished_us) : NULL,
      j->retake_of ? i64s((int64_t)j->retake_of) : NULL,
      j->gate_root && j->gate_root != j->id ? i64s((int64_t)j->gate_root) : NULL,
      j->approved_output ? xstrdup(j->approved_output) : NULL,
  };
  PGQ_ADD(q, SQL_JOB_INSERT, 27, p);
}

static void add_worker(pgq_t *q, const worker_t *w) {
  json_t *gpus = json_array();
  for (uint32_t i = 0; i < w->ngpus; i++)
    json_array_append_new(gpus, json_pack("{s:I,s:s,s:s,s:I}", "index",
                                          (json_int_t)w->gpus[i].index, "uuid",
                                          w->gpus[i].uuid, "model", w->gpus[i].model,
                                          "memory_mb", (json_int_t)w->gpus[i].memory_mb));
  char *gj = json_dumps(gpus, JSON_COMPACT);
  json_decref(gpus);
  col_t tags = {0};
  for (size_t i = 0; i < w->ntags; i++)
    col_text(&tags, w->tags[i]);
  char *p[10] = {xstrdup(w->name),
                xstrdup(w->hostname ? w->hostname : ""),
                xstrdup(worker_state_name((worker_state_t)w->state)),
                i64s(w->cpus),
                i64s((int64_t)w->memory_mb),
                gj,
                col_end(&tags),
                xstrdup(w->version ? w->version : ""),
                i64s(w->last_seen_us ? w->last_seen_us : util_wall_us()),
                xstrdup(w->drained ? "t" : "f")};
  PGQ_ADD(q, SQL_WORKER_UPSERT, 10, p);
}

static void gpu_list(const attempt_t *a, sbuf_t *b) {
  sbuf_reset(b);
  sbuf_putc(b, '{');
  bool first = true;
  for (uint32_t i = 0; i < a->worker->ngpus && i < 64; i++) {
    if (a->gpu_mask & (1ull << i)) {
      sbuf_printf(b, "%s%u", first ? "" : ",", a->worker->gpus[i].index);
      first = false;
    }
  }
  sbuf_putc(b, '}');
}

/* Adds a statement whose parameters are the n columns (when there are
 * rows), or releases the columns (when there are none). */
static void add_cols(pgq_t *q, const char *name, const char *sql, col_t *cols, int n,
                     size_t rows) {
  if (!rows) {
    for (int k = 0; k < n; k++)
      sbuf_free(&cols[k].b);
    return;
  }
  char *p[24];
  for (int k = 0; k < n; k++)
    p[k] = col_end(&cols[k]);
  pgq_add_prepared(q, name, sql, n, p);
}
#define ADD_COLS(q, sql, cols, rows) \
  add_cols(q, #sql, sql, cols, (int)ARRAY_SIZE(cols), rows)

static void col_bool(col_t *c, bool v) {
  col_sep(c);
  sbuf_putc(&c->b, v ? 't' : 'f');
}

static void build(coord_t *c, pgq_t *q, batch_t *b) {
  store_t *s = c->store;

  /* Jobs: new ones first (with their project, episode and shot), and the
   * dependencies of new jobs. */
  const job_t *prev = NULL;
  col_t ju[7] = {0}, jd[3] = {0};
  size_t nju = 0, njd = 0;
  for (size_t i = 0; i < s->jobs.n; i++) {
    job_t *j = s->jobs.items[i];
    j->dirty = false;
    if (!j->persisted) {
      add_new_job(q, j, prev);
      prev = j;
      j->persisted = true;
    } else {
      char *cj = counts_json(j);
      col_i64(&ju[0], (int64_t)j->id);
      col_text(&ju[1], job_state_name((job_state_t)j->state));
      col_text(&ju[2], cj);
      col_text(&ju[3], j->reason);
      col_us(&ju[4], j->started_us);
      col_us(&ju[5], j->finished_us);
      if (j->approved_output)
        col_text(&ju[6], j->approved_output);
      else
        col_null(&ju[6]);
      free(cj);
      nju++;
    }
    if (j->deps_new) {
      for (size_t k = 0; k < j->ndeps; k++, njd++) {
        col_i64(&jd[0], (int64_t)j->id);
        col_i64(&jd[1], (int64_t)j->deps[k]);
        col_text(&jd[2], "after");
      }
      for (size_t k = 0; k < j->ngates; k++, njd++) {
        col_i64(&jd[0], (int64_t)j->id);
        col_i64(&jd[1], (int64_t)j->approvals[k]);
        col_text(&jd[2], "after_approval");
      }
      j->deps_new = false;
    }
    if ((j->state == JOB_SUCCEEDED || j->state == JOB_CANCELED) &&
        j->counts[TASK_SUCCEEDED] + j->counts[TASK_CANCELED] + j->counts[TASK_FAILED] ==
            j->ntasks)
      vec_push(&b->free_jobs, j);
    b->rows++;
  }
  s->jobs.n = 0;

  for (size_t i = 0; i < s->workers.n; i++) {
    worker_t *w = s->workers.items[i];
    w->dirty = false;
    w->persisted = true;
    add_worker(q, w);
    b->rows++;
  }
  s->workers.n = 0;
  ADD_COLS(q, SQL_JOB_UPDATE, ju, nju);
  ADD_COLS(q, SQL_DEPS, jd, njd);

  /* Tasks. */
  col_t ti[12] = {0}, tu[5] = {0};
  size_t nti = 0, ntu = 0;
  for (size_t i = 0; i < s->tasks.n; i++) {
    task_t *t = s->tasks.items[i];
    t->dirty = false;
    const char *st = task_state_name((task_state_t)t->state);
    if (!t->persisted) {
      t->persisted = true;
      col_i64(&ti[0], (int64_t)t->id);
      col_i64(&ti[1], (int64_t)t->job->id);
      col_i64(&ti[2], t->seq);
      col_text(&ti[3], st);
      if (t->job->spec->has_frames) {
        col_i64(&ti[4], t->spec.frame_start);
        col_i64(&ti[5], t->spec.frame_end);
        col_i64(&ti[6], t->spec.frame_step);
      } else {
        col_null(&ti[4]);
        col_null(&ti[5]);
        col_null(&ti[6]);
      }
      if (t->spec.take)
        col_i64(&ti[7], t->spec.take);
      else
        col_null(&ti[7]);
      col_i64(&ti[8], t->spec.seed);
      col_i64(&ti[9], t->failures);
      col_i64(&ti[10], t->losses);
      col_us(&ti[11], t->not_before_us);
      nti++;
    } else {
      col_i64(&tu[0], (int64_t)t->id);
      col_text(&tu[1], st);
      col_i64(&tu[2], t->failures);
      col_i64(&tu[3], t->losses);
      col_us(&tu[4], t->not_before_us);
      ntu++;
    }
    b->rows++;
  }
  s->tasks.n = 0;
  ADD_COLS(q, SQL_TASK_INSERT, ti, nti);
  ADD_COLS(q, SQL_TASK_UPDATE, tu, ntu);

  /* Attempts: updates (which end live attempts) before inserts. */
  col_t au[15] = {0}, ai[21] = {0};
  size_t nau = 0, nai = 0;
  sbuf_t gl = {0};
  for (size_t i = 0; i < s->attempts.n; i++) {
    attempt_t *a = s->attempts.items[i];
    a->dirty = false;
    const char *st = attempt_state_name((attempt_state_t)a->state);
    col_t *x;
    if (a->persisted) {
      x = au;
      col_i64(&x[0], (int64_t)a->id);
      col_text(&x[1], st);
      x += 2; /* shared tail below starts at started */
      nau++;
    } else {
      a->persisted = true;
      x = ai;
      gpu_list(a, &gl);
      col_i64(&x[0], (int64_t)a->id);
      col_i64(&x[1], (int64_t)a->task->id);
      col_text(&x[2], a->worker->name);
      col_text(&x[3], st);
      col_text(&x[4], gl.buf);
      col_i64(&x[5], a->cpus);
      col_i64(&x[6], (int64_t)a->memory_mb);
      col_i64(&x[7], a->dispatched_us);
      x += 8;
      nai++;
    }
    /* started, ended, exit_code, term_signal, wall, cpu, rss, energy,
     * error, outputs, log_bytes, log_truncated */
    col_us(&x[0], a->started_us);
    col_us(&x[1], attempt_state_live((attempt_state_t)a->state) ? 0 : a->ended_us);
    if (a->has_exit) {
      col_i64(&x[2], a->exit_code);
      col_i64(&x[3], a->term_signal);
      col_i64(&x[4], (int64_t)a->wall_us);
      col_i64(&x[5], (int64_t)a->cpu_us);
      col_i64(&x[6], (int64_t)a->max_rss_kb);
      col_i64(&x[7], (int64_t)a->gpu_energy_mj);
    } else {
      for (int k = 2; k < 8; k++)
        col_null(&x[k]);
    }
    col_text(&x[8], a->error ? a->error : "");
    col_text(&x[9], a->outputs_json ? a->outputs_json : "[]");
    col_i64(&x[10], (int64_t)a->log_next);
    col_bool(&x[11], a->log_truncated);
    col_us(&x[12], attempt_state_live((attempt_state_t)a->state) ? 0 : a->recorded_us);
    if (!attempt_state_live((attempt_state_t)a->state))
      vec_push(&b->free_attempts, a);
    b->rows++;
  }
  sbuf_free(&gl);
  s->attempts.n = 0;
  ADD_COLS(q, SQL_ATTEMPT_UPDATE, au, nau);
  ADD_COLS(q, SQL_ATTEMPT_INSERT, ai, nai);

  /* The ledger and log pieces after their attempts. */
  b->rows += s->nledger;
  ADD_COLS(q, SQL_LEDGER, s->ledger, s->nledger);
  memset(s->ledger, 0, sizeof s->ledger);
  s->nledger = 0;
  b->rows += s->nlogs;
  ADD_COLS(q, SQL_LOGS, s->logs, s->nlogs);
  memset(s->logs, 0, sizeof s->logs);
  s->nlogs = 0;

  for (size_t i = 0; i < s->nextras; i++)
    pgq_add_prepared(q, s->extras[i].name, s->extras[i].sql, s->extras[i].nparams,
                     s->extras[i].params);
  b->rows += s->nextras;
  s->nextras = 0;

  if (s->nevents) {
    char *p[6] = {wrap(&s->ev_at),    wrap(&s->ev_actor), wrap(&s->ev_kind),
                  wrap(&s->ev_stype), wrap(&s->ev_sid),   wrap(&s->ev_details)};
    PGQ_ADD(q, SQL_EVENTS, 6, p);
    b->rows += s->nevents;
    s->nevents = 0;
  }
}

static void on_committed(void *arg, PGresult *const *results, size_t n, const char *error) {
  batch_t *b = arg;
  coord_t *c = b->c;
  store_t *s = c->store;
  (void)results;
  (void)n;
  if (error) {
    /* Crash-only: memory is ahead of the database; restart and recover
     * from what did commit. */
    log_error("batch %" PRIu64 " (%zu rows) failed, exiting: %s", b->seq, b->rows, error);
    _exit(1);
  }
  s->inflight = NULL;
  s->stats.batches++;
  s->stats.rows += b->rows;
  for (size_t i = 0; i < b->nactions; i++)
    b->actions[i].fn(c, b->actions[i].arg);
  workers_send_outbox(c, b->seq);
  for (size_t i = 0; i < b->free_attempts.n; i++) {
    attempt_t *a = b->free_attempts.items[i];
    if (a->dirty)
      continue; /* cannot happen for an ended attempt; keep it safe */
    idmap_del(&c->attempts, a->id);
    attempt_free(a);
  }
  for (size_t i = 0; i < b->free_jobs.n; i++) {
    job_t *j = b->free_jobs.items[i];
    if (j->dirty || idmap_get(&c->jobs, j->id) != j)
      continue;
    idmap_del(&c->jobs, j->id);
    dispatch_forget_job(c, j);
    review_forget_job(c, j);
    job_free(j);
  }
  batch_free(b);
  store_flush(c);
}

void store_flush(coord_t *c) {
  store_t *s = c->store;
  if (s->inflight || !s->pending)
    return;
  batch_t *b = xcalloc(1, sizeof *b);
  b->c = c;
  b->seq = s->seq++;
  b->actions = s->actions;
  b->nactions = s->nactions;
  s->actions = NULL;
  s->nactions = s->capactions = 0;
  pgq_t *q = pgq_new();
  build(c, q, b);
  s->pending = false;
  s->inflight = b;
  pgconn_submit(c->wdb, q, on_committed, b);
}

void store_stmt(coord_t *c, const char *name, const char *sql, int nparams, char **params) {
  store_t *s = c->store;
  if (s->nextras == s->capextras) {
    s->capextras = s->capextras ? s->capextras * 2 : 4;
    s->extras = xreallocarray(s->extras, s->capextras, sizeof *s->extras);
  }
  struct extra *e = &s->extras[s->nextras++];
  e->name = name;
  e->sql = sql;
  e->nparams = nparams < 8 ? nparams : 8;
  for (int k = 0; k < e->nparams; k++)
    e->params[k] = params[k];
  s->pending = true;
}

void store_on_commit(coord_t *c, store_commit_fn fn, void *arg) {
  store_t *s = c->store;
  if (s->nactions == s->capactions) {
    s->capactions = s->capactions ? s->capactions * 2 : 16;
    s->actions = xreallocarray(s->actions, s->capactions, sizeof *s->actions);
  }
  s->actions[s->nactions++] = (action_t){fn, arg};
  s->pending = true;
}

uint64_t store_seq(const coord_t *c) { return c->store->seq; }

void store_kick(coord_t *c) { c->store->pending = true; }

bool store_idle(const coord_t *c) { return !c->store->pending && !c->store->inflight; }

store_stats_t store_stats(const coord_t *c) { return c->store->stats; }
