/*
 * runner.c - attempts as processes under the shim, see runner.h.
 */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "outputs.h"
#include "shim.h"
#include "taskuser.h"

/* After the shim was told to kill everything, how long before the worker
 * SIGKILLs the shim's process group itself (the shim gives up on processes
 * that do not die after about 10 s). */
#define KILL_FALLBACK_MS 15000

extern char **environ;

/* The life of a run; run_set_phase performs every transition. */
typedef enum run_phase {
  PHASE_RUNNING = 0, /* process alive, nobody asked it to stop */
  PHASE_STOPPING,    /* SIGTERM sent (timeout or cancel); grace timer running */
  PHASE_KILLED,      /* the shim was told to kill everything; fallback timer running */
  PHASE_CHECKING,    /* process exited; outputs being checked on the thread pool */
  PHASE_DONE,        /* result delivered or dropped; handles closing */
  PHASE_COUNT
} run_phase_t;

static const char *const phase_names[PHASE_COUNT] = {"running", "stopping", "killed",
                                                     "checking", "done"};

/* allowed[from][to] */
static const bool phase_allowed[PHASE_COUNT][PHASE_COUNT] = {
    [PHASE_RUNNING] = {[PHASE_STOPPING] = true, [PHASE_KILLED] = true, [PHASE_CHECKING] = true},
    [PHASE_STOPPING] = {[PHASE_KILLED] = true, [PHASE_CHECKING] = true},
    [PHASE_KILLED] = {[PHASE_CHECKING] = true},
    [PHASE_CHECKING] = {[PHASE_DONE] = true},
    [PHASE_DONE] = {0},
};

/* A run: one attempt as this runner executes it, from its spawn until its
 * result is delivered and its handles are closed.  (The coordinator's
 * attempt_t is its record of the same attempt.) */
typedef struct run {
  struct run *prev, *next; /* on runner.runs */
  runner_t *r;
  run_phase_t phase;
  uint64_t id;
  uint32_t timeout_s;
  uint32_t *gpus;
  size_t n_gpus;
  char *argv0;
  char *report_path;
  char *log_path;
  char *cgroup_path;       /* the attempt's cgroup, or NULL */
  char *output_dir;        /* as the task names it ("" for none) */
  int dirfd;               /* output_dir, opened before the task ran (O_PATH), or -1 */
  outputs_file_t *outputs; /* paths as declared */
  char **declared;         /* outputs as the task named them */
  size_t n_outputs;
  bool check_outputs;      /* the process exited 0 on its own */
  atomic_int stop;         /* set on the loop to stop the check (cancel, timeout) */

  uv_process_t proc;
  uv_timer_t timeout;
  uv_timer_t grace;
  uv_work_t work;
  int open_handles;  /* freed when 0 and no work is queued */
  bool work_queued;

  pid_t pid; /* = process group id */
  Clapper__Outcome kill_outcome; /* TIMED_OUT or CANCELED once we stop it */
  char *cancel_reason;
  int64_t started_wall, ended_wall;
  uint64_t started_hr, ended_hr;
  int64_t exit_status; /* of the shim, from libuv */
  int exit_signal;
  bool have_report;
  shim_report_t report;
  bool energy_ok;
  uint64_t energy_start, energy_end;
} run_t;

struct runner {
  uv_loop_t *loop;
  char *shim;
  char *workdir;
  /* The task user, when tasks run as another user than the worker. */
  bool switch_user;
  uid_t task_uid;
  gid_t task_gid;
  char *task_uid_arg, *task_gid_arg, *task_groups_arg; /* for the shim's argv */
  char *task_name, *task_home;
  uint64_t kill_grace_ms;
  const gpu_set_t *gpus;
  const cgroup_t *cgroup;
  runner_finished_cb finished;
  void *arg;
  run_t *runs; /* every allocated run */
  size_t n_alloc;
  size_t n_live; /* runs before PHASE_DONE */
  bool closing;
};

static void run_set_phase(run_t *a, run_phase_t to) {
  if (!phase_allowed[a->phase][to]) {
    log_error("attempt %llu: refused transition %s -> %s", (unsigned long long)a->id,
              phase_names[a->phase], phase_names[to]);
    return;
  }
  log_debug("attempt %llu: %s -> %s", (unsigned long long)a->id, phase_names[a->phase],
            phase_names[to]);
  if (to == PHASE_DONE)
    a->r->n_live--;
  a->phase = to;
}

static bool phase_live(run_phase_t p) { return p != PHASE_DONE; }

