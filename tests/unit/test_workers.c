/*
 * test_workers.c - the worker protocol as the coordinator handles it, in
 * memory only.
 *
 * Each scenario builds a coordinator by hand (no database, no sockets) and
 * hands workers_on_message the envelopes a worker would send, built field
 * by field.  Nothing is flushed, so what the coordinator would tell a
 * worker stays in its outbox (w->out) and in w->welcome_cancel, where the
 * checks read it.  Covered: the Hello of a new worker (registered, online,
 * resources, GPUs, tags, Welcome queued, its hello_id kept for the
 * Welcome to echo) and of a reconnecting one
 * (results in the Hello recorded first, reported attempts running, the
 * others lost and requeued, unknown ones canceled in the Welcome, free
 * resources recounted), Hellos refused (a name held by another live host,
 * an invalid Hello); results (success,
 * failure with back-off, duplicates acknowledged but ignored, another
 * worker's attempt ignored, an invalid outcome recorded as failed, absurd
 * figures stored as 0, error text cleaned and cut); Started; heartbeats
 * (unknown attempts canceled, the worker's own drain); logs (kept up to
 * the cap, repeated pieces stored once); leases (a silent worker and an
 * attempt never started are lost); messages from an unknown connection;
 * draining by an operator and by the worker itself; and keys: a Hello
 * with another worker's key, a removed key's worker lost at once.  The
 * workers list: pages in name order (--limit, --after NAME) with "more"
 * and "next_after".
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "auth.h"
#include "check.h"
#include "dispatch.h"
#include "keys.h"
#include "log.h"
#include "memcoord.h"
#include "model.h"
#include "workers.h"

/* ------------------------------------------------------------ messages */

static void deliver(coord_t *c, const char *conn, const char *user, envelope_t *env) {
  workers_on_message(c, (const uint8_t *)conn, strlen(conn), user, env);
}

/* A Hello with no GPUs, tags, running attempts or results. */
static Clapper__Hello plain_hello(const char *name, const char *host, uint32_t cpus,
                                  uint64_t memory_mb) {
  Clapper__Hello h = CLAPPER__HELLO__INIT;
  h.name = (char *)name;
  h.hostname = (char *)host;
  h.version = "test";
  h.cpus = cpus;
  h.memory_mb = memory_mb;
  return h;
}

static void send_hello(coord_t *c, const char *conn, const char *user, Clapper__Hello *h) {
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_HELLO;
  env.hello = h;
  deliver(c, conn, user, &env);
}

/* Worker name says hello from connection conn on host "host-<name>". */
static worker_t *join(coord_t *c, const char *name, const char *conn, uint32_t cpus,
                      uint64_t memory_mb) {
  char host[80];
  snprintf(host, sizeof host, "host-%s", name);
  Clapper__Hello h = plain_hello(name, host, cpus, memory_mb);
  send_hello(c, conn, "", &h);
  worker_t *w = workers_find(c, name);
  CHECK(w != NULL);
  if (!w)
    exit(1);
  return w;
}

/* A result for attempt id with outcome o: exit 0 on success, 1 otherwise. */
static Clapper__Result result_of(uint64_t id, Clapper__Outcome o) {
  Clapper__Result r = CLAPPER__RESULT__INIT;
  r.attempt_id = id;
  r.outcome = o;
  r.exit_code = o == CLAPPER__OUTCOME__OUTCOME_SUCCEEDED ? 0 : 1;
  r.started_at_us = util_wall_us() - 2000000;
  r.ended_at_us = util_wall_us();
  r.wall_us = 2000000;
  r.cpu_us = 1500000;
  r.max_rss_kb = 4096;
  return r;
}

static void send_results(coord_t *c, const char *conn, Clapper__Result *rs, size_t n) {
  Clapper__Result *ptrs[8];
  for (size_t i = 0; i < n && i < 8; i++)
    ptrs[i] = &rs[i];
  Clapper__Results m = CLAPPER__RESULTS__INIT;
  m.n_results = n < 8 ? n : 8;
  m.results = ptrs;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_RESULTS;
  env.results = &m;
  deliver(c, conn, "", &env);
}

static void send_result(coord_t *c, const char *conn, uint64_t id, Clapper__Outcome o) {
  Clapper__Result r = result_of(id, o);
  send_results(c, conn, &r, 1);
}

static void send_heartbeat(coord_t *c, const char *conn, uint64_t *running, size_t n,
                           bool draining) {
  Clapper__Heartbeat hb = CLAPPER__HEARTBEAT__INIT;
  hb.n_running = n;
  hb.running = running;
  hb.draining = draining;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_HEARTBEAT;
  env.heartbeat = &hb;
  deliver(c, conn, "", &env);
}

static void send_started(coord_t *c, const char *conn, uint64_t id, int64_t at_us) {
  Clapper__StartedAttempt s = CLAPPER__STARTED_ATTEMPT__INIT;
  s.attempt_id = id;
  s.started_at_us = at_us;
  s.pid = 4242;
  Clapper__StartedAttempt *ps[] = {&s};
  Clapper__Started m = CLAPPER__STARTED__INIT;
  m.n_attempts = 1;
  m.attempts = ps;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_STARTED;
  env.started = &m;
  deliver(c, conn, "", &env);
}

/* Log pieces: n chunks of attempt id at the given offsets and texts. */
static void send_logs(coord_t *c, const char *conn, uint64_t id, size_t n, const uint64_t *offs,
                      const char *const *texts, const size_t *lens) {
  Clapper__LogChunk chunks[4], *ptrs[4];
  for (size_t i = 0; i < n && i < 4; i++) {
    clapper__log_chunk__init(&chunks[i]);
    chunks[i].attempt_id = id;
    chunks[i].offset = offs[i];
    chunks[i].data.data = (uint8_t *)texts[i];
    chunks[i].data.len = lens ? lens[i] : strlen(texts[i]);
    ptrs[i] = &chunks[i];
  }
  Clapper__Logs m = CLAPPER__LOGS__INIT;
  m.n_chunks = n < 4 ? n : 4;
  m.chunks = ptrs;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_LOGS;
  env.logs = &m;
  deliver(c, conn, "", &env);
}

static void send_log(coord_t *c, const char *conn, uint64_t id, uint64_t off, const char *text) {
  send_logs(c, conn, id, 1, &off, &text, NULL);
}

static void send_drain(coord_t *c, const char *conn, bool on) {
  Clapper__Drain d = CLAPPER__DRAIN__INIT;
  d.on = on;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_DRAIN;
  env.drain = &d;
  deliver(c, conn, "", &env);
}

/* ------------------------------------------------------------ outbox */

