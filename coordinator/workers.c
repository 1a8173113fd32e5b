/*
 * workers.c - worker registry, worker protocol, leases and outboxes; see
 * workers.h.
 */
#include "workers.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "auth.h"
#include "cost.h"
#include "dispatch.h"
#include "limit.h"
#include "input.h"
#include "log.h"
#include "metrics.h"
#include "query.h"
#include "store.h"
#include "template.h"

/* Bounds on what a worker may claim about itself. */
#define MAX_CPUS 65536u
#define MAX_MEMORY_MB (1ull << 40)
#define MAX_GPUS 64u
#define MAX_GPU_MEMORY_MB (1ull << 30)
#define MAX_TAGS 64u
#define MAX_LIST 1000000u
#define MAX_ERROR 1024u
#define MAX_OUTPUTS 4096u
#define ASSIGN_CHUNK 512 /* tasks per Assign message */
/* An Assign is sent once its tasks reach this many bytes: {frame} makes a
 * task's arguments and outputs grow with its chunk, and a worker drops a
 * message over CODEC_MAX_WORKER_MSG. */
#define ASSIGN_BYTES ((size_t)8 << 20)
#define MAX_LOG_CHUNK (64u << 10)
#define CLOCK_SKEW_US INT64_C(5000000) /* a worker's clock may be this far off */

static uint64_t ident_hash(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h ? h : 1;
}

static worker_t *by_ident(coord_t *c, const uint8_t *ident, size_t n) {
  worker_t *w = idmap_get(&c->by_ident, ident_hash(ident, n));
  if (w && w->identlen == n && !memcmp(w->ident, ident, n))
    return w;
  return NULL;
}

worker_t *workers_find(coord_t *c, const char *name) {
  for (size_t i = 0; i < c->nworkers; i++)
    if (!strcmp(c->workers[i]->name, name))
      return c->workers[i];
  return NULL;
}

worker_t *workers_add(coord_t *c, const char *name) {
  worker_t *w = xcalloc(1, sizeof *w);
  w->name = xstrdup(name);
  w->state = WORKER_OFFLINE;
  ARRAY_PUSH(c->workers, c->nworkers, c->capworkers, w);
  return w;
}

/* ------------------------------------------------------------ resources */

/* Takes a's share of w's capacity, never below zero. */
static void hold(worker_t *w, const attempt_t *a) {
  w->cpus_free -= a->cpus < w->cpus_free ? a->cpus : w->cpus_free;
  w->mem_free -= a->memory_mb < w->mem_free ? a->memory_mb : w->mem_free;
  w->gpu_busy |= a->gpu_mask;
}

void workers_attach(worker_t *w, attempt_t *a) {
  a->worker = w;
  a->wprev = NULL;
  a->wnext = w->live;
  if (w->live)
    w->live->wprev = a;
  w->live = a;
  w->nlive++;
  hold(w, a);
}

void workers_detach(worker_t *w, attempt_t *a) {
  w->cpus_free += a->cpus;
  if (w->cpus_free > w->cpus)
    w->cpus_free = w->cpus;
  w->mem_free += a->memory_mb;
  if (w->mem_free > w->memory_mb)
    w->mem_free = w->memory_mb;
  w->gpu_busy &= ~a->gpu_mask;
  if (a->wprev)
    a->wprev->wnext = a->wnext;
  else
    w->live = a->wnext;
  if (a->wnext)
    a->wnext->wprev = a->wprev;
  a->wprev = a->wnext = NULL;
  w->nlive--;
}

/* Free resources from scratch: the capacity less what live attempts hold
 * (after a hello changed the capacity). */
static void recount(worker_t *w) {
  w->cpus_free = w->cpus;
  w->mem_free = w->memory_mb;
  w->gpu_busy = 0;
  for (attempt_t *a = w->live; a; a = a->wnext)
    hold(w, a);
}

static void free_gpus(worker_t *w) {
  for (uint32_t i = 0; i < w->ngpus; i++) {
    free(w->gpus[i].uuid);
    free(w->gpus[i].model);
  }
  free(w->gpus);
  w->gpus = NULL;
  w->ngpus = 0;
}

static void free_tags(worker_t *w) {
  for (size_t i = 0; i < w->ntags; i++)
    free(w->tags[i]);
  free(w->tags);
  w->tags = NULL;
  w->ntags = 0;
}

void workers_free_all(coord_t *c) {
  for (size_t i = 0; i < c->nworkers; i++) {
    worker_t *w = c->workers[i];
    free(w->name);
    free(w->hostname);
    free(w->version);
    free(w->workdir);
    free(w->degraded);
    free_gpus(w);
    free_tags(w);
    free(w->out);
    free(w->welcome_cancel);
    free(w);
  }
  free(c->workers);
  c->workers = NULL;
  c->nworkers = c->capworkers = 0;
  free(c->touched);
  c->touched = NULL;
  c->ntouched = c->captouched = 0;
  idmap_free(&c->by_ident);
}

void worker_set_state(coord_t *c, worker_t *w, worker_state_t to, const char *reason) {
  if (w->state == to)
    return;
  worker_state_t from = (worker_state_t)w->state;
  w->state = (uint8_t)to;
  store_worker(c, w);
  json_t *d = json_pack("{s:s,s:s,s:s}", "from", worker_state_name(from), "to",
                        worker_state_name(to), "reason", reason ? reason : "");
  char *dj = json_dumps(d, JSON_COMPACT);
  store_event(c, "coordinator", "worker.state", "worker", w->name, dj);
  free(dj);
  json_decref(d);
  log_info("worker %s: %s -> %s%s%s", w->name, worker_state_name(from), worker_state_name(to),
           reason && *reason ? ": " : "", reason ? reason : "");
  dispatch_farm_changed(c);
}