runner_t *runner_new(uv_loop_t *loop, const runner_config_t *cfg, char *err, size_t errlen) {
  if (sodium_init() < 0) {
    snprintf(err, errlen, "libsodium failed to initialise");
    return NULL;
  }
  char *logs = xasprintf("%s/logs", cfg->workdir), *run = xasprintf("%s/run", cfg->workdir);
  int rc = 0;
  /* Tasks write their log through the descriptor they inherit; they have
   * no business reading other attempts' logs or reports. */
  if (util_mkdir_p(logs, 0700) < 0 || chmod(logs, 0700) < 0)
    rc = -1, snprintf(err, errlen, "cannot create %s: %s", logs, strerror(errno));
  else if (util_mkdir_p(run, 0700) < 0 || chmod(run, 0700) < 0)
    rc = -1, snprintf(err, errlen, "cannot create %s: %s", run, strerror(errno));
  free(logs);
  free(run);
  if (rc < 0)
    return NULL;
  runner_t *r = xcalloc(1, sizeof *r);
  r->loop = loop;
  r->shim = xstrdup(cfg->shim);
  r->workdir = xstrdup(cfg->workdir);
  r->kill_grace_ms = cfg->kill_grace_ms;
  const taskuser_t *u = cfg->task_user;
  if (u && u->uid != geteuid()) {
    r->switch_user = true;
    r->task_uid = u->uid;
    r->task_gid = u->gid;
    r->task_uid_arg = xasprintf("%lu", (unsigned long)u->uid);
    r->task_gid_arg = xasprintf("%lu", (unsigned long)u->gid);
    r->task_groups_arg = taskuser_format_groups(u->groups, u->n_groups);
    r->task_name = xstrdup(u->name);
    r->task_home = xstrdup(u->home);
  }
  r->gpus = cfg->gpus;
  r->cgroup = cfg->cgroup;
  r->finished = cfg->finished;
  r->arg = cfg->arg;
  return r;
}

static void runner_free(runner_t *r) {
  free(r->shim);
  free(r->workdir);
  free(r->task_uid_arg);
  free(r->task_gid_arg);
  free(r->task_groups_arg);
  free(r->task_name);
  free(r->task_home);
  free(r);
}

static run_t *find(const runner_t *r, uint64_t id) {
  for (run_t *a = r->runs; a; a = a->next)
    if (a->id == id)
      return a;
  return NULL;
}

char *runner_log_path(const runner_t *r, uint64_t attempt_id) {
  return xasprintf("%s/logs/%llu.log", r->workdir, (unsigned long long)attempt_id);
}

bool runner_has(const runner_t *r, uint64_t attempt_id) {
  run_t *a = find(r, attempt_id);
  return a && phase_live(a->phase);
}

size_t runner_count(const runner_t *r) { return r->n_live; }

size_t runner_running_ids(const runner_t *r, uint64_t **ids) {
  *ids = NULL;
  if (!r->n_live)
    return 0;
  uint64_t *v = xcalloc(r->n_live, sizeof *v);
  size_t n = 0;
  for (run_t *a = r->runs; a; a = a->next)
    if (phase_live(a->phase) && n < r->n_live)
      v[n++] = a->id;
  *ids = v;
  return n;
}

static void run_free(run_t *a) {
  runner_t *r = a->r;
  if (a->prev)
    a->prev->next = a->next;
  else
    r->runs = a->next;
  if (a->next)
    a->next->prev = a->prev;
  r->n_alloc--;
  for (size_t i = 0; i < a->n_outputs; i++) {
    free(a->outputs[i].path);
    free(a->declared[i]);
  }
  free(a->outputs);
  free(a->declared);
  free(a->gpus);
  free(a->argv0);
  free(a->log_path);
  free(a->cgroup_path);
  free(a->output_dir);
  if (a->dirfd >= 0)
    close(a->dirfd);
  if (a->report_path)
    unlink(a->report_path);
  free(a->report_path);
  free(a->cancel_reason);
  free(a);
  if (r->closing && r->n_alloc == 0)
    runner_free(r);
}

static void maybe_free(run_t *a) {
  if (a->open_handles == 0 && !a->work_queued)
    run_free(a);
}

static void on_handle_closed(uv_handle_t *h) {
  run_t *a = h->data;
  a->open_handles--;
  maybe_free(a);
}

static void close_handles(run_t *a) {
  uv_close((uv_handle_t *)&a->proc, on_handle_closed);
  uv_close((uv_handle_t *)&a->timeout, on_handle_closed);
  uv_close((uv_handle_t *)&a->grace, on_handle_closed);
}

