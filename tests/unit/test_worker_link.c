/*
 * test_worker_link.c - the real clapper-worker binary against a coordinator
 * played by this test on a ZeroMQ ROUTER socket: Hello with the GPU
 * inventory, Welcome, Assign, Started, Results with the right outcomes,
 * retransmission until ResultAck, Cancel, duplicate assignments, drain on
 * SIGTERM (Drain, refusal of new work, clean exit 0), the journal across a
 * restart (the unacknowledged result comes back in Hello), Reset, Hello
 * after coordinator silence, stop-now with a task running, and log
 * streaming (Logs while the task runs, the rest before its Result,
 * contiguous chunks of at most 64 KiB, --log-stream-max-bytes), and stale
 * work refused (a Welcome for an earlier Hello, a task past its
 * start_by_us, assignments that waited while the worker was stopped).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "check.h"
#include "codec.h"

#define MAX_MSGS 4096

static char dir[] = "/tmp/clapper-test-link-XXXXXX";
static char bin[1024], endpoint[256], inventory[512], workdir[512], logpath[512];
static void *zctx, *router;
static uint8_t ident[CODEC_MAX_IDENT];
static size_t identlen;
static envelope_t *msgs[MAX_MSGS]; /* everything received in this phase */
static size_t n_msgs;
/* Answer every Hello with a Welcome and every Heartbeat with an empty
 * ResultAck, as a coordinator does. */
static bool auto_welcome;
/* Automatic answers may go to a worker that has just exited. */
static bool replying;
/* Automatic Welcomes echo the Hello's id and say this clock, shifted by
 * auto_clock_offset_us, as the coordinator's (else they are an older
 * coordinator's: neither). */
static bool auto_echo;
static int64_t auto_clock_offset_us;
/* start_by_us of the tasks send_assign sends (0: none). */
static int64_t assign_start_by_us;

static void send_welcome(uint32_t hb_ms, uint64_t *cancel, size_t n_cancel);
static void send_welcome_for(uint32_t hb_ms, uint32_t lease_ms, uint64_t hello_id, int64_t now_us,
                             uint64_t *cancel, size_t n_cancel);
static void send_ack(uint64_t *ids, size_t n);

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Receives at most one message within timeout_ms and records it. */
static void pump(int timeout_ms) {
  zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&it, 1, timeout_ms) <= 0)
    return;
  envelope_t *env = NULL;
  char err[256];
  uint8_t id[CODEC_MAX_IDENT];
  size_t idl = 0;
  int rc = codec_recv(router, id, &idl, NULL, CODEC_MAX_WORKER_MSG, &env, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "refused message: %s\n", err);
    CHECK(!"the worker sent a malformed message");
    return;
  }
  if (rc == 0)
    return;
  if (env->body_case == CLAPPER__ENVELOPE__BODY_HELLO) {
    memcpy(ident, id, idl);
    identlen = idl;
  } else if (!identlen || idl != identlen || memcmp(id, ident, idl) != 0) {
    /* Late words of a worker an earlier phase stopped: not this one's. */
    codec_free(&env);
    return;
  }
  replying = true;
  if (auto_welcome && env->body_case == CLAPPER__ENVELOPE__BODY_HELLO) {
    if (auto_echo)
      send_welcome_for(100, 1000, env->hello->hello_id, util_wall_us() + auto_clock_offset_us,
                       NULL, 0);
    else
      send_welcome(100, NULL, 0);
  }
  if (auto_welcome && env->body_case == CLAPPER__ENVELOPE__BODY_HEARTBEAT)
    send_ack(NULL, 0);
  replying = false;
  if (n_msgs < MAX_MSGS)
    msgs[n_msgs++] = env;
  else
    codec_free(&env);
}

#define WAIT_FOR(expr, ms)                                                     \
  ({                                                                           \
    uint64_t dl_ = now_ms() + (ms);                                            \
    bool ok_;                                                                  \
    while (!(ok_ = (expr)) && now_ms() < dl_)                                  \
      pump((int)(dl_ - now_ms()));                                             \
    ok_;                                                                       \
  })

static void clear_msgs(void) {
  for (size_t i = 0; i < n_msgs; i++)
    codec_free(&msgs[i]);
  n_msgs = 0;
}

static size_t count(Clapper__Envelope__BodyCase kind) {
  size_t n = 0;
  for (size_t i = 0; i < n_msgs; i++)
    n += msgs[i]->body_case == kind;
  return n;
}

static envelope_t *last(Clapper__Envelope__BodyCase kind) {
  for (size_t i = n_msgs; i-- > 0;)
    if (msgs[i]->body_case == kind)
      return msgs[i];
  return NULL;
}

/* How many Results messages carried attempt id, and the latest such result. */
static size_t result_count(uint64_t id, Clapper__Result **latest) {
  size_t n = 0;
  if (latest)
    *latest = NULL;
  for (size_t i = 0; i < n_msgs; i++) {
    if (msgs[i]->body_case != CLAPPER__ENVELOPE__BODY_RESULTS)
      continue;
    for (size_t k = 0; k < msgs[i]->results->n_results; k++) {
      if (msgs[i]->results->results[k]->attempt_id == id) {
        n++;
        if (latest)
          *latest = msgs[i]->results->results[k];
      }
    }
  }
  return n;
}

static uint32_t started_pid(uint64_t id) {
  for (size_t i = 0; i < n_msgs; i++) {
    if (msgs[i]->body_case != CLAPPER__ENVELOPE__BODY_STARTED)
      continue;
    for (size_t k = 0; k < msgs[i]->started->n_attempts; k++)
      if (msgs[i]->started->attempts[k]->attempt_id == id)
        return msgs[i]->started->attempts[k]->pid;
  }
  return 0;
}