/* Items of kind for attempt id in w's outbox (any id for OUT_WELCOME). */
static size_t queued(const worker_t *w, out_kind_t kind, uint64_t id) {
  size_t n = 0;
  for (size_t i = 0; i < w->nout; i++)
    n += w->out[i].kind == kind && (kind == OUT_WELCOME || w->out[i].id == id);
  return n;
}

static size_t queued_kind(const worker_t *w, out_kind_t kind) {
  size_t n = 0;
  for (size_t i = 0; i < w->nout; i++)
    n += w->out[i].kind == kind;
  return n;
}

static bool welcome_cancels(const worker_t *w, uint64_t id) {
  for (size_t i = 0; i < w->nwelcome_cancel; i++)
    if (w->welcome_cancel[i] == id)
      return true;
  return false;
}

/* ------------------------------------------------------------ scenarios */

static void test_hello_new(void) {
  coord_t *c = memcoord_new();
  Clapper__Gpu g0 = CLAPPER__GPU__INIT, g1 = CLAPPER__GPU__INIT;
  g0.index = 3; /* as the worker numbers them, not positions */
  g0.uuid = "GPU-aaaa";
  g0.model = "NVIDIA Test 24GB";
  g0.memory_mb = 24000;
  g1.index = 5;
  g1.uuid = "GPU-bbbb";
  g1.model = "NVIDIA Test 48GB";
  g1.memory_mb = 48000;
  Clapper__Gpu *gpus[] = {&g0, &g1};
  char *tags[] = {"gpu", "linux"};
  Clapper__Hello h = plain_hello("w1", "host-a", 8, 16000);
  h.version = "1.2.3";
  h.workdir = "/var/lib/clapper";
  h.n_gpus = 2;
  h.gpus = gpus;
  h.n_tags = 2;
  h.tags = tags;
  h.hello_id = 77;
  send_hello(c, "conn-1", "", &h);

  worker_t *w = workers_find(c, "w1");
  CHECK(w != NULL);
  if (!w)
    goto out;
  CHECK_INT(c->nworkers, 1);
  CHECK_INT(w->hello_id, 77); /* the Welcome echoes it */
  CHECK_INT(w->state, WORKER_ONLINE);
  CHECK_STR(w->hostname, "host-a");
  CHECK_STR(w->version, "1.2.3");
  CHECK_STR(w->workdir, "/var/lib/clapper");
  CHECK_INT(w->cpus, 8);
  CHECK_INT(w->cpus_free, 8);
  CHECK_INT(w->memory_mb, 16000);
  CHECK_INT(w->mem_free, 16000);
  CHECK_INT(w->gpu_busy, 0);
  CHECK_INT(w->ngpus, 2);
  CHECK_INT(w->gpus[0].index, 3);
  CHECK_INT(w->gpus[1].index, 5);
  CHECK_STR(w->gpus[0].uuid, "GPU-aaaa");
  CHECK_STR(w->gpus[1].model, "NVIDIA Test 48GB");
  CHECK_INT(w->gpus[1].memory_mb, 48000);
  CHECK_INT(w->ntags, 2);
  CHECK_STR(w->tags[0], "gpu");
  CHECK_STR(w->tags[1], "linux");
  CHECK_INT(w->identlen, 6);
  CHECK(memcmp(w->ident, "conn-1", 6) == 0);
  CHECK_INT(w->nlive, 0);
  CHECK(w->last_seen_us > 0);
  /* A Welcome, with nothing to cancel, waits for the batch. */
  CHECK_INT(w->nout, 1);
  CHECK_INT(w->out[0].kind, OUT_WELCOME);
  CHECK_INT(w->nwelcome_cancel, 0);
  CHECK(w->touched);
  CHECK(w->dirty);
  /* The farm counts it. */
  CHECK_INT(c->farm_cpus, 8);
  CHECK_INT(c->farm_gpus, 2);

  /* The connection is w1's: its heartbeat is taken. */
  w->last_seen_mono = 0;
  send_heartbeat(c, "conn-1", NULL, 0, false);
  CHECK(w->last_seen_mono > 0);

  /* It takes work that fits it: the big GPU only. */
  job_t *j = memcoord_submit1(c, "big", "\"requires\":{\"gpus\":1,\"gpu_memory_mb\":40000}");
  dispatch_run(c);
  attempt_t *a = j->tasks[0].live;
  CHECK(a != NULL && a->worker == w);
  CHECK_INT(a ? a->gpu_mask : 0, 0x2);
  CHECK_INT(queued(w, OUT_ASSIGN, a ? a->id : 0), 1);
  memcoord_check_worker(w);

  /* Hellos that are not valid register nothing. */
  Clapper__Hello bad = plain_hello("Not A Name", "host-b", 4, 1000);
  send_hello(c, "conn-2", "", &bad);
  bad = plain_hello("w2", "host-b", 4, 1000);
  Clapper__Gpu *twice[] = {&g0, &g0};
  bad.n_gpus = 2;
  bad.gpus = twice;
  send_hello(c, "conn-2", "", &bad);
  bad = plain_hello("w3", "host-b", 4, 1000);
  char *badtags[] = {"no spaces"};
  bad.n_tags = 1;
  bad.tags = badtags;
  send_hello(c, "conn-2", "", &bad);
  CHECK_INT(c->nworkers, 1);
  CHECK(workers_find(c, "w2") == NULL);
  CHECK(workers_find(c, "w3") == NULL);
out:
  memcoord_free(c);
}

/* A worker reconnects: results in its Hello first, then what it runs is
 * reconciled with what the coordinator believes it runs. */
