/*
 * test_runner.c - attempts run for real through the shim of the built
 * clapper-worker ($CLAPPER_BIN_DIR/clapper-worker): exit codes, signals,
 * command not found, CPU time and peak RSS, timeouts that must kill a
 * child ignoring SIGTERM and its grandchild, cancel, output checks with
 * SHA-256, the task's environment and working directory, the per-attempt
 * log, and closing the runner with tasks still running; processes that
 * escaped with setsid (gone at the end, also under cancel); outputs
 * refused (outside output_dir, '..', links, FIFO, directory, device), an
 * output flipped between a file and a FIFO while it is checked, cancel and
 * timeout while a huge output is hashed; and, as root, tasks run as an
 * unprivileged user that cannot read a key file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "gpu.h"
#include "runner.h"
#include "taskuser.h"

#define MAX_RESULTS 64

static uv_loop_t loop;
static runner_t *runner;
static gpu_set_t *gpus;
static char work[] = "/tmp/clapper-test-runner-XXXXXX";
static char shim[1024];
static Clapper__Result *results[MAX_RESULTS];
static size_t n_results, want_results;
static int callbacks_after_close;

static void on_finished(void *arg, Clapper__Result *r) {
  if (arg == (void *)1) {
    callbacks_after_close++;
    clapper__result__free_unpacked(r, NULL);
    return;
  }
  if (n_results < MAX_RESULTS)
    results[n_results++] = r;
  else
    clapper__result__free_unpacked(r, NULL);
  if (n_results >= want_results)
    uv_stop(&loop);
}

static void on_deadline(uv_timer_t *t) {
  (void)t;
  fprintf(stderr, "deadline: only %zu of %zu results\n", n_results, want_results);
  uv_stop(&loop);
}

/* Runs the loop until `more` further results arrived (or 30 s passed). */
static void wait_results(size_t more) {
  want_results = n_results + more;
  uv_timer_t deadline;
  uv_timer_init(&loop, &deadline);
  uv_timer_start(&deadline, on_deadline, 30000, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&deadline, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_INT(n_results, want_results);
}

static Clapper__Result *result_of(uint64_t id) {
  for (size_t i = 0; i < n_results; i++)
    if (results[i]->attempt_id == id)
      return results[i];
  return NULL;
}

typedef struct spec {
  uint64_t id;
  const char *argv[8];
  const char *outputs[4];
  uint32_t gpus[4];
  size_t n_gpus;
  uint32_t timeout_s;
  const char *env_name, *env_value;
} spec_t;

static char *out_dir(uint64_t id) { return xasprintf("%s/out/%llu", work, (unsigned long long)id); }

/* Starts the attempt described by s; returns runner_start's result. */
static int start(const spec_t *s, uint32_t *pid, char *err, size_t errlen) {
  Clapper__Task t = CLAPPER__TASK__INIT;
  Clapper__EnvVar ev = CLAPPER__ENV_VAR__INIT, *evp = &ev;
  t.attempt_id = s->id;
  t.task_id = s->id + 1000;
  t.job_id = 7;
  size_t na = 0, no = 0;
  while (na < 8 && s->argv[na])
    na++;
  while (no < 4 && s->outputs[no])
    no++;
  t.n_argv = na;
  t.argv = (char **)s->argv;
  t.n_outputs = no;
  t.outputs = (char **)s->outputs;
  char *dir = out_dir(s->id);
  t.output_dir = dir;
  t.timeout_s = s->timeout_s;
  t.n_gpus = s->n_gpus;
  t.gpus = (uint32_t *)s->gpus;
  if (s->env_name) {
    ev.name = (char *)s->env_name;
    ev.value = (char *)s->env_value;
    t.n_env = 1;
    t.env = &evp;
  }
  uint32_t p = 0;
  int64_t at = 0;
  int rc = runner_start(runner, &t, &p, &at, err, errlen);
  if (rc == 0) {
    CHECK(p > 1);
    CHECK(at > 0);
  }
  if (pid)
    *pid = p;
  free(dir);
  return rc;
}

static void start_ok(const spec_t *s) {
  char err[512] = "";
  int rc = start(s, NULL, err, sizeof err);
  CHECK_INT(rc, 0);
  if (rc)
    fprintf(stderr, "attempt %llu: %s\n", (unsigned long long)s->id, err);
}

static char *read_in(uint64_t id, const char *name) {
  char *dir = out_dir(id);
  char *p = xasprintf("%s/%s", dir, name);
  char *text = util_read_file(p, 1 << 20, NULL);
  free(p);
  free(dir);
  return text;
}

/* True when pid is gone or a zombie (reaped or about to be). */
static bool gone(pid_t pid) {
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

/* True when no live (non-zombie) process is left in process group pgid. */
static bool group_gone(pid_t pgid) {
  for (int i = 0; i < 150; i++) {
    if (kill(-pgid, 0) < 0 && errno == ESRCH)
      return true;
    bool live = false;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && !live && (de = readdir(d))) {
      if (de->d_name[0] < '0' || de->d_name[0] > '9')
        continue;
      char path[300];
      snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
      char *st = util_read_file(path, 4096, NULL);
      char *paren = st ? strrchr(st, ')') : NULL;
      char state = 0;
      int ppid = 0, pgrp = 0;
      if (paren && sscanf(paren + 2, "%c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
          state != 'Z' && state != 'X')
        live = true;
      free(st);
    }
    if (d)
      closedir(d);
    if (!live)
      return true;
    usleep(20000);
  }
  return false;
}

static pid_t pid_in(uint64_t id, const char *name) {
  char *text = read_in(id, name);
  pid_t pid = text ? (pid_t)atoi(text) : 0;
  free(text);
  return pid;
}

static void test_exit_codes(void) {
  spec_t ok = {.id = 1, .argv = {"true"}};
  spec_t three = {.id = 2, .argv = {"sh", "-c", "exit 3"}};
  spec_t sig = {.id = 3, .argv = {"sh", "-c", "kill -9 $$"}};
  spec_t nf = {.id = 4, .argv = {"no-such-command-xyz", "arg"}};
  spec_t log = {.id = 5, .argv = {"sh", "-c", "echo to-stdout; echo to-stderr >&2"}};
  start_ok(&ok);
  start_ok(&three);
  start_ok(&sig);
  start_ok(&nf);
  start_ok(&log);
  CHECK_INT(runner_count(runner), 5);
  CHECK(runner_has(runner, 3));
  uint64_t *ids = NULL;
  CHECK_INT(runner_running_ids(runner, &ids), 5);
  free(ids);
  wait_results(5);
  CHECK_INT(runner_count(runner), 0);
  CHECK(!runner_has(runner, 3));

  Clapper__Result *r = result_of(1);
  CHECK(r != NULL);
  if (r) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
    CHECK_INT(r->exit_code, 0);
    CHECK_INT(r->term_signal, 0);
    CHECK_STR(r->error, "");
    CHECK(r->started_at_us > 1700000000000000LL);
    CHECK(r->ended_at_us >= r->started_at_us);
    CHECK(r->wall_us > 0 && r->wall_us < 10000000);
  }
  if ((r = result_of(2))) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_FAILED);
    CHECK_INT(r->exit_code, 3);
    CHECK_STR(r->error, "exit status 3");
  } else {
    CHECK(!"no result for attempt 2");
  }
  if ((r = result_of(3))) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_FAILED);
    CHECK_INT(r->exit_code, -1);
    CHECK_INT(r->term_signal, 9);
    CHECK_STR(r->error, "killed by signal 9");
  } else {
    CHECK(!"no result for attempt 3");
  }
  if ((r = result_of(4))) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_FAILED);
    CHECK_INT(r->exit_code, 127);
    CHECK_STR(r->error, "command not found: no-such-command-xyz");
  } else {
    CHECK(!"no result for attempt 4");
  }
  /* stdout and stderr of attempt 5 went to its log. */
  char *lp = xasprintf("%s/logs/5.log", work);
  char *text = util_read_file(lp, 1 << 20, NULL);
  CHECK_CONTAINS(text, "to-stdout\n");
  CHECK_CONTAINS(text, "to-stderr\n");
  free(text);
  free(lp);
  /* The shim's report was consumed. */
  char *rp = xasprintf("%s/run/1.report", work);
  CHECK(access(rp, F_OK) < 0);
  free(rp);
}