/* Connected and within its lease: online, draining or degraded. */
static bool serving(const worker_t *w) {
  return w->state == WORKER_ONLINE || w->state == WORKER_DRAINING ||
         w->state == WORKER_DEGRADED;
}

/* What a connected worker is, as its health, the operator's drain and its
 * own drain say (in that order). */
static worker_state_t settled_state(const worker_t *w) {
  if (w->degraded)
    return WORKER_DEGRADED;
  return w->drained || w->self_draining ? WORKER_DRAINING : WORKER_ONLINE;
}

/* Online, draining or degraded, as settled_state says; reason is logged
 * with the transition (a degraded worker's own reason wins). */
static void settle_drain(coord_t *c, worker_t *w, const char *reason) {
  if (!serving(w))
    return;
  worker_state_t to = settled_state(w);
  worker_set_state(c, w, to, to == WORKER_DEGRADED ? w->degraded : reason);
}

/* Keeps what the worker says of its health: why it takes no work (NULL or
 * empty: healthy).  Returns true when that changed. */
static bool note_health(worker_t *w, const char *why) {
  if (!why || !*why) {
    if (!w->degraded)
      return false;
    free(w->degraded);
    w->degraded = NULL;
    return true;
  }
  char *clean = input_clean(why, MAX_ERROR);
  if (w->degraded && !strcmp(w->degraded, clean)) {
    free(clean);
    return false;
  }
  free(w->degraded);
  w->degraded = clean;
  return true;
}

void workers_drain(coord_t *c, worker_t *w, bool on, const char *actor) {
  if (w->drained != on) {
    w->drained = on;
    store_worker(c, w);
    json_t *d = json_pack("{s:b}", "drained", on);
    char *dj = json_dumps(d, JSON_COMPACT);
    store_event(c, actor, on ? "worker.drain" : "worker.undrain", "worker", w->name, dj);
    free(dj);
    json_decref(d);
  }
  settle_drain(c, w, on ? "drained by an operator" : "undrained by an operator");
}

/* ------------------------------------------------------------ outbox */

void workers_queue(coord_t *c, worker_t *w, out_kind_t kind, uint64_t id) {
  ARRAY_PUSH(w->out, w->nout, w->capout, ((out_item_t){store_seq(c), (uint8_t)kind, id}));
  if (!w->touched) {
    w->touched = true;
    ARRAY_PUSH(c->touched, c->ntouched, c->captouched, w);
  }
  store_kick(c);
}

static void send_env(coord_t *c, worker_t *w, envelope_t *env) {
  if (codec_send(c->wsock, w->ident, w->identlen, env) < 0) {
    int e = errno;
    if (e == EHOSTUNREACH)
      log_debug("worker %s: gone, %s dropped", w->name, codec_body_name(env));
    else
      log_warn("worker %s: %s not sent: %s", w->name, codec_body_name(env), zmq_strerror(e));
  }
}

/* When attempt a, sent now, must have started by on this coordinator's
 * wall clock: when workers_check_leases would call it "not started within
 * the lease" (the lease from a->dispatched_mono).  A worker that gets it
 * later drops it (worker/link.h). */
static int64_t start_by(const coord_t *c, const attempt_t *a) {
  int64_t left = (int64_t)c->cfg.lease_ms * 1000 - (int64_t)(util_mono_us() - a->dispatched_mono);
  return util_wall_us() + left;
}

/* Expands n templates into *out (allocated here), repeating those that hold
 * {frame} once per frame of the chunk in v, in frame order; returns how
 * many strings were made.  The job file's limits keep the count within
 * JOBFILE_MAX_ARGS or JOBFILE_MAX_OUTPUTS. */
static size_t expand_all(char *const *tmpl, size_t n, template_vals_t *v, char ***out) {
  uint64_t frames = 1;
  if (v->frame_step > 0 && v->frame_end >= v->frame_start)
    frames = (uint64_t)(v->frame_end - v->frame_start) / (uint64_t)v->frame_step + 1;
  size_t total = 0;
  bool *rep = xcalloc(n ? n : 1, sizeof *rep);
  for (size_t i = 0; i < n; i++) {
    rep[i] = template_repeats(tmpl[i]);
    total += rep[i] ? (size_t)frames : 1;
  }
  *out = xcalloc(total ? total : 1, sizeof **out);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!rep[i]) {
      (*out)[k++] = template_expand(tmpl[i], v);
      continue;
    }
    for (uint64_t f = 0; f < frames; f++) {
      v->frame = v->frame_start + (int64_t)f * v->frame_step;
      (*out)[k++] = template_expand(tmpl[i], v);
    }
  }
  v->frame = 0;
  free(rep);
  return k;
}

/* Fills the Task of an Assign for attempt a; strings are allocated and
 * released by free_task. */
