/*
 * worker.c - the daemon's state and life cycle, see worker.h.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <zmq.h>

#include "codec.h"
#include "gpu.h"
#include "health.h"
#include "journal.h"
#include "link.h"
#include "log.h"
#include "logkeep.h"
#include "logstream.h"
#include "runner.h"

/* One Results message carries at most this many bytes of results. */
#define RESULTS_MSG_BYTES ((size_t)8 << 20)
/* A Hello carries at most this many bytes of results. */
#define HELLO_RESULT_BYTES ((size_t)16 << 20)
/* An assignment checks the worker's health again when the last check is
 * older than this. */
#define HEALTH_RECHECK_MS 250

/* Where a running attempt writes: its outputs' disk is checked when it
 * fails (was the disk full?). */
typedef struct attempt_dir {
  uint64_t id;
  char *dir; /* owned */
} attempt_dir_t;

/* The daemon's life; node_set_state performs every transition. */
typedef enum node_state {
  NODE_RUNNING = 0, /* taking work */
  NODE_DRAINING,    /* SIGTERM: finishing attempts, refusing new ones */
  NODE_STOPPING,    /* closing: the loop ends when every handle is closed */
  NODE_STATE_COUNT
} node_state_t;

static const char *const state_names[NODE_STATE_COUNT] = {"running", "draining", "stopping"};

/* This node: the worker daemon's own state.  (The coordinator's worker_t
 * is its record of a connected worker.) */
typedef struct node {
  uv_loop_t loop;
  const options_t *opt;
  node_state_t state;
  char hostname[256];
  char *shim;
  int lock_fd;
  void *zctx;
  gpu_set_t *gpus;
  journal_t *journal;
  runner_t *runner;
  cgroup_t *cgroup; /* a cgroup per attempt, or NULL */
  link_t *link;
  logstream_t *logs;     /* running attempts' logs to the coordinator */
  health_t health;       /* degraded (takes no work) while its reason is set */
  uint64_t health_at;    /* uv_now of the last check */
  uv_timer_t keep;       /* log retention sweeps */
  attempt_dir_t *dirs;   /* running attempts' output directories */
  size_t n_dirs, cap_dirs;
  uint64_t *whole;       /* attempts whose log was sent whole, result not yet acknowledged */
  size_t n_whole, cap_whole;
  uv_signal_t sigterm, sigint;
  uv_idle_t flush;       /* end of the loop iteration: send what was batched */
  uv_timer_t drain_wait; /* bounds the wait for acknowledgements */
  bool handles_open;
  bool close_requested;  /* do_close at the next flush */
  bool coordinator_drained;
  /* Started attempts and finished results of this loop iteration. */
  Clapper__StartedAttempt *started;
  size_t n_started, cap_started;
  Clapper__Result **done; /* owned */
  size_t n_done, cap_done;
} node_t;

static void node_set_state(node_t *w, node_state_t to) {
  static const bool allowed[NODE_STATE_COUNT][NODE_STATE_COUNT] = {
      [NODE_RUNNING] = {[NODE_DRAINING] = true, [NODE_STOPPING] = true},
      [NODE_DRAINING] = {[NODE_STOPPING] = true},
      [NODE_STOPPING] = {0},
  };
  if (!allowed[w->state][to]) {
    log_error("refused transition %s -> %s", state_names[w->state], state_names[to]);
    return;
  }
  log_info("%s -> %s", state_names[w->state], state_names[to]);
  w->state = to;
}

static void schedule_flush(node_t *w);
static void flush_started(node_t *w);

/* ---------------------------------------------------------------- sending */

static int send_body(node_t *w, envelope_t *env) {
  if (!w->link)
    return -1;
  return link_send(w->link, env);
}

/* Sends rs[0..n) in Results messages of bounded size. */
static void send_results(node_t *w, Clapper__Result *const *rs, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t k = i, bytes = 0;
    while (k < n && (k == i || bytes + clapper__result__get_packed_size(rs[k]) + 16 <=
                                   RESULTS_MSG_BYTES))
      bytes += clapper__result__get_packed_size(rs[k++]) + 16;
    Clapper__Results body = CLAPPER__RESULTS__INIT;
    body.n_results = k - i;
    body.results = (Clapper__Result **)&rs[i];
    envelope_t env = CODEC_ENVELOPE(RESULTS, results, &body);
    if (send_body(w, &env) < 0)
      return; /* the journal keeps them; retransmission or Hello sends them */
    i = k;
  }
}