static void group_kill(run_t *a, int sig) {
  if (a->pid > 0 && kill(-a->pid, sig) < 0 && errno != ESRCH)
    log_warn("attempt %llu: kill(-%d, %d): %s", (unsigned long long)a->id, (int)a->pid, sig,
             strerror(errno));
}

static void on_grace(uv_timer_t *t);

/* Tells the shim to kill every process of the attempt (it is their
 * subreaper, so it finds those that left the process group too) and arms
 * the fallback: SIGKILL to the group should the shim not exit. */
static void shim_kill(run_t *a) {
  if (a->pid > 0 && kill(a->pid, SHIM_KILL_SIGNAL) < 0 && errno != ESRCH)
    log_warn("attempt %llu: kill(%d, SIGUSR1): %s", (unsigned long long)a->id, (int)a->pid,
             strerror(errno));
  uv_timer_start(&a->grace, on_grace, KILL_FALLBACK_MS, 0);
}

/* ---------------------------------------------------------------- results */

Clapper__Result *runner_result_unstarted(uint64_t attempt_id, Clapper__Outcome outcome,
                                         const char *error) {
  Clapper__Result tmp = CLAPPER__RESULT__INIT;
  tmp.attempt_id = attempt_id;
  tmp.outcome = outcome;
  tmp.exit_code = -1;
  tmp.started_at_us = tmp.ended_at_us = util_wall_us();
  tmp.error = (char *)(error ? error : "");
  size_t len = clapper__result__get_packed_size(&tmp);
  uint8_t *buf = xmalloc(len ? len : 1);
  clapper__result__pack(&tmp, buf);
  Clapper__Result *r = clapper__result__unpack(NULL, len, buf);
  free(buf);
  if (!r) {
    log_error("cannot copy the result of attempt %llu", (unsigned long long)attempt_id);
    abort();
  }
  return r;
}

/* Cuts an incomplete UTF-8 sequence off the end of s (left by truncation),
 * so that the coordinator can store the text. */
static void utf8_trim_tail(char *s) {
  size_t n = strlen(s), cont = 0;
  while (n > 0 && cont < 3 && ((unsigned char)s[n - 1] & 0xC0) == 0x80)
    n--, cont++;
  if (n == 0)
    return;
  unsigned char lead = (unsigned char)s[n - 1];
  if (lead < 0xC0)
    return; /* ASCII, or a stray continuation run: leave it */
  size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  if (cont + 1 < want)
    s[n - 1] = '\0';
}