static size_t started_count(uint64_t id) {
  size_t n = 0;
  for (size_t i = 0; i < n_msgs; i++)
    if (msgs[i]->body_case == CLAPPER__ENVELOPE__BODY_STARTED)
      for (size_t k = 0; k < msgs[i]->started->n_attempts; k++)
        n += msgs[i]->started->attempts[k]->attempt_id == id;
  return n;
}

static void send_env(envelope_t *env) {
  int rc = codec_send(router, ident, identlen, env);
  if (replying && rc < 0 && errno == EHOSTUNREACH)
    return;
  CHECK_INT(rc, 0);
  if (rc)
    fprintf(stderr, "codec_send: %s\n", zmq_strerror(errno));
}

static void send_welcome_for(uint32_t hb_ms, uint32_t lease_ms, uint64_t hello_id, int64_t now_us,
                             uint64_t *cancel, size_t n_cancel) {
  Clapper__Welcome w = CLAPPER__WELCOME__INIT;
  w.heartbeat_ms = hb_ms;
  w.lease_ms = lease_ms;
  w.hello_id = hello_id;
  w.now_us = now_us;
  w.cancel = cancel;
  w.n_cancel = n_cancel;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_WELCOME;
  env.welcome = &w;
  send_env(&env);
}

static void send_welcome(uint32_t hb_ms, uint64_t *cancel, size_t n_cancel) {
  send_welcome_for(hb_ms, 10 * hb_ms, 0, 0, cancel, n_cancel);
}

static void send_ack(uint64_t *ids, size_t n) {
  Clapper__ResultAck a = CLAPPER__RESULT_ACK__INIT;
  a.attempt_ids = ids;
  a.n_attempt_ids = n;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_RESULT_ACK;
  env.result_ack = &a;
  send_env(&env);
}

static void send_cancel(uint64_t id, const char *reason) {
  Clapper__Cancel c = CLAPPER__CANCEL__INIT;
  c.attempt_ids = &id;
  c.n_attempt_ids = 1;
  c.reason = (char *)reason;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_CANCEL;
  env.cancel = &c;
  send_env(&env);
}

/* Sends an Assign of tasks built from (id, shell command, output) triples. */
typedef struct tspec {
  uint64_t id;
  const char *cmd;
  const char *output; /* file name inside the task's output dir, or NULL */
  uint32_t gpu;       /* 0: none, else index + 1 */
} tspec_t;

static void send_assign(const tspec_t *specs, size_t n) {
  Clapper__Task *tasks = xcalloc(n, sizeof *tasks);
  Clapper__Task **tp = xcalloc(n, sizeof *tp);
  char **strs = xcalloc(n * 3, sizeof *strs);
  char *argvs[64][3];
  uint32_t gpus[64];
  for (size_t i = 0; i < n; i++) {
    Clapper__Task *t = &tasks[i];
    clapper__task__init(t);
    t->attempt_id = specs[i].id;
    t->task_id = specs[i].id * 10;
    t->job_id = 1;
    t->start_by_us = assign_start_by_us;
    argvs[i][0] = "sh";
    argvs[i][1] = "-c";
    argvs[i][2] = (char *)specs[i].cmd;
    t->argv = argvs[i];
    t->n_argv = 3;
    strs[3 * i] = xasprintf("%s/out/%llu", dir, (unsigned long long)specs[i].id);
    t->output_dir = strs[3 * i];
    if (specs[i].output) {
      strs[3 * i + 1] = xasprintf("%s/%s", strs[3 * i], specs[i].output);
      t->outputs = &strs[3 * i + 1];
      t->n_outputs = 1;
    }
    if (specs[i].gpu) {
      gpus[i] = specs[i].gpu - 1;
      t->gpus = &gpus[i];
      t->n_gpus = 1;
    }
    tp[i] = t;
  }
  Clapper__Assign a = CLAPPER__ASSIGN__INIT;
  a.tasks = tp;
  a.n_tasks = n;
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_ASSIGN;
  env.assign = &a;
  send_env(&env);
  for (size_t i = 0; i < n * 3; i++)
    free(strs[i]);
  free(strs);
  free(tasks);
  free(tp);
}

/* Starts the worker; extra_flag/extra_value, when not NULL, are added. */
static pid_t start_worker_with(const char *extra_flag, const char *extra_value) {
  identlen = 0; /* only the new worker's messages count from here on */
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 2);
      close(fd);
    }
    execl(bin, bin, "--coordinator", endpoint, "--gpu-inventory", inventory, "--workdir",
          workdir, "--name", "test-w", "--heartbeat-ms", "100", "--kill-grace-ms", "300",
          "--drain-timeout-ms", "1500", "--tags", "render,gpu", "--cpus", "4", "--memory-mb",
          "2048", "--log-level", "debug", extra_flag, extra_value, (char *)NULL);
    _exit(127);
  }
  return pid;
}

static pid_t start_worker(void) { return start_worker_with(NULL, NULL); }

/* Waits up to ms for pid; returns its wait status or -1. */
static int wait_exit(pid_t pid, int ms) {
  uint64_t dl = now_ms() + (uint64_t)ms;
  int status;
  while (now_ms() < dl) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid)
      return status;
    pump(20); /* keep the socket drained meanwhile */
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