static void test_usage(void) {
  /* A busy loop of the shell itself, and dd filling a 60 MB buffer. */
  spec_t busy = {.id = 10,
                 .argv = {"sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"}};
  spec_t big = {.id = 11, .argv = {"dd", "if=/dev/zero", "of=/dev/null", "bs=60M", "count=1"}};
  start_ok(&busy);
  start_ok(&big);
  wait_results(2);
  Clapper__Result *r = result_of(10);
  if (r) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
    CHECK(r->cpu_us > 0);
    CHECK(r->cpu_us <= r->wall_us + 100000);
  } else {
    CHECK(!"no result for attempt 10");
  }
  if ((r = result_of(11))) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
    CHECK(r->max_rss_kb >= 50 * 1024);
    if (r->max_rss_kb < 50 * 1024)
      fprintf(stderr, "max_rss_kb = %llu\n", (unsigned long long)r->max_rss_kb);
  } else {
    CHECK(!"no result for attempt 11");
  }
}

static void test_timeout_and_cancel(void) {
  /* The child ignores SIGTERM (and so does its background grandchild):
   * only the SIGKILL after the grace period ends them. */
  spec_t stubborn = {.id = 20,
                     .argv = {"sh", "-c",
                              "trap '' TERM; sleep 1000 & echo $! > gc.pid; echo $$ > c.pid; "
                              "while :; do sleep 0.05; done"},
                     .timeout_s = 1};
  spec_t polite = {.id = 21, .argv = {"sleep", "30"}, .timeout_s = 1};
  spec_t cancel = {.id = 22, .argv = {"sh", "-c", "echo $$ > c.pid; exec sleep 30"}};
  uint32_t pid20 = 0;
  char err[512];
  CHECK_INT(start(&stubborn, &pid20, err, sizeof err), 0);
  start_ok(&polite);
  start_ok(&cancel);
  CHECK_INT(runner_cancel(runner, 999, "nobody"), -1);
  uint64_t t0 = uv_hrtime();
  /* Give attempt 22 time to write its pid, then cancel it. */
  for (int i = 0; i < 100 && !pid_in(22, "c.pid"); i++)
    usleep(20000);
  CHECK_INT(runner_cancel(runner, 22, "operator said so"), 0);
  wait_results(3);
  double secs = (double)(uv_hrtime() - t0) / 1e9;
  CHECK(secs >= 1.0 && secs < 10.0);

  Clapper__Result *r = result_of(20);
  if (r) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_TIMED_OUT);
    CHECK_STR(r->error, "timed out after 1 s");
    CHECK(r->wall_us >= 1200000); /* timeout + grace of 300 ms */
  } else {
    CHECK(!"no result for attempt 20");
  }
  pid_t c = pid_in(20, "c.pid"), gc = pid_in(20, "gc.pid");
  CHECK(c > 0 && gc > 0);
  if (c > 0)
    CHECK(gone(c));
  if (gc > 0)
    CHECK(gone(gc));
  CHECK(group_gone((pid_t)pid20));

  if ((r = result_of(21))) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_TIMED_OUT);
    CHECK_INT(r->term_signal, SIGTERM); /* died of the first SIGTERM */
    CHECK(r->wall_us < 1200000);
  } else {
    CHECK(!"no result for attempt 21");
  }
  if ((r = result_of(22))) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_CANCELED);
    CHECK_STR(r->error, "canceled: operator said so");
  } else {
    CHECK(!"no result for attempt 22");
  }
  pid_t c22 = pid_in(22, "c.pid");
  CHECK(c22 > 0 && gone(c22));
  CHECK_INT(runner_cancel(runner, 22, ""), -1); /* already over */
}