static void fill_task(coord_t *c, attempt_t *a, Clapper__Task *m) {
  task_t *t = a->task;
  job_t *j = t->job;
  const jf_job_t *sp = j->spec;
  (void)c;
  clapper__task__init(m);
  char *outdir = job_task_output_dir(j, t);
  template_vals_t v = {
      .project = j->project,
      .episode = j->episode,
      .shot = sp->shot,
      .job = sp->name,
      .job_id = j->id,
      .task_id = t->id,
      .attempt = a->try_no,
      .attempt_id = a->id,
      .frame_start = t->spec.frame_start,
      .frame_end = t->spec.frame_end,
      .frame_step = t->spec.frame_step,
      .take = t->spec.take,
      .seed = t->spec.seed,
      .output_dir = outdir,
      .approved_output = j->approved_output,
  };
  m->attempt_id = a->id;
  m->try_no = a->try_no;
  m->task_id = t->id;
  m->job_id = j->id;
  m->n_argv = expand_all(sp->command, sp->ncommand, &v, &m->argv);
  m->n_outputs = expand_all(sp->outputs, sp->noutputs, &v, &m->outputs);
  m->n_env = sp->nenv;
  m->env = xcalloc(sp->nenv ? sp->nenv : 1, sizeof *m->env);
  for (size_t i = 0; i < sp->nenv; i++) {
    Clapper__EnvVar *e = xmalloc(sizeof *e);
    clapper__env_var__init(e);
    e->name = xstrdup(sp->env[i].name);
    e->value = template_expand(sp->env[i].value, &v);
    m->env[i] = e;
  }
  m->output_dir = outdir;
  m->timeout_s = sp->timeout_s;
  m->cpus = a->cpus;
  m->memory_mb = a->memory_mb;
  m->start_by_us = start_by(c, a);
  m->gpus = xcalloc(MAX_GPUS, sizeof *m->gpus);
  for (uint32_t i = 0; i < a->worker->ngpus && i < MAX_GPUS; i++)
    if (a->gpu_mask & (1ull << i))
      m->gpus[m->n_gpus++] = a->worker->gpus[i].index;
}

static void free_task(Clapper__Task *m) {
  for (size_t i = 0; i < m->n_argv; i++)
    free(m->argv[i]);
  free(m->argv);
  for (size_t i = 0; i < m->n_outputs; i++)
    free(m->outputs[i]);
  free(m->outputs);
  for (size_t i = 0; i < m->n_env; i++) {
    free(m->env[i]->name);
    free(m->env[i]->value);
    free(m->env[i]);
  }
  free(m->env);
  free(m->output_dir);
  free(m->gpus);
}

static void send_assigns(coord_t *c, worker_t *w, const uint64_t *ids, size_t n) {
  Clapper__Task *tasks = xcalloc(ASSIGN_CHUNK, sizeof *tasks);
  Clapper__Task **ptrs = xcalloc(ASSIGN_CHUNK, sizeof *ptrs);
  size_t k = 0, bytes = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n) {
      attempt_t *a = idmap_get(&c->attempts, ids[i]);
      /* Ended or moved since the decision (lost, canceled): skip it. */
      if (!a || a->worker != w || !attempt_state_live((attempt_state_t)a->state))
        continue;
      fill_task(c, a, &tasks[k]);
      bytes += clapper__task__get_packed_size(&tasks[k]);
      ptrs[k] = &tasks[k];
      k++;
    }
    if (k == ASSIGN_CHUNK || bytes >= ASSIGN_BYTES || (i == n && k)) {
      Clapper__Assign as = CLAPPER__ASSIGN__INIT;
      as.n_tasks = k;
      as.tasks = ptrs;
      envelope_t env = CODEC_ENVELOPE(ASSIGN, assign, &as);
      send_env(c, w, &env);
      for (size_t m = 0; m < k; m++)
        free_task(&tasks[m]);
      k = 0;
      bytes = 0;
    }
  }
  free(tasks);
  free(ptrs);
}

static void send_ids(coord_t *c, worker_t *w, out_kind_t kind, uint64_t *ids, size_t n) {
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  Clapper__Cancel cancel = CLAPPER__CANCEL__INIT;
  Clapper__ResultAck ack = CLAPPER__RESULT_ACK__INIT;
  if (kind == OUT_CANCEL) {
    cancel.n_attempt_ids = n;
    cancel.attempt_ids = ids;
    cancel.reason = "canceled by the coordinator";
    env.body_case = CLAPPER__ENVELOPE__BODY_CANCEL;
    env.cancel = &cancel;
  } else {
    ack.n_attempt_ids = n;
    ack.attempt_ids = ids;
    env.body_case = CLAPPER__ENVELOPE__BODY_RESULT_ACK;
    env.result_ack = &ack;
  }
  send_env(c, w, &env);
}

static void send_welcome(coord_t *c, worker_t *w) {
  Clapper__Welcome wel = CLAPPER__WELCOME__INIT;
  wel.heartbeat_ms = (uint32_t)c->cfg.heartbeat_ms;
  wel.lease_ms = (uint32_t)c->cfg.lease_ms;
  wel.n_cancel = w->nwelcome_cancel;
  wel.cancel = w->welcome_cancel;
  wel.hello_id = w->hello_id;
  wel.now_us = util_wall_us();
  envelope_t env = CODEC_ENVELOPE(WELCOME, welcome, &wel);
  send_env(c, w, &env);
  free(w->welcome_cancel);
  w->welcome_cancel = NULL;
  w->nwelcome_cancel = w->capwelcome_cancel = 0;
}

/* Sends w's items of committed batches; returns true when some remain. */
static bool flush_worker(coord_t *c, worker_t *w, uint64_t seq) {
  size_t n = 0;
  uint64_t now = util_mono_us();
  while (n < w->nout && w->out[n].seq <= seq) {
    /* An assignment's start deadline runs from now, when it goes out (or
     * would, to a worker not connected), not from the decision: its batch
     * may have taken longer than the lease. */
    attempt_t *a = w->out[n].kind == OUT_ASSIGN ? idmap_get(&c->attempts, w->out[n].id) : NULL;
    if (a && !a->dispatched_mono) {
      a->dispatched_mono = now;
      if (w->identlen)
        metrics_observe_assign(c, a);
    }
    n++;
  }
  if (n && w->identlen) {
    uint64_t *ids[4] = {xcalloc(n, sizeof(uint64_t)), xcalloc(n, sizeof(uint64_t)),
                        xcalloc(n, sizeof(uint64_t)), xcalloc(n, sizeof(uint64_t))};
    size_t cnt[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++)
      ids[w->out[i].kind][cnt[w->out[i].kind]++] = w->out[i].id;
    if (cnt[OUT_WELCOME])
      send_welcome(c, w);
    if (cnt[OUT_CANCEL])
      send_ids(c, w, OUT_CANCEL, ids[OUT_CANCEL], cnt[OUT_CANCEL]);
    if (cnt[OUT_ASSIGN])
      send_assigns(c, w, ids[OUT_ASSIGN], cnt[OUT_ASSIGN]);
    if (cnt[OUT_ACK])
      send_ids(c, w, OUT_ACK, ids[OUT_ACK], cnt[OUT_ACK]);
    for (int k = 0; k < 4; k++)
      free(ids[k]);
  }
  memmove(w->out, w->out + n, (w->nout - n) * sizeof *w->out);
  w->nout -= n;
  return w->nout > 0;
}