/* Builds the owned Result of a finished attempt. */
static Clapper__Result *build_result(const run_t *a) {
  Clapper__Result tmp = CLAPPER__RESULT__INIT;
  char error[1024] = "";
  tmp.attempt_id = a->id;
  tmp.started_at_us = a->started_wall;
  tmp.ended_at_us = a->ended_wall;
  tmp.wall_us = (a->ended_hr - a->started_hr) / 1000;
  if (a->have_report) {
    tmp.exit_code = a->report.exit_code;
    tmp.term_signal = a->report.term_signal;
    tmp.cpu_us = a->report.cpu_us;
    tmp.max_rss_kb = a->report.max_rss_kb;
  } else if (a->exit_signal) {
    tmp.exit_code = -1; /* the shim itself was killed (SIGKILL after the grace) */
    tmp.term_signal = a->exit_signal;
  } else {
    tmp.exit_code = (int32_t)a->exit_status;
  }
  if (a->energy_ok && a->energy_end >= a->energy_start)
    tmp.gpu_energy_mj = a->energy_end - a->energy_start;

  Clapper__OutputFile *files = NULL, **fileps = NULL;
  if (a->kill_outcome == CLAPPER__OUTCOME__OUTCOME_TIMED_OUT) {
    tmp.outcome = a->kill_outcome;
    snprintf(error, sizeof error, "timed out after %u s", a->timeout_s);
  } else if (a->kill_outcome == CLAPPER__OUTCOME__OUTCOME_CANCELED) {
    tmp.outcome = a->kill_outcome;
    snprintf(error, sizeof error, "canceled%s%s",
             a->cancel_reason && *a->cancel_reason ? ": " : "",
             a->cancel_reason ? a->cancel_reason : "");
  } else if (a->have_report && a->report.exec_errno) {
    tmp.outcome = CLAPPER__OUTCOME__OUTCOME_FAILED;
    if (a->report.exec_errno == ENOENT)
      snprintf(error, sizeof error, "command not found: %s", a->argv0);
    else
      snprintf(error, sizeof error, "cannot execute %s: %s", a->argv0,
               strerror(a->report.exec_errno));
  } else if (tmp.term_signal) {
    tmp.outcome = CLAPPER__OUTCOME__OUTCOME_FAILED;
    snprintf(error, sizeof error, "killed by signal %d", tmp.term_signal);
  } else if (tmp.exit_code != 0) {
    tmp.outcome = CLAPPER__OUTCOME__OUTCOME_FAILED;
    snprintf(error, sizeof error, "exit status %d", tmp.exit_code);
  } else {
    tmp.outcome = CLAPPER__OUTCOME__OUTCOME_SUCCEEDED;
    files = xcalloc(a->n_outputs ? a->n_outputs : 1, sizeof *files);
    fileps = xcalloc(a->n_outputs ? a->n_outputs : 1, sizeof *fileps);
    for (size_t i = 0; i < a->n_outputs; i++) {
      const outputs_file_t *f = &a->outputs[i];
      if (f->refused) {
        if (tmp.outcome == CLAPPER__OUTCOME__OUTCOME_SUCCEEDED) {
          tmp.outcome = CLAPPER__OUTCOME__OUTCOME_FAILED;
          snprintf(error, sizeof error, "output refused: %s: %s", a->declared[i], f->refused);
        }
        continue;
      }
      if (!f->present) {
        if (tmp.outcome == CLAPPER__OUTCOME__OUTCOME_SUCCEEDED) {
          tmp.outcome = CLAPPER__OUTCOME__OUTCOME_FAILED;
          snprintf(error, sizeof error, "output missing: %s", a->declared[i]);
        }
        continue;
      }
      if (f->err) {
        if (tmp.outcome == CLAPPER__OUTCOME__OUTCOME_SUCCEEDED) {
          tmp.outcome = CLAPPER__OUTCOME__OUTCOME_FAILED;
          snprintf(error, sizeof error, "output unreadable: %s: %s", a->declared[i],
                   strerror(f->err));
        }
        continue;
      }
      Clapper__OutputFile *o = &files[tmp.n_outputs];
      clapper__output_file__init(o);
      o->path = a->declared[i];
      o->size = f->size;
      o->sha256 = (char *)f->sha256;
      fileps[tmp.n_outputs++] = o;
    }
    tmp.outputs = fileps;
  }
  /* One line: the error is built from file names and strerror. */
  for (char *p = error; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  utf8_trim_tail(error);
  tmp.error = error;

  size_t len = clapper__result__get_packed_size(&tmp);
  uint8_t *buf = xmalloc(len ? len : 1);
  clapper__result__pack(&tmp, buf);
  Clapper__Result *res = clapper__result__unpack(NULL, len, buf);
  free(buf);
  free(files);
  free(fileps);
  if (!res) {
    log_error("cannot copy the result of attempt %llu", (unsigned long long)a->id);
    abort();
  }
  return res;
}

/* ---------------------------------------------------------------- exit path */

/* One line in the attempt's log for each output that was not accepted, so
 * that `clapper logs` says which and why. */
static void log_refusals(const run_t *a) {
  sbuf_t sb = {0};
  for (size_t i = 0; i < a->n_outputs; i++) {
    const outputs_file_t *f = &a->outputs[i];
    if (f->refused)
      sbuf_printf(&sb, "clapper-worker: output refused: %s: %s\n", a->declared[i], f->refused);
    else if (f->present && f->err)
      sbuf_printf(&sb, "clapper-worker: output unreadable: %s: %s\n", a->declared[i],
                  strerror(f->err));
  }
  if (!sb.len)
    return;
  int fd = open(a->log_path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || util_write_all(fd, sb.buf, sb.len) < 0)
    log_warn("attempt %llu: cannot append to %s: %s", (unsigned long long)a->id, a->log_path,
             strerror(errno));
  if (fd >= 0)
    close(fd);
  sbuf_free(&sb);
}

/* Thread pool: hash outputs and read the energy counters. */
static void check_work(uv_work_t *req) {
  run_t *a = req->data;
  if (a->check_outputs &&
      outputs_check(a->dirfd, a->output_dir, a->outputs, a->n_outputs, &a->stop) < 0)
    a->check_outputs = false; /* stopped: the canceler set kill_outcome */
  if (a->energy_ok) {
    uint64_t mj;
    a->energy_ok = gpu_energy_mj(a->r->gpus, a->gpus, a->n_gpus, &mj);
    a->energy_end = mj;
  }
}

/* Loop: deliver the result, then close the handles; the run is freed
 * by the last close callback. */
static void check_done(uv_work_t *req, int status) {
  run_t *a = req->data;
  runner_t *r = a->r;
  a->work_queued = false;
  uv_timer_stop(&a->timeout);
  if (status < 0) /* canceled: nothing was checked */
    a->check_outputs = false;
  if (a->check_outputs && !a->kill_outcome && !r->closing)
    log_refusals(a);
  Clapper__Result *res = r->closing ? NULL : build_result(a);
  run_set_phase(a, PHASE_DONE);
  if (res) {
    if (res->outcome == CLAPPER__OUTCOME__OUTCOME_SUCCEEDED)
      log_info("attempt %llu: succeeded", (unsigned long long)a->id);
    else
      log_info("attempt %llu: %s", (unsigned long long)a->id, res->error);
    r->finished(r->arg, res);
  }
  close_handles(a);
}

static void on_process_exit(uv_process_t *p, int64_t exit_status, int term_signal) {
  run_t *a = p->data;
  runner_t *r = a->r;
  a->ended_wall = util_wall_us();
  a->ended_hr = uv_hrtime();
  a->exit_status = exit_status;
  a->exit_signal = term_signal;
  if (shim_report_read(a->report_path, &a->report) == 0)
    a->have_report = true;
  else if (errno != ENOENT)
    log_warn("attempt %llu: report %s: %s", (unsigned long long)a->id, a->report_path,
             strerror(errno));
  /* Nothing of the attempt may outlive it (the shim killed its
   * descendants; this catches a shim that died itself). */
  group_kill(a, SIGKILL);
  if (a->cgroup_path && cgroup_attempt_remove(a->cgroup_path) < 0)
    log_warn("attempt %llu: cannot remove cgroup %s: %s", (unsigned long long)a->id, a->cgroup_path,
             strerror(errno));
  uv_timer_stop(&a->grace);
  run_set_phase(a, PHASE_CHECKING);
  a->check_outputs = !a->kill_outcome && a->have_report && !a->report.exec_errno &&
                     a->report.exit_code == 0 && a->report.term_signal == 0;
  /* The timeout keeps running while the outputs are hashed; so does a
   * cancel (runner_cancel), which stops the hashing. */
  if (!a->check_outputs)
    uv_timer_stop(&a->timeout);
  if (r->closing) {
    a->check_outputs = false;
    a->energy_ok = false;
  }
  a->work.data = a;
  a->work_queued = true;
  int rc = uv_queue_work(r->loop, &a->work, check_work, check_done);
  if (rc < 0) {
    log_warn("uv_queue_work: %s; checking on the loop", uv_strerror(rc));
    check_work(&a->work);
    check_done(&a->work, 0);
  }
}

/* ---------------------------------------------------------------- stopping */

static void on_grace(uv_timer_t *t) {
  run_t *a = t->data;
  if (a->phase == PHASE_STOPPING) {
    run_set_phase(a, PHASE_KILLED);
    shim_kill(a);
  } else if (a->phase == PHASE_KILLED) {
    log_warn("attempt %llu: the shim did not exit %d s after it was told to kill the task; "
             "killing its process group",
             (unsigned long long)a->id, KILL_FALLBACK_MS / 1000);
    group_kill(a, SIGKILL);
  }
}

/* SIGTERM now, SIGKILL after the grace period. */
static void begin_stop(run_t *a, Clapper__Outcome why) {
  a->kill_outcome = why;
  uv_timer_stop(&a->timeout);
  run_set_phase(a, PHASE_STOPPING);
  group_kill(a, SIGTERM);
  if (a->r->kill_grace_ms == 0) {
    run_set_phase(a, PHASE_KILLED);
    shim_kill(a);
  } else {
    uv_timer_start(&a->grace, on_grace, a->r->kill_grace_ms, 0);
  }
}

/* Stops the check of an attempt's outputs: its outcome becomes why. */
static void stop_check(run_t *a, Clapper__Outcome why) {
  a->kill_outcome = why;
  atomic_store(&a->stop, 1);
}

static void on_timeout(uv_timer_t *t) {
  run_t *a = t->data;
  if (a->phase == PHASE_RUNNING) {
    log_info("attempt %llu: timed out after %u s", (unsigned long long)a->id, a->timeout_s);
    begin_stop(a, CLAPPER__OUTCOME__OUTCOME_TIMED_OUT);
  } else if (a->phase == PHASE_CHECKING && a->work_queued && !a->kill_outcome) {
    log_info("attempt %llu: timed out after %u s while its outputs were checked",
             (unsigned long long)a->id, a->timeout_s);
    stop_check(a, CLAPPER__OUTCOME__OUTCOME_TIMED_OUT);
  }
}

int runner_cancel(runner_t *r, uint64_t attempt_id, const char *reason) {
  run_t *a = find(r, attempt_id);
  if (!a || a->phase == PHASE_DONE)
    return -1;
  if (a->phase == PHASE_CHECKING) {
    if (!a->work_queued || a->kill_outcome)
      return -1;
    log_info("attempt %llu: canceling while its outputs are checked%s%s",
             (unsigned long long)attempt_id, reason && *reason ? ": " : "", reason ? reason : "");
    free(a->cancel_reason);
    a->cancel_reason = xstrdup(reason ? reason : "");
    stop_check(a, CLAPPER__OUTCOME__OUTCOME_CANCELED);
    return 0;
  }
  if (a->phase == PHASE_RUNNING) {
    log_info("attempt %llu: canceling%s%s", (unsigned long long)attempt_id,
             reason && *reason ? ": " : "", reason ? reason : "");
    free(a->cancel_reason);
    a->cancel_reason = xstrdup(reason ? reason : "");
    begin_stop(a, CLAPPER__OUTCOME__OUTCOME_CANCELED);
  }
  return 0;
}

void runner_kill_all(runner_t *r) {
  for (run_t *a = r->runs; a; a = a->next) {
    if (a->phase == PHASE_CHECKING && a->work_queued && !a->kill_outcome) {
      free(a->cancel_reason);
      a->cancel_reason = xstrdup("worker stopped");
      stop_check(a, CLAPPER__OUTCOME__OUTCOME_CANCELED);
    }
    if (a->phase != PHASE_RUNNING && a->phase != PHASE_STOPPING)
      continue;
    if (!a->kill_outcome) {
      a->kill_outcome = CLAPPER__OUTCOME__OUTCOME_CANCELED;
      free(a->cancel_reason);
      a->cancel_reason = xstrdup("worker stopped");
    }
    uv_timer_stop(&a->timeout);
    uv_timer_stop(&a->grace);
    run_set_phase(a, PHASE_KILLED);
    shim_kill(a);
  }
}

void runner_close(runner_t **rp) {
  runner_t *r = *rp;
  if (!r)
    return;
  *rp = NULL;
  runner_kill_all(r);
  r->closing = true;
  if (r->n_alloc == 0)
    runner_free(r);
}

/* ---------------------------------------------------------------- starting */

static bool env_name_valid(const char *s) {
  if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
    return false;
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
          *s == '_'))
      return false;
  return true;
}