static void test_leftovers(void) {
  /* A background process left behind by a task that exited is removed. */
  spec_t s = {.id = 30, .argv = {"sh", "-c", "sleep 1000 & echo $! > bg.pid; exit 0"}};
  start_ok(&s);
  wait_results(1);
  Clapper__Result *r = result_of(30);
  CHECK(r && r->outcome == CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  pid_t bg = pid_in(30, "bg.pid");
  CHECK(bg > 0 && gone(bg));
}

static void test_outputs(void) {
  char *d40 = out_dir(40), *d41 = out_dir(41);
  char *abs40 = xasprintf("%s/take.txt", d40), *abs41 = xasprintf("%s/take.txt", d41);
  spec_t present = {.id = 40,
                    .argv = {"sh", "-c", "printf hello > take.txt; mkdir -p sub; printf '' > sub/e"},
                    .outputs = {abs40, "sub/e"}};
  spec_t missing = {.id = 41, .argv = {"sh", "-c", "printf hello > other.txt"},
                    .outputs = {abs41}};
  spec_t failed = {.id = 42, .argv = {"sh", "-c", "exit 1"}, .outputs = {"nothing"}};
  start_ok(&present);
  start_ok(&missing);
  start_ok(&failed);
  wait_results(3);
  Clapper__Result *r = result_of(40);
  if (r) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
    CHECK_INT(r->n_outputs, 2);
    if (r->n_outputs == 2) {
      CHECK_STR(r->outputs[0]->path, abs40);
      CHECK_INT(r->outputs[0]->size, 5);
      CHECK_STR(r->outputs[0]->sha256,
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
      CHECK_STR(r->outputs[1]->path, "sub/e"); /* relative: resolved in output_dir */
      CHECK_INT(r->outputs[1]->size, 0);
      CHECK_STR(r->outputs[1]->sha256,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
  } else {
    CHECK(!"no result for attempt 40");
  }
  if ((r = result_of(41))) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_FAILED);
    CHECK_INT(r->exit_code, 0);
    char *want = xasprintf("output missing: %s", abs41);
    CHECK_STR(r->error, want);
    free(want);
    CHECK_INT(r->n_outputs, 0);
  } else {
    CHECK(!"no result for attempt 41");
  }
  if ((r = result_of(42))) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_FAILED);
    CHECK_STR(r->error, "exit status 1");
  } else {
    CHECK(!"no result for attempt 42");
  }
  free(d40);
  free(d41);
  free(abs40);
  free(abs41);
}