/* Sends a Logs message for the log streamer.  Started goes first, so that
 * the coordinator never sees log of an attempt it was not told started. */
static int send_logs(void *arg, envelope_t *env) {
  node_t *w = arg;
  flush_started(w);
  return send_body(w, env);
}

static int on_link_hello(void *arg) {
  node_t *w = arg;
  const options_t *o = w->opt;
  Clapper__Hello h = CLAPPER__HELLO__INIT;
  h.name = o->name;
  h.version = (char *)CLAPPER_VERSION;
  h.hostname = w->hostname;
  h.workdir = o->workdir;
  h.cpus = (uint32_t)o->cpus;
  h.memory_mb = (uint64_t)o->memory_mb;
  Clapper__Gpu *gpus = xcalloc(w->gpus->n ? w->gpus->n : 1, sizeof *gpus);
  Clapper__Gpu **gpup = xcalloc(w->gpus->n ? w->gpus->n : 1, sizeof *gpup);
  for (size_t i = 0; i < w->gpus->n; i++) {
    clapper__gpu__init(&gpus[i]);
    gpus[i].index = w->gpus->gpus[i].index;
    gpus[i].uuid = w->gpus->gpus[i].uuid;
    gpus[i].model = w->gpus->gpus[i].model;
    gpus[i].memory_mb = w->gpus->gpus[i].memory_mb;
    gpup[i] = &gpus[i];
  }
  h.n_gpus = w->gpus->n;
  h.gpus = gpup;
  h.n_tags = o->n_tags;
  h.tags = o->tags;
  uint64_t *running = NULL;
  h.n_running = runner_running_ids(w->runner, &running);
  h.running = running;
  size_t n;
  Clapper__Result *const *pending = journal_pending(w->journal, &n);
  size_t bytes = 0, k = 0;
  while (k < n && bytes + clapper__result__get_packed_size(pending[k]) + 16 <= HELLO_RESULT_BYTES)
    bytes += clapper__result__get_packed_size(pending[k++]) + 16;
  if (k < n)
    log_warn("Hello carries %zu of %zu unacknowledged results; the rest follow", k, n);
  h.n_results = k;
  h.results = (Clapper__Result **)pending;
  h.draining = w->state != NODE_RUNNING;
  h.hello_id = link_hello_id(w->link);
  h.degraded = w->health.reason;
  envelope_t env = CODEC_ENVELOPE(HELLO, hello, &h);
  int rc = send_body(w, &env);
  if (rc == 0)
    log_info("Hello sent: %zu running, %zu unacknowledged results", h.n_running, k);
  free(running);
  free(gpus);
  free(gpup);
  return rc;
}

static void send_heartbeat(node_t *w) {
  Clapper__Heartbeat hb = CLAPPER__HEARTBEAT__INIT;
  uint64_t *running = NULL;
  hb.n_running = runner_running_ids(w->runner, &running);
  hb.running = running;
  hb.draining = w->state != NODE_RUNNING;
  hb.degraded = w->health.reason;
  envelope_t env = CODEC_ENVELOPE(HEARTBEAT, heartbeat, &hb);
  if (send_body(w, &env) < 0)
    log_debug("heartbeat dropped");
  free(running);
}

/* Checks the worker's health now; when the verdict changed (and notify)
 * the coordinator hears it at once.  A journal that could not be written
 * is tried again (retry_journal, once the disk is over its floor) by
 * rewriting it, which makes every pending result durable again.  Returns
 * true when healthy. */
static bool check_health(node_t *w, bool retry_journal, bool notify) {
  uint64_t floor = w->health.floor_bytes;
  if (retry_journal && w->health.journal_err &&
      (!floor || health_free_bytes(w->opt->workdir) >= floor)) {
    if (journal_compact(w->journal) == 0) {
      log_info("the journal is written again: results are durable");
      health_journal(&w->health, 0);
    }
  }
  w->health_at = uv_now(&w->loop);
  if (health_check(&w->health) && notify)
    send_heartbeat(w);
  return health_ok(&w->health);
}

/* The journal could not be written (errno e): degraded until it can. */
static void journal_failed(node_t *w, int e) {
  health_journal(&w->health, e);
  check_health(w, false, true);
}

