/*
 * cmd_local.c - `clapper local up|down|status`: a whole farm on this
 * machine, the embedded default: nothing to configure on one machine.
 *
 * up:     a private PostgreSQL (localpg.c) in the farm directory (farm.c),
 *         then the supervisor (`clapper local supervise`, below), which
 *         starts clapper-coordinator, and N clapper-worker daemons (proc.c)
 *         on ipc sockets, secure by default: DIR/keys gets the key pairs of
 *         the coordinator, the local user (farm_user: an admin) and each
 *         worker local-K when they are missing; the coordinator runs with
 *         --keys DIR/keys --admin-key DIR/keys/USER.pub; once it answers a
 *         ping (as USER), every worker key it does not know yet is
 *         registered (VERB_USERS_LIST, then VERB_USERS_ADD with role
 *         worker; a local-K registered with another key is removed first),
 *         and only then do the workers start, with --key
 *         DIR/keys/local-K.key.  Run as root, it first creates the user
 *         clapper-task (farm_ensure_task_user) that the workers run tasks
 *         as, so that tasks cannot read DIR/keys, the PostgreSQL cluster
 *         or its socket.  Waits until every worker is online, then
 *         writes DIR/env (with CLAPPER_KEY=DIR/keys/USER.key).  Whatever
 *         already runs is kept, so `up` on a running farm only says so (a
 *         coordinator that an older clapper started without keys is left
 *         so, and its workers start without keys too).
 * supervise: (run by up, not by hand) starts the coordinator and starts
 *         it again whenever it exits, like deploy/'s systemd unit
 *         (Restart=always): see local_supervise.
 * status: each process with its pid, the supervisor's restarts, then the
 *         coordinator's worker list
 *         (asked as USER when the coordinator uses keys);
 *         exit 0 when all run, 3 when none does, 1 when some do.
 * down:   workers (SIGINT, or SIGTERM with --drain to let running tasks
 *         finish; SIGKILL after 30 s), the supervisor (SIGTERM: it stops
 *         the coordinator, SIGTERM then SIGKILL after 15 s, and exits), a
 *         coordinator left without one, then PostgreSQL (pg_ctl stop -m
 *         fast).  Only
 *         processes whose /proc/PID/cmdline still shows the same program on
 *         the same DIR are signalled.  Down twice is fine.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "farm.h"
#include "keys.h"
#include "localpg.h"
#include "proc.h"
#include "rpc.h"

#define WORKER_STOP_MS 30000
#define COORDINATOR_STOP_MS 15000
#define KILL_WAIT_MS 5000
#define READY_POLL_MS 250
#define LOG_TAIL_LINES 20
#define MAX_WORKERS 256
#define STATUS_RPC_MS 5000
/* The supervisor (`clapper local supervise`, started by up) restarts the
 * coordinator when it exits: after SUPERVISE_FIRST_MS (deploy/'s systemd
 * unit says RestartSec=2s), doubling up to SUPERVISE_MAX_MS while it keeps
 * exiting within SUPERVISE_STABLE_MS of its start. */
#define SUPERVISOR "supervisor"
#define SUPERVISE_FIRST_MS 2000
#define SUPERVISE_MAX_MS 10000
#define SUPERVISE_STABLE_MS 10000
#define SUPERVISOR_STOP_MS (COORDINATOR_STOP_MS + KILL_WAIT_MS + 5000)

static struct {
  char *dir;
  char *workers; /* NULL: as many as the last up started (1 for a new farm) */
  long long worker_cpus;
  cfg_list_t worker_args;
  cfg_list_t coordinator_args;
  long long wait_s;
  bool drain;
} opt;

static const cfg_opt_t local_opts[] = {
    {"dir", 0, CFG_STRING, NULL, NULL, 0, 0, "DIR",
     "the farm directory (default $HOME/.clapper/local)", &opt.dir},
    {"workers", 0, CFG_STRING, NULL, NULL, 0, 0, "N",
     "up: how many workers to run (default: as many as the last up, 1 for a new farm)",
     &opt.workers},
    {"worker-cpus", 0, CFG_INT, NULL, "0", 0, 4096, "N",
     "up: CPUs each worker offers (0: this machine's CPUs / N)", &opt.worker_cpus},
    {"worker-arg", 0, CFG_LIST, NULL, NULL, 0, 0, "ARG",
     "up: an extra argument for every worker, e.g. --worker-arg=--gpus=none",
     &opt.worker_args},
    {"coordinator-arg", 0, CFG_LIST, NULL, NULL, 0, 0, "ARG",
     "up: an extra argument for the coordinator, e.g. --coordinator-arg=--lease-ms=3000",
     &opt.coordinator_args},
    {"wait-s", 0, CFG_INT, NULL, "60", 1, 3600, "S",
     "up: how long to wait for the coordinator and the workers", &opt.wait_s},
    {"drain", 0, CFG_BOOL, NULL, "false", 0, 0, NULL,
     "down: let workers finish their running tasks (SIGTERM) instead of stopping them now",
     &opt.drain},
};

/* One daemon of the farm: the coordinator or a worker. */
typedef struct daemon {
  char *name;       /* "coordinator", "local-1" */
  const char *prog; /* "clapper-coordinator", "clapper-worker" */
  char *needle;     /* an argument naming this farm: the output root or workdir */
  char *pidfile;
  char *logfile;
  pid_t pid;        /* running now (cmdline checked), else 0 */
  bool spawned;     /* started by this command: our child */
} daemon_t;

static void daemon_init(daemon_t *d, const farm_t *f, const char *name) {
  memset(d, 0, sizeof *d);
  d->name = xstrdup(name);
  bool coord = !strcmp(name, "coordinator"), sup = !strcmp(name, SUPERVISOR);
  d->prog = coord ? "clapper-coordinator" : sup ? "clapper" : "clapper-worker";
  d->needle = coord ? xstrdup(f->outdir) : sup ? xstrdup(f->dir) : farm_workdir(f, name);
  d->pidfile = farm_pidfile(f, name);
  d->logfile = farm_logfile(f, name);
  pid_t pid = proc_read_pidfile(d->pidfile);
  d->pid = proc_matches(pid, d->prog, d->needle) ? pid : 0;
}

static void daemon_fields_free(daemon_t *d) {
  free(d->name);
  free(d->needle);
  free(d->pidfile);
  free(d->logfile);
}

static void daemons_free(daemon_t *ds, size_t n) {
  for (size_t i = 0; i < n; i++)
    daemon_fields_free(&ds[i]);
  free(ds);
}