static bool exited_zero(int status) { return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

/* The pid a task wrote to path, waiting up to ms for the file to exist and
 * hold a whole number (the shell may have created it but not written it). */
static pid_t wait_pid_file(const char *path, uint64_t ms) {
  uint64_t deadline = now_ms() + ms;
  do {
    char *text = util_read_file(path, 64, NULL);
    pid_t pid = text && strchr(text, '\n') ? (pid_t)atoi(text) : 0;
    free(text);
    if (pid > 0)
      return pid;
    usleep(20000);
  } while (now_ms() < deadline);
  return 0;
}

static bool pid_gone(pid_t pid) {
  for (int i = 0; i < 150; i++) {
    if (kill(pid, 0) < 0 && errno == ESRCH)
      return true;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    char *st = util_read_file(path, 4096, NULL);
    char *paren = st ? strrchr(st, ')') : NULL;
    bool zombie = paren && (paren[2] == 'Z' || paren[2] == 'X');
    free(st);
    if (zombie)
      return true;
    usleep(20000);
  }
  return false;
}

static void phase_run_and_drain(void) {
  pid_t w = start_worker();
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HELLO) >= 1, 15000));
  envelope_t *h = last(CLAPPER__ENVELOPE__BODY_HELLO);
  if (!h) {
    kill(w, SIGKILL);
    waitpid(w, NULL, 0);
    return;
  }
  Clapper__Hello *hello = h->hello;
  CHECK_STR(hello->name, "test-w");
  CHECK_STR(hello->version, CLAPPER_VERSION);
  CHECK(hello->hostname[0] != '\0');
  CHECK_INT(hello->cpus, 4);
  CHECK_INT(hello->memory_mb, 2048);
  CHECK_INT(hello->n_gpus, 2);
  if (hello->n_gpus == 2) {
    CHECK_INT(hello->gpus[0]->index, 0);
    CHECK_STR(hello->gpus[0]->uuid, "GPU-11111111-2222-3333-4444-555555555555");
    CHECK_STR(hello->gpus[0]->model, "NVIDIA H100 80GB HBM3");
    CHECK_INT(hello->gpus[0]->memory_mb, 81559);
    CHECK_INT(hello->gpus[1]->index, 1);
    CHECK_STR(hello->gpus[1]->model, "NVIDIA H200");
    CHECK_INT(hello->gpus[1]->memory_mb, 143771);
  }
  CHECK_INT(hello->n_tags, 2);
  if (hello->n_tags == 2) {
    CHECK_STR(hello->tags[0], "render");
    CHECK_STR(hello->tags[1], "gpu");
  }
  CHECK_INT(hello->n_running, 0);
  CHECK_INT(hello->n_results, 0);
  CHECK(!hello->draining);

  send_welcome(100, NULL, 0);
  auto_welcome = true;
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HEARTBEAT) >= 2, 3000));

  tspec_t two[] = {{101, "exit 3", NULL, 0},
                   {102, "printf hi > out.txt; echo \"$CUDA_VISIBLE_DEVICES\" > gpus.txt",
                    "out.txt", 2}};
  send_assign(two, 2);
  CHECK(WAIT_FOR(started_pid(101) && started_pid(102), 5000));
  CHECK(WAIT_FOR(result_count(101, NULL) >= 1 && result_count(102, NULL) >= 1, 10000));
  Clapper__Result *r;
  result_count(101, &r);
  if (r) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_FAILED);
    CHECK_INT(r->exit_code, 3);
    CHECK_STR(r->error, "exit status 3");
    CHECK(r->ended_at_us >= r->started_at_us && r->started_at_us > 0);
  }
  result_count(102, &r);
  if (r) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
    CHECK_INT(r->exit_code, 0);
    CHECK_STR(r->error, "");
    CHECK_INT(r->n_outputs, 1);
    if (r->n_outputs == 1) {
      CHECK_INT(r->outputs[0]->size, 2);
      CHECK_STR(r->outputs[0]->sha256,
                "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4");
    }
  }
  char *gp = xasprintf("%s/out/102/gpus.txt", dir);
  char *gtext = util_read_file(gp, 4096, NULL);
  CHECK_STR(gtext, "1\n");
  free(gtext);
  free(gp);
  /* The task's log lives in the workdir. */
  char *lp = xasprintf("%s/logs/101.log", workdir);
  CHECK(access(lp, F_OK) == 0);
  free(lp);

  /* A duplicate assignment of a finished attempt is ignored. */
  send_assign(two, 1);
  /* No ResultAck yet: the results come again (every 5 heartbeats). */
  CHECK(WAIT_FOR(result_count(101, NULL) >= 2 && result_count(102, NULL) >= 2, 5000));
  CHECK_INT(started_count(101), 1);

  uint64_t ack101 = 101;
  send_ack(&ack101, 1);
  size_t seen101 = 0, seen102 = 0;
  /* Let the ack land, then look at later retransmissions. */
  WAIT_FOR(false, 300);
  seen101 = result_count(101, NULL);
  seen102 = result_count(102, NULL);
  CHECK(WAIT_FOR(result_count(102, NULL) > seen102, 5000));
  CHECK_INT(result_count(101, NULL), seen101);

  /* Cancel a running attempt. */
  tspec_t sleeper[] = {{103, "echo $$ > c.pid; exec sleep 30", NULL, 0}};
  send_assign(sleeper, 1);
  CHECK(WAIT_FOR(started_pid(103) != 0, 5000));
  CHECK(WAIT_FOR(({
                   envelope_t *hb = last(CLAPPER__ENVELOPE__BODY_HEARTBEAT);
                   hb && hb->heartbeat->n_running == 1 && hb->heartbeat->running[0] == 103;
                 }),
                 3000));
  send_cancel(103, "test says stop");
  CHECK(WAIT_FOR(result_count(103, NULL) >= 1, 5000));
  result_count(103, &r);
  if (r) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_CANCELED);
    CHECK_STR(r->error, "canceled: test says stop");
  }
  uint64_t ack103 = 103;
  send_ack(&ack103, 1);

  /* SIGTERM: Drain, then work assigned afterwards is handed back. */
  uint64_t t0 = now_ms();
  kill(w, SIGTERM);
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_DRAIN) >= 1, 3000));
  envelope_t *d = last(CLAPPER__ENVELOPE__BODY_DRAIN);
  CHECK(d && d->drain->on);
  tspec_t late[] = {{104, "true", NULL, 0}};
  send_assign(late, 1);
  CHECK(WAIT_FOR(result_count(104, NULL) >= 1, 3000));
  result_count(104, &r);
  if (r) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_CANCELED);
    CHECK_STR(r->error, "worker is draining");
    CHECK_INT(r->exit_code, -1);
  }
  CHECK_INT(started_count(104), 0);
  uint64_t ack104 = 104;
  send_ack(&ack104, 1);
  envelope_t *hb = last(CLAPPER__ENVELOPE__BODY_HEARTBEAT);
  CHECK(WAIT_FOR((hb = last(CLAPPER__ENVELOPE__BODY_HEARTBEAT)) && hb->heartbeat->draining, 2000));
  /* 102 stays unacknowledged: the worker gives up after --drain-timeout-ms
   * and exits cleanly (the sanitizers' leak check included). */
  int status = wait_exit(w, 10000);
  CHECK(exited_zero(status));
  CHECK(now_ms() - t0 >= 1400); /* it did wait for the acknowledgement */
}