static void test_long_utf8_error(void) {
  /* "output missing: " + 600 x "é" (1200 bytes) does not fit the error
   * buffer: the cut must not leave half a character. */
  char *name = xmalloc(1300);
  size_t k = 0;
  for (int i = 0; i < 600; i++) {
    name[k++] = (char)0xC3;
    name[k++] = (char)0xA9;
  }
  name[k] = '\0';
  spec_t s = {.id = 45, .argv = {"true"}, .outputs = {name}};
  start_ok(&s);
  wait_results(1);
  Clapper__Result *r = result_of(45);
  if (r) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_FAILED);
    CHECK(strncmp(r->error, "output missing: \xc3\xa9", 18) == 0);
    size_t len = strlen(r->error);
    CHECK(len > 900 && len < 1024);
    CHECK((len - strlen("output missing: ")) % 2 == 0); /* whole characters only */
  } else {
    CHECK(!"no result for attempt 45");
  }
  free(name);
}

static void test_environment(void) {
  spec_t g = {.id = 50,
              .argv = {"sh", "-c", "env > env.txt; pwd > pwd.txt"},
              .gpus = {1, 3},
              .n_gpus = 2,
              .env_name = "FOO",
              .env_value = "bar baz"};
  spec_t none = {.id = 51, .argv = {"sh", "-c", "env > env.txt"}};
  /* Task.env cannot override the worker's own variables. */
  spec_t spoof = {.id = 52, .argv = {"sh", "-c", "env > env.txt"}, .gpus = {2}, .n_gpus = 1,
                  .env_name = "CUDA_VISIBLE_DEVICES", .env_value = "0,1,2,3"};
  start_ok(&g);
  start_ok(&none);
  start_ok(&spoof);
  wait_results(3);
  char *env = read_in(50, "env.txt");
  CHECK_CONTAINS(env, "\nCUDA_VISIBLE_DEVICES=1,3\n");
  CHECK_CONTAINS(env, "\nNVIDIA_VISIBLE_DEVICES=1,3\n");
  CHECK_CONTAINS(env, "\nCUDA_DEVICE_ORDER=PCI_BUS_ID\n");
  CHECK_CONTAINS(env, "\nCLAPPER_ATTEMPT_ID=50\n");
  CHECK_CONTAINS(env, "\nCLAPPER_TASK_ID=1050\n");
  CHECK_CONTAINS(env, "\nCLAPPER_JOB_ID=7\n");
  CHECK_CONTAINS(env, "\nFOO=bar baz\n");
  CHECK_CONTAINS(env, "\nPATH=");
  char *dir = out_dir(50), *want = xasprintf("\nCLAPPER_OUTPUT_DIR=%s\n", dir);
  CHECK_CONTAINS(env, want);
  char *pwd = read_in(50, "pwd.txt"), *wantpwd = xasprintf("%s\n", dir);
  CHECK_STR(pwd, wantpwd);
  free(env);
  free(want);
  free(dir);
  free(pwd);
  free(wantpwd);
  /* The worker has GPUs, this task got none: an empty list, not all. */
  env = read_in(51, "env.txt");
  CHECK_CONTAINS(env, "\nCUDA_VISIBLE_DEVICES=\n");
  CHECK_CONTAINS(env, "\nNVIDIA_VISIBLE_DEVICES=\n");
  free(env);
  env = read_in(52, "env.txt");
  CHECK_CONTAINS(env, "\nCUDA_VISIBLE_DEVICES=2\n");
  free(env);
}