static void on_link_heartbeat(void *arg) {
  node_t *w = arg;
  /* ACK records are fsync'd in batches, here. */
  if (journal_sync(w->journal) < 0) {
    log_warn("journal fsync: %s", strerror(errno));
    health_journal(&w->health, errno);
  }
  check_health(w, true, false);
  send_heartbeat(w);
}

static void on_link_retransmit(void *arg) {
  node_t *w = arg;
  size_t n;
  Clapper__Result *const *pending = journal_pending(w->journal, &n);
  if (!n)
    return;
  log_info("retransmitting %zu unacknowledged results", n);
  send_results(w, pending, n);
}

static void send_drain(node_t *w) {
  Clapper__Drain d = CLAPPER__DRAIN__INIT;
  d.on = 1;
  envelope_t env = CODEC_ENVELOPE(DRAIN, drain, &d);
  if (send_body(w, &env) < 0)
    log_warn("Drain not sent now; heartbeats and Hello carry draining=true");
}

/* ---------------------------------------------------------------- life cycle */

static void on_handle_closed(uv_handle_t *h) { (void)h; }

/* Closes everything; the loop ends once libuv has closed the handles and
 * the runner has seen its processes exit. */
static void do_close(node_t *w) {
  if (!w->handles_open)
    return;
  w->handles_open = false;
  /* Results that finished before a stop are made durable, not sent. */
  if (w->n_done && journal_append(w->journal, w->done, w->n_done) < 0)
    log_error("%zu results not made durable (%s): they are lost with this process", w->n_done,
              strerror(errno));
  w->n_done = 0;
  w->n_started = 0;
  runner_close(&w->runner);
  logstream_close(&w->logs);
  link_close(&w->link);
  uv_close((uv_handle_t *)&w->sigterm, on_handle_closed);
  uv_close((uv_handle_t *)&w->sigint, on_handle_closed);
  uv_close((uv_handle_t *)&w->flush, on_handle_closed);
  uv_close((uv_handle_t *)&w->drain_wait, on_handle_closed);
  uv_close((uv_handle_t *)&w->keep, on_handle_closed);
}

static void request_stop(node_t *w) {
  if (w->state == NODE_STOPPING)
    return;
  node_set_state(w, NODE_STOPPING);
  w->close_requested = true;
  schedule_flush(w);
}

static void stop_now(node_t *w, const char *why) {
  log_info("stopping now (%s): killing %zu attempts", why,
           w->runner ? runner_count(w->runner) : (size_t)0);
  if (w->runner)
    runner_kill_all(w->runner);
  request_stop(w);
}

static void on_drain_wait(uv_timer_t *t) {
  node_t *w = t->data;
  log_warn("drained: exiting with %zu unacknowledged results (kept in the journal)",
           journal_pending_count(w->journal));
  request_stop(w);
}

/* A draining worker exits when nothing runs and everything is acknowledged,
 * or drain_timeout_ms after the last attempt ended. */
static void check_drain(node_t *w) {
  if (w->state != NODE_DRAINING || runner_count(w->runner) || w->n_done)
    return;
  if (journal_pending_count(w->journal) == 0) {
    log_info("drained: every result acknowledged");
    request_stop(w);
  } else if (!uv_is_active((uv_handle_t *)&w->drain_wait)) {
    log_info("drained: waiting up to %lld ms for %zu acknowledgements",
             w->opt->drain_timeout_ms, journal_pending_count(w->journal));
    uv_timer_start(&w->drain_wait, on_drain_wait, (uint64_t)w->opt->drain_timeout_ms, 0);
  }
}

static void on_signal(uv_signal_t *s, int signum) {
  node_t *w = s->data;
  if (signum == SIGTERM && w->state == NODE_RUNNING) {
    log_info("SIGTERM: draining (%zu attempts running)", runner_count(w->runner));
    node_set_state(w, NODE_DRAINING);
    send_drain(w);
    check_drain(w);
    return;
  }
  if (w->state == NODE_STOPPING)
    return;
  stop_now(w, signum == SIGTERM ? "second SIGTERM" : "SIGINT");
}

/* ---------------------------------------------------------------- batching */

static void flush_started(node_t *w) {
  if (!w->n_started)
    return;
  Clapper__Started body = CLAPPER__STARTED__INIT;
  Clapper__StartedAttempt **ptrs = xcalloc(w->n_started, sizeof *ptrs);
  for (size_t i = 0; i < w->n_started; i++)
    ptrs[i] = &w->started[i];
  body.n_attempts = w->n_started;
  body.attempts = ptrs;
  envelope_t env = CODEC_ENVELOPE(STARTED, started, &body);
  if (send_body(w, &env) < 0)
    log_debug("Started not sent; heartbeats report the running attempts");
  free(ptrs);
  w->n_started = 0;
}