typedef struct env_list {
  char **v;
  size_t n, cap;
} env_list_t;

/* Sets name=value, replacing an earlier definition. */
static void env_set(env_list_t *e, const char *name, const char *value) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < e->n; i++) {
    if (!strncmp(e->v[i], name, nl) && e->v[i][nl] == '=') {
      free(e->v[i]);
      e->v[i] = e->v[--e->n];
      i--;
    }
  }
  ARRAY_RESERVE(e->v, e->n, e->cap, 2); /* the entry and the terminating NULL */
  e->v[e->n++] = xasprintf("%s=%s", name, value);
  e->v[e->n] = NULL;
}

static void env_free(env_list_t *e) {
  util_strv_free(&e->v, &e->n);
  e->cap = 0;
}

static void build_env(const runner_t *r, const Clapper__Task *t, env_list_t *e) {
  ARRAY_RESERVE(e->v, e->n, e->cap, 64); /* room for a usual environment */
  e->v[e->n] = NULL;                     /* NULL-terminated even when empty */
  for (char **p = environ; p && *p; p++) {
    const char *eq = strchr(*p, '=');
    if (!eq || eq == *p)
      continue;
    char *name = xstrndup(*p, (size_t)(eq - *p));
    env_set(e, name, eq + 1);
    free(name);
  }
  for (size_t i = 0; i < t->n_env; i++)
    env_set(e, t->env[i]->name, t->env[i]->value);
  char num[32];
  snprintf(num, sizeof num, "%llu", (unsigned long long)t->task_id);
  env_set(e, "CLAPPER_TASK_ID", num);
  snprintf(num, sizeof num, "%llu", (unsigned long long)t->attempt_id);
  env_set(e, "CLAPPER_ATTEMPT_ID", num);
  snprintf(num, sizeof num, "%llu", (unsigned long long)t->job_id);
  env_set(e, "CLAPPER_JOB_ID", num);
  env_set(e, "CLAPPER_OUTPUT_DIR", t->output_dir);
  if (r->switch_user) { /* the task user's, not the worker's */
    env_set(e, "HOME", r->task_home);
    env_set(e, "USER", r->task_name);
    env_set(e, "LOGNAME", r->task_name);
  }
  if (t->n_gpus || (r->gpus && r->gpus->n)) {
    sbuf_t sb = {0};
    sbuf_puts(&sb, "");
    for (size_t i = 0; i < t->n_gpus; i++)
      sbuf_printf(&sb, "%s%u", i ? "," : "", t->gpus[i]);
    env_set(e, "CUDA_DEVICE_ORDER", "PCI_BUS_ID");
    env_set(e, "CUDA_VISIBLE_DEVICES", sb.buf);
    env_set(e, "NVIDIA_VISIBLE_DEVICES", sb.buf);
    sbuf_free(&sb);
  }
}