/* Store listener: after batch committed_seq, what waited for it goes out. */
static void send_outbox(coord_t *c, uint64_t committed_seq, void *arg) {
  (void)arg;
  size_t keep = 0;
  for (size_t i = 0; i < c->ntouched; i++) {
    worker_t *w = c->touched[i];
    if (flush_worker(c, w, committed_seq))
      c->touched[keep++] = w;
    else
      w->touched = false;
  }
  c->ntouched = keep;
}

void workers_init(coord_t *c) { store_listen(c, send_outbox, NULL); }

/* ------------------------------------------------------------ messages */

/* Refused worker messages, logged at most twice per 10 s (log.h). */
static log_limit_t refused = LOG_LIMIT_INIT("refused worker messages", 10);

static void send_reset(coord_t *c, const uint8_t *ident, size_t identlen, const char *why) {
  Clapper__Reset r = CLAPPER__RESET__INIT;
  r.reason = (char *)why;
  envelope_t env = CODEC_ENVELOPE(RESET, reset, &r);
  if (codec_send(c->wsock, ident, identlen, &env) < 0)
    log_debug("reset not sent: %s", zmq_strerror(errno));
}

static attempt_state_t outcome_state(Clapper__Outcome o) {
  switch (o) {
  case CLAPPER__OUTCOME__OUTCOME_SUCCEEDED: return ATTEMPT_SUCCEEDED;
  case CLAPPER__OUTCOME__OUTCOME_FAILED: return ATTEMPT_FAILED;
  case CLAPPER__OUTCOME__OUTCOME_TIMED_OUT: return ATTEMPT_TIMED_OUT;
  case CLAPPER__OUTCOME__OUTCOME_CANCELED: return ATTEMPT_CANCELED;
  case CLAPPER__OUTCOME__OUTCOME_LOST: return ATTEMPT_LOST;
  default: return ATTEMPT_DISPATCHED; /* invalid */
  }
}

static char *outputs_json(const Clapper__Result *r) {
  json_t *arr = json_array();
  for (size_t i = 0; i < r->n_outputs && i < MAX_OUTPUTS; i++) {
    const Clapper__OutputFile *f = r->outputs[i];
    char *path = input_clean(f->path, INPUT_PATH_MAX);
    char *sha = input_clean(f->sha256, 64);
    json_array_append_new(arr, json_pack("{s:s,s:I,s:s}", "path", path, "size",
                                         (json_int_t)(f->size > INT64_MAX ? INT64_MAX : f->size),
                                         "sha256", sha));
    free(path);
    free(sha);
  }
  char *text = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  return text;
}

/* What the coordinator saw of attempt a's run so far: the time since its
 * dispatch, on the monotonic clock or the wall clock, whichever is longer
 * (after a restart the monotonic dispatch time is the restart's). */
static uint64_t seen_us(const attempt_t *a) {
  uint64_t mono = a->dispatched_mono ? util_mono_us() - a->dispatched_mono : 0; /* 0: not sent */
  int64_t wall = util_wall_us() - a->dispatched_us;
  return wall > 0 && (uint64_t)wall > mono ? (uint64_t)wall : mono;
}

/* A worker's clock time of attempt a brought within what the coordinator
 * saw: from the dispatch to now, each end widened by CLOCK_SKEW_US. */
static int64_t seen_time(const attempt_t *a, int64_t us) {
  int64_t lo = a->dispatched_us - CLOCK_SKEW_US;
  int64_t hi = util_wall_us() + CLOCK_SKEW_US;
  return input_clamp(us, lo < INPUT_TIME_MIN_US ? INPUT_TIME_MIN_US : lo, hi);
}

/* Logs (rate-limited) the figures of attempt a that were brought within
 * what the coordinator saw: what (one or more "NAME SAID -> KEPT"). */
static void clamped(const worker_t *w, const attempt_t *a, const char *what) {
  static log_limit_t lim = LOG_LIMIT_INIT("worker figures clamped", 10);
  log_warn_limited(&lim,
                   "worker %s: attempt %" PRIu64 ": beyond what the coordinator saw (%" PRIu64
                   " us since the dispatch): %s",
                   w->name, a->id, seen_us(a), what);
}

static void note_clamp(sbuf_t *b, const char *name, uint64_t said, uint64_t kept) {
  sbuf_printf(b, "%s%s %" PRIu64 " -> %" PRIu64, b->len ? ", " : "", name, said, kept);
}

/* The figures of result r, within what the coordinator saw of attempt a
 * (a worker's key does not make its word money): the wall time at most the
 * time since the dispatch, CPU time at most that times the worker's CPUs,
 * GPU energy at most 2 kW per GPU held, memory at most the worker's, times
 * between the dispatch and now (CLOCK_SKEW_US either side), the end not
 * before the start.  Cost is priced from what is kept. */