static void flush_results(node_t *w) {
  if (!w->n_done)
    return;
  /* The rest of the attempts' logs goes out before their Results, so that
   * a follower has the whole log once the attempt is done. */
  uint64_t *ids = xcalloc(w->n_done, sizeof *ids);
  bool *whole = xcalloc(w->n_done, sizeof *whole);
  for (size_t i = 0; i < w->n_done; i++)
    ids[i] = w->done[i]->attempt_id;
  logstream_finish(w->logs, ids, w->n_done, whole);
  /* Logs sent whole before their results: stored once a result is
   * acknowledged (logkeep.h). */
  for (size_t i = 0; i < w->n_done; i++)
    if (whole[i])
      ARRAY_PUSH(w->whole, w->n_whole, w->cap_whole, ids[i]);
  free(whole);
  free(ids);
  size_t before = journal_pending_count(w->journal);
  /* The journal takes the results; the new ones end its pending list. */
  if (journal_append(w->journal, w->done, w->n_done) < 0) {
    int e = errno;
    log_error("%zu results are not durable (%s): sent, and kept in memory until acknowledged; "
              "no new work until the journal can be written",
              w->n_done, strerror(e));
    journal_failed(w, e);
  }
  w->n_done = 0;
  size_t n;
  Clapper__Result *const *pending = journal_pending(w->journal, &n);
  if (n > before)
    send_results(w, pending + before, n - before);
}

static void on_flush(uv_idle_t *h) {
  node_t *w = h->data;
  uv_idle_stop(&w->flush);
  if (w->close_requested) {
    do_close(w);
    return;
  }
  flush_started(w);
  flush_results(w);
  check_drain(w);
}

static void schedule_flush(node_t *w) {
  if (w->handles_open)
    uv_idle_start(&w->flush, on_flush);
}

static void add_done(node_t *w, Clapper__Result *r) {
  ARRAY_PUSH(w->done, w->n_done, w->cap_done, r);
  schedule_flush(w);
}

/* Forgets where attempt id writes; returns its output directory (caller
 * frees) or NULL. */
static char *take_dir(node_t *w, uint64_t id) {
  for (size_t i = 0; i < w->n_dirs; i++)
    if (w->dirs[i].id == id) {
      char *dir = w->dirs[i].dir;
      w->dirs[i] = w->dirs[--w->n_dirs];
      return dir;
    }
  return NULL;
}

/* Whether a failure (error text err, output directory dir or NULL) is the
 * worker's full disk rather than the task's: the error says ENOSPC, or the
 * workdir's or the outputs' disk is under the floor.  Writes what was
 * found into why. */
static bool disk_full(node_t *w, const char *err, const char *dir, char *why, size_t len) {
  uint64_t floor = w->health.floor_bytes;
  uint64_t wfree = health_free_bytes(w->opt->workdir);
  uint64_t dfree = dir ? health_free_bytes(dir) : UINT64_MAX;
  if (wfree < floor || (wfree == 0 && floor == 0))
    snprintf(why, len, "the worker's disk is full (%llu bytes free for workdir %s)",
             (unsigned long long)wfree, w->opt->workdir);
  else if (dfree < floor || (dfree == 0 && floor == 0))
    snprintf(why, len, "the worker's disk is full (%llu bytes free for output_dir %s)",
             (unsigned long long)dfree, dir);
  else if (err && strstr(err, strerror(ENOSPC)))
    snprintf(why, len, "the worker's disk is full (%s)", strerror(ENOSPC));
  else
    return false;
  return true;
}

/* A failed attempt whose disk was full is the worker's fault: its result
 * becomes OUTCOME_LOST (run again elsewhere; counted as a loss, not a
 * failure) and the worker checks its health at once. */