/* The coordinator and workers local-1..local-N; ds[0] is the coordinator. */
static daemon_t *daemons_load(const farm_t *f, int nworkers) {
  daemon_t *ds = xcalloc((size_t)nworkers + 1, sizeof *ds);
  daemon_init(&ds[0], f, "coordinator");
  for (int k = 1; k <= nworkers; k++) {
    char name[32];
    snprintf(name, sizeof name, "local-%d", k);
    daemon_init(&ds[k], f, name);
  }
  return ds;
}

/* The highest K of a run/local-K.pid file, so that down finds workers of
 * an earlier, larger `up`. */
static int highest_pidfile(const farm_t *f) {
  DIR *d = opendir(f->rundir);
  int best = 0;
  if (!d)
    return 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    int k = 0;
    char tail[8] = "";
    if (sscanf(e->d_name, "local-%d.pi%1s", &k, tail) == 2 && k > best && k <= MAX_WORKERS)
      best = k;
  }
  closedir(d);
  return best;
}

static char *resolve_dir(void) { return opt.dir ? xstrdup(opt.dir) : farm_default_dir(); }

/* Opens the farm in dir, if there is one (down and status make none).
 * Returns 1 when there is, 0 when not, or -1 after cmd_fail. */
static int open_farm(cmd_ctx_t *ctx, const char *dir, farm_t *f) {
  char err[1024];
  int rc = farm_open(f, dir, false, err, sizeof err);
  if (rc < 0)
    cmd_fail(ctx, CMD_EXIT_FAIL, "io", "%s", err);
  return rc;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* Prints a progress line in human mode. */
static void say(cmd_ctx_t *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(cmd_ctx_t *ctx, const char *fmt, ...) {
  if (ctx->json)
    return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(ctx->out, fmt, ap);
  va_end(ap);
  fputc('\n', ctx->out);
  fflush(ctx->out);
}

/* ---------------------------------------------------------------- up */

/* The farm's keys, NULL members when it runs without them. */
typedef struct farm_keys {
  char *user;      /* the local user's key name (farm_user) */
  char *admin_key; /* DIR/keys/USER.key */
  char *admin_pub; /* DIR/keys/USER.pub */
} farm_keys_t;

static void farm_keys_free(farm_keys_t *k) {
  free(k->user);
  free(k->admin_key);
  free(k->admin_pub);
  memset(k, 0, sizeof *k);
}

/* Makes sure DIR/keys/NAME.key and NAME.pub exist and belong together:
 * a missing pair is made, a missing or stale .pub is written from the
 * .key.  Appends the name to made when a pair was made.  0, or -1 after
 * cmd_fail. */
static int ensure_key(cmd_ctx_t *ctx, const farm_t *f, const char *name, sbuf_t *made) {
  char *key = keys_path(f->keysdir, name, "key"), *pub = keys_path(f->keysdir, name, "pub");
  char err[1024];
  keys_key_t k, p;
  int rc = -1;
  memset(&k, 0, sizeof k);
  if (access(key, F_OK) < 0) {
    unlink(pub); /* a public key without its pair is of no use here */
    if (keys_generate(name, f->keysdir, NULL, err, sizeof err) < 0) {
      cmd_fail(ctx, CMD_EXIT_FAIL, "io", "%s", err);
      goto out;
    }
    sbuf_printf(made, "%s%s", made->len ? ", " : "", name);
    rc = 0;
    goto out;
  }
  if (keys_load(key, &k, err, sizeof err) < 0) {
    cmd_fail(ctx, CMD_EXIT_FAIL, "invalid_key", "%s (remove it to have a new one made)", err);
    goto out;
  }
  if (!k.secret_key[0] || strcmp(k.name, name) != 0) {
    cmd_fail(ctx, CMD_EXIT_FAIL, "invalid_key",
             "%s is not the key pair of %s (remove it to have a new one made)", key, name);
    goto out;
  }
  if (keys_load(pub, &p, err, sizeof err) == 0 && !strcmp(p.public_key, k.public_key) &&
      !strcmp(p.name, k.name)) {
    rc = 0;
    goto out;
  }
  unlink(pub);
  if (keys_write_public(&k, f->keysdir, err, sizeof err) < 0) {
    cmd_fail(ctx, CMD_EXIT_FAIL, "io", "%s", err);
    goto out;
  }
  rc = 0;
out:
  keys_wipe(&k);
  free(key);
  free(pub);
  return rc;
}

/* The key pairs of the coordinator, the local user and workers 1..n. */
static int ensure_keys(cmd_ctx_t *ctx, const farm_t *f, const farm_keys_t *fk, int nworkers) {
  sbuf_t made = {0};
  int rc = -1;
  if (ensure_key(ctx, f, KEYS_SERVER_NAME, &made) < 0 || ensure_key(ctx, f, fk->user, &made) < 0)
    goto out;
  for (int k = 1; k <= nworkers; k++) {
    char name[32];
    snprintf(name, sizeof name, "local-%d", k);
    if (ensure_key(ctx, f, name, &made) < 0)
      goto out;
  }
  if (made.len)
    say(ctx, "made key pairs in %s: %s", f->keysdir, made.buf);
  rc = 0;
out:
  sbuf_free(&made);
  return rc;
}

/* Registers the key of every worker local-1..n that the coordinator does
 * not know (as fk's admin): VERB_USERS_LIST, then VERB_USERS_ADD {name,
 * kind = "worker", public_key} for each missing one, after
 * VERB_USERS_REMOVE {name} when the name stands for another key or role.
 * 0, or -1 after cmd_fail. */
static int register_workers(cmd_ctx_t *ctx, const farm_t *f, const farm_keys_t *fk,
                            const daemon_t *ds, int nworkers) {
  if (nworkers == 0)
    return 0;
  rpc_keys_t keys = {.key = fk->admin_key};
  cli_error_t rerr = {0};
  int ms = (int)ctx->timeout_ms;
  Clapper__Request req = CLAPPER__REQUEST__INIT;
  req.verb = CLAPPER__VERB__VERB_USERS_LIST;
  json_t *users = rpc_call_json_as(f->clients_ep, &keys, &req, ms, &rerr);
  int rc = -1;
  if (!users) {
    cmd_fail(ctx, CMD_EXIT_FAIL, rerr.code, "cannot list the registered keys: %s",
             rerr.message);
    return -1;
  }
  for (int k = 1; k <= nworkers; k++) {
    const char *name = ds[k].name;
    char *pub = keys_path(f->keysdir, name, "pub");
    keys_key_t p;
    char err[1024];
    int lrc = keys_load(pub, &p, err, sizeof err);
    free(pub);
    if (lrc < 0) {
      cmd_fail(ctx, CMD_EXIT_FAIL, "invalid_key", "%s", err);
      goto out;
    }
    const json_t *found = NULL;
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(users, "users"), i, u) {
      const char *n = json_string_value(json_object_get(u, "name"));
      if (n && !strcmp(n, name))
        found = u;
    }
    const char *role = json_string_value(json_object_get(found, "role"));
    const char *key = json_string_value(json_object_get(found, "public_key"));
    if (found && role && key && !strcmp(role, "worker") && !strcmp(key, p.public_key))
      continue;
    if (found) {
      Clapper__Request rm = CLAPPER__REQUEST__INIT;
      rm.verb = CLAPPER__VERB__VERB_USERS_REMOVE;
      rm.name = (char *)name;
      json_t *doc = rpc_call_json_as(f->clients_ep, &keys, &rm, ms, &rerr);
      if (!doc) {
        cmd_fail(ctx, CMD_EXIT_FAIL, rerr.code,
                 "cannot remove the old key of %s from the registry: %s", name, rerr.message);
        goto out;
      }
      json_decref(doc);
      say(ctx, "%s was registered with another key or role: replaced", name);
    }
    Clapper__Request add = CLAPPER__REQUEST__INIT;
    add.verb = CLAPPER__VERB__VERB_USERS_ADD;
    add.name = (char *)name;
    add.kind = "worker";
    add.public_key = p.public_key;
    json_t *doc = rpc_call_json_as(f->clients_ep, &keys, &add, ms, &rerr);
    if (!doc) {
      cmd_fail(ctx, CMD_EXIT_FAIL, rerr.code, "cannot register the key of %s: %s", name,
               rerr.message);
      goto out;
    }
    json_decref(doc);
  }
  rc = 0;
out:
  json_decref(users);
  return rc;
}

/* A daemon's argument vector, being built. */
typedef struct args {
  char **argv; /* the strings are borrowed */
  size_t n, cap;
} args_t;

/* Appends the arguments before the NULL that ends the list. */
static void add_args(args_t *a, ...) __attribute__((sentinel));
static void add_args(args_t *a, ...) {
  va_list ap;
  va_start(ap, a);
  for (const char *s; (s = va_arg(ap, const char *));)
    ARRAY_PUSH(a->argv, a->n, a->cap, (char *)s);
  va_end(ap);
}

/* Starts argv as the daemon d of farm f (log d->logfile, pid file
 * d->pidfile) and says so, naming it what.  0, or -1 after cmd_fail. */
static int start_daemon(cmd_ctx_t *ctx, const farm_t *f, daemon_t *d, char *const argv[],
                        const char *what) {
  char err[512];
  pid_t pid = proc_spawn_daemon(argv, f->dir, d->logfile, err, sizeof err);
  if (pid < 0)
    return cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed", "%s: %s", what, err), -1;
  d->pid = pid;
  d->spawned = true;
  if (proc_write_pidfile(d->pidfile, pid) < 0)
    return cmd_fail(ctx, CMD_EXIT_FAIL, "io", "cannot write %s: %s", d->pidfile, strerror(errno)),
           -1;
  say(ctx, "started %s (pid %ld), log %s", what, (long)pid, d->logfile);
  return 0;
}

static int spawn_daemon(cmd_ctx_t *ctx, const farm_t *f, daemon_t *d, const char *bin,
                        int cpus, const farm_keys_t *fk) {
  args_t a = {0};
  char *cpus_s = NULL, *key = NULL;
  const cfg_list_t *extra;
  ARRAY_PUSH(a.argv, a.n, a.cap, (char *)bin);
  if (!strcmp(d->name, "coordinator")) {
    add_args(&a, "--db", f->conninfo, "--bind-workers", f->workers_ep, "--bind-clients",
             f->clients_ep, "--output-root", f->outdir, NULL);
    if (fk->user)
      add_args(&a, "--keys", f->keysdir, "--admin-key", fk->admin_pub, NULL);
    extra = &opt.coordinator_args;
  } else {
    cpus_s = xasprintf("%d", cpus);
    add_args(&a, "--coordinator", f->workers_ep, "--name", d->name, "--workdir", d->needle,
             "--cpus", cpus_s, NULL);
    if (fk->user) {
      /* The server key is coordinator.pub next to it. */
      key = keys_path(f->keysdir, d->name, "key");
      add_args(&a, "--key", key, NULL);
    }
    extra = &opt.worker_args;
  }
  for (size_t i = 0; i < extra->n; i++)
    add_args(&a, extra->items[i], NULL);
  ARRAY_PUSH(a.argv, a.n, a.cap, NULL);
  int rc = -1;
  if (strcmp(d->name, "coordinator") != 0 && util_mkdir_p(d->needle, 0755) < 0) {
    cmd_fail(ctx, CMD_EXIT_FAIL, "io", "cannot create %s: %s", d->needle, strerror(errno));
    goto out;
  }
  rc = start_daemon(ctx, f, d, a.argv, d->name);
out:
  free(key);
  free(cpus_s);
  free(a.argv);
  return rc;
}

/* Starts `clapper local supervise --dir DIR` (the coordinator's extra
 * arguments passed on) as a daemon; it starts the coordinator. */
static int spawn_supervisor(cmd_ctx_t *ctx, const farm_t *f, daemon_t *d) {
  char *self = proc_find_program("clapper");
  if (!self)
    return cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed",
                    "cannot find the clapper program itself to supervise the coordinator"),
           -1;
  args_t a = {0};
  add_args(&a, self, "local", "supervise", "--dir", f->dir, NULL);
  char **owned = xcalloc(opt.coordinator_args.n + 1, sizeof *owned);
  for (size_t i = 0; i < opt.coordinator_args.n; i++) {
    owned[i] = xasprintf("--coordinator-arg=%s", opt.coordinator_args.items[i]);
    add_args(&a, owned[i], NULL);
  }
  ARRAY_PUSH(a.argv, a.n, a.cap, NULL);
  int rc = start_daemon(ctx, f, d, a.argv, "the supervisor");
  for (size_t i = 0; i < opt.coordinator_args.n; i++)
    free(owned[i]);
  free(owned);
  free(a.argv);
  free(self);
  return rc;
}