static void test_refused(void) {
  char err[512] = "";
  spec_t badgpu = {.id = 60, .argv = {"true"}, .gpus = {9}, .n_gpus = 1};
  CHECK_INT(start(&badgpu, NULL, err, sizeof err), -1);
  CHECK_STR(err, "GPU 9 is not on this worker");
  spec_t badenv = {.id = 61, .argv = {"true"}, .env_name = "A=B", .env_value = "x"};
  CHECK_INT(start(&badenv, NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "invalid environment variable name");
  spec_t empty = {.id = 62, .argv = {NULL}};
  CHECK_INT(start(&empty, NULL, err, sizeof err), -1);
  CHECK_STR(err, "empty command");
  CHECK_INT(runner_count(runner), 0);
  Clapper__Result *r =
      runner_result_unstarted(63, CLAPPER__OUTCOME__OUTCOME_CANCELED, "worker is draining");
  CHECK_INT(r->attempt_id, 63);
  CHECK_INT(r->exit_code, -1);
  CHECK_STR(r->error, "worker is draining");
  clapper__result__free_unpacked(r, NULL);
}

static void test_close_while_running(void) {
  /* A second runner, closed with a task still running: the process group
   * dies, no callback runs, and every handle is released. */
  runner_config_t cfg = {.shim = shim, .workdir = work, .kill_grace_ms = 300, .gpus = gpus,
                         .finished = on_finished, .arg = (void *)1};
  char err[512];
  runner_t *other = runner_new(&loop, &cfg, err, sizeof err);
  CHECK(other != NULL);
  runner_t *saved = runner;
  runner = other;
  spec_t s = {.id = 70, .argv = {"sh", "-c", "echo $$ > c.pid; exec sleep 30"}};
  uint32_t pid = 0;
  CHECK_INT(start(&s, &pid, err, sizeof err), 0);
  runner = saved;
  for (int i = 0; i < 100 && !pid_in(70, "c.pid"); i++)
    usleep(20000);
  runner_close(&other);
  CHECK(other == NULL);
  uv_run(&loop, UV_RUN_DEFAULT); /* returns once the attempt is gone */
  CHECK_INT(callbacks_after_close, 0);
  CHECK(group_gone((pid_t)pid));
  pid_t c = pid_in(70, "c.pid");
  CHECK(c > 0 && gone(c));
}

static void on_spin(uv_timer_t *t) { uv_stop(t->loop); }

/* Runs the loop for ms milliseconds (results that arrive are kept). */
static void spin(uint64_t ms) {
  size_t saved = want_results;
  want_results = (size_t)-1;
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  uv_timer_start(&t, on_spin, ms, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  want_results = saved;
}

static char *log_of(uint64_t id) {
  char *lp = xasprintf("%s/logs/%llu.log", work, (unsigned long long)id);
  char *text = util_read_file(lp, 1 << 20, NULL);
  free(lp);
  return text;
}

static void test_setsid_escape(void) {
  /* New sessions leave the process group; the shim (their subreaper)
   * still kills them: when the task exits, and when it is canceled. */
  spec_t exits = {.id = 80,
                  .argv = {"sh", "-c",
                           "setsid sleep 901 & echo $! > s.pid; "
                           "(setsid sh -c 'sleep 902 & echo $! > g.pid; wait' &); sleep 0.2; "
                           "exit 0"}};
  spec_t canceled = {.id = 81,
                     .argv = {"sh", "-c",
                              "setsid sleep 903 & echo $! > s.pid; sleep 0.1; echo ok > ready; "
                              "exec sleep 30"}};
  start_ok(&exits);
  start_ok(&canceled);
  char *ready = NULL;
  for (int i = 0; i < 250 && !(ready = read_in(81, "ready")); i++)
    usleep(20000);
  free(ready);
  CHECK_INT(runner_cancel(runner, 81, "escape test"), 0);
  wait_results(2);
  Clapper__Result *r = result_of(80);
  CHECK(r && r->outcome == CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  pid_t s = pid_in(80, "s.pid"), g = pid_in(80, "g.pid");
  CHECK(s > 0 && g > 0);
  if (s > 0)
    CHECK(gone(s));
  if (g > 0)
    CHECK(gone(g));
  r = result_of(81);
  CHECK(r && r->outcome == CLAPPER__OUTCOME__OUTCOME_CANCELED);
  pid_t s81 = pid_in(81, "s.pid");
  CHECK(s81 > 0 && gone(s81));
}

static void test_refused_outputs(void) {
  char *d = out_dir(91), *outside = xasprintf("%s/x", work);
  char *dotdot = xasprintf("%s/../../x", d);
  char err[256];
  CHECK_INT(util_write_atomic(outside, "secret", 6, 0600, err, sizeof err), 0);
  struct {
    uint64_t id;
    const char *cmd;
    const char *output;
    const char *error;
  } cases[] = {
      {90, "true", "/etc/shadow", "output refused: /etc/shadow: outside the output directory"},
      {91, "true", NULL, "'..' leaves the output directory"},
      {92, "ln -s /etc/passwd take", "take", "output refused: take: a symbolic link"},
      {93, "mkfifo take", "take", "output refused: take: a FIFO, not a regular file"},
      {94, "mkdir take", "take", "output refused: take: a directory, not a regular file"},
      {95, "true", "/dev/zero", "output refused: /dev/zero: outside the output directory"},
      {96, "mkdir real; ln -s /etc sub", "sub/passwd", "a symbolic link in its path"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    spec_t s = {.id = cases[i].id,
                .argv = {"sh", "-c", cases[i].cmd},
                .outputs = {cases[i].output ? cases[i].output : dotdot}};
    start_ok(&s);
  }
  wait_results(ARRAY_SIZE(cases));
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    Clapper__Result *r = result_of(cases[i].id);
    CHECK(r != NULL);
    if (!r)
      continue;
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_FAILED);
    CHECK_INT(r->exit_code, 0);
    CHECK_INT(r->n_outputs, 0);
    CHECK_CONTAINS(r->error, cases[i].error);
    char *log = log_of(cases[i].id);
    CHECK_CONTAINS(log, "clapper-worker: output refused: ");
    free(log);
  }
  free(d);
  free(outside);
  free(dotdot);
}

/* The flipper: replaces DIR/take by a FIFO and back, until killed. */
static pid_t start_flipper(const char *dir) {
  pid_t pid = fork();
  if (pid == 0) {
    char *f = xasprintf("%s/take", dir), *tmp = xasprintf("%s/take.tmp", dir);
    for (;;) {
      unlink(tmp);
      if (mkfifo(tmp, 0644) == 0)
        rename(tmp, f);
      int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        if (write(fd, "file", 4) < 0)
          _exit(1);
        close(fd);
        rename(tmp, f);
      }
    }
  }
  return pid;
}

static void test_flip(void) {
  /* Another process flips the output between a file and a FIFO while the
   * worker checks it: every attempt ends promptly, with either the file's
   * hash or a refusal, never a hang and never anything else. */
  enum { N = 12 };
  pid_t flippers[N];
  for (int i = 0; i < N; i++) {
    char *d = out_dir(100 + (uint64_t)i);
    CHECK_INT(util_mkdir_p(d, 0755), 0);
    flippers[i] = start_flipper(d);
    free(d);
  }
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < N; i++) {
    spec_t s = {.id = 100 + (uint64_t)i, .argv = {"sleep", "0.1"}, .outputs = {"take"}};
    start_ok(&s);
  }
  wait_results(N);
  CHECK((uv_hrtime() - t0) / 1000000000u < 10);
  int ok = 0, refused = 0;
  for (int i = 0; i < N; i++) {
    Clapper__Result *r = result_of(100 + (uint64_t)i);
    if (!r)
      continue;
    if (r->outcome == CLAPPER__OUTCOME__OUTCOME_SUCCEEDED) {
      ok++;
      CHECK_INT(r->n_outputs, 1);
      if (r->n_outputs == 1) {
        CHECK_INT(r->outputs[0]->size, 4); /* "file" */
        CHECK_STR(r->outputs[0]->sha256,
                  "3b9c358f36f0a31b6ad3e14f309c7cf198ac9246e8316f9ce543d5b19ac02b80");
      }
    } else {
      refused++;
      CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_FAILED);
      bool known = strstr(r->error, "output refused: take: a FIFO") ||
                   strstr(r->error, "output missing: take") ||
                   strstr(r->error, "output refused: take: changed while it was read");
      CHECK(known);
      if (!known)
        fprintf(stderr, "flip: unexpected error '%s'\n", r->error);
    }
  }
  CHECK_INT(ok + refused, N);
  for (int i = 0; i < N; i++) {
    kill(flippers[i], SIGKILL);
    waitpid(flippers[i], NULL, 0);
  }
}