static void phase_restart(void) {
  clear_msgs();
  auto_welcome = false;
  pid_t w = start_worker();
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HELLO) >= 1, 15000));
  envelope_t *h = last(CLAPPER__ENVELOPE__BODY_HELLO);
  if (h) {
    CHECK_INT(h->hello->n_results, 1);
    if (h->hello->n_results == 1) {
      Clapper__Result *r = h->hello->results[0];
      CHECK_INT(r->attempt_id, 102);
      CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
      CHECK_INT(r->n_outputs, 1);
      if (r->n_outputs == 1)
        CHECK_STR(r->outputs[0]->sha256,
                  "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4");
    }
    CHECK_INT(h->hello->n_running, 0);
  }

  /* Reset: the worker says Hello again. */
  Clapper__Reset rs = CLAPPER__RESET__INIT;
  rs.reason = "unknown worker";
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_RESET;
  env.reset = &rs;
  send_env(&env);
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HELLO) >= 2, 3000));

  /* Welcome, then silence: after half the lease (longer than 3 heartbeat
   * intervals here), Hello again. */
  uint64_t t0 = now_ms(); /* the silence runs from the Welcome */
  send_welcome(100, NULL, 0);
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HEARTBEAT) >= 1, 3000));
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HELLO) >= 3, 3000));
  uint64_t quiet = now_ms() - t0;
  CHECK(quiet >= 450 && quiet < 1500);

  uint64_t ack = 102;
  send_welcome(100, NULL, 0);
  auto_welcome = true;
  send_ack(&ack, 1);
  WAIT_FOR(false, 300);
  /* SIGINT: stop now. */
  kill(w, SIGINT);
  int status = wait_exit(w, 5000);
  CHECK(exited_zero(status));
}

static void phase_stop_now(void) {
  clear_msgs();
  pid_t w = start_worker();
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HELLO) >= 1, 15000));
  envelope_t *h = last(CLAPPER__ENVELOPE__BODY_HELLO);
  CHECK(h && h->hello->n_results == 0);
  send_welcome(100, NULL, 0);
  tspec_t sleeper[] = {{105, "echo $$ > c.pid; trap '' TERM; sleep 30 & wait; sleep 30", NULL, 0},
                       {106, "exec sleep 30", NULL, 0}};
  send_assign(sleeper, 2);
  CHECK(WAIT_FOR(started_pid(105) != 0 && started_pid(106) != 0, 5000));
  /* A Welcome may name attempts the coordinator no longer expects. */
  uint64_t stale = 106;
  send_welcome(100, &stale, 1);
  CHECK(WAIT_FOR(result_count(106, NULL) >= 1, 5000));
  Clapper__Result *r = NULL;
  result_count(106, &r);
  CHECK(r && r->outcome == CLAPPER__OUTCOME__OUTCOME_CANCELED);
  CHECK(pid_gone((pid_t)started_pid(106)));
  pid_t pgid = (pid_t)started_pid(105);
  char *pp = xasprintf("%s/out/105/c.pid", dir);
  pid_t child = wait_pid_file(pp, 10000);
  free(pp);
  CHECK(child > 0);
  /* The first SIGTERM drains and waits for the task; the second stops now. */
  kill(w, SIGTERM);
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_DRAIN) >= 1, 3000));
  kill(w, SIGTERM);
  uint64_t t0 = now_ms();
  int status = wait_exit(w, 5000);
  CHECK(exited_zero(status));
  CHECK(now_ms() - t0 < 3000);
  CHECK_INT(result_count(105, NULL), 0);
  if (child > 0)
    CHECK(pid_gone(child));
  if (pgid > 0)
    CHECK(pid_gone(pgid));
}