/* Waits until the supervisor sup runs a coordinator (its pid file names
 * a live clapper-coordinator of this farm) and fills in coord->pid.  0,
 * or -1 after cmd_fail. */
static int wait_coordinator(cmd_ctx_t *ctx, daemon_t *sup, daemon_t *coord) {
  uint64_t deadline = util_mono_us() + (uint64_t)opt.wait_s * 1000000;
  for (;;) {
    pid_t pid = proc_read_pidfile(coord->pidfile);
    if (proc_matches(pid, coord->prog, coord->needle)) {
      coord->pid = pid;
      coord->spawned = false;
      return 0;
    }
    int st = 0;
    bool gone = sup->spawned ? waitpid(sup->pid, &st, WNOHANG) == sup->pid
                             : !proc_matches(sup->pid, sup->prog, sup->needle);
    if (gone) {
      proc_log_tail(ctx->err, sup->logfile, LOG_TAIL_LINES);
      sup->pid = 0;
      return cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed",
                      "the supervisor stopped before it started the coordinator; see %s",
                      sup->logfile),
             -1;
    }
    if (util_mono_us() >= deadline) {
      proc_log_tail(ctx->err, coord->logfile, LOG_TAIL_LINES);
      return cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed",
                      "the supervisor ran no coordinator within %lld s; see %s and %s",
                      opt.wait_s, sup->logfile, coord->logfile),
             -1;
    }
    sleep_ms(50);
  }
}