static void record_figures(const worker_t *w, attempt_t *a, const Clapper__Result *r) {
  uint64_t seen = seen_us(a);
  uint64_t cpus = w->cpus ? w->cpus : 1, gpus = (uint64_t)__builtin_popcountll(a->gpu_mask);
  struct {
    const char *what;
    uint64_t said, max, *kept;
  } figs[] = {
      {"wall_us", r->wall_us, seen, &a->wall_us},
      {"cpu_us", r->cpu_us, seen > UINT64_MAX / cpus ? UINT64_MAX : seen * cpus, &a->cpu_us},
      {"gpu_energy_mj", r->gpu_energy_mj, seen > UINT64_MAX / 4 ? UINT64_MAX : seen * 2 * gpus,
       &a->gpu_energy_mj},
      {"max_rss_kb", r->max_rss_kb, w->memory_mb ? w->memory_mb * 1024 : UINT64_MAX,
       &a->max_rss_kb},
  };
  sbuf_t what = {0};
  for (size_t i = 0; i < ARRAY_SIZE(figs); i++) {
    uint64_t max = figs[i].max < INT64_MAX ? figs[i].max : INT64_MAX;
    *figs[i].kept = figs[i].said < max ? figs[i].said : max;
    if (figs[i].said > max)
      note_clamp(&what, figs[i].what, figs[i].said, max);
  }
  if (r->started_at_us && !a->started_us) {
    a->started_us = seen_time(a, r->started_at_us);
    if (a->started_us != r->started_at_us)
      note_clamp(&what, "started_at_us", (uint64_t)r->started_at_us, (uint64_t)a->started_us);
  }
  if (!a->started_us)
    a->started_us = a->dispatched_us;
  int64_t now = util_wall_us();
  if (!r->ended_at_us) {
    a->ended_us = now;
  } else {
    a->ended_us =
        input_clamp(seen_time(a, r->ended_at_us), a->started_us,
                    a->started_us > now + CLOCK_SKEW_US ? a->started_us : now + CLOCK_SKEW_US);
    if (a->ended_us != r->ended_at_us)
      note_clamp(&what, "ended_at_us", (uint64_t)r->ended_at_us, (uint64_t)a->ended_us);
  }
  if (what.len)
    clamped(w, a, what.buf);
  sbuf_free(&what);
}

/* Records one result from w; always acknowledged once durable (a duplicate
 * or a result for an attempt that is no longer live changes nothing). */
static void handle_result(coord_t *c, worker_t *w, const Clapper__Result *r) {
  if (!r || !r->attempt_id)
    return;
  workers_queue(c, w, OUT_ACK, r->attempt_id);
  attempt_t *a = idmap_get(&c->attempts, r->attempt_id);
  if (!a || !attempt_state_live((attempt_state_t)a->state)) {
    log_debug("worker %s: result for attempt %" PRIu64 " that is not live: ignored", w->name,
              r->attempt_id);
    metrics_observe_result(c, -1);
    return;
  }
  if (a->worker != w) {
    log_warn("worker %s: result for attempt %" PRIu64 " of worker %s: ignored", w->name,
             r->attempt_id, a->worker->name);
    metrics_observe_result(c, -1);
    return;
  }
  attempt_state_t to = outcome_state(r->outcome);
  if (to == ATTEMPT_DISPATCHED) {
    log_warn("worker %s: attempt %" PRIu64 ": invalid outcome %d, recorded as failed",
             w->name, a->id, (int)r->outcome);
    to = ATTEMPT_FAILED;
  }
  a->has_exit = true;
  a->exit_code = r->exit_code;
  a->term_signal = r->term_signal;
  record_figures(w, a, r);
  free(a->error);
  a->error = input_clean(r->error, MAX_ERROR);
  free(a->outputs_json);
  a->outputs_json = outputs_json(r);
  if (attempt_set_state(c, a, to) == 0) {
    metrics_observe_result(c, (int)to);
    task_attempt_ended(c, a->task, a);
  }
}

static void attempt_lost(coord_t *c, attempt_t *a, const char *why) {
  free(a->error);
  a->error = xstrdup(why);
  if (attempt_set_state(c, a, ATTEMPT_LOST) == 0)
    task_attempt_ended(c, a->task, a);
}

static void mark_running(coord_t *c, attempt_t *a, int64_t started_us) {
  if (a->state != ATTEMPT_DISPATCHED)
    return;
  a->started_us = started_us > 0 ? seen_time(a, started_us) : util_wall_us();
  if (started_us > 0 && a->started_us != started_us) {
    sbuf_t what = {0};
    note_clamp(&what, "started_at_us", (uint64_t)started_us, (uint64_t)a->started_us);
    clamped(a->worker, a, what.buf);
    sbuf_free(&what);
  }
  attempt_set_state(c, a, ATTEMPT_RUNNING);
  cost_attempt_started(c, a);
  if (a->task->state == TASK_DISPATCHED)
    task_set_state(c, a->task, TASK_RUNNING);
}