static void blame_disk(node_t *w, Clapper__Result *r, const char *dir) {
  char why[512];
  if (r->outcome != CLAPPER__OUTCOME__OUTCOME_FAILED || !disk_full(w, r->error, dir, why, sizeof why))
    return;
  char *error = xasprintf("%s; not the task's fault (it failed: %s)", why,
                          r->error && *r->error ? r->error : "no reason given");
  log_warn("attempt %llu: %s", (unsigned long long)r->attempt_id, error);
  /* protobuf-c frees strings with the system allocator (no allocator given). */
  if (r->error != protobuf_c_empty_string)
    free(r->error);
  r->error = error;
  r->outcome = CLAPPER__OUTCOME__OUTCOME_LOST;
  check_health(w, false, true);
}

static void on_finished(void *arg, Clapper__Result *r) {
  node_t *w = arg;
  char *dir = take_dir(w, r->attempt_id);
  if (w->state == NODE_STOPPING) {
    free(dir);
    clapper__result__free_unpacked(r, NULL);
    return;
  }
  blame_disk(w, r, dir);
  free(dir);
  add_done(w, r);
}

/* ---------------------------------------------------------------- messages */

static bool known_attempt(node_t *w, uint64_t id) {
  if (runner_has(w->runner, id) || journal_known(w->journal, id))
    return true;
  for (size_t i = 0; i < w->n_done; i++)
    if (w->done[i]->attempt_id == id)
      return true;
  return false;
}

static void handle_task(node_t *w, const Clapper__Task *t) {
  if (known_attempt(w, t->attempt_id)) {
    log_debug("attempt %llu: duplicate assignment ignored", (unsigned long long)t->attempt_id);
    return;
  }
  if (t->attempt_id == 0) {
    log_warn("task %llu: attempt id 0 ignored", (unsigned long long)t->task_id);
    return;
  }
  if (w->state != NODE_RUNNING) {
    log_info("attempt %llu: refused, worker is draining", (unsigned long long)t->attempt_id);
    add_done(w, runner_result_unstarted(t->attempt_id, CLAPPER__OUTCOME__OUTCOME_CANCELED,
                                        "worker is draining"));
    return;
  }
  /* A degraded worker gives its assignments back (canceled: requeued,
   * not counted against the task). */
  bool healthy = uv_now(&w->loop) - w->health_at < HEALTH_RECHECK_MS ? health_ok(&w->health)
                                                                      : check_health(w, false, true);
  if (!healthy) {
    char *why = xasprintf("worker is degraded: %s", w->health.reason);
    log_info("attempt %llu: refused, %s", (unsigned long long)t->attempt_id, why);
    add_done(w, runner_result_unstarted(t->attempt_id, CLAPPER__OUTCOME__OUTCOME_CANCELED, why));
    free(why);
    return;
  }
  char err[512];
  uint32_t pid = 0;
  int64_t at = 0;
  if (runner_start(w->runner, t, &pid, &at, err, sizeof err) < 0) {
    Clapper__Result *r =
        runner_result_unstarted(t->attempt_id, CLAPPER__OUTCOME__OUTCOME_FAILED, err);
    blame_disk(w, r, t->output_dir && *t->output_dir ? t->output_dir : NULL);
    add_done(w, r);
    return;
  }
  if (t->output_dir && *t->output_dir)
    ARRAY_PUSH(w->dirs, w->n_dirs, w->cap_dirs,
               ((attempt_dir_t){t->attempt_id, xstrdup(t->output_dir)}));
  ARRAY_RESERVE(w->started, w->n_started, w->cap_started, 1);
  Clapper__StartedAttempt *s = &w->started[w->n_started++];
  clapper__started_attempt__init(s);
  s->attempt_id = t->attempt_id;
  s->started_at_us = at;
  s->pid = pid;
  log_debug("attempt %llu (task %llu, try %u): started, pid %u",
            (unsigned long long)t->attempt_id, (unsigned long long)t->task_id, t->try_no, pid);
  char *log_path = runner_log_path(w->runner, t->attempt_id);
  if (logstream_add(w->logs, t->attempt_id, log_path) < 0)
    log_debug("attempt %llu runs without log streaming", (unsigned long long)t->attempt_id);
  free(log_path);
  schedule_flush(w);
}

/* Starts what the coordinator assigned, except stale work (link.h): all
 * of it while the latest Hello is unanswered, and each task past its
 * start_by_us.  Nothing is reported for what is dropped: the coordinator
 * has counted it lost, or its lease check will. */