/* Counts the workers local-1..N that the coordinator lists as online. */
static int count_online(const json_t *doc, const daemon_t *ds, int nworkers, bool *online) {
  int n = 0;
  for (int k = 1; k <= nworkers; k++) {
    online[k] = false;
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(doc, "workers"), i, w) {
      const char *name = json_string_value(json_object_get(w, "name"));
      const char *state = json_string_value(json_object_get(w, "state"));
      if (name && state && !strcmp(name, ds[k].name) && !strcmp(state, "online"))
        online[k] = true;
    }
    n += online[k];
  }
  return n;
}

/* Waits until the coordinator answers (as fk's admin, when the farm has
 * keys) and every worker 1..nworkers is online.  On failure prints the
 * tail of the log that explains it and fails ctx. */
static int wait_ready(cmd_ctx_t *ctx, const farm_t *f, daemon_t *ds, int nworkers,
                      const farm_keys_t *fk) {
  rpc_keys_t keys = {.key = fk->admin_key};
  uint64_t deadline = util_mono_us() + (uint64_t)opt.wait_s * 1000000;
  bool pinged = false;
  bool *online = xcalloc((size_t)nworkers + 1, sizeof *online);
  cli_error_t rerr = {0};
  int rc = -1;
  for (;;) {
    for (int k = 0; k <= nworkers; k++) {
      daemon_t *d = &ds[k];
      int st = 0;
      bool gone = d->spawned ? waitpid(d->pid, &st, WNOHANG) == d->pid
                             : !proc_matches(d->pid, d->prog, d->needle);
      if (!gone)
        continue;
      proc_log_tail(ctx->err, d->logfile, LOG_TAIL_LINES);
      if (d->spawned && WIFEXITED(st))
        cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed",
                 "%s (%s) exited with status %d while starting; see %s", d->name, d->prog,
                 WEXITSTATUS(st), d->logfile);
      else
        cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed", "%s (%s) stopped while starting; see %s",
                 d->name, d->prog, d->logfile);
      d->pid = 0;
      goto out;
    }
    if (!pinged) {
      Clapper__Request req = CLAPPER__REQUEST__INIT;
      req.verb = CLAPPER__VERB__VERB_PING;
      Clapper__Reply *reply = NULL;
      if (rpc_call_as(f->clients_ep, &keys, &req, 1000, &reply, &rerr) == 0) {
        pinged = true;
        rpc_reply_free(&reply);
      } else if (!strcmp(rerr.code, "unauthenticated") || !strcmp(rerr.code, "invalid_key")) {
        /* Waiting will not change the coordinator's mind. */
        cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed", "%s", rerr.message);
        goto out;
      }
    }
    if (pinged) {
      Clapper__Request req = CLAPPER__REQUEST__INIT;
      req.verb = CLAPPER__VERB__VERB_WORKERS;
      json_t *doc = rpc_call_json_as(f->clients_ep, &keys, &req, 1000, &rerr);
      int n = doc ? count_online(doc, ds, nworkers, online) : -1;
      json_decref(doc);
      if (n == nworkers) {
        rc = 0;
        goto out;
      }
    }
    if (util_mono_us() >= deadline)
      break;
    sleep_ms(READY_POLL_MS);
  }
  if (!pinged) {
    proc_log_tail(ctx->err, ds[0].logfile, LOG_TAIL_LINES);
    cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed",
             "the coordinator did not answer at %s within %lld s (%s); see %s", f->clients_ep,
             opt.wait_s, rerr.message, ds[0].logfile);
    goto out;
  }
  sbuf_t missing = {0};
  for (int k = 1; k <= nworkers; k++) {
    if (online[k])
      continue;
    if (!missing.len)
      proc_log_tail(ctx->err, ds[k].logfile, LOG_TAIL_LINES);
    sbuf_printf(&missing, "%s%s", missing.len ? ", " : "", ds[k].name);
  }
  cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed",
           "workers not online after %lld s: %s; see their logs in %s", opt.wait_s,
           missing.buf ? missing.buf : "?", f->logdir);
  sbuf_free(&missing);
out:
  free(online);
  return rc;
}

/* Adds to the error of a start that failed half way how to stop what
 * runs. */
static void hint_down(cmd_ctx_t *ctx, const farm_t *f) {
  cli_error_t first = ctx->error;
  cmd_fail(ctx, CMD_EXIT_FAIL, first.code, "%s (`clapper local down --dir %s` stops what runs)",
           first.message, f->dir);
}

/* Fails ctx because PostgreSQL would not start (why), after the tail of
 * its log. */
static void pg_failed(cmd_ctx_t *ctx, const char *why, const char *pglog) {
  proc_log_tail(ctx->err, pglog, LOG_TAIL_LINES);
  cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed", "%s; see %s", why, pglog);
}

static int default_cpus(int nworkers) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1)
    n = 1;
  long per = nworkers > 0 ? n / nworkers : n;
  return per < 1 ? 1 : (int)per;
}

static json_t *process_json(const char *name, pid_t pid) {
  return json_pack("{s:s,s:o,s:s}", "name", name, "pid", pid ? json_integer(pid) : json_null(),
                   "state", pid ? "running" : "stopped");
}