/* Creates the task's output directory (as the worker) and opens it: the
 * outputs are later looked up below this descriptor, whatever the task
 * does to the path.  When tasks run as another user, the directory itself
 * (not its parents) is given to that user if the worker owns it.
 * Returns the descriptor, or -1 with err. */
static int open_output_dir(const runner_t *r, const char *dir, char *err, size_t errlen) {
  if (util_mkdir_p(dir, 0755) < 0) {
    snprintf(err, errlen, "cannot create output directory %s: %s", dir, strerror(errno));
    return -1;
  }
  int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    snprintf(err, errlen, "cannot open output directory %s: %s", dir, strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  if (r->switch_user && st.st_uid == geteuid() &&
      fchownat(fd, "", r->task_uid, r->task_gid, AT_EMPTY_PATH) < 0) {
    snprintf(err, errlen, "cannot give output directory %s to user %s: %s", dir, r->task_name,
             strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

/* Refuses tasks the worker cannot run as given. */
static int validate(const runner_t *r, const Clapper__Task *t, char *err, size_t errlen) {
  if (t->attempt_id == 0) {
    snprintf(err, errlen, "attempt id 0 is invalid");
    return -1;
  }
  if (t->n_argv == 0 || !t->argv[0][0]) {
    snprintf(err, errlen, "empty command");
    return -1;
  }
  for (size_t i = 0; i < t->n_env; i++) {
    if (!env_name_valid(t->env[i]->name)) {
      snprintf(err, errlen, "invalid environment variable name '%.64s'", t->env[i]->name);
      return -1;
    }
  }
  for (size_t i = 0; i < t->n_gpus; i++) {
    if (!gpu_find(r->gpus, t->gpus[i])) {
      snprintf(err, errlen, "GPU %u is not on this worker", t->gpus[i]);
      return -1;
    }
    for (size_t k = 0; k < i; k++)
      if (t->gpus[k] == t->gpus[i]) {
        snprintf(err, errlen, "GPU %u assigned twice", t->gpus[i]);
        return -1;
      }
  }
  for (size_t i = 0; i < t->n_outputs; i++) {
    if (!t->outputs[i][0]) {
      snprintf(err, errlen, "outputs[%zu] is empty", i);
      return -1;
    }
  }
  return 0;
}

int runner_start(runner_t *r, const Clapper__Task *t, uint32_t *pid, int64_t *started_at_us,
                 char *err, size_t errlen) {
  run_t *a = NULL;
  char *log_path = NULL;
  char **args = NULL;
  env_list_t env = {0};
  int logfd = -1, dirfd = -1;
  char ppid[32];

  if (r->closing) {
    snprintf(err, errlen, "worker is stopping");
    goto fail;
  }
  if (validate(r, t, err, errlen) < 0)
    goto fail;
  if (find(r, t->attempt_id)) {
    snprintf(err, errlen, "attempt %llu is already running", (unsigned long long)t->attempt_id);
    goto fail;
  }
  if (t->output_dir[0] && (dirfd = open_output_dir(r, t->output_dir, err, errlen)) < 0)
    goto fail;
  log_path = runner_log_path(r, t->attempt_id);
  logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (logfd < 0) {
    snprintf(err, errlen, "cannot open log %s: %s", log_path, strerror(errno));
    goto fail;
  }

  a = xcalloc(1, sizeof *a);
  a->r = r;
  a->dirfd = -1;
  a->id = t->attempt_id;
  a->timeout_s = t->timeout_s;
  a->argv0 = xstrdup(t->argv[0]);
  a->output_dir = xstrdup(t->output_dir);
  a->dirfd = dirfd;
  dirfd = -1;
  a->log_path = xstrdup(log_path);
  a->report_path = xasprintf("%s/run/%llu.report", r->workdir, (unsigned long long)a->id);
  unlink(a->report_path);
  a->n_gpus = t->n_gpus;
  a->gpus = xcalloc(t->n_gpus ? t->n_gpus : 1, sizeof *a->gpus);
  if (t->n_gpus)
    memcpy(a->gpus, t->gpus, t->n_gpus * sizeof *a->gpus);
  a->n_outputs = t->n_outputs;
  a->outputs = xcalloc(t->n_outputs ? t->n_outputs : 1, sizeof *a->outputs);
  a->declared = xcalloc(t->n_outputs ? t->n_outputs : 1, sizeof *a->declared);
  for (size_t i = 0; i < t->n_outputs; i++) {
    a->declared[i] = xstrdup(t->outputs[i]);
    a->outputs[i].path = xstrdup(t->outputs[i]);
  }

  build_env(r, t, &env);
  snprintf(ppid, sizeof ppid, "%d", (int)getpid());
  size_t na = 0;
  args = xcalloc(t->n_argv + 16, sizeof *args);
  args[na++] = r->shim;
  args[na++] = (char *)SHIM_FLAG;
  args[na++] = (char *)"--report";
  args[na++] = a->report_path;
  args[na++] = (char *)"--parent-pid";
  args[na++] = ppid;
  if (r->switch_user) {
    args[na++] = (char *)"--uid";
    args[na++] = r->task_uid_arg;
    args[na++] = (char *)"--gid";
    args[na++] = r->task_gid_arg;
    args[na++] = (char *)"--groups";
    args[na++] = r->task_groups_arg;
  }
  if (r->cgroup) {
    char cgerr[512];
    a->cgroup_path =
        cgroup_attempt_create(r->cgroup, a->id, t->cpus, t->memory_mb, cgerr, sizeof cgerr);
    if (a->cgroup_path) {
      args[na++] = (char *)"--cgroup";
      args[na++] = a->cgroup_path;
    } else {
      log_warn("attempt %llu: runs without a cgroup: %s", (unsigned long long)a->id, cgerr);
    }
  }
  args[na++] = (char *)"--";
  for (size_t i = 0; i < t->n_argv; i++)
    args[na++] = t->argv[i];
  args[na] = NULL;

  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[1].data.fd = logfd;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = logfd;
  uv_process_options_t opts;
  memset(&opts, 0, sizeof opts);
  opts.exit_cb = on_process_exit;
  opts.file = r->shim;
  opts.args = args;
  opts.env = env.v;
  opts.cwd = t->output_dir[0] ? t->output_dir : NULL;
  opts.flags = UV_PROCESS_DETACHED;
  opts.stdio = stdio;
  opts.stdio_count = 3;

  uv_timer_init(r->loop, &a->timeout);
  uv_timer_init(r->loop, &a->grace);
  a->proc.data = a->timeout.data = a->grace.data = a;
  a->open_handles = 3;
  if (a->n_gpus) {
    uint64_t mj;
    a->energy_ok = gpu_energy_mj(r->gpus, a->gpus, a->n_gpus, &mj);
    a->energy_start = mj;
  }
  a->started_wall = util_wall_us();
  a->started_hr = uv_hrtime();
  /* Linked before spawning so that close callbacks find it either way. */
  a->next = r->runs;
  if (r->runs)
    r->runs->prev = a;
  r->runs = a;
  r->n_alloc++;
  r->n_live++;
  int rc = uv_spawn(r->loop, &a->proc, &opts);
  close(logfd);
  logfd = -1;
  if (rc < 0) {
    snprintf(err, errlen, "cannot start %s: %s", r->shim, uv_strerror(rc));
    /* The process handle is initialised even when the spawn failed. */
    a->phase = PHASE_DONE;
    r->n_live--;
    close_handles(a);
    a = NULL;
    goto fail;
  }
  a->pid = a->proc.pid;
  if (a->timeout_s)
    uv_timer_start(&a->timeout, on_timeout, (uint64_t)a->timeout_s * 1000, 0);
  log_info("attempt %llu: started %s as pid %d", (unsigned long long)a->id, a->argv0,
           (int)a->pid);
  *pid = (uint32_t)a->pid;
  *started_at_us = a->started_wall;
  env_free(&env);
  free(args);
  free(log_path);
  return 0;
fail:
  log_warn("attempt %llu: not started: %s", (unsigned long long)t->attempt_id, err);
  if (logfd >= 0)
    close(logfd);
  if (dirfd >= 0)
    close(dirfd);
  env_free(&env);
  free(args);
  free(log_path);
  return -1;
}