static void phase_worker_killed(void) {
  /* kill -9 of the worker: the shim's parent-death signal takes the task's
   * whole process group down with it. */
  clear_msgs();
  pid_t w = start_worker();
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HELLO) >= 1, 15000));
  tspec_t sleeper[] = {{107, "echo $$ > c.pid; sleep 30 & echo $! > gc.pid; wait", NULL, 0}};
  send_assign(sleeper, 1);
  CHECK(WAIT_FOR(started_pid(107) != 0, 5000));
  char *cp = xasprintf("%s/out/107/c.pid", dir), *gp = xasprintf("%s/out/107/gc.pid", dir);
  pid_t c = wait_pid_file(cp, 10000), gc = wait_pid_file(gp, 10000);
  free(cp);
  free(gp);
  CHECK(c > 0 && gc > 0);
  kill(w, SIGKILL);
  int status = 0;
  waitpid(w, &status, 0);
  if (c > 0)
    CHECK(pid_gone(c));
  if (gc > 0)
    CHECK(pid_gone(gc));
  CHECK(pid_gone((pid_t)started_pid(107)));
}

/* ---------------------------------------------------------------- stale work */

static bool out_exists(uint64_t id) {
  char *p = xasprintf("%s/out/%llu", dir, (unsigned long long)id);
  bool there = access(p, F_OK) == 0;
  free(p);
  return there;
}

/* Work that may have been given to another worker is not started: what
 * follows a Welcome for an earlier Hello, a task past its start_by_us on
 * the coordinator's clock, and what waited in the socket while the worker
 * was stopped past its lease; the attempt that ran on through the stop is
 * stopped when the Welcome cancels it, and new work is taken again. */
static void phase_stale_work(void) {
  clear_msgs();
  auto_welcome = false;
  auto_echo = false;
  pid_t w = start_worker();
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HELLO) >= 1, 15000));
  envelope_t *h = last(CLAPPER__ENVELOPE__BODY_HELLO);
  uint64_t first = h ? h->hello->hello_id : 0;
  CHECK(first != 0);

  /* A Welcome for another Hello: the Assign after it is dropped, and the
   * worker, unanswered, says Hello again (with a new id). */
  send_welcome_for(100, 1000, first + 1, util_wall_us(), NULL, 0);
  tspec_t early[] = {{301, "true", NULL, 0}};
  send_assign(early, 1);
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HELLO) >= 2, 3000));
  h = last(CLAPPER__ENVELOPE__BODY_HELLO);
  CHECK(h && h->hello->hello_id != first && h->hello->hello_id != 0);

  /* Welcomed by a coordinator whose clock is 60 s ahead of this host's:
   * start_by_us is read on its clock. */
  auto_echo = true;
  auto_clock_offset_us = 60 * INT64_C(1000000);
  auto_welcome = true;
  if (h)
    send_welcome_for(100, 1000, h->hello->hello_id, util_wall_us() + auto_clock_offset_us, NULL,
                     0);
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HEARTBEAT) >= 1, 3000));
  assign_start_by_us = util_wall_us() + 30 * INT64_C(1000000);
  tspec_t late[] = {{302, "true", NULL, 0}};
  send_assign(late, 1);
  assign_start_by_us = util_wall_us() + 600 * INT64_C(1000000);
  tspec_t runner[] = {{303, "echo $$ > c.pid; exec sleep 30", NULL, 0}};
  send_assign(runner, 1);
  CHECK(WAIT_FOR(started_pid(303) != 0, 5000));
  char *cp = xasprintf("%s/out/303/c.pid", dir);
  pid_t child = wait_pid_file(cp, 10000);
  free(cp);
  CHECK(child > 0);
  CHECK_INT(started_count(301), 0);
  CHECK_INT(started_count(302), 0);
  CHECK_INT(result_count(301, NULL) + result_count(302, NULL), 0);
  CHECK(!out_exists(301) && !out_exists(302));

  /* Stopped past the lease (1000 ms) with 303 running; 304 waits in its
   * socket meanwhile. */
  auto_welcome = false;
  size_t hellos = count(CLAPPER__ENVELOPE__BODY_HELLO);
  kill(w, SIGSTOP);
  WAIT_FOR(false, 200);
  tspec_t waiting[] = {{304, "true", NULL, 0}};
  send_assign(waiting, 1);
  WAIT_FOR(false, 1300);
  kill(w, SIGCONT);
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HELLO) > hellos, 3000));
  h = last(CLAPPER__ENVELOPE__BODY_HELLO);
  CHECK(h && h->hello->n_running == 1 && h->hello->running[0] == 303);
  /* The coordinator gave 303 away meanwhile: its Welcome cancels it. */
  uint64_t gone = 303;
  if (h)
    send_welcome_for(100, 1000, h->hello->hello_id, util_wall_us() + auto_clock_offset_us, &gone,
                     1);
  auto_welcome = true;
  CHECK(WAIT_FOR(result_count(303, NULL) >= 1, 5000));
  Clapper__Result *r = NULL;
  result_count(303, &r);
  CHECK(r && r->outcome == CLAPPER__OUTCOME__OUTCOME_CANCELED);
  if (child > 0)
    CHECK(pid_gone(child));
  CHECK_INT(started_count(304), 0);
  CHECK(!out_exists(304));
  /* And it takes new work. */
  tspec_t fresh[] = {{305, "true", NULL, 0}};
  send_assign(fresh, 1);
  CHECK(WAIT_FOR(result_count(305, NULL) >= 1, 5000));
  result_count(305, &r);
  CHECK(r && r->outcome == CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  CHECK_INT(started_count(304), 0);

  /* A coordinator that does not say its clock: start_by_us is read on this
   * host's clock with 5 s allowed for skew. */
  auto_welcome = false;
  hellos = count(CLAPPER__ENVELOPE__BODY_HELLO);
  Clapper__Reset rs = CLAPPER__RESET__INIT;
  rs.reason = "unknown worker";
  envelope_t env = CLAPPER__ENVELOPE__INIT;
  env.body_case = CLAPPER__ENVELOPE__BODY_RESET;
  env.reset = &rs;
  send_env(&env);
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HELLO) > hellos, 3000));
  h = last(CLAPPER__ENVELOPE__BODY_HELLO);
  if (h)
    send_welcome_for(100, 1000, h->hello->hello_id, 0, NULL, 0);
  auto_welcome = true;
  auto_echo = false;
  size_t beats = count(CLAPPER__ENVELOPE__BODY_HEARTBEAT);
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HEARTBEAT) > beats, 3000));
  assign_start_by_us = util_wall_us() - 10 * INT64_C(1000000);
  tspec_t old[] = {{306, "true", NULL, 0}};
  send_assign(old, 1);
  assign_start_by_us = util_wall_us() - 1 * INT64_C(1000000);
  tspec_t skewed[] = {{307, "true", NULL, 0}};
  send_assign(skewed, 1);
  CHECK(WAIT_FOR(result_count(307, NULL) >= 1, 5000));
  result_count(307, &r);
  CHECK(r && r->outcome == CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  CHECK_INT(started_count(306), 0);
  CHECK(!out_exists(306));

  assign_start_by_us = 0;
  auto_clock_offset_us = 0;
  kill(w, SIGINT);
  CHECK(exited_zero(wait_exit(w, 5000)));
}