static void test_hello_reconcile(void) {
  coord_t *c = memcoord_new();
  worker_t *w = join(c, "w1", "conn-1", 4, 8000);
  job_t *j = memcoord_submit1(c, "five",
                              "\"frames\":\"1-5\",\"requires\":{\"cpus\":1,\"memory_mb\":1000}");
  dispatch_run(c);
  CHECK_INT(w->nlive, 4);
  attempt_t *a[4];
  for (int k = 0; k < 4; k++)
    a[k] = j->tasks[k].live;
  CHECK(a[0] && a[1] && a[2] && a[3]);
  if (!a[0] || !a[1] || !a[2] || !a[3])
    goto out;
  /* Their batch committed and the Assigns were sent (workers.c stamps the
   * send; an attempt not sent yet is kept: test_lease_from_send). */
  for (int k = 0; k < 4; k++)
    a[k]->dispatched_mono = util_mono_us();
  /* a[3] fails before the reconnection: no longer live here. */
  send_result(c, "conn-1", a[3]->id, CLAPPER__OUTCOME__OUTCOME_FAILED);
  CHECK_INT(a[3]->state, ATTEMPT_FAILED);
  CHECK_INT(w->nlive, 3);

  /* Back with more CPUs: runs a[0], not a[1]; a[2] finished while it was
   * away (its result rides in the Hello); it also runs a[3] (ended here)
   * and 999 (never heard of). */
  Clapper__Result r2 = result_of(a[2]->id, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  Clapper__Result *results[] = {&r2};
  uint64_t running[] = {a[0]->id, a[3]->id, 999};
  Clapper__Hello h = plain_hello("w1", "host-w1", 6, 8000);
  h.n_running = 3;
  h.running = running;
  h.n_results = 1;
  h.results = results;
  send_hello(c, "conn-2", "", &h);

  CHECK_INT(w->state, WORKER_ONLINE);
  CHECK_INT(w->identlen, 6);
  CHECK(memcmp(w->ident, "conn-2", 6) == 0);
  /* Reported running: live, and running now. */
  CHECK_INT(a[0]->state, ATTEMPT_RUNNING);
  CHECK(a[0]->started_us > 0);
  CHECK_INT(j->tasks[0].state, TASK_RUNNING);
  CHECK(j->tasks[0].live == a[0]);
  /* Not reported: lost, its task ready again; a loss, not a failure. */
  CHECK_INT(a[1]->state, ATTEMPT_LOST);
  CHECK_STR(a[1]->error, "the worker reconnected without it");
  CHECK_INT(j->tasks[1].state, TASK_READY);
  CHECK_INT(j->tasks[1].losses, 1);
  CHECK_INT(j->tasks[1].failures, 0);
  CHECK(j->tasks[1].delay_pos == HEAP_NONE); /* no back-off for a loss */
  /* Its result was recorded before the reconciliation: succeeded, not lost. */
  CHECK_INT(a[2]->state, ATTEMPT_SUCCEEDED);
  CHECK_INT(j->tasks[2].state, TASK_SUCCEEDED);
  CHECK_INT(j->tasks[2].losses, 0);
  CHECK_INT(queued(w, OUT_ACK, a[2]->id), 1);
  /* Running there, not live here: canceled in the Welcome. */
  CHECK_INT(w->nwelcome_cancel, 2);
  CHECK(welcome_cancels(w, a[3]->id));
  CHECK(welcome_cancels(w, 999));
  CHECK(!welcome_cancels(w, a[0]->id));
  CHECK_INT(queued(w, OUT_WELCOME, 0), 2);
  /* Free resources from the live attempts and the new capacity. */
  CHECK_INT(w->cpus, 6);
  CHECK_INT(w->nlive, 1);
  CHECK_INT(w->cpus_free, 5);
  CHECK_INT(w->mem_free, 7000);
  memcoord_check_worker(w);
  CHECK_INT(j->counts[TASK_RUNNING], 1);
  CHECK_INT(j->counts[TASK_SUCCEEDED], 1);
  CHECK_INT(j->counts[TASK_READY], 3); /* 2 (lost), 4 (backing off), 5 */

  /* The old connection is nobody's now. */
  uint64_t seen = w->last_seen_mono;
  w->last_seen_mono = seen - 1;
  send_heartbeat(c, "conn-1", running, 1, true);
  CHECK_INT(w->last_seen_mono, seen - 1);
  CHECK_INT(w->state, WORKER_ONLINE);

  /* The requeued task runs again, with a new attempt. */
  dispatch_run(c);
  CHECK_INT(j->tasks[1].state, TASK_DISPATCHED);
  CHECK(j->tasks[1].live && j->tasks[1].live != a[1] && j->tasks[1].live->worker == w);
  CHECK_INT(j->tasks[4].state, TASK_DISPATCHED);
  CHECK_INT(j->tasks[3].state, TASK_READY); /* still backing off */
  memcoord_check_worker(w);
out:
  memcoord_free(c);
}

static void test_hello_refused(void) {
  coord_t *c = memcoord_new();
  worker_t *w = join(c, "w1", "conn-1", 4, 8000);

  /* Another host says hello as w1 while w1's lease runs: refused. */
  Clapper__Hello h = plain_hello("w1", "host-other", 64, 64000);
  send_hello(c, "conn-2", "", &h);
  CHECK_INT(c->nworkers, 1);
  CHECK_STR(w->hostname, "host-w1");
  CHECK_INT(w->cpus, 4);
  CHECK(memcmp(w->ident, "conn-1", 6) == 0);
  CHECK_INT(queued(w, OUT_WELCOME, 0), 1);
  /* Its connection got no worker: what it sends changes nothing. */
  w->last_seen_mono = 1;
  send_heartbeat(c, "conn-2", NULL, 0, true);
  CHECK_INT(w->last_seen_mono, 1);
  CHECK_INT(w->state, WORKER_ONLINE);
  CHECK(!w->self_draining);

  /* Once w1 is lost (its last heartbeat was long ago), the name is free
   * for the other host. */
  workers_check_leases(c);
  CHECK_INT(w->state, WORKER_LOST);
  send_hello(c, "conn-2", "", &h);
  CHECK_INT(w->state, WORKER_ONLINE);
  CHECK_STR(w->hostname, "host-other");
  CHECK_INT(w->cpus, 64);
  CHECK(memcmp(w->ident, "conn-2", 6) == 0);
  memcoord_free(c);
}

static void test_results(void) {
  coord_t *c = memcoord_new();
  worker_t *w = join(c, "w1", "conn-1", 8, 16000);
  job_t *j = memcoord_submit1(c, "r", "\"frames\":\"1-7\",\"retry_backoff_s\":5");
  dispatch_run(c);
  CHECK_INT(w->nlive, 7);
  attempt_t *a[7];
  for (int k = 0; k < 7; k++) {
    a[k] = j->tasks[k].live;
    CHECK(a[k] != NULL);
    if (!a[k])
      goto out;
  }

  /* Success ends the task and gives the CPU back. */
  Clapper__OutputFile f = CLAPPER__OUTPUT_FILE__INIT;
  f.path = "/out/f1.exr";
  f.size = 1234;
  f.sha256 = "ab12";
  Clapper__OutputFile *outs[] = {&f};
  Clapper__Result r = result_of(a[0]->id, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  /* The coordinator saw 3 s since the dispatch (at 1700000000000000 - 1 ms
   * by the wall clock): the worker's figures are within that. */
  a[0]->dispatched_us = 1700000000000000 - 1000;
  a[0]->dispatched_mono = util_mono_us() - 3000000;
  r.started_at_us = 1700000000000000;
  r.ended_at_us = 1700000002000000;
  r.wall_us = 2000123;
  r.n_outputs = 1;
  r.outputs = outs;
  send_results(c, "conn-1", &r, 1);
  CHECK_INT(a[0]->state, ATTEMPT_SUCCEEDED);
  CHECK_INT(j->tasks[0].state, TASK_SUCCEEDED);
  CHECK(j->tasks[0].live == NULL);
  CHECK(a[0]->has_exit);
  CHECK_INT(a[0]->exit_code, 0);
  CHECK_INT(a[0]->wall_us, 2000123);
  CHECK_INT(a[0]->cpu_us, 1500000);
  CHECK_INT(a[0]->max_rss_kb, 4096);
  CHECK_INT(a[0]->started_us, 1700000000000000);
  CHECK_INT(a[0]->ended_us, 1700000002000000);
  CHECK_STR(a[0]->error, "");
  CHECK_CONTAINS(a[0]->outputs_json, "\"path\":\"/out/f1.exr\"");
  CHECK_CONTAINS(a[0]->outputs_json, "\"size\":1234");
  CHECK_INT(w->nlive, 6);
  CHECK_INT(w->cpus_free, 2);
  CHECK_INT(queued(w, OUT_ACK, a[0]->id), 1);
  memcoord_check_worker(w);

  /* The same attempt again (the ack was lost): acknowledged again,
   * nothing else changes, the CPU is not given back twice. */
  Clapper__Result dup = result_of(a[0]->id, CLAPPER__OUTCOME__OUTCOME_FAILED);
  send_results(c, "conn-1", &dup, 1);
  CHECK_INT(a[0]->state, ATTEMPT_SUCCEEDED);
  CHECK_INT(a[0]->exit_code, 0);
  CHECK_INT(j->tasks[0].state, TASK_SUCCEEDED);
  CHECK_INT(j->tasks[0].failures, 0);
  CHECK_INT(j->counts[TASK_SUCCEEDED], 1);
  CHECK_INT(w->cpus_free, 2);
  CHECK_INT(queued(w, OUT_ACK, a[0]->id), 2);

  /* Failure counts and backs off before the retry. */
  int64_t before = util_wall_us();
  Clapper__Result fail = result_of(a[1]->id, CLAPPER__OUTCOME__OUTCOME_FAILED);
  fail.exit_code = 3;
  fail.error = "exit status 3";
  send_results(c, "conn-1", &fail, 1);
  CHECK_INT(a[1]->state, ATTEMPT_FAILED);
  CHECK_INT(a[1]->exit_code, 3);
  CHECK_STR(a[1]->error, "exit status 3");
  CHECK_INT(j->tasks[1].state, TASK_READY);
  CHECK_INT(j->tasks[1].failures, 1);
  CHECK_INT(j->tasks[1].losses, 0);
  CHECK(j->tasks[1].delay_pos != HEAP_NONE);
  CHECK(j->tasks[1].not_before_us >= before + 5000000 &&
        j->tasks[1].not_before_us <= util_wall_us() + 5000000);
  dispatch_run(c);
  CHECK_INT(j->tasks[1].state, TASK_READY); /* not before its time */

  /* An outcome that is none of the four: recorded as failed. */
  send_result(c, "conn-1", a[2]->id, CLAPPER__OUTCOME__OUTCOME_UNSPECIFIED);
  CHECK_INT(a[2]->state, ATTEMPT_FAILED);
  CHECK_INT(j->tasks[2].failures, 1);
  send_result(c, "conn-1", a[3]->id, (Clapper__Outcome)42);
  CHECK_INT(a[3]->state, ATTEMPT_FAILED);
  CHECK_INT(j->tasks[3].failures, 1);

  /* Forged figures are brought within what the coordinator saw: wall time
   * at most the time since the dispatch (2 s here), CPU time at most that
   * on each of the worker's 8 CPUs, memory at most the worker's, no GPU
   * energy without GPUs, times between the dispatch and now (5 s of clock
   * skew either side), the end not before the start. */
  Clapper__Result big = result_of(a[4]->id, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  big.wall_us = (uint64_t)INT64_MAX;
  big.cpu_us = UINT64_MAX;
  big.max_rss_kb = UINT64_MAX;
  big.gpu_energy_mj = UINT64_MAX;
  big.started_at_us = INT64_MIN;
  big.ended_at_us = INT64_MAX;
  a[4]->dispatched_mono = util_mono_us() - 2000000;
  int64_t disp = a[4]->dispatched_us = util_wall_us() - 2000000;
  send_results(c, "conn-1", &big, 1);
  int64_t after = util_wall_us();
  CHECK_INT(a[4]->state, ATTEMPT_SUCCEEDED);
  CHECK(a[4]->wall_us >= 2000000 && a[4]->wall_us < 3000000);
  CHECK(a[4]->cpu_us >= 8 * 2000000ull && a[4]->cpu_us < 8 * 3000000ull);
  CHECK_INT(a[4]->max_rss_kb, 16000 * 1024);
  CHECK_INT(a[4]->gpu_energy_mj, 0);
  CHECK_INT(a[4]->started_us, disp - 5000000);
  CHECK(a[4]->ended_us >= after && a[4]->ended_us <= after + 5000000);

  /* Error text: control characters and broken UTF-8 become '?', valid
   * UTF-8 stays; at most 1024 bytes. */
  Clapper__Result dirty = result_of(a[5]->id, CLAPPER__OUTCOME__OUTCOME_FAILED);
  dirty.error = "bad\x01\xff\xc3(x\ncaf\xc3\xa9";
  char longerr[2001];
  memset(longerr, 'e', 2000);
  longerr[2000] = '\0';
  Clapper__Result longr = result_of(a[6]->id, CLAPPER__OUTCOME__OUTCOME_FAILED);
  longr.error = longerr;
  Clapper__Result two[] = {dirty, longr};
  send_results(c, "conn-1", two, 2);
  CHECK_STR(a[5]->error, "bad??" "?(x?caf\xc3\xa9");
  CHECK_INT(a[6]->error ? strlen(a[6]->error) : 0, 1024);
  CHECK_INT(w->nlive, 0);
  CHECK_INT(w->cpus_free, 8);

  /* A result that names no attempt is not even acknowledged; one for an
   * attempt nobody knows is acknowledged and ignored. */
  size_t acks = queued_kind(w, OUT_ACK);
  send_result(c, "conn-1", 0, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  CHECK_INT(queued_kind(w, OUT_ACK), acks);
  send_result(c, "conn-1", 12345, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  CHECK_INT(queued(w, OUT_ACK, 12345), 1);
  CHECK(idmap_get(&c->attempts, 12345) == NULL);

  /* A result for an attempt of another worker is ignored (w2 has no
   * CPU, so the new task goes to w1). */
  worker_t *w2 = join(c, "w2", "conn-w2", 0, 8000);
  job_t *x = memcoord_submit1(c, "x", NULL);
  dispatch_run(c);
  attempt_t *b = x->tasks[0].live;
  CHECK(b != NULL && b->worker == w);
  if (b) {
    send_result(c, "conn-w2", b->id, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
    CHECK_INT(b->state, ATTEMPT_DISPATCHED);
    CHECK_INT(x->tasks[0].state, TASK_DISPATCHED);
    CHECK(x->tasks[0].live == b);
    CHECK_INT(w->nlive, 1);
    CHECK_INT(queued(w, OUT_ACK, b->id), 0);
    memcoord_check_worker(w);
    memcoord_check_worker(w2);
  }
out:
  memcoord_free(c);
}

/* Started marks attempts running; heartbeats cancel what is not live. */
static void test_heartbeat(void) {
  coord_t *c = memcoord_new();
  worker_t *w = join(c, "w1", "conn-1", 4, 8000);
  job_t *j = memcoord_submit1(c, "hb", "\"frames\":\"1-2\"");
  dispatch_run(c);
  attempt_t *a0 = j->tasks[0].live, *a1 = j->tasks[1].live;
  CHECK(a0 && a1);
  if (!a0 || !a1)
    goto out;
  CHECK_INT(j->state, JOB_RUNNING);

  a0->dispatched_us = 1700000000000000;
  send_started(c, "conn-1", a0->id, 1700000000000000);
  CHECK_INT(a0->state, ATTEMPT_RUNNING);
  CHECK_INT(a0->started_us, 1700000000000000);
  CHECK_INT(j->tasks[0].state, TASK_RUNNING);
  CHECK_INT(a1->state, ATTEMPT_DISPATCHED);
  /* Started twice: the first start time stays. */
  send_started(c, "conn-1", a0->id, 1800000000000000);
  CHECK_INT(a0->started_us, 1700000000000000);
  /* A start time of 2^63-1 (or before the dispatch) is brought within
   * what the coordinator saw, 5 s of clock skew either side. */
  send_started(c, "conn-1", a1->id, INT64_MAX);
  CHECK_INT(a1->state, ATTEMPT_RUNNING);
  CHECK(a1->started_us > util_wall_us() && a1->started_us <= util_wall_us() + 5000000);

  /* Heartbeats: what is live stays, what is not is canceled. */
  uint64_t running[] = {a0->id, a1->id, 4242};
  w->last_seen_mono = 1;
  send_heartbeat(c, "conn-1", running, 3, false);
  CHECK(w->last_seen_mono > 1);
  CHECK_INT(queued(w, OUT_CANCEL, 4242), 1);
  CHECK_INT(queued(w, OUT_CANCEL, a0->id), 0);
  CHECK_INT(queued(w, OUT_CANCEL, a1->id), 0);
  send_result(c, "conn-1", a1->id, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  send_heartbeat(c, "conn-1", running, 2, false);
  CHECK_INT(queued(w, OUT_CANCEL, a1->id), 1);
  CHECK_INT(queued(w, OUT_CANCEL, a0->id), 0);

  /* The worker drains itself (SIGTERM) and takes work again. */
  send_heartbeat(c, "conn-1", running, 1, true);
  CHECK(w->self_draining);
  CHECK_INT(w->state, WORKER_DRAINING);
  job_t *k = memcoord_submit1(c, "later", NULL);
  dispatch_run(c);
  CHECK_INT(k->tasks[0].state, TASK_READY);
  send_heartbeat(c, "conn-1", running, 1, false);
  CHECK_INT(w->state, WORKER_ONLINE);
  dispatch_run(c);
  CHECK_INT(k->tasks[0].state, TASK_DISPATCHED);
out:
  memcoord_free(c);
}

static void test_logs(void) {
  coord_t *c = memcoord_new();
  c->cfg.log_cap_bytes = 16;
  worker_t *w = join(c, "w1", "conn-1", 4, 8000);
  worker_t *w2 = join(c, "w2", "conn-2", 4, 8000);
  (void)w2;
  job_t *j = memcoord_submit1(c, "log", "\"frames\":\"1-2\",\"requires\":{\"cpus\":4}");
  dispatch_run(c);
  /* a on w1, b on w2 (4 CPUs each, one task each). */
  attempt_t *a = j->tasks[0].live, *b = j->tasks[1].live;
  CHECK(a && b && a->worker != b->worker);
  if (!a || !b || a->worker == b->worker)
    goto out;
  if (a->worker != w) {
    attempt_t *t = a;
    a = b;
    b = t;
  }

  send_log(c, "conn-1", a->id, 0, "0123456789");
  CHECK_INT(a->log_next, 10);
  CHECK_INT(a->log_bytes, 10);
  CHECK(!a->log_truncated);
  CHECK(a->dirty);
  /* The same piece again: not stored twice. */
  send_log(c, "conn-1", a->id, 0, "0123456789");
  CHECK_INT(a->log_next, 10);
  CHECK_INT(a->log_bytes, 10);
  /* A piece overlapping what is stored: only its new end counts. */
  send_log(c, "conn-1", a->id, 5, "56789abc");
  CHECK_INT(a->log_next, 13);
  CHECK_INT(a->log_bytes, 13);
  /* Past the cap: cut there, and marked truncated. */
  send_log(c, "conn-1", a->id, 13, "defghij");
  CHECK_INT(a->log_next, 16);
  CHECK_INT(a->log_bytes, 16);
  CHECK(a->log_truncated);
  send_log(c, "conn-1", a->id, 16, "more");
  CHECK_INT(a->log_next, 16);
  CHECK_INT(a->log_bytes, 16);

  /* Pieces of another worker's attempt, empty or oversized pieces, and
   * pieces of unknown attempts are dropped. */
  send_log(c, "conn-1", b->id, 0, "not mine");
  CHECK_INT(b->log_next, 0);
  send_log(c, "conn-2", b->id, 0, "");
  CHECK_INT(b->log_next, 0);
  size_t huge = (64u << 10) + 1;
  char *big = xcalloc(1, huge);
  uint64_t zero = 0;
  const char *bigp = big;
  send_logs(c, "conn-2", b->id, 1, &zero, &bigp, &huge);
  free(big);
  CHECK_INT(b->log_next, 0);
  CHECK_INT(b->log_bytes, 0);
  send_log(c, "conn-2", 777, 0, "who?");
  CHECK(idmap_get(&c->attempts, 777) == NULL);
  /* A piece repeated within one message is stored once. */
  uint64_t offs[] = {0, 0, 2};
  const char *texts[] = {"ab", "ab", "cd"};
  send_logs(c, "conn-2", b->id, 3, offs, texts, NULL);
  CHECK_INT(b->log_next, 4);
  CHECK_INT(b->log_bytes, 4);
  CHECK(!b->log_truncated);
out:
  memcoord_free(c);
}

static void test_leases(void) {
  coord_t *c = memcoord_new();
  c->cfg.lease_ms = 10000;
  worker_t *w1 = join(c, "w1", "conn-1", 2, 8000);
  worker_t *w2 = join(c, "w2", "conn-2", 4, 8000);
  job_t *j = memcoord_submit1(c, "l", "\"frames\":\"1-4\"");
  dispatch_run(c);
  CHECK_INT(w1->nlive, 2);
  CHECK_INT(w2->nlive, 2);
  attempt_t *on1[2] = {w1->live, w1->live ? w1->live->wnext : NULL};
  CHECK(on1[0] && on1[1]);
  if (!on1[0] || !on1[1])
    goto out;
  send_started(c, "conn-1", on1[0]->id, 0);
  CHECK_INT(on1[0]->state, ATTEMPT_RUNNING);

  /* Nothing expired yet: nothing happens. */
  workers_check_leases(c);
  CHECK_INT(w1->state, WORKER_ONLINE);
  CHECK_INT(w1->nlive, 2);

  /* w1 silent for longer than the lease: lost, with its attempts, whose
   * tasks are ready again (losses, not failures). */
  uint64_t now = util_mono_us();
  w1->last_seen_mono = now - 11000000;
  workers_check_leases(c);
  CHECK_INT(w1->state, WORKER_LOST);
  CHECK_INT(w2->state, WORKER_ONLINE);
  for (int k = 0; k < 2; k++) {
    CHECK_INT(on1[k]->state, ATTEMPT_LOST);
    CHECK_CONTAINS(on1[k]->error, "no heartbeat for");
    CHECK_INT(on1[k]->task->state, TASK_READY);
    CHECK_INT(on1[k]->task->losses, 1);
    CHECK_INT(on1[k]->task->failures, 0);
  }
  CHECK_INT(w1->nlive, 0);
  CHECK_INT(w1->cpus_free, 2);
  CHECK_INT(w2->nlive, 2);
  CHECK_INT(j->counts[TASK_READY], 2);
  /* A lost worker's messages change nothing until it says hello. */
  uint64_t ids[] = {on1[0]->id};
  send_heartbeat(c, "conn-1", ids, 1, false);
  CHECK_INT(w1->state, WORKER_LOST);
  CHECK_INT(w1->last_seen_mono, now - 11000000);
  CHECK_INT(queued(w1, OUT_CANCEL, on1[0]->id), 0);
  /* Its tasks go to the worker still there. */
  dispatch_run(c);
  CHECK_INT(w2->nlive, 4);
  CHECK_INT(w1->nlive, 0);
  CHECK_INT(on1[0]->task->state, TASK_DISPATCHED);
  CHECK(on1[0]->task->live && on1[0]->task->live->worker == w2);

  /* An attempt not started within the lease is lost; a started one is not. */
  attempt_t *started = w2->live, *idle = w2->live->wnext;
  send_started(c, "conn-2", started->id, 0);
  started->dispatched_mono = idle->dispatched_mono = now - 11000000;
  workers_check_leases(c);
  CHECK_INT(w2->state, WORKER_ONLINE);
  CHECK_INT(started->state, ATTEMPT_RUNNING);
  CHECK_INT(idle->state, ATTEMPT_LOST);
  CHECK_STR(idle->error, "not started within the lease");
  CHECK_INT(idle->task->state, TASK_READY);
  CHECK_INT(w2->nlive, 3);
  memcoord_check_worker(w2);

  /* w1 comes back with a Hello, running nothing. */
  Clapper__Hello h = plain_hello("w1", "host-w1", 2, 8000);
  send_hello(c, "conn-1", "", &h);
  CHECK_INT(w1->state, WORKER_ONLINE);
  CHECK_INT(w1->nwelcome_cancel, 0);
out:
  memcoord_free(c);
}

/* The start deadline runs from when an assignment is sent, after its
 * batch committed, not from the decision: an attempt still waiting for its
 * batch is never "not started within the lease", however long the batch
 * takes (a big write once held batches for 18 s); once sent, the lease
 * counts from the send. */
static void test_lease_from_send(void) {
  coord_t *c = memcoord_new();
  c->cfg.lease_ms = 1000;
  worker_t *w = join(c, "w1", "conn-1", 2, 8000);
  job_t *j = memcoord_submit1(c, "s", "\"frames\":\"1-2\"");
  dispatch_run(c);
  attempt_t *a = j->tasks[0].live, *b = j->tasks[1].live;
  CHECK(a && b);
  if (!a || !b)
    goto out;
  CHECK_INT(queued(w, OUT_ASSIGN, a->id), 1);
  CHECK_INT(a->dispatched_mono, 0); /* decided, not sent */
  uint64_t now = util_mono_us();
  a->dispatched_us = b->dispatched_us = util_wall_us() - 20000000; /* decided 20 s ago */
  w->last_seen_mono = now;
  workers_check_leases(c);
  CHECK_INT(a->state, ATTEMPT_DISPATCHED);
  CHECK_INT(b->state, ATTEMPT_DISPATCHED);
  /* The worker reconnects meanwhile, running nothing: what was not sent
   * stays (it goes to the new connection), nothing is lost. */
  Clapper__Hello h = plain_hello("w1", "host-w1", 2, 8000);
  send_hello(c, "conn-1", "", &h);
  CHECK_INT(w->state, WORKER_ONLINE);
  CHECK_INT(a->state, ATTEMPT_DISPATCHED);
  CHECK_INT(b->state, ATTEMPT_DISPATCHED);
  CHECK_INT(w->nlive, 2);
  memcoord_check_worker(w);
  /* Sent 2 s ago and not started: lost; sent half a second ago: kept. */
  a->dispatched_mono = now - 2000000;
  b->dispatched_mono = now - 500000;
  workers_check_leases(c);
  CHECK_INT(a->state, ATTEMPT_LOST);
  CHECK_STR(a->error, "not started within the lease");
  CHECK_INT(b->state, ATTEMPT_DISPATCHED);
  CHECK_INT(w->state, WORKER_ONLINE);
  /* A sent attempt the worker does not mention when it reconnects is lost. */
  h = plain_hello("w1", "host-w1", 2, 8000);
  send_hello(c, "conn-1", "", &h);
  CHECK_INT(b->state, ATTEMPT_LOST);
  CHECK_STR(b->error, "the worker reconnected without it");
out:
  memcoord_free(c);
}

/* Messages from a connection that never said hello change nothing. */
static void test_unknown_connection(void) {
  coord_t *c = memcoord_new();
  worker_t *w = join(c, "w1", "conn-1", 4, 8000);
  job_t *j = memcoord_submit1(c, "u", NULL);
  dispatch_run(c);
  attempt_t *a = j->tasks[0].live;
  CHECK(a != NULL);
  if (!a)
    goto out;
  size_t nout = w->nout;
  uint64_t seen = w->last_seen_mono = 1;

  uint64_t ids[] = {a->id, 555};
  send_heartbeat(c, "stranger", ids, 2, true);
  send_started(c, "stranger", a->id, 0);
  send_result(c, "stranger", a->id, CLAPPER__OUTCOME__OUTCOME_FAILED);
  send_log(c, "stranger", a->id, 0, "intruder");
  send_drain(c, "stranger", true);
  /* The same routing id with a different length is not w1's either. */
  send_result(c, "conn-", a->id, CLAPPER__OUTCOME__OUTCOME_FAILED);

  CHECK_INT(c->nworkers, 1);
  CHECK_INT(a->state, ATTEMPT_DISPATCHED);
  CHECK_INT(j->tasks[0].state, TASK_DISPATCHED);
  CHECK_INT(j->tasks[0].failures, 0);
  CHECK_INT(a->log_next, 0);
  CHECK_INT(w->nout, nout);
  CHECK_INT(w->state, WORKER_ONLINE);
  CHECK(!w->self_draining);
  CHECK_INT(w->last_seen_mono, seen);
  CHECK_INT(w->nlive, 1);
out:
  memcoord_free(c);
}

static void test_drain(void) {
  coord_t *c = memcoord_new();
  worker_t *w = join(c, "w1", "conn-1", 4, 8000);

  /* An operator drains w1: it gets nothing new. */
  workers_drain(c, w, true, "alice");
  CHECK(w->drained);
  CHECK_INT(w->state, WORKER_DRAINING);
  CHECK_STR(worker_state_name((worker_state_t)w->state), "draining");
  job_t *j = memcoord_submit1(c, "d", "\"frames\":\"1-2\"");
  dispatch_run(c);
  CHECK_INT(j->counts[TASK_READY], 2);
  CHECK_INT(w->nlive, 0);
  /* Still drained after it reconnects. */
  Clapper__Hello h = plain_hello("w1", "host-w1", 4, 8000);
  send_hello(c, "conn-1", "", &h);
  CHECK_INT(w->state, WORKER_DRAINING);
  /* Undrained: work flows. */
  workers_drain(c, w, false, "alice");
  CHECK(!w->drained);
  CHECK_INT(w->state, WORKER_ONLINE);
  dispatch_run(c);
  CHECK_INT(j->counts[TASK_DISPATCHED], 2);

  /* The worker drains itself: an operator's undrain does not override it. */
  send_drain(c, "conn-1", true);
  CHECK(w->self_draining);
  CHECK_INT(w->state, WORKER_DRAINING);
  workers_drain(c, w, false, "alice");
  CHECK_INT(w->state, WORKER_DRAINING);
  send_drain(c, "conn-1", false);
  CHECK_INT(w->state, WORKER_ONLINE);
  /* Nor does the worker's end of draining override an operator's. */
  workers_drain(c, w, true, "alice");
  send_drain(c, "conn-1", true);
  send_drain(c, "conn-1", false);
  CHECK_INT(w->state, WORKER_DRAINING);
  workers_drain(c, w, false, "alice");
  CHECK_INT(w->state, WORKER_ONLINE);
  /* A Hello that says it is draining. */
  h.draining = true;
  send_hello(c, "conn-1", "", &h);
  CHECK_INT(w->state, WORKER_DRAINING);

  /* A lost worker drained by an operator stays lost, and comes back
   * drained. */
  worker_t *w2 = join(c, "w2", "conn-2", 4, 8000);
  worker_set_state(c, w2, WORKER_LOST, "test");
  workers_drain(c, w2, true, "alice");
  CHECK(w2->drained);
  CHECK_INT(w2->state, WORKER_LOST);
  Clapper__Hello h2 = plain_hello("w2", "host-w2", 4, 8000);
  send_hello(c, "conn-2", "", &h2);
  CHECK_INT(w2->state, WORKER_DRAINING);
  memcoord_free(c);
}

/* With keys (CURVE on, key pairs in a temporary directory, the ZAP
 * handler not needed: messages are handed over with their User-Id), a
 * worker is who its key says, checked by the key on every message; a
 * removed key's worker is lost at once, its attempt lost and requeued,
 * and its open connection gets nothing more. */
static void test_keys(void) {
  char dir[] = "/tmp/clapper-test-workers.XXXXXX", err[512];
  CHECK(mkdtemp(dir) != NULL);
  keys_key_t k[3];
  const char *names[3] = {"coordinator", "w2", "w9"};
  for (int i = 0; i < 3; i++)
    CHECK_INT(keys_generate(names[i], dir, &k[i], err, sizeof err), 0);
  coord_t *c = memcoord_new();
  c->cfg.keys_dir = dir;
  c->zctx = zmq_ctx_new();
  json_t *doc = NULL;
  const char *code;
  for (int i = 1; i < 3; i++) {
    CHECK_INT(auth_add(c, names[i], "worker", k[i].public_key, "root", &doc, &code, err, sizeof err), 0);
    json_decref(doc);
  }
  CHECK_INT(auth_start(c, err, sizeof err), 0);

  Clapper__Hello h = plain_hello("w2", "host-w2", 4, 8000);
  send_hello(c, "conn-3", k[2].public_key, &h); /* w9's key */
  send_hello(c, "conn-3", "w2", &h);            /* a name is not a key */
  CHECK(workers_find(c, "w2") == NULL);
  send_hello(c, "conn-3", k[1].public_key, &h);
  worker_t *w2 = workers_find(c, "w2");
  CHECK(w2 != NULL);
  if (!w2)
    exit(1);
  CHECK_INT(w2->state, WORKER_ONLINE);

  job_t *j = memcoord_submit1(c, "j", "\"requires\":{\"cpus\":1,\"memory_mb\":1000}");
  dispatch_run(c);
  attempt_t *a = j->tasks[0].live;
  CHECK(a && a->worker == w2);
  CHECK(a != NULL);
  uint64_t aid = a ? a->id : 0;
  CHECK_INT(auth_remove(c, "w2", "root", &doc, &code, err, sizeof err), 0);
  json_decref(doc);
  CHECK_INT(w2->state, WORKER_LOST);
  CHECK(w2->live == NULL);
  attempt_t *gone = idmap_get(&c->attempts, aid);
  CHECK_INT(gone ? gone->state : -1, ATTEMPT_LOST);
  CHECK_INT(j->counts[TASK_READY], 1); /* lost, not failed: ready again */
  /* The old connection, still open, says hello again: refused; its next
   * messages are an unknown connection's. */
  send_hello(c, "conn-3", k[1].public_key, &h);
  CHECK_INT(w2->state, WORKER_LOST);
  dispatch_run(c);
  CHECK(w2->live == NULL);
  /* The name registered again with another key: the old key still gets
   * nothing, the new one is w2. */
  keys_key_t k2;
  CHECK_INT(keys_generate("w2-new", dir, &k2, err, sizeof err), 0);
  CHECK_INT(auth_add(c, "w2", "worker", k2.public_key, "root", &doc, &code, err, sizeof err), 0);
  json_decref(doc);
  send_hello(c, "conn-3", k[1].public_key, &h);
  CHECK_INT(w2->state, WORKER_LOST);
  send_hello(c, "conn-4", k2.public_key, &h);
  CHECK_INT(w2->state, WORKER_ONLINE);

  auth_free(c);
  uv_run(memcoord_loop(), UV_RUN_NOWAIT);
  zmq_ctx_term(c->zctx);
  c->zctx = NULL;
  memcoord_free(c);
  const char *files[] = {"coordinator", "w2", "w9", "w2-new"};
  for (int i = 0; i < 4; i++) {
    char *key = keys_path(dir, files[i], "key"), *pub = keys_path(dir, files[i], "pub");
    unlink(key);
    unlink(pub);
    free(key);
    free(pub);
  }
  rmdir(dir);
  for (int i = 0; i < 3; i++)
    keys_wipe(&k[i]);
  keys_wipe(&k2);
}

/* The names of a workers_json page, comma-separated, then "|more|next". */
static char *page_of(coord_t *c, unsigned limit, const char *after) {
  char *text = workers_json(c, limit, after);
  json_t *doc = json_loads(text, 0, NULL);
  free(text);
  CHECK(doc != NULL);
  sbuf_t b = {0};
  size_t i;
  json_t *w;
  json_array_foreach(json_object_get(doc, "workers"), i, w)
      sbuf_printf(&b, "%s%s", i ? "," : "", json_string_value(json_object_get(w, "name")));
  const json_t *next = json_object_get(doc, "next_after");
  sbuf_printf(&b, "|%s|%s", json_is_true(json_object_get(doc, "more")) ? "more" : "end",
              json_is_string(next) ? json_string_value(next) : json_is_null(next) ? "null" : "?");
  json_decref(doc);
  return sbuf_steal(&b);
}

static void test_list_pages(void) {
  coord_t *c = memcoord_new();
  /* Registered out of name order: the list is in name order. */
  memcoord_worker(c, "w3", 1, 1000, 0, NULL, NULL);
  memcoord_worker(c, "w1", 1, 1000, 0, NULL, NULL);
  memcoord_worker(c, "w2", 1, 1000, 0, NULL, NULL);
  static const struct {
    unsigned limit;
    const char *after, *want;
  } cases[] = {
      {1000, NULL, "w1,w2,w3|end|null"}, {1, NULL, "w1|more|w1"},  {1, "w1", "w2|more|w2"},
      {2, "w1", "w2,w3|end|null"},      {1, "w2", "w3|end|null"}, {5, "w3", "|end|null"},
      {5, "a", "w1,w2,w3|end|null"},     {2, "w10", "w2,w3|end|null"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    char *got = page_of(c, cases[i].limit, cases[i].after);
    CHECK_STR(got, cases[i].want);
    free(got);
  }
  memcoord_free(c);
}

/* A worker's own health: a Heartbeat or Hello with a reason makes it
 * degraded (nothing new is dispatched, its running attempts stay, its
 * listing has the reason), a result of OUTCOME_LOST (its disk was full)
 * ends the attempt lost, not failed, and an empty reason brings it back
 * online, or draining when it was drained. */
static void send_health(coord_t *c, const char *conn, const char *why) {
  Clapper__Heartbeat hb = CLAPPER__HEARTBEAT__INIT;
  hb.degraded = (char *)why;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_HEARTBEAT;
  env.heartbeat = &hb;
  deliver(c, conn, "", &env);
}

static void test_degraded(void) {
  coord_t *c = memcoord_new();
  worker_t *w = join(c, "w1", "conn-1", 4, 8000);
  job_t *j = memcoord_submit1(c, "d", "\"frames\":\"1-3\",\"requires\":{\"cpus\":2}");
  dispatch_run(c);
  CHECK_INT(w->nlive, 2);
  attempt_t *a = j->tasks[0].live;
  uint64_t aid = a->id;

  send_health(c, "conn-1", "disk full: 0 bytes free\n on /w");
  CHECK_INT(w->state, WORKER_DEGRADED);
  CHECK_STR(worker_state_name((worker_state_t)w->state), "degraded");
  CHECK_STR(w->degraded, "disk full: 0 bytes free? on /w"); /* cleaned to one line */
  CHECK_INT(w->nlive, 2); /* what it runs stays */
  char *text = workers_one_json(c, w);
  CHECK_CONTAINS(text, "\"state\":\"degraded\"");
  CHECK_CONTAINS(text, "\"reason\":\"disk full: 0 bytes free? on /w\"");
  free(text);

  /* Its disk was full: the attempt ends lost (a loss, not a failure) and
   * the task waits, with the reason, for a worker. */
  send_result(c, "conn-1", aid, CLAPPER__OUTCOME__OUTCOME_LOST);
  CHECK_INT(j->tasks[0].failures, 0);
  CHECK_INT(j->tasks[0].losses, 1);
  CHECK_INT(j->tasks[0].state, TASK_READY);
  dispatch_run(c);
  CHECK_INT(w->nlive, 1);
  CHECK_INT(j->counts[TASK_READY], 2);
  CHECK_CONTAINS(j->reason, "no worker can run it: w1 is degraded (disk full");

  /* A Hello says the same; then a heartbeat says it is healthy. */
  Clapper__Hello h = plain_hello("w1", "host-w1", 4, 8000);
  uint64_t running[] = {j->tasks[1].live->id};
  h.n_running = 1;
  h.running = running;
  h.degraded = "journal cannot be written";
  send_hello(c, "conn-1", "", &h);
  CHECK_INT(w->state, WORKER_DEGRADED);
  CHECK_STR(w->degraded, "journal cannot be written");
  send_health(c, "conn-1", "");
  CHECK_INT(w->state, WORKER_ONLINE);
  CHECK(w->degraded == NULL);
  dispatch_run(c);
  CHECK_INT(j->counts[TASK_READY], 1);
  CHECK_STR(j->reason, "");
  text = workers_one_json(c, w);
  CHECK_CONTAINS(text, "\"reason\":\"\"");
  free(text);

  /* Drained and degraded: degraded wins, draining once healthy. */
  workers_drain(c, w, true, "alice");
  send_health(c, "conn-1", "workdir /w is gone");
  CHECK_INT(w->state, WORKER_DEGRADED);
  send_health(c, "conn-1", "");
  CHECK_INT(w->state, WORKER_DRAINING);
  memcoord_free(c);
}

int main(void) {
  /* Sends fail here (no socket): keep those warnings out. */
  log_init("test_workers", LOG_LVL_ERROR);
  test_hello_new();
  test_hello_reconcile();
  test_hello_refused();
  test_results();
  test_heartbeat();
  test_logs();
  test_leases();
  test_lease_from_send();
  test_unknown_connection();
  test_drain();
  test_degraded();
  test_keys();
  test_list_pages();
  CHECK_INT(uv_loop_close(memcoord_loop()), 0);
  return check_report("test_workers");
}