/* Checks everything a Hello says before any of it is kept. */
static int validate_hello(const Clapper__Hello *h, char *err, size_t errlen) {
  if (!ident_valid(h->name))
    return util_fail_line(err, errlen, "name: '%.64s' is not an identifier", h->name);
  if (input_text("hostname", h->hostname, INPUT_NAME_MAX, INPUT_ONE_LINE, err, errlen) < 0 ||
      input_text("version", h->version, INPUT_NAME_MAX, INPUT_ONE_LINE, err, errlen) < 0 ||
      input_text("workdir", h->workdir, INPUT_PATH_MAX, INPUT_ONE_LINE, err, errlen) < 0)
    return -1;
  if (h->cpus > MAX_CPUS || h->memory_mb > MAX_MEMORY_MB)
    return snprintf(err, errlen, "cpus or memory_mb out of range"), -1;
  if (h->n_gpus > MAX_GPUS)
    return snprintf(err, errlen, "%zu GPUs, at most %u", h->n_gpus, MAX_GPUS), -1;
  for (size_t i = 0; i < h->n_gpus; i++) {
    const Clapper__Gpu *g = h->gpus[i];
    char field[48];
    snprintf(field, sizeof field, "gpus[%zu].uuid", i);
    if (input_text(field, g->uuid, INPUT_NAME_MAX, INPUT_ONE_LINE, err, errlen) < 0)
      return -1;
    snprintf(field, sizeof field, "gpus[%zu].model", i);
    if (input_text(field, g->model, INPUT_NAME_MAX, INPUT_ONE_LINE, err, errlen) < 0)
      return -1;
    if (g->memory_mb > MAX_GPU_MEMORY_MB)
      return snprintf(err, errlen, "gpus[%zu].memory_mb out of range", i), -1;
    for (size_t k = 0; k < i; k++)
      if (h->gpus[k]->index == g->index)
        return snprintf(err, errlen, "GPU index %u listed twice", g->index), -1;
  }
  if (h->n_tags > MAX_TAGS)
    return snprintf(err, errlen, "%zu tags, at most %u", h->n_tags, MAX_TAGS), -1;
  for (size_t i = 0; i < h->n_tags; i++)
    if (!ident_valid(h->tags[i]))
      return util_fail_line(err, errlen, "tags[%zu]: '%.64s' is not an identifier", i, h->tags[i]);
  if (h->n_running > MAX_LIST || h->n_results > MAX_LIST)
    return snprintf(err, errlen, "too many attempts listed"), -1;
  return 0;
}

static void on_hello(coord_t *c, const uint8_t *ident, size_t identlen,
                     const Clapper__Hello *h) {
  char err[256];
  if (validate_hello(h, err, sizeof err) < 0) {
    log_warn_limited(&refused, "hello refused: %s", err);
    return;
  }
  worker_t *w = workers_find(c, h->name);
  bool known = w != NULL;
  /* Two hosts with one name would steal it from each other on every
   * hello; the one that has it keeps it while its lease runs. */
  if (w && w->identlen && (w->identlen != identlen || memcmp(w->ident, ident, identlen)) &&
      serving(w) && w->hostname &&
      strcmp(w->hostname, h->hostname) != 0) {
    log_warn_limited(&refused,
                     "hello from host '%.64s' refused: worker name %s is in use by host '%s'",
                     h->hostname, w->name, w->hostname);
    return;
  }
  if (!w)
    w = workers_add(c, h->name);

  /* Route this name to the connection that just said hello. */
  worker_t *other = by_ident(c, ident, identlen);
  if (other && other != w) {
    idmap_del(&c->by_ident, other->ident_key);
    other->identlen = 0;
  }
  if (w->identlen)
    idmap_del(&c->by_ident, w->ident_key);
  memcpy(w->ident, ident, identlen);
  w->identlen = identlen;
  w->ident_key = ident_hash(ident, identlen);
  idmap_put(&c->by_ident, w->ident_key, w);

  free(w->hostname);
  w->hostname = xstrdup(h->hostname);
  free(w->version);
  w->version = xstrdup(h->version);
  free(w->workdir);
  w->workdir = h->workdir && *h->workdir ? xstrdup(h->workdir) : NULL;
  w->cpus = h->cpus;
  w->memory_mb = h->memory_mb;
  free_gpus(w);
  w->ngpus = (uint32_t)h->n_gpus;
  w->gpus = xcalloc(w->ngpus ? w->ngpus : 1, sizeof *w->gpus);
  for (uint32_t i = 0; i < w->ngpus; i++) {
    w->gpus[i].index = h->gpus[i]->index;
    w->gpus[i].uuid = xstrdup(h->gpus[i]->uuid);
    w->gpus[i].model = xstrdup(h->gpus[i]->model);
    w->gpus[i].memory_mb = h->gpus[i]->memory_mb;
  }
  free_tags(w);
  w->ntags = h->n_tags;
  w->tags = xcalloc(w->ntags ? w->ntags : 1, sizeof *w->tags);
  for (size_t i = 0; i < w->ntags; i++)
    w->tags[i] = xstrdup(h->tags[i]);
  w->last_seen_mono = util_mono_us();
  w->last_seen_us = util_wall_us();
  w->hello_id = h->hello_id;

  /* Results first: they end attempts the reconciliation below must not
   * call lost. */
  for (size_t i = 0; i < h->n_results; i++)
    handle_result(c, w, h->results[i]);

  idmap_t running = {0};
  for (size_t i = 0; i < h->n_running; i++)
    if (h->running[i])
      idmap_put(&running, h->running[i], (void *)1);
  for (attempt_t *a = w->live, *next; a; a = next) {
    next = a->wnext;
    if (idmap_get(&running, a->id)) {
      idmap_del(&running, a->id);
      mark_running(c, a, 0);
    } else if (a->state == ATTEMPT_DISPATCHED && !a->dispatched_mono) {
      /* Not sent yet (its batch has not committed): the worker cannot
       * know it; its Assign goes to this connection once it is durable. */
    } else {
      attempt_lost(c, a, "the worker reconnected without it");
    }
  }
  /* What is left runs on the worker but is not live here: stop it. */
  uint64_t key;
  void *val;
  for (size_t pos = 0; idmap_next(&running, &pos, &key, &val);)
    ARRAY_PUSH(w->welcome_cancel, w->nwelcome_cancel, w->capwelcome_cancel, key);
  idmap_free(&running);

  recount(w);

  log_info("worker %s: hello (%s, %u cpus, %" PRIu64 " MB, %u GPUs, %zu running, %zu results)",
           w->name, known ? "reconnected" : "new", w->cpus, w->memory_mb, w->ngpus,
           h->n_running, h->n_results);
  store_worker(c, w);
  w->self_draining = h->draining;
  note_health(w, h->degraded);
  worker_state_t to = settled_state(w);
  worker_set_state(c, w, to, to == WORKER_DEGRADED ? w->degraded : "hello");
  dispatch_farm_changed(c); /* its resources may have changed */
  workers_queue(c, w, OUT_WELCOME, 0);
}