static int local_up(cmd_ctx_t *ctx) {
  char *dir = resolve_dir(), *bindir = NULL, *coord_bin = NULL, *worker_bin = NULL;
  char *pglog = NULL;
  farm_t f = {0};
  daemon_t *ds = NULL;
  int nworkers = 0, status = CMD_EXIT_FAIL;
  bool started = false;
  char err[1024];
  uint64_t n_arg = 0;
  farm_keys_t fk = {0};
  daemon_t sup;
  bool have_sup = false;

  if (opt.workers && util_parse_u64(opt.workers, 0, MAX_WORKERS, &n_arg) < 0) {
    status = cmd_fail(ctx, CMD_EXIT_USAGE, "usage", "--workers: '%s' is not a number in [0, %d]",
             opt.workers, MAX_WORKERS);
    goto out;
  }
  if (util_mkdir_p(dir, 0755) < 0) {
    cmd_fail(ctx, CMD_EXIT_FAIL, "io", "cannot create %s: %s", dir, strerror(errno));
    goto out;
  }
  if (farm_open(&f, dir, true, err, sizeof err) < 0) {
    cmd_fail(ctx, CMD_EXIT_FAIL, "io", "%s", err);
    goto out;
  }
  /* A farm restarted without --workers keeps its size. */
  nworkers = opt.workers ? (int)n_arg : f.fresh ? 1 : f.workers;
  f.workers = nworkers;
  if (farm_save(&f, err, sizeof err) < 0) {
    cmd_fail(ctx, CMD_EXIT_FAIL, "io", "%s", err);
    goto out;
  }

  /* PostgreSQL. */
  pglog = localpg_logfile(&f);
  bindir = localpg_bindir(err, sizeof err);
  if (!bindir) {
    cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed", "%s", err);
    goto out;
  }
  if (!localpg_exists(&f)) {
    say(ctx, "initialising PostgreSQL in %s", f.pgdata);
    if (localpg_init(&f, bindir, err, sizeof err) < 0) {
      pg_failed(ctx, err, pglog);
      goto out;
    }
  }
  if (!localpg_pid(&f)) {
    if (localpg_start(&f, bindir, err, sizeof err) < 0) {
      pg_failed(ctx, err, pglog);
      goto out;
    }
    started = true;
    say(ctx, "started postgres (pid %ld), socket in %s", (long)localpg_pid(&f), f.pgsock);
  }
  if (localpg_createdb(&f, bindir, err, sizeof err) < 0) {
    cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed", "%s", err);
    goto out;
  }

  /* The coordinator and the workers. */
  ds = daemons_load(&f, nworkers);
  coord_bin = proc_find_program("clapper-coordinator");
  worker_bin = nworkers ? proc_find_program("clapper-worker") : NULL;
  if ((!coord_bin && !ds[0].pid) || (nworkers && !worker_bin)) {
    char *self = util_exe_dir();
    cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed",
             "%s was not found in %s or in $PATH (PostgreSQL is running; "
             "`clapper local down --dir %s` stops it)",
             !coord_bin && !ds[0].pid ? "clapper-coordinator" : "clapper-worker",
             self && self[0] ? self : "the directory of clapper", f.dir);
    free(self);
    goto out;
  }
  /* Keys, unless a coordinator started without them runs already. */
  if (!ds[0].pid || proc_matches(ds[0].pid, "clapper-coordinator", f.keysdir)) {
    fk.user = farm_user();
    fk.admin_key = keys_path(f.keysdir, fk.user, "key");
    fk.admin_pub = keys_path(f.keysdir, fk.user, "pub");
    if (ensure_keys(ctx, &f, &fk, nworkers) < 0)
      goto out;
  }
  /* The coordinator runs under the supervisor, which restarts it when it
   * exits (and watches one that runs already until it does). */
  daemon_init(&sup, &f, SUPERVISOR);
  have_sup = true;
  if (!sup.pid) {
    if (spawn_supervisor(ctx, &f, &sup) < 0)
      goto out;
    started = true;
  }
  if (wait_coordinator(ctx, &sup, &ds[0]) < 0) {
    hint_down(ctx, &f);
    goto out;
  }
  /* The workers' keys must be registered before the workers connect. */
  if (wait_ready(ctx, &f, ds, 0, &fk) < 0 ||
      (fk.user && register_workers(ctx, &f, &fk, ds, nworkers) < 0)) {
    hint_down(ctx, &f);
    goto out;
  }
  /* As root, workers run tasks as FARM_TASK_USER, which cannot read
   * DIR/keys or PostgreSQL's files (see farm.h). */
  if (nworkers > 0) {
    int made = farm_ensure_task_user(err, sizeof err);
    if (made < 0) {
      cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed", "%s", err);
      hint_down(ctx, &f);
      goto out;
    }
    if (made)
      say(ctx, "made user %s: the workers run tasks as it", FARM_TASK_USER);
    if (!farm_task_user_can_reach(f.outdir))
      say(ctx,
          "warning: user %s cannot reach %s: tasks cannot write their outputs there; "
          "use a --dir that every user can search",
          FARM_TASK_USER, f.outdir);
  }
  int cpus = opt.worker_cpus ? (int)opt.worker_cpus : default_cpus(nworkers);
  for (int k = 1; k <= nworkers; k++) {
    if (ds[k].pid)
      continue;
    if (spawn_daemon(ctx, &f, &ds[k], worker_bin, cpus, &fk) < 0)
      goto out;
    started = true;
  }
  if (wait_ready(ctx, &f, ds, nworkers, &fk) < 0) {
    hint_down(ctx, &f);
    goto out;
  }
  if (farm_write_env(&f, fk.admin_key, err, sizeof err) < 0) {
    cmd_fail(ctx, CMD_EXIT_FAIL, "io", "%s", err);
    goto out;
  }

  char *envpath = xasprintf("%s/env", f.dir);
  pid_t pgpid = localpg_pid(&f);
  if (ctx->json) {
    json_t *procs = json_array();
    json_array_append_new(procs, process_json("postgres", pgpid));
    json_array_append_new(procs, process_json(SUPERVISOR, sup.pid));
    for (int k = 0; k <= nworkers; k++)
      json_array_append_new(procs, process_json(ds[k].name, ds[k].pid));
    json_t *doc = json_pack("{s:s,s:b,s:s,s:s,s:o,s:s,s:s,s:o}", "dir", f.dir, "already_up",
                            !started, "db", f.conninfo, "coordinator", f.clients_ep, "key",
                            fk.admin_key ? json_string(fk.admin_key) : json_null(), "env",
                            envpath, "logs", f.logdir, "processes", procs);
    cmd_print_json(ctx, doc);
    json_decref(doc);
  } else {
    fprintf(ctx->out, started ? "clapper local farm is up in %s\n"
                              : "clapper local farm in %s is already up\n",
            f.dir);
    static const char *const hdr[] = {"PROCESS", ">PID", "WHERE"};
    out_table_t t;
    table_init(&t, ARRAY_SIZE(hdr), hdr);
    table_add(&t, "postgres");
    table_addf(&t, "%ld", (long)pgpid);
    table_add(&t, f.pgsock);
    table_add(&t, SUPERVISOR);
    table_addf(&t, "%ld", (long)sup.pid);
    table_add(&t, "restarts the coordinator when it exits");
    table_add(&t, "coordinator");
    table_addf(&t, "%ld", (long)ds[0].pid);
    table_add(&t, f.clients_ep);
    for (int k = 1; k <= nworkers; k++) {
      table_add(&t, ds[k].name);
      table_addf(&t, "%ld", (long)ds[k].pid);
      table_add(&t, ds[k].needle);
    }
    table_print(&t, ctx->out);
    table_free(&t);
    if (fk.admin_key)
      fprintf(ctx->out, "you are %s (admin) with the key %s\n", fk.user, fk.admin_key);
    fprintf(ctx->out, "logs are in %s\nuse this farm from a shell with:  source %s\n",
            f.logdir, envpath);
  }
  free(envpath);
  status = CMD_EXIT_OK;