static void handle_assign(node_t *w, const Clapper__Assign *as) {
  if (!link_welcomed(w->link)) {
    log_info("%zu assignments dropped: sent before the coordinator answered this worker's "
             "latest Hello",
             as->n_tasks);
    return;
  }
  for (size_t i = 0; i < as->n_tasks; i++) {
    const Clapper__Task *t = as->tasks[i];
    if (!known_attempt(w, t->attempt_id) && link_past_start_by(w->link, t->start_by_us)) {
      log_warn("attempt %llu dropped: it had to start by %lld (coordinator clock, unix us), "
               "the coordinator has given it up",
               (unsigned long long)t->attempt_id, (long long)t->start_by_us);
      continue;
    }
    handle_task(w, t);
  }
}

/* The results ids[0..n) were acknowledged: the logs sent whole before
 * them are now the coordinator's too (logkeep.h). */
static void mark_stored(node_t *w, const uint64_t *ids, size_t n) {
  for (size_t k = 0; k < n && w->n_whole; k++)
    for (size_t i = 0; i < w->n_whole; i++) {
      if (w->whole[i] != ids[k])
        continue;
      w->whole[i] = w->whole[--w->n_whole];
      char *path = runner_log_path(w->runner, ids[k]);
      if (logkeep_mark_stored(path) < 0)
        log_debug("cannot mark %s stored: %s", path, strerror(errno));
      free(path);
      break;
    }
}

/* A log that retention must keep: its attempt runs, or its result or
 * whole log awaits acknowledgement. */
static bool log_busy(void *arg, uint64_t id) {
  node_t *w = arg;
  if (runner_has(w->runner, id))
    return true;
  for (size_t i = 0; i < w->n_whole; i++)
    if (w->whole[i] == id)
      return true;
  size_t n;
  Clapper__Result *const *pending = journal_pending(w->journal, &n);
  for (size_t i = 0; i < n; i++)
    if (pending[i]->attempt_id == id)
      return true;
  for (size_t i = 0; i < w->n_done; i++)
    if (w->done[i]->attempt_id == id)
      return true;
  return false;
}

static void on_keep(uv_timer_t *t) {
  node_t *w = t->data;
  char *dir = xasprintf("%s/logs", w->opt->workdir);
  uint64_t freed = 0;
  long n = logkeep_sweep(dir, (int64_t)(util_wall_us() / 1000000), w->opt->log_keep_s,
                         w->opt->log_keep_bytes, log_busy, w, &freed);
  if (n < 0)
    log_warn("log retention: cannot read %s: %s", dir, strerror(errno));
  else if (n > 0)
    log_info("log retention: deleted %ld attempt logs (%llu bytes)", n,
             (unsigned long long)freed);
  free(dir);
}

/* Sweeps every quarter of the age, between 1 s and 10 min; with a size
 * alone, every minute. */
static uint64_t keep_every_ms(const options_t *o) {
  if (!o->log_keep_s)
    return 60000;
  uint64_t ms = o->log_keep_s * 250;
  return ms < 1000 ? 1000 : ms > 600000 ? 600000 : ms;
}

static void cancel_attempts(node_t *w, const uint64_t *ids, size_t n, const char *reason) {
  for (size_t i = 0; i < n; i++)
    if (runner_cancel(w->runner, ids[i], reason) < 0)
      log_debug("cancel of attempt %llu ignored: not running", (unsigned long long)ids[i]);
}

static void on_link_message(void *arg, envelope_t *env) {
  node_t *w = arg;
  if (w->state == NODE_STOPPING) {
    codec_free(&env);
    return;
  }
  switch (env->body_case) {
  case CLAPPER__ENVELOPE__BODY_WELCOME:
    cancel_attempts(w, env->welcome->cancel, env->welcome->n_cancel,
                    "the coordinator no longer expects it");
    break;
  case CLAPPER__ENVELOPE__BODY_ASSIGN:
    handle_assign(w, env->assign);
    break;
  case CLAPPER__ENVELOPE__BODY_RESULT_ACK: {
    /* An empty ResultAck answers a Heartbeat (the coordinator is alive;
     * the link noted that): nothing to do. */
    if (env->result_ack->n_attempt_ids == 0)
      break;
    int removed = journal_ack(w->journal, env->result_ack->attempt_ids,
                              env->result_ack->n_attempt_ids);
    log_debug("acknowledged: %d results", removed);
    mark_stored(w, env->result_ack->attempt_ids, env->result_ack->n_attempt_ids);
    check_drain(w);
    break;
  }
  case CLAPPER__ENVELOPE__BODY_CANCEL:
    cancel_attempts(w, env->cancel->attempt_ids, env->cancel->n_attempt_ids,
                    env->cancel->reason);
    break;
  case CLAPPER__ENVELOPE__BODY_DRAIN:
    /* The coordinator stops assigning; nothing changes here. */
    if (w->coordinator_drained != (bool)env->drain->on)
      log_info("the coordinator %s this worker", env->drain->on ? "drained" : "undrained");
    w->coordinator_drained = env->drain->on;
    break;
  default:
    log_warn("unexpected %s from the coordinator ignored", codec_body_name(env));
    break;
  }
  codec_free(&env);
}