/* ---------------------------------------------------------------- logs */

/* Index in msgs of the first Results message carrying id, or n_msgs. */
static size_t first_result_index(uint64_t id) {
  for (size_t i = 0; i < n_msgs; i++)
    if (msgs[i]->body_case == CLAPPER__ENVELOPE__BODY_RESULTS)
      for (size_t k = 0; k < msgs[i]->results->n_results; k++)
        if (msgs[i]->results->results[k]->attempt_id == id)
          return i;
  return n_msgs;
}

/* Index in msgs of the first Started message carrying id, or n_msgs. */
static size_t first_started_index(uint64_t id) {
  for (size_t i = 0; i < n_msgs; i++)
    if (msgs[i]->body_case == CLAPPER__ENVELOPE__BODY_STARTED)
      for (size_t k = 0; k < msgs[i]->started->n_attempts; k++)
        if (msgs[i]->started->attempts[k]->attempt_id == id)
          return i;
  return n_msgs;
}

/* Index in msgs of the first Logs chunk of id whose data contains text,
 * or n_msgs. */
static size_t first_log_with(uint64_t id, const char *text) {
  size_t tl = strlen(text);
  for (size_t i = 0; i < n_msgs; i++) {
    if (msgs[i]->body_case != CLAPPER__ENVELOPE__BODY_LOGS)
      continue;
    for (size_t k = 0; k < msgs[i]->logs->n_chunks; k++) {
      Clapper__LogChunk *c = msgs[i]->logs->chunks[k];
      if (c->attempt_id == id && c->data.len >= tl && memmem(c->data.data, c->data.len, text, tl))
        return i;
    }
  }
  return n_msgs;
}

/* Checks id's chunks as received: contiguous from offset 0, each of at
 * most 64 KiB, all before id's first Result (and after its Started).
 * Returns their data concatenated (caller frees) and its length. */
static uint8_t *log_stream_of(uint64_t id, size_t *len) {
  size_t res = first_result_index(id), started = first_started_index(id);
  uint8_t *buf = NULL;
  size_t n = 0, chunks = 0;
  bool contiguous = true, small = true, before_result = true, after_started = true;
  for (size_t i = 0; i < n_msgs; i++) {
    if (msgs[i]->body_case != CLAPPER__ENVELOPE__BODY_LOGS)
      continue;
    for (size_t k = 0; k < msgs[i]->logs->n_chunks; k++) {
      Clapper__LogChunk *c = msgs[i]->logs->chunks[k];
      if (c->attempt_id != id)
        continue;
      chunks++;
      if (c->offset != n) {
        fprintf(stderr, "attempt %llu: chunk at %llu, expected %zu\n", (unsigned long long)id,
                (unsigned long long)c->offset, n);
        contiguous = false;
      }
      small = small && c->data.len > 0 && c->data.len <= 64 * 1024;
      before_result = before_result && i < res;
      after_started = after_started && i > started;
      buf = xreallocarray(buf, n + c->data.len + 1, 1);
      memcpy(buf + n, c->data.data, c->data.len);
      n += c->data.len;
    }
  }
  CHECK(contiguous);
  CHECK(small);
  CHECK(before_result);
  CHECK(after_started);
  *len = n;
  return buf;
}

static void check_log_matches(uint64_t id) {
  size_t n = 0, flen = 0;
  uint8_t *got = log_stream_of(id, &n);
  char *fp = xasprintf("%s/logs/%llu.log", workdir, (unsigned long long)id);
  char *file = util_read_file(fp, 1 << 24, &flen);
  CHECK(file != NULL);
  CHECK_INT(n, flen);
  CHECK(file && n == flen && (n == 0 || memcmp(got, file, n) == 0));
  free(file);
  free(fp);
  free(got);
}

/* Log streaming is best effort across a lost connection: ZeroMQ may drop
 * what was queued as the connection went down, and nothing is sent twice.
 * What must hold: every piece that arrives is the file's bytes at its
 * offset, pieces move forward, and the stream goes on to the file's end. */