static void test_stop_while_hashing(void) {
  /* A sparse 64 GiB output takes far longer to hash than the test waits:
   * a cancel and a timeout end the check, and nothing is recorded. */
  spec_t c = {.id = 120, .argv = {"sh", "-c", "truncate -s 64G big"}, .outputs = {"big"}};
  spec_t t = {
      .id = 121, .argv = {"sh", "-c", "truncate -s 64G big"}, .outputs = {"big"}, .timeout_s = 1};
  uint64_t t0 = uv_hrtime();
  start_ok(&c);
  start_ok(&t);
  /* Attempt 120's shell is done at once; its output is being hashed. */
  spin(800);
  CHECK(runner_has(runner, 120));
  CHECK_INT(runner_cancel(runner, 120, "while hashing"), 0);
  CHECK_INT(runner_cancel(runner, 120, "twice"), -1);
  wait_results(2);
  CHECK((uv_hrtime() - t0) / 1000000u < 5000);
  Clapper__Result *r = result_of(120);
  if (r) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_CANCELED);
    CHECK_STR(r->error, "canceled: while hashing");
    CHECK_INT(r->n_outputs, 0);
  } else {
    CHECK(!"no result for attempt 120");
  }
  if ((r = result_of(121))) {
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_TIMED_OUT);
    CHECK_INT(r->n_outputs, 0);
  } else {
    CHECK(!"no result for attempt 121");
  }
  for (uint64_t id = 120; id <= 121; id++) {
    char *d = out_dir(id), *big = xasprintf("%s/big", d);
    unlink(big);
    free(big);
    free(d);
  }
}