/* Answers a heartbeat at once with an empty acknowledgement: it carries
 * no decision, and tells the worker its coordinator is alive (a worker
 * that hears nothing for three heartbeats says hello again). */
static void send_alive(coord_t *c, worker_t *w) {
  Clapper__ResultAck ack = CLAPPER__RESULT_ACK__INIT;
  envelope_t env = CODEC_ENVELOPE(RESULT_ACK, result_ack, &ack);
  send_env(c, w, &env);
}

static void on_heartbeat(coord_t *c, worker_t *w, const Clapper__Heartbeat *hb) {
  send_alive(c, w);
  if (hb->draining != w->self_draining) {
    w->self_draining = hb->draining;
    settle_drain(c, w, hb->draining ? "the worker is draining" : "the worker takes work again");
  }
  if (note_health(w, hb->degraded)) {
    settle_drain(c, w, "the worker is healthy again");
    dispatch_farm_changed(c); /* a new reason: jobs that wait for it say it */
  }
  size_t n = hb->n_running < MAX_LIST ? hb->n_running : MAX_LIST;
  for (size_t i = 0; i < n; i++) {
    attempt_t *a = idmap_get(&c->attempts, hb->running[i]);
    if (!a || a->worker != w || !attempt_state_live((attempt_state_t)a->state))
      workers_queue(c, w, OUT_CANCEL, hb->running[i]);
  }
}

/* Keeps the pieces of attempt logs that are new, up to the cap per
 * attempt; repeated pieces are recognised by their offsets. */
static void on_logs(coord_t *c, worker_t *w, const Clapper__Logs *l) {
  uint64_t cap = (uint64_t)c->cfg.log_cap_bytes;
  for (size_t i = 0; i < l->n_chunks && i < MAX_LIST; i++) {
    const Clapper__LogChunk *ch = l->chunks[i];
    attempt_t *a = idmap_get(&c->attempts, ch->attempt_id);
    if (!a || a->worker != w || !ch->data.len || ch->data.len > MAX_LOG_CHUNK)
      continue;
    uint64_t off = ch->offset, len = ch->data.len;
    const uint8_t *data = ch->data.data;
    if (off + len <= a->log_next)
      continue; /* had it */
    if (off < a->log_next) {
      data += a->log_next - off;
      len -= a->log_next - off;
      off = a->log_next;
    }
    if (off >= cap) {
      if (!a->log_truncated) {
        a->log_truncated = true;
        store_attempt(c, a);
      }
      continue;
    }
    if (off + len > cap) {
      len = cap - off;
      a->log_truncated = true;
    }
    store_log(c, a->id, off, data, len);
    a->log_next = off + len;
    a->log_bytes += len;
    store_attempt(c, a);
  }
}

static void worker_lost(coord_t *c, worker_t *w, const char *why);

/* With keys, a worker is who its key says, looked up by the key on every
 * message: the key registered as local-1 (role worker) speaks only as
 * local-1, and a key removed from the registry, or replaced by another
 * under the same name, speaks no more.  Returns NULL, or why not. */
static const char *key_refuses(const coord_t *c, const char *key, const char *name) {
  if (!auth_secure(c))
    return NULL;
  const char *owner = auth_name_of(c, key);
  if (!owner || auth_role_of(c, key) != ROLE_WORKER)
    return "the connection's key is not (or no longer) registered as a worker";
  return strcmp(owner, name) != 0 ? "the connection's key is another worker's" : NULL;
}

/* w's connection speaks for it no more: its messages are an unknown
 * worker's from now on. */
static void unroute(coord_t *c, worker_t *w) {
  if (w->identlen)
    idmap_del(&c->by_ident, w->ident_key);
  w->identlen = 0;
}

void workers_revoke(coord_t *c, const char *name, const char *why) {
  worker_t *w = workers_find(c, name);
  if (!w)
    return;
  if (serving(w) || w->live)
    worker_lost(c, w, why);
  unroute(c, w);
}

void workers_on_message(coord_t *c, const uint8_t *ident, size_t identlen, const char *user,
                        envelope_t *env) {
  const char *why;
  if (env->body_case == CLAPPER__ENVELOPE__BODY_HELLO) {
    if ((why = key_refuses(c, user, env->hello->name)) != NULL) {
      log_warn_limited(&refused, "hello as '%.64s' refused: %s", env->hello->name, why);
      return;
    }
    on_hello(c, ident, identlen, env->hello);
    return;
  }
  worker_t *w = by_ident(c, ident, identlen);
  if (w && (why = key_refuses(c, user, w->name)) != NULL) {
    /* Normally ended when the key was removed (workers_revoke); this
     * catches a connection whose key changed in any other way. */
    log_warn_limited(&refused, "worker %s: %s message refused: %s", w->name, codec_body_name(env),
                     why);
    if (serving(w))
      worker_lost(c, w, "its key is no longer registered");
    unroute(c, w);
    send_reset(c, ident, identlen, "your key is not registered");
    return;
  }
  if (!w || w->state == WORKER_LOST || w->state == WORKER_OFFLINE) {
    send_reset(c, ident, identlen, w ? "lease expired, say hello again" : "unknown worker");
    return;
  }
  w->last_seen_mono = util_mono_us();
  w->last_seen_us = util_wall_us();
  switch (env->body_case) {
  case CLAPPER__ENVELOPE__BODY_HEARTBEAT:
    on_heartbeat(c, w, env->heartbeat);
    break;
  case CLAPPER__ENVELOPE__BODY_STARTED:
    for (size_t i = 0; i < env->started->n_attempts && i < MAX_LIST; i++) {
      const Clapper__StartedAttempt *s = env->started->attempts[i];
      attempt_t *a = idmap_get(&c->attempts, s->attempt_id);
      if (a && a->worker == w)
        mark_running(c, a, s->started_at_us);
    }
    break;
  case CLAPPER__ENVELOPE__BODY_RESULTS:
    for (size_t i = 0; i < env->results->n_results && i < MAX_LIST; i++)
      handle_result(c, w, env->results->results[i]);
    break;
  case CLAPPER__ENVELOPE__BODY_DRAIN:
    w->self_draining = env->drain->on;
    settle_drain(c, w, env->drain->on ? "the worker is draining" : "the worker takes work again");
    break;
  case CLAPPER__ENVELOPE__BODY_LOGS:
    on_logs(c, w, env->logs);
    break;
  default:
    log_warn_limited(&refused, "worker %s: unexpected %s message", w->name, codec_body_name(env));
    break;
  }
}