static void check_log_consistent(uint64_t id) {
  size_t flen = 0, end = 0;
  char *fp = xasprintf("%s/logs/%llu.log", workdir, (unsigned long long)id);
  char *file = util_read_file(fp, 1 << 24, &flen);
  CHECK(file != NULL);
  bool match = true, forward = true;
  for (size_t i = 0; file && i < n_msgs; i++) {
    if (msgs[i]->body_case != CLAPPER__ENVELOPE__BODY_LOGS)
      continue;
    for (size_t k = 0; k < msgs[i]->logs->n_chunks; k++) {
      Clapper__LogChunk *c = msgs[i]->logs->chunks[k];
      if (c->attempt_id != id)
        continue;
      forward = forward && c->offset >= end;
      match = match && c->offset + c->data.len <= flen &&
              memcmp(file + c->offset, c->data.data, c->data.len) == 0;
      end = c->offset + c->data.len;
    }
  }
  CHECK(match);
  CHECK(forward);
  CHECK_INT(end, flen);
  free(file);
  free(fp);
}

/* A Logs message stays near 1 MiB. */
static void check_logs_sizes(void) {
  for (size_t i = 0; i < n_msgs; i++) {
    if (msgs[i]->body_case != CLAPPER__ENVELOPE__BODY_LOGS)
      continue;
    size_t bytes = 0;
    for (size_t k = 0; k < msgs[i]->logs->n_chunks; k++)
      bytes += msgs[i]->logs->chunks[k]->data.len;
    CHECK(bytes > 0 && bytes <= ((size_t)1 << 20));
  }
}

static void drain_and_exit(pid_t w) {
  kill(w, SIGTERM);
  CHECK(exited_zero(wait_exit(w, 10000)));
}

static void phase_log_stream(void) {
  clear_msgs();
  auto_welcome = true;
  pid_t w = start_worker();
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HEARTBEAT) >= 1, 15000));
  /* The result phase_stop_now left unacknowledged, so that drains end at once. */
  uint64_t old = 106;
  send_ack(&old, 1);
  tspec_t tasks[] = {
      {201, "echo 'line 1'; sleep 1; echo 'line 2' >&2; sleep 0.5; echo done", NULL, 0},
      /* 200 KiB of distinct lines: misplaced chunks would show. */
      {202, "seq 1 100000 | head -c 204800", NULL, 0},
  };
  send_assign(tasks, 2);
  /* "line 1" arrives while the task still runs (it sleeps 1.5 s more). */
  CHECK(WAIT_FOR(first_log_with(201, "line 1") < n_msgs, 5000));
  CHECK_INT(result_count(201, NULL), 0);
  CHECK(first_log_with(201, "line 2") == n_msgs);
  CHECK(WAIT_FOR(result_count(201, NULL) >= 1 && result_count(202, NULL) >= 1, 15000));
  Clapper__Result *r = NULL;
  result_count(201, &r);
  CHECK(r && r->outcome == CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  CHECK(first_log_with(201, "line 1") < first_result_index(201));
  CHECK(first_log_with(201, "line 2") < first_result_index(201));
  CHECK(first_log_with(201, "done") < first_result_index(201));
  check_log_matches(201);
  /* 200 KiB: complete, in chunks of at most 64 KiB, so several of them. */
  size_t n202 = 0;
  free(log_stream_of(202, &n202));
  CHECK_INT(n202, 204800);
  check_log_matches(202);
  check_logs_sizes();
  uint64_t acks[] = {201, 202};
  send_ack(acks, 2);
  /* Nothing more about finished attempts: no repeated chunks later. */
  WAIT_FOR(false, 600);
  check_log_matches(201);
  check_log_matches(202);

  /* 200 KiB at once from a task that runs on: the ticks send at most
   * 64 KiB of it each. */
  tspec_t slow[] = {{205, "seq 1 100000 | head -c 204800; sleep 1.2", NULL, 0}};
  send_assign(slow, 1);
  CHECK(WAIT_FOR(result_count(205, NULL) >= 1, 10000));
  size_t first = first_log_with(205, "1");
  CHECK(first < first_result_index(205));
  if (first < n_msgs) {
    size_t bytes = 0;
    for (size_t k = 0; k < msgs[first]->logs->n_chunks; k++)
      if (msgs[first]->logs->chunks[k]->attempt_id == 205)
        bytes += msgs[first]->logs->chunks[k]->data.len;
    CHECK(bytes > 0 && bytes <= 64 * 1024);
  }
  check_log_matches(205);
  uint64_t ack205 = 205;
  send_ack(&ack205, 1);

  /* The coordinator goes away while the task writes: what could not be
   * sent is sent after it comes back, from the same offset. */
  tspec_t gap[] = {{206, "echo 'line 1'; sleep 1.5; echo 'line 2'; sleep 1.5; echo 'line 3'",
                    NULL, 0}};
  send_assign(gap, 1);
  CHECK(WAIT_FOR(first_log_with(206, "line 1") < n_msgs, 5000));
  CHECK_INT(zmq_unbind(router, endpoint), 0);
  usleep(1800 * 1000); /* 'line 2' is written meanwhile */
  CHECK_INT(zmq_bind(router, endpoint), 0);
  CHECK(WAIT_FOR(result_count(206, NULL) >= 1, 10000));
  CHECK(first_log_with(206, "line 3") < first_result_index(206));
  check_log_consistent(206);
  uint64_t ack206 = 206;
  send_ack(&ack206, 1);
  drain_and_exit(w);

  /* A cap of 1000 bytes per attempt: exactly the log's first 1000 bytes. */
  clear_msgs();
  w = start_worker_with("--log-stream-max-bytes", "1000");
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HEARTBEAT) >= 1, 15000));
  tspec_t big[] = {{203, "seq 1 2000; sleep 0.6; seq 1 1000", NULL, 0}};
  send_assign(big, 1);
  CHECK(WAIT_FOR(result_count(203, NULL) >= 1, 10000));
  size_t n203 = 0;
  uint8_t *got = log_stream_of(203, &n203);
  CHECK_INT(n203, 1000);
  char *fp = xasprintf("%s/logs/203.log", workdir);
  size_t flen = 0;
  char *file = util_read_file(fp, 1 << 20, &flen);
  CHECK(file && flen > 1000 && got && memcmp(got, file, 1000) == 0);
  free(file);
  free(fp);
  free(got);
  uint64_t ack203 = 203;
  send_ack(&ack203, 1);
  drain_and_exit(w);

  /* 0 disables streaming. */
  clear_msgs();
  w = start_worker_with("--log-stream-max-bytes", "0");
  CHECK(WAIT_FOR(count(CLAPPER__ENVELOPE__BODY_HEARTBEAT) >= 1, 15000));
  tspec_t quiet[] = {{204, "echo 'line 1'; sleep 0.6; echo 'line 2'", NULL, 0}};
  send_assign(quiet, 1);
  CHECK(WAIT_FOR(result_count(204, NULL) >= 1, 10000));
  CHECK_INT(count(CLAPPER__ENVELOPE__BODY_LOGS), 0);
  uint64_t ack204 = 204;
  send_ack(&ack204, 1);
  drain_and_exit(w);
  auto_welcome = false;
}