/* ---------------------------------------------------------------- start */

static int lock_workdir(node_t *w, const char *dir) {
  char *path = xasprintf("%s/lock", dir);
  w->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (w->lock_fd < 0) {
    log_error("cannot open %s: %s", path, strerror(errno));
    free(path);
    return -1;
  }
  if (flock(w->lock_fd, LOCK_EX | LOCK_NB) < 0) {
    log_error("workdir %s is in use by another clapper-worker (%s)", dir, strerror(errno));
    free(path);
    return -1;
  }
  free(path);
  return 0;
}

/* Says at start who tasks run as and, when they can, what they can read
 * that they should not. */
static void say_task_user(const options_t *o) {
  const taskuser_t *u = &o->task_user;
  if (!o->task_user_switch && u->uid == 0) {
    log_warn("tasks run as root (--task-user %s) and can read everything this worker can: "
             "its key, its workdir and every other secret on this host; give them an "
             "unprivileged --task-user (default " TASKUSER_DEFAULT ")",
             u->name);
    return;
  }
  if (!o->task_user_switch) {
    log_warn("tasks run as this worker's own user (%s, uid %lu) and can read what it reads: "
             "%s%s%sits workdir %s; run the worker as root to run them as --task-user "
             "(default " TASKUSER_DEFAULT ")",
             u->name, (unsigned long)u->uid, o->key ? "its key " : "", o->key ? o->key : "",
             o->key ? ", " : "", o->workdir);
    return;
  }
  log_info("tasks run as user %s (uid %lu, gid %lu)", u->name, (unsigned long)u->uid,
           (unsigned long)u->gid);
  const char *secrets[] = {o->key, o->workdir};
  char *journal = xasprintf("%s/journal", o->workdir);
  secrets[1] = journal;
  for (size_t i = 0; i < ARRAY_SIZE(secrets); i++)
    if (secrets[i] && taskuser_can_read(u, secrets[i]))
      log_warn("the task user %s can read %s: make it readable by the worker's user only "
               "(chmod 0600, in a directory of mode 0700)",
               u->name, secrets[i]);
  free(journal);
}