/* ------------------------------------------------------------ leases */

static void worker_lost(coord_t *c, worker_t *w, const char *why) {
  worker_set_state(c, w, WORKER_LOST, why);
  for (attempt_t *a = w->live, *next; a; a = next) {
    next = a->wnext;
    attempt_lost(c, a, why);
  }
}

void workers_check_leases(coord_t *c) {
  uint64_t now = util_mono_us();
  uint64_t lease = (uint64_t)c->cfg.lease_ms * 1000;
  /* After the reconnect grace a worker still offline may never come back:
   * jobs only it could run say so (dispatch's note_unfit). */
  if (!c->grace_over && now - c->ready_mono > lease) {
    c->grace_over = true;
    dispatch_farm_changed(c);
  }
  for (size_t i = 0; i < c->nworkers; i++) {
    worker_t *w = c->workers[i];
    if (serving(w) && now - w->last_seen_mono > lease) {
      char why[96];
      snprintf(why, sizeof why, "no heartbeat for %" PRIu64 " ms",
               (now - w->last_seen_mono) / 1000);
      worker_lost(c, w, why);
      continue;
    }
    /* The grace runs from when this coordinator began to serve, not from
     * its start: a standby may have waited for the leader lock for days. */
    if (w->state == WORKER_OFFLINE && w->live && now - c->ready_mono > lease) {
      worker_lost(c, w, "did not reconnect after the coordinator restarted");
      continue;
    }
    for (attempt_t *a = w->live, *next; a; a = next) {
      next = a->wnext;
      if (a->state == ATTEMPT_DISPATCHED && w->state != WORKER_OFFLINE && a->dispatched_mono &&
          now - a->dispatched_mono > lease)
        attempt_lost(c, a, "not started within the lease");
    }
  }
}

/* ------------------------------------------------------------ listing */

/* One worker as a JSON object (new reference). */
static json_t *worker_obj(const worker_t *w) {
  json_t *gpus = json_array();
  uint32_t free_gpus = 0;
  for (uint32_t g = 0; g < w->ngpus; g++) {
    bool busy = g < 64 && (w->gpu_busy & (1ull << g));
    free_gpus += !busy;
    json_array_append_new(gpus, json_pack("{s:I,s:s,s:s,s:I,s:b}", "index",
                                          (json_int_t)w->gpus[g].index, "uuid", w->gpus[g].uuid,
                                          "model", w->gpus[g].model, "memory_mb",
                                          (json_int_t)w->gpus[g].memory_mb, "busy", busy));
  }
  json_t *tags = json_array();
  for (size_t t = 0; t < w->ntags; t++)
    json_array_append_new(tags, json_string(w->tags[t]));
  char seen[40] = "";
  if (w->last_seen_us)
    util_iso8601(w->last_seen_us, seen, sizeof seen);
  const char *reason = w->state == WORKER_DEGRADED && w->degraded ? w->degraded : "";
  return json_pack("{s:s,s:s,s:s,s:s,s:b,s:I,s:I,s:o,s:o,s:{s:I,s:I,s:I},s:I,s:s?}", "name",
                   w->name, "hostname", w->hostname ? w->hostname : "", "state",
                   worker_state_name((worker_state_t)w->state), "reason", reason, "drained",
                   w->drained, "cpus",
                   (json_int_t)w->cpus, "memory_mb", (json_int_t)w->memory_mb, "gpus", gpus,
                   "tags", tags, "free", "cpus", (json_int_t)w->cpus_free, "memory_mb",
                   (json_int_t)w->mem_free, "gpus", (json_int_t)free_gpus, "running",
                   (json_int_t)w->nlive, "last_heartbeat", seen[0] ? seen : NULL);
}

static char *dump(json_t *doc) {
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  return text;
}

static json_t *worker_item(const void *w) { return worker_obj(w); }

char *workers_json(coord_t *c, unsigned limit, const char *after) {
  query_named_t *items = xcalloc(c->nworkers ? c->nworkers : 1, sizeof *items);
  for (size_t i = 0; i < c->nworkers; i++)
    items[i] = (query_named_t){c->workers[i]->name, c->workers[i]};
  json_t *doc = query_name_page("workers", items, c->nworkers, limit, after, worker_item);
  free(items);
  /* Each worker's pools (limit.h): by name, as the page holds them. */
  size_t i;
  json_t *o;
  json_array_foreach(json_object_get(doc, "workers"), i, o) {
    const worker_t *w = workers_find(c, json_string_value(json_object_get(o, "name")));
    json_object_set_new(o, "pools", w ? limit_worker_pools(c, w) : json_array());
  }
  return dump(doc);
}

char *workers_one_json(coord_t *c, worker_t *w) {
  json_t *o = worker_obj(w);
  json_object_set_new(o, "pools", limit_worker_pools(c, w));
  return dump(json_pack("{s:o}", "worker", o));
}