out:
  farm_keys_free(&fk);
  if (have_sup)
    daemon_fields_free(&sup);
  if (ds)
    daemons_free(ds, (size_t)nworkers + 1);
  free(worker_bin);
  free(coord_bin);
  free(bindir);
  free(pglog);
  farm_free(&f);
  free(dir);
  return status;
}

/* ---------------------------------------------------------------- supervise */

/* DIR/run/supervisor.state: how often the supervisor restarted the
 * coordinator, when it last did and why ("count=N", "last_at=...",
 * "last_exit=..." lines). */
static char *restarts_path(const farm_t *f) { return xasprintf("%s/supervisor.state", f->rundir); }

/* {"count": N, "last_at": TIME or null, "last_exit": WHY or null}. */
static json_t *read_restarts(const farm_t *f) {
  char *path = restarts_path(f);
  size_t len;
  char *text = util_read_file(path, 4096, &len);
  free(path);
  json_t *doc = json_pack("{s:i,s:n,s:n}", "count", 0, "last_at", "last_exit");
  char *save = NULL;
  for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
       line = strtok_r(NULL, "\n", &save)) {
    char *eq = strchr(line, '=');
    if (!eq)
      continue;
    *eq = '\0';
    uint64_t n;
    if (!strcmp(line, "count") && util_parse_u64(eq + 1, 0, UINT32_MAX, &n) == 0)
      json_object_set_new(doc, "count", json_integer((json_int_t)n));
    else if (!strcmp(line, "last_at") || !strcmp(line, "last_exit"))
      json_object_set_new(doc, line, json_string(eq + 1));
  }
  free(text);
  return doc;
}

/* A line of the supervisor's log (its stdout), with the time. */
static void sup_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sup_log(const char *fmt, ...) {
  char when[40];
  util_iso8601(util_wall_us(), when, sizeof when);
  printf("%s clapper local supervise: ", when);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

/* Waits up to ms for one of the signals in set (blocked); returns it, or
 * 0 when none came. */
static int wait_signal(const sigset_t *set, long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  int sig = sigtimedwait(set, NULL, &ts);
  return sig < 0 ? 0 : sig;
}

/* Stops the coordinator d (SIGTERM; SIGKILL after COORDINATOR_STOP_MS). */
static void sup_stop(daemon_t *d) {
  if (!d->pid || !proc_matches(d->pid, d->prog, d->needle) || kill(d->pid, SIGTERM) < 0)
    return;
  const char *prog = d->prog, *needle = d->needle;
  if (proc_wait_gone(&d->pid, &prog, &needle, 1, COORDINATOR_STOP_MS) > 0) {
    sup_log("the coordinator (pid %ld) did not stop within %d s; killing it", (long)d->pid,
            COORDINATOR_STOP_MS / 1000);
    kill(d->pid, SIGKILL);
    proc_wait_gone(&d->pid, &prog, &needle, 1, KILL_WAIT_MS);
  }
  sup_log("stopped the coordinator (pid %ld)", (long)d->pid);
}

/* `clapper local supervise`, started by up: runs the farm's coordinator
 * and starts it again whenever it exits, after a back-off (see
 * SUPERVISE_FIRST_MS), logging each restart and counting them in
 * run/supervisor.state; a coordinator that runs already is watched until
 * it exits.  SIGTERM, SIGINT or SIGHUP: stops the coordinator and exits. */
static int local_supervise(cmd_ctx_t *ctx) {
  char *dir = resolve_dir(), *coord_bin = NULL, *state = NULL;
  farm_t f = {0};
  farm_keys_t fk = {0};
  daemon_t d;
  bool have_d = false;
  int status = CMD_EXIT_FAIL;
  int rc = open_farm(ctx, dir, &f);
  if (rc <= 0) {
    if (rc == 0)
      cmd_fail(ctx, CMD_EXIT_FAIL, "not_found", "no clapper local farm in %s", dir);
    goto out;
  }
  coord_bin = proc_find_program("clapper-coordinator");
  if (!coord_bin) {
    cmd_fail(ctx, CMD_EXIT_FAIL, "start_failed", "clapper-coordinator was not found");
    goto out;
  }
  /* With the farm's keys when up made them (it always does now). */
  char *server = keys_path(f.keysdir, KEYS_SERVER_NAME, "key");
  fk.user = farm_user();
  fk.admin_key = keys_path(f.keysdir, fk.user, "key");
  fk.admin_pub = keys_path(f.keysdir, fk.user, "pub");
  if (access(server, F_OK) < 0 || access(fk.admin_pub, F_OK) < 0)
    farm_keys_free(&fk);
  free(server);
  daemon_init(&d, &f, "coordinator");
  have_d = true;
  state = restarts_path(&f);
  unlink(state); /* counts this supervisor's restarts */

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, NULL); /* the coordinator gets the default mask back */
  sup_log("supervising the coordinator of %s (pid %ld)", f.dir, (long)getpid());
  unsigned restarts = 0;
  long delay_ms = 0;
  for (;;) {
    if (d.pid) {
      sup_log("watching the coordinator (pid %ld) that runs already", (long)d.pid);
    } else if (spawn_daemon(ctx, &f, &d, coord_bin, 0, &fk) < 0) {
      sup_log("cannot start the coordinator: %s", ctx->error.message);
      d.pid = 0;
    }
    uint64_t t0 = util_mono_us();
    int st = 0, sig = 0;
    bool child = d.spawned;
    while (d.pid) {
      sig = wait_signal(&set, 250);
      if (sig && sig != SIGCHLD)
        break;
      if (child ? waitpid(d.pid, &st, WNOHANG) == d.pid
                : !proc_matches(d.pid, d.prog, d.needle))
        break;
    }
    if (sig && sig != SIGCHLD) {
      sup_log("signal %d: stopping", sig);
      sup_stop(&d);
      break;
    }
    long ran_ms = (long)((util_mono_us() - t0) / 1000);
    char why[96];
    if (!d.pid)
      snprintf(why, sizeof why, "could not be started");
    else if (child && WIFEXITED(st))
      snprintf(why, sizeof why, "exited with status %d", WEXITSTATUS(st));
    else if (child && WIFSIGNALED(st))
      snprintf(why, sizeof why, "was killed by signal %d", WTERMSIG(st));
    else
      snprintf(why, sizeof why, "stopped");
    delay_ms = !delay_ms || ran_ms >= SUPERVISE_STABLE_MS ? SUPERVISE_FIRST_MS
               : delay_ms * 2 > SUPERVISE_MAX_MS       ? SUPERVISE_MAX_MS
                                                       : delay_ms * 2;
    restarts++;
    sup_log("the coordinator (pid %ld) %s after %.1f s; restart %u in %.1f s", (long)d.pid, why,
            ran_ms / 1000.0, restarts, delay_ms / 1000.0);
    char when[40], err[256];
    util_iso8601(util_wall_us(), when, sizeof when);
    char *text = xasprintf("count=%u\nlast_at=%s\nlast_exit=%s\n", restarts, when, why);
    if (util_write_atomic(state, text, strlen(text), 0644, err, sizeof err) < 0)
      sup_log("%s", err);
    free(text);
    d.pid = 0;
    d.spawned = false;
    uint64_t until = util_mono_us() + (uint64_t)delay_ms * 1000;
    sig = 0;
    for (uint64_t now; !sig && (now = util_mono_us()) < until;) {
      sig = wait_signal(&set, (long)((until - now) / 1000) + 1);
      if (sig == SIGCHLD)
        sig = 0;
    }
    if (sig) {
      sup_log("signal %d: stopping", sig);
      break;
    }
  }
  status = CMD_EXIT_OK;
out:
  farm_keys_free(&fk);
  if (have_d)
    daemon_fields_free(&d);
  farm_free(&f);
  free(state);
  free(coord_bin);
  free(dir);
  return status;
}