int worker_run(const options_t *o) {
  node_t w;
  memset(&w, 0, sizeof w);
  w.opt = o;
  w.lock_fd = -1;
  int rc = 1;
  char err[1024];
  bool loop_open = false;

  if (gethostname(w.hostname, sizeof w.hostname - 1) < 0)
    snprintf(w.hostname, sizeof w.hostname, "unknown");
  char exe[PATH_MAX];
  size_t exelen = sizeof exe;
  if (uv_exepath(exe, &exelen) < 0) {
    log_error("cannot find the path of this executable");
    goto out;
  }
  w.shim = xstrdup(exe);

  if (o->gpu_inventory) {
    if (gpu_inventory_load(o->gpu_inventory, &w.gpus, err, sizeof err) < 0) {
      fprintf(stderr, "clapper-worker: --gpu-inventory %s\n", err);
      rc = 2;
      goto out;
    }
  } else if (!strcmp(o->gpus, "none")) {
    w.gpus = gpu_none();
  } else {
    w.gpus = gpu_discover();
  }

  if (util_mkdir_p(o->workdir, 0755) < 0) {
    log_error("cannot create workdir %s: %s", o->workdir, strerror(errno));
    goto out;
  }
  if (lock_workdir(&w, o->workdir) < 0)
    goto out;
  if (health_init(&w.health, o->workdir, (uint64_t)o->min_free_mb << 20) < 0) {
    log_error("workdir %s: %s", o->workdir, strerror(errno));
    goto out;
  }
  char *jpath = xasprintf("%s/journal", o->workdir);
  int jrc = journal_open(jpath, &w.journal, err, sizeof err);
  free(jpath);
  if (jrc < 0) {
    log_error("%s", err);
    goto out;
  }
  say_task_user(o);

  if (uv_loop_init(&w.loop) < 0) {
    log_error("uv_loop_init failed");
    goto out;
  }
  loop_open = true;
  if (!strcmp(o->cgroups, "auto")) {
    char why[512];
    w.cgroup = cgroup_open(why, sizeof why);
    if (w.cgroup)
      log_info("each attempt runs in a cgroup of its own (memory.max: %s, cpu.max: %s)",
               cgroup_has_memory(w.cgroup) ? "yes" : "no", cgroup_has_cpu(w.cgroup) ? "yes" : "no");
    else
      log_info("attempts run without cgroups: %s", why);
  }
  runner_config_t rcfg = {
      .shim = w.shim,
      .workdir = o->workdir,
      .kill_grace_ms = (uint64_t)o->kill_grace_ms,
      .gpus = w.gpus,
      .task_user = o->task_user_switch ? &o->task_user : NULL,
      .cgroup = w.cgroup,
      .finished = on_finished,
      .arg = &w,
  };
  w.runner = runner_new(&w.loop, &rcfg, err, sizeof err);
  if (!w.runner) {
    log_error("%s", err);
    goto out;
  }
  w.logs = logstream_new(&w.loop, (uint64_t)o->log_stream_max_bytes, send_logs, &w);
  w.zctx = zmq_ctx_new();
  if (!w.zctx) {
    log_error("zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
    goto out;
  }
  link_callbacks_t cb = {
      .hello = on_link_hello,
      .heartbeat = on_link_heartbeat,
      .retransmit = on_link_retransmit,
      .message = on_link_message,
      .arg = &w,
  };
  link_keys_t keys = {.key = o->key, .server_key = o->server_key};
  w.link = link_new(&w.loop, w.zctx, o->endpoints, o->n_endpoints, (uint32_t)o->heartbeat_ms,
                    o->key ? &keys : NULL, &cb, err, sizeof err);
  if (!w.link) {
    fprintf(stderr, "clapper-worker: %s\n", err);
    rc = 2;
    goto out;
  }
  uv_signal_init(&w.loop, &w.sigterm);
  uv_signal_init(&w.loop, &w.sigint);
  uv_idle_init(&w.loop, &w.flush);
  uv_timer_init(&w.loop, &w.drain_wait);
  uv_timer_init(&w.loop, &w.keep);
  w.sigterm.data = w.sigint.data = w.flush.data = w.drain_wait.data = w.keep.data = &w;
  w.handles_open = true;
  uv_signal_start(&w.sigterm, on_signal, SIGTERM);
  uv_signal_start(&w.sigint, on_signal, SIGINT);

  log_info("worker %s on %s: %zu GPUs, %lld CPUs, %lld MiB, %zu coordinator endpoint(s), "
           "workdir %s",
           o->name, w.hostname, w.gpus->n, o->cpus, o->memory_mb, o->n_endpoints, o->workdir);
  if (!check_health(&w, false, false))
    log_warn("starting degraded: the coordinator gets no work from this worker until it is "
             "healthy");
  if (o->log_keep_s || o->log_keep_bytes)
    uv_timer_start(&w.keep, on_keep, 0, keep_every_ms(o));
  link_start(w.link);
  uv_run(&w.loop, UV_RUN_DEFAULT);
  rc = 0;
out:
  if (loop_open) {
    /* Whatever is still open after a failed start is closed here. */
    w.close_requested = true;
    if (w.handles_open)
      do_close(&w);
    runner_close(&w.runner);
    logstream_close(&w.logs);
    link_close(&w.link);
    uv_run(&w.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&w.loop) != 0)
      log_warn("the loop still has open handles at exit");
  }
  for (size_t i = 0; i < w.n_done; i++)
    clapper__result__free_unpacked(w.done[i], NULL);
  free(w.done);
  free(w.started);
  for (size_t i = 0; i < w.n_dirs; i++)
    free(w.dirs[i].dir);
  free(w.dirs);
  free(w.whole);
  health_free(&w.health);
  if (w.zctx)
    zmq_ctx_term(w.zctx);
  journal_close(&w.journal);
  cgroup_close(&w.cgroup);
  gpu_set_free(&w.gpus);
  if (w.lock_fd >= 0)
    close(w.lock_fd);
  free(w.shim);
  if (rc == 0)
    log_info("worker %s exits", o->name);
  return rc;
}