static void check_flags(void) {
  /* Bad settings: one line on stderr, exit status 2. */
  const char *bad[][4] = {
      {"--bogus", NULL, NULL, NULL},
      {"--name", "Not_Valid!", NULL, NULL},
      {"--gpus", "some", NULL, NULL},
      {"--tags", "ok,BAD!", NULL, NULL},
      {"--heartbeat-ms", "abc", NULL, NULL},
      {"--log-stream-max-bytes", "-1", NULL, NULL},
      {"--gpu-inventory", "/nonexistent/inv.json", "--workdir", workdir},
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    char errpath[600];
    snprintf(errpath, sizeof errpath, "%s/flag.err", dir);
    pid_t p = fork();
    if (p == 0) {
      int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 2);
      execl(bin, bin, bad[i][0], bad[i][1], bad[i][2], bad[i][3], (char *)NULL);
      _exit(127);
    }
    int status = 0;
    waitpid(p, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    char *err = util_read_file(errpath, 4096, NULL);
    CHECK(err && strlen(err) > 0 && strchr(err, '\n') == err + strlen(err) - 1);
    if (err && !(WIFEXITED(status) && WEXITSTATUS(status) == 2))
      fprintf(stderr, "%s: %s", bad[i][0], err);
    free(err);
  }
  pid_t p = fork();
  if (p == 0) {
    int fd = open("/dev/null", O_WRONLY);
    dup2(fd, 1);
    execl(bin, bin, "--help", (char *)NULL);
    _exit(127);
  }
  int status = 0;
  waitpid(p, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void) {
  const char *b = getenv("CLAPPER_BIN_DIR");
  if (!b) {
    fprintf(stderr, "CLAPPER_BIN_DIR is not set\n");
    return 1;
  }
  snprintf(bin, sizeof bin, "%s/clapper-worker", b);
  if (access(bin, X_OK) < 0 || !mkdtemp(dir)) {
    fprintf(stderr, "%s: %s\n", bin, strerror(errno));
    return 1;
  }
  snprintf(inventory, sizeof inventory, "%s/inventory.json", dir);
  snprintf(workdir, sizeof workdir, "%s/work", dir);
  snprintf(logpath, sizeof logpath, "%s/worker.log", dir);
  FILE *f = fopen(inventory, "w");
  fputs("[{\"index\": 0, \"uuid\": \"GPU-11111111-2222-3333-4444-555555555555\",\n"
        "  \"model\": \"NVIDIA H100 80GB HBM3\", \"memory_mb\": 81559},\n"
        " {\"index\": 1, \"uuid\": \"GPU-66666666-2222-3333-4444-555555555555\",\n"
        "  \"model\": \"NVIDIA H200\", \"memory_mb\": 143771}]\n",
        f);
  fclose(f);

  zctx = zmq_ctx_new();
  router = zmq_socket(zctx, ZMQ_ROUTER);
  int one = 1, zero = 0;
  zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
  zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
  if (zmq_bind(router, "tcp://127.0.0.1:*") < 0) {
    fprintf(stderr, "bind: %s\n", zmq_strerror(errno));
    return 1;
  }
  size_t len = sizeof endpoint;
  zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &len);

  check_flags();
  phase_run_and_drain();
  phase_restart();
  phase_stop_now();
  phase_worker_killed();
  phase_log_stream();
  phase_stale_work();

  clear_msgs();
  zmq_close(router);
  zmq_ctx_term(zctx);
  if (check_failures || getenv("SHOW_WORKER_LOG")) {
    char *log = util_read_file(logpath, 1 << 22, NULL);
    fprintf(stderr, "---- worker log ----\n%s---- end ----\n", log ? log : "(none)");
    free(log);
  }
  char *cmd = xasprintf("rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "cannot remove %s\n", dir);
  free(cmd);
  return check_report("test_worker_link");
}