/* ---------------------------------------------------------------- down */

/* Signals the running daemons among ds (sig), waits up to wait_ms, then
 * SIGKILLs the rest.  Appends what happened to stopped. */
static void stop_daemons(cmd_ctx_t *ctx, daemon_t *const *ds, size_t n, int sig, int wait_ms,
                         json_t *stopped) {
  pid_t *pids = xcalloc(n ? n : 1, sizeof *pids);
  const char **progs = xcalloc(n ? n : 1, sizeof *progs);
  const char **needles = xcalloc(n ? n : 1, sizeof *needles);
  bool *killed = xcalloc(n ? n : 1, sizeof *killed);
  for (size_t i = 0; i < n; i++) {
    progs[i] = ds[i]->prog;
    needles[i] = ds[i]->needle;
    if (ds[i]->pid && proc_matches(ds[i]->pid, ds[i]->prog, ds[i]->needle) &&
        kill(ds[i]->pid, sig) == 0)
      pids[i] = ds[i]->pid;
  }
  if (proc_wait_gone(pids, progs, needles, n, wait_ms) > 0) {
    for (size_t i = 0; i < n; i++) {
      if (pids[i] && proc_matches(pids[i], progs[i], needles[i])) {
        say(ctx, "%s (pid %ld) did not stop within %d s; killing it", ds[i]->name,
            (long)pids[i], wait_ms / 1000);
        kill(pids[i], SIGKILL);
        killed[i] = true;
      }
    }
    proc_wait_gone(pids, progs, needles, n, KILL_WAIT_MS);
  }
  for (size_t i = 0; i < n; i++) {
    if (!pids[i])
      continue;
    say(ctx, "%s %s (pid %ld)", killed[i] ? "killed" : "stopped", ds[i]->name, (long)pids[i]);
    json_array_append_new(stopped, json_pack("{s:s,s:I,s:s}", "name", ds[i]->name, "pid",
                                             (json_int_t)pids[i], "how",
                                             killed[i] ? "killed" : "signal"));
  }
  free(killed);
  free(pids);
  free(progs);
  free(needles);
}

static int local_down(cmd_ctx_t *ctx) {
  char *dir = resolve_dir(), *bindir = NULL;
  farm_t f = {0};
  daemon_t *ds = NULL;
  int nworkers = 0, status = CMD_EXIT_FAIL;
  json_t *stopped = json_array();
  char err[1024];
  int rc = open_farm(ctx, dir, &f);
  if (rc < 0)
    goto out;
  if (rc == 0) {
    say(ctx, "no clapper local farm in %s; nothing to stop", dir);
    goto report;
  }
  nworkers = highest_pidfile(&f);
  if (f.workers > nworkers)
    nworkers = f.workers;
  ds = daemons_load(&f, nworkers);

  daemon_t **workers = xcalloc((size_t)nworkers + 1, sizeof *workers);
  for (int k = 1; k <= nworkers; k++)
    workers[k - 1] = &ds[k];
  stop_daemons(ctx, workers, (size_t)nworkers, opt.drain ? SIGTERM : SIGINT, WORKER_STOP_MS,
               stopped);
  free(workers);
  /* The supervisor stops the coordinator it runs (SIGTERM) before it
   * exits; a coordinator left without one is stopped here. */
  daemon_t sup, *supp = &sup, *coord = &ds[0];
  daemon_init(&sup, &f, SUPERVISOR);
  pid_t ran = proc_read_pidfile(coord->pidfile);
  ran = sup.pid && proc_matches(ran, coord->prog, coord->needle) ? ran : 0;
  stop_daemons(ctx, &supp, 1, SIGTERM, SUPERVISOR_STOP_MS, stopped);
  if (!proc_matches(proc_read_pidfile(sup.pidfile), sup.prog, sup.needle))
    unlink(sup.pidfile);
  daemon_fields_free(&sup);
  if (ran && !proc_matches(ran, coord->prog, coord->needle)) {
    say(ctx, "stopped coordinator (pid %ld) through the supervisor", (long)ran);
    json_array_append_new(stopped, json_pack("{s:s,s:I,s:s}", "name", "coordinator", "pid",
                                             (json_int_t)ran, "how", "supervisor"));
  }
  coord->pid = proc_read_pidfile(coord->pidfile);
  coord->pid = proc_matches(coord->pid, coord->prog, coord->needle) ? coord->pid : 0;
  stop_daemons(ctx, &coord, 1, SIGTERM, COORDINATOR_STOP_MS, stopped);

  pid_t pgpid = localpg_pid(&f);
  if (pgpid) {
    bindir = localpg_bindir(err, sizeof err);
    if (!bindir || localpg_stop(&f, bindir, err, sizeof err) < 0) {
      cmd_fail(ctx, CMD_EXIT_FAIL, "stop_failed", "cannot stop PostgreSQL (pid %ld): %s",
               (long)pgpid, err);
      goto out;
    }
    say(ctx, "stopped postgres (pid %ld)", (long)pgpid);
    json_array_append_new(stopped, json_pack("{s:s,s:I,s:s}", "name", "postgres", "pid",
                                             (json_int_t)pgpid, "how", "pg_ctl"));
  }
  /* Pid files of processes that are gone. */
  for (int k = 0; k <= nworkers; k++) {
    pid_t pid = proc_read_pidfile(ds[k].pidfile);
    if (!proc_matches(pid, ds[k].prog, ds[k].needle))
      unlink(ds[k].pidfile);
  }
  if (!json_array_size(stopped))
    say(ctx, "nothing was running in %s", f.dir);
report:
  if (ctx->json) {
    json_t *doc = json_pack("{s:s,s:O}", "dir", f.dir ? f.dir : dir, "stopped", stopped);
    cmd_print_json(ctx, doc);
    json_decref(doc);
  }
  status = CMD_EXIT_OK;
out:
  json_decref(stopped);
  if (ds)
    daemons_free(ds, (size_t)nworkers + 1);
  free(bindir);
  farm_free(&f);
  free(dir);
  return status;
}