static void test_cgroup(void) {
  /* Where this process's cgroup v2 is writable: the task runs in a cgroup
   * of its attempt's own, which is gone when the attempt ends. */
  char why[512], err[512];
  cgroup_t *cg = cgroup_open(why, sizeof why);
  if (!cg) {
    fprintf(stderr, "no cgroups here (%s): skipped\n", why);
    return;
  }
  runner_config_t cfg = {.shim = shim,
                         .workdir = work,
                         .kill_grace_ms = 300,
                         .gpus = gpus,
                         .cgroup = cg,
                         .finished = on_finished,
                         .arg = NULL};
  runner_t *with = runner_new(&loop, &cfg, err, sizeof err);
  CHECK(with != NULL);
  runner_t *saved = runner;
  runner = with;
  spec_t s = {.id = 140,
              .argv = {"sh", "-c",
                       "cat /proc/self/cgroup > cg.txt; setsid sleep 904 & "
                       "echo $! > s.pid; exit 0"}};
  start_ok(&s);
  wait_results(1);
  runner = saved;
  runner_close(&with);
  uv_run(&loop, UV_RUN_DEFAULT);
  Clapper__Result *r = result_of(140);
  CHECK(r && r->outcome == CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  char *text = read_in(140, "cg.txt");
  char *want = xasprintf("/clapper-attempts-%ld/140\n", (long)getpid());
  CHECK_CONTAINS(text, want);
  pid_t sp = pid_in(140, "s.pid");
  CHECK(sp > 0 && gone(sp));
  free(text);
  free(want);
  cgroup_close(&cg);
}

static void test_task_user(void) {
  /* As root: a runner whose tasks run as nobody.  The task writes in its
   * output directory, but a 0600 key file of root's is unreadable to it. */
  if (geteuid() != 0) {
    fprintf(stderr, "not root: tasks cannot switch users; skipped\n");
    return;
  }
  char err[512];
  taskuser_t u;
  if (taskuser_lookup("nobody", &u, err, sizeof err) < 0) {
    fprintf(stderr, "%s; skipped\n", err);
    return;
  }
  char *key = xasprintf("%s/worker.key", work);
  CHECK_INT(util_write_atomic(key, "secret-key-material\n", 20, 0600, err, sizeof err), 0);
  runner_config_t cfg = {.shim = shim,
                         .workdir = work,
                         .kill_grace_ms = 300,
                         .gpus = gpus,
                         .task_user = &u,
                         .finished = on_finished,
                         .arg = NULL};
  runner_t *as_user = runner_new(&loop, &cfg, err, sizeof err);
  CHECK(as_user != NULL);
  runner_t *saved = runner;
  runner = as_user;
  char *cmd = xasprintf("id -u > uid.txt; echo \"$HOME $USER\" > home.txt; echo out > take; "
                        "cat %s/logs/1.log; cat %s",
                        work, key);
  spec_t s = {.id = 130, .argv = {"sh", "-c", cmd}, .outputs = {"take"}};
  start_ok(&s);
  wait_results(1);
  runner = saved;
  runner_close(&as_user);
  uv_run(&loop, UV_RUN_DEFAULT);
  Clapper__Result *r = result_of(130);
  if (r) {
    /* cat failed: exit status 1, after the rest ran. */
    CHECK_INT(r->outcome, CLAPPER__OUTCOME__OUTCOME_FAILED);
    CHECK_STR(r->error, "exit status 1");
  } else {
    CHECK(!"no result for attempt 130");
  }
  char *uid = read_in(130, "uid.txt"), *want = xasprintf("%lu\n", (unsigned long)u.uid);
  CHECK_STR(uid, want);
  char *home = read_in(130, "home.txt"), *wanth = xasprintf("%s %s\n", u.home, u.name);
  CHECK_STR(home, wanth);
  char *log = log_of(130);
  CHECK_CONTAINS(log, "Permission denied");
  CHECK(log && !strstr(log, "secret-key-material"));
  CHECK(log && !strstr(log, "to-stdout")); /* attempt 1's log */
  char *d = out_dir(130);
  struct stat st;
  CHECK_INT(stat(d, &st), 0);
  CHECK_INT(st.st_uid, u.uid);
  free(d);
  free(log);
  free(uid);
  free(want);
  free(home);
  free(wanth);
  free(cmd);
  free(key);
  taskuser_free(&u);
}

int main(void) {
  const char *bin = getenv("CLAPPER_BIN_DIR");
  if (!bin) {
    fprintf(stderr, "CLAPPER_BIN_DIR is not set\n");
    return 1;
  }
  snprintf(shim, sizeof shim, "%s/clapper-worker", bin);
  if (access(shim, X_OK) < 0) {
    fprintf(stderr, "%s: %s (build the clapper-worker target first)\n", shim, strerror(errno));
    return 1;
  }
  if (!mkdtemp(work) || chmod(work, 0755) < 0) { /* a task user passes through */
    perror("mkdtemp");
    return 1;
  }
  char err[512];
  const char *inv = "[{\"index\":0,\"uuid\":\"GPU-a\",\"model\":\"M\",\"memory_mb\":1},"
                    "{\"index\":1,\"uuid\":\"GPU-b\",\"model\":\"M\",\"memory_mb\":1},"
                    "{\"index\":2,\"uuid\":\"GPU-c\",\"model\":\"M\",\"memory_mb\":1},"
                    "{\"index\":3,\"uuid\":\"GPU-d\",\"model\":\"M\",\"memory_mb\":1}]";
  if (gpu_inventory_parse(inv, "test", &gpus, err, sizeof err) < 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  uv_loop_init(&loop);
  runner_config_t cfg = {.shim = shim, .workdir = work, .kill_grace_ms = 300, .gpus = gpus,
                         .finished = on_finished, .arg = NULL};
  runner = runner_new(&loop, &cfg, err, sizeof err);
  CHECK(runner != NULL);
  if (!runner) {
    fprintf(stderr, "%s\n", err);
    return check_report("test_runner");
  }
  test_exit_codes();
  test_usage();
  test_timeout_and_cancel();
  test_leftovers();
  test_outputs();
  test_long_utf8_error();
  test_environment();
  test_refused();
  test_close_while_running();
  test_setsid_escape();
  test_refused_outputs();
  test_flip();
  test_stop_while_hashing();
  test_task_user();
  test_cgroup();

  runner_close(&runner);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
  for (size_t i = 0; i < n_results; i++)
    clapper__result__free_unpacked(results[i], NULL);
  gpu_set_free(&gpus);
  char *cmd = xasprintf("rm -rf '%s'", work);
  if (system(cmd) != 0)
    fprintf(stderr, "cannot remove %s\n", work);
  free(cmd);
  return check_report("test_runner");
}