/* ---------------------------------------------------------------- status */

/* One row of the status table: a process of process_json and its log in
 * the farm. */
static void process_row(out_table_t *t, const json_t *p, void *farm) {
  table_add_fields(t, p, "name", "pid", "state", NULL);
  const char *name = json_string_value(json_object_get(p, "name"));
  char *log = strcmp(name, "postgres") ? farm_logfile(farm, name) : localpg_logfile(farm);
  table_add(t, log);
  free(log);
}

static int local_status(cmd_ctx_t *ctx) {
  char *dir = resolve_dir();
  farm_t f = {0};
  daemon_t *ds = NULL;
  int nworkers = 0, status = CMD_EXIT_FAIL;
  json_t *procs = json_array(), *workers = NULL, *restarts = NULL;
  int rc = open_farm(ctx, dir, &f);
  if (rc < 0)
    goto out;
  if (rc == 0) {
    if (ctx->json) {
      json_t *doc = json_pack("{s:s,s:O,s:n}", "dir", dir, "processes", procs, "workers");
      cmd_print_json(ctx, doc);
      json_decref(doc);
    } else {
      fprintf(ctx->out, "no clapper local farm in %s (start one with clapper local up)\n", dir);
    }
    status = 3;
    goto out;
  }
  nworkers = f.workers;
  ds = daemons_load(&f, nworkers);
  pid_t pgpid = localpg_pid(&f);
  daemon_t sup;
  daemon_init(&sup, &f, SUPERVISOR);
  int running = (pgpid != 0) + (sup.pid != 0), total = nworkers + 3;
  json_array_append_new(procs, process_json("postgres", pgpid));
  json_array_append_new(procs, process_json(SUPERVISOR, sup.pid));
  restarts = read_restarts(&f);
  daemon_fields_free(&sup);
  for (int k = 0; k <= nworkers; k++) {
    running += ds[k].pid != 0;
    json_array_append_new(procs, process_json(ds[k].name, ds[k].pid));
  }
  cli_error_t rerr = {0};
  if (ds[0].pid) {
    Clapper__Request req = CLAPPER__REQUEST__INIT;
    req.verb = CLAPPER__VERB__VERB_WORKERS;
    /* As the local user when the coordinator uses the farm's keys. */
    char *user = farm_user(), *key = keys_path(f.keysdir, user, "key");
    rpc_keys_t keys = {0};
    if (proc_matches(ds[0].pid, "clapper-coordinator", f.keysdir))
      keys.key = key;
    /* A hung coordinator should not hold up a status check for long. */
    int ms = ctx->timeout_ms < STATUS_RPC_MS ? (int)ctx->timeout_ms : STATUS_RPC_MS;
    workers = rpc_call_json_as(f.clients_ep, &keys, &req, ms, &rerr);
    free(key);
    free(user);
  }
  if (ctx->json) {
    json_t *doc = json_pack("{s:s,s:s,s:O,s:O,s:O}", "dir", f.dir, "coordinator", f.clients_ep,
                            "processes", procs, "restarts", restarts, "workers",
                            workers ? json_object_get(workers, "workers") : json_null());
    cmd_print_json(ctx, doc);
    json_decref(doc);
  } else {
    fprintf(ctx->out, "clapper local farm in %s\n", f.dir);
    static const char *const hdr[] = {"PROCESS", ">PID", "STATE", "LOG"};
    output_table(ctx->out, ARRAY_SIZE(hdr), hdr, procs, process_row, &f);
    json_int_t nr = json_integer_value(json_object_get(restarts, "count"));
    if (nr > 0) {
      char *line = xasprintf("the supervisor restarted the coordinator %lld time%s, last at %s: "
                             "it %s",
                             (long long)nr, nr == 1 ? "" : "s",
                             json_string_value(json_object_get(restarts, "last_at")),
                             json_string_value(json_object_get(restarts, "last_exit")));
      output_line(ctx->out, line);
      free(line);
    }
    if (workers) {
      fprintf(ctx->out, "\nworkers known to the coordinator at %s:\n", f.clients_ep);
      cmd_workers_table(ctx->out, workers);
    } else if (ds[0].pid) {
      char *line = xasprintf("\nthe coordinator did not answer: %s", rerr.message);
      output_line(ctx->out, line);
      free(line);
    }
  }
  status = running == total ? CMD_EXIT_OK : running == 0 ? 3 : CMD_EXIT_FAIL;
out:
  json_decref(restarts);
  json_decref(workers);
  json_decref(procs);
  if (ds)
    daemons_free(ds, (size_t)nworkers + 1);
  farm_free(&f);
  free(dir);
  return status;
}

static int local_exec(cmd_ctx_t *ctx, int argc, char **argv) {
  (void)argc;
  if (!strcmp(argv[0], "up"))
    return local_up(ctx);
  if (!strcmp(argv[0], "supervise"))
    return local_supervise(ctx);
  if (!strcmp(argv[0], "down"))
    return local_down(ctx);
  if (!strcmp(argv[0], "status"))
    return local_status(ctx);
  return cmd_fail(ctx, CMD_EXIT_USAGE, "usage",
                  "local: unknown action '%s' (expected up, down or status)", argv[0]);
}

const struct cmd_entry cmd_local_entry = {
    .name = "local", CMD_OPTS(local_opts), .min_args = 1, .max_args = 1, .exec = local_exec,
    .usage = "up|down|status [--dir DIR] [--workers N] [--drain] [options]",
    .help = "run a whole farm on this machine (PostgreSQL, coordinator, workers)",
};
