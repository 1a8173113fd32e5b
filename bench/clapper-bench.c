/*
 * clapper-bench - end-to-end throughput of the coordinator.
 *
 * Starts a real clapper-coordinator against the given database, connects a
 * simulated farm (many worker identities in this one process, each a real
 * ZeroMQ DEALER speaking the worker protocol, whose tasks finish at once)
 * and a client that submits N tasks in jobs of --batch tasks.  It measures
 * until the coordinator has acknowledged every result (acknowledgements
 * are sent only after the results are durable), checks in PostgreSQL that
 * every task succeeded exactly once, and prints one JSON line:
 *   tasks, seconds, tasks_per_s, p50/p99 submit -> dispatch latency (ms),
 *   coordinator peak RSS (MB).
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "codec.h"
#include "config.h"
#include "util.h"

static char *db, *coord_bin, *workdir;
static long long ntasks, nworkers, slots, batch, inflight_max, heartbeat_ms;
static char *config_path;
static char *http_bind, *ready_cmd;

static const cfg_opt_t options[] = {
    {"config", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE", "read settings from FILE", &config_path},
    {"db", 0, CFG_STRING, "CLAPPER_DB", NULL, 0, 0, "CONNINFO",
     "PostgreSQL database the coordinator uses (required)", &db},
    {"tasks", 0, CFG_INT, NULL, "100000", 1, 100000000, "N", "tasks to run", &ntasks},
    {"workers", 0, CFG_INT, NULL, "50", 1, 10000, "N", "simulated workers", &nworkers},
    {"slots", 0, CFG_INT, NULL, "32", 1, 65536, "N", "CPUs (task slots) per worker", &slots},
    {"batch", 0, CFG_INT, NULL, "1000", 1, 1000000, "N", "tasks per submitted job", &batch},
    {"inflight", 0, CFG_INT, NULL, "4", 1, 1000, "N", "submissions awaiting their reply",
     &inflight_max},
    {"heartbeat-ms", 0, CFG_INT, NULL, "1000", 50, 60000, "MS", "worker heartbeat interval",
     &heartbeat_ms},
    {"coordinator", 0, CFG_STRING, NULL, NULL, 0, 0, "PATH",
     "clapper-coordinator binary (default: next to this one)", &coord_bin},
    {"workdir", 0, CFG_STRING, NULL, NULL, 0, 0, "DIR",
     "directory for sockets and the coordinator log (default: a new one in /tmp)", &workdir},
    {"http", 0, CFG_STRING, NULL, NULL, 0, 0, "HOST:PORT",
     "the coordinator's --bind-http (default: its own default)", &http_bind},
    {"ready-cmd", 0, CFG_STRING, NULL, NULL, 0, 0, "CMD",
     "a shell command run once the farm is up, before the first submit; the run stops when "
     "it fails (bench/sse_watchers.sh connects its watchers there)", &ready_cmd},
};

typedef struct sim_worker {
  void *sock;
  char name[32];
  bool welcomed;
} sim_worker_t;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "clapper-bench: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void send_or_die(void *sock, envelope_t *env) {
  while (codec_send(sock, NULL, 0, env) < 0) {
    if (errno != EAGAIN)
      die("send: %s", zmq_strerror(errno));
    usleep(100);
  }
}

static void hello(sim_worker_t *w) {
  Clapper__Hello h = CLAPPER__HELLO__INIT;
  h.name = w->name;
  h.version = CLAPPER_VERSION;
  h.hostname = "bench";
  h.cpus = (uint32_t)slots;
  h.memory_mb = 1 << 20;
  envelope_t env = CODEC_ENVELOPE(HELLO, hello, &h);
  send_or_die(w->sock, &env);
}

static long peak_rss_kb(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "re");
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6))
      kb = strtol(line + 6, NULL, 10);
  if (f)
    fclose(f);
  return kb;
}

/* CPU seconds (user + system) pid used so far, -1 when unknown. */
static double cpu_seconds(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* after the command name */
  unsigned long long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static pid_t start_coordinator(const char *wep, const char *cep) {
  char *log = xasprintf("%s/coordinator.log", workdir);
  char *out = xasprintf("%s/output", workdir);
  pid_t pid = fork();
  if (pid < 0)
    die("fork: %s", strerror(errno));
  if (pid == 0) {
    FILE *f = freopen(log, "a", stderr);
    (void)f;
    if (http_bind)
      execl(coord_bin, coord_bin, "--db", db, "--bind-workers", wep, "--bind-clients", cep,
            "--output-root", out, "--lease-ms", "600000", "--log-level", "warn", "--bind-http",
            http_bind, (char *)NULL);
    else
      execl(coord_bin, coord_bin, "--db", db, "--bind-workers", wep, "--bind-clients", cep,
            "--output-root", out, "--lease-ms", "600000", "--log-level", "warn", (char *)NULL);
    fprintf(stderr, "exec %s: %s\n", coord_bin, strerror(errno));
    _exit(127);
  }
  free(log);
  free(out);
  return pid;
}

int main(int argc, char **argv) {
  char err[512];
  cfg_result_t res = {0};
  int prc = config_parse(options, ARRAY_SIZE(options), argc, argv, "clapper-bench",
                         "--db CONNINFO [options]", &res, err, sizeof err);
  free(res.pos);
  if (prc != 0) {
    if (prc < 0)
      fprintf(stderr, "clapper-bench: %s\n", err);
    return prc < 0 ? 2 : 0;
  }
  if (!db)
    die("--db is required (a database the coordinator may use; see README)");
  if (!coord_bin) {
    char *exe = util_exe_dir();
    if (!exe)
      die("cannot find my own path");
    coord_bin = xasprintf("%s/clapper-coordinator", exe);
    free(exe);
  }
  if (!workdir) {
    char tmpl[] = "/tmp/clapper-bench-XXXXXX";
    if (!mkdtemp(tmpl))
      die("mkdtemp: %s", strerror(errno));
    workdir = xstrdup(tmpl);
  }
  if (util_mkdir_p(workdir, 0700) < 0)
    die("cannot create %s: %s", workdir, strerror(errno));
  signal(SIGPIPE, SIG_IGN);
  char *wep = xasprintf("ipc://%s/workers.sock", workdir);
  char *cep = xasprintf("ipc://%s/clients.sock", workdir);

  PGconn *pg = PQconnectdb(db);
  if (PQstatus(pg) != CONNECTION_OK)
    die("cannot connect to %s: %s", db, PQerrorMessage(pg));

  pid_t cpid = start_coordinator(wep, cep);
  void *ctx = zmq_ctx_new();
  sim_worker_t *ws = xcalloc((size_t)nworkers, sizeof *ws);
  int hwm = 0;
  for (long long i = 0; i < nworkers; i++) {
    ws[i].sock = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(ws[i].sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(ws[i].sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    snprintf(ws[i].name, sizeof ws[i].name, "bench-w%03lld", i);
    zmq_connect(ws[i].sock, wep);
  }
  void *client = zmq_socket(ctx, ZMQ_DEALER);
  zmq_connect(client, cep);

  /* Wait for the coordinator: ping until it answers, then say hello. */
  uint64_t t0 = util_mono_us();
  for (;;) {
    Clapper__Request rq = CLAPPER__REQUEST__INIT;
    rq.verb = CLAPPER__VERB__VERB_PING;
    envelope_t env = CODEC_ENVELOPE(REQUEST, request, &rq);
    send_or_die(client, &env);
    zmq_pollitem_t it = {client, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 500) > 0) {
      envelope_t *rep = NULL;
      if (codec_recv(client, NULL, NULL, NULL, CODEC_MAX_CLIENT_MSG, &rep, err, sizeof err) == 1) {
        codec_free(&rep);
        break;
      }
    }
    int status;
    if (waitpid(cpid, &status, WNOHANG) == cpid)
      die("the coordinator exited; see %s/coordinator.log", workdir);
    if (util_mono_us() - t0 > 60000000)
      die("the coordinator did not answer within 60 s; see %s/coordinator.log", workdir);
  }
  for (long long i = 0; i < nworkers; i++)
    hello(&ws[i]);
  if (ready_cmd) {
    int rc = system(ready_cmd);
    if (rc != 0)
      die("--ready-cmd failed (status %d): %s", rc, ready_cmd);
  }

  long long njobs = (ntasks + batch - 1) / batch;
  uint64_t *submit_at = xcalloc((size_t)njobs, sizeof *submit_at);
  uint64_t *lat = xcalloc((size_t)ntasks, sizeof *lat);
  long long nlat = 0, submitted = 0, replies = 0, acked = 0, welcomed = 0;
  long long inflight = 0;
  uint64_t first_job = 0;
  zmq_pollitem_t *items = xcalloc((size_t)nworkers + 1, sizeof *items);
  for (long long i = 0; i < nworkers; i++)
    items[i] = (zmq_pollitem_t){ws[i].sock, 0, ZMQ_POLLIN, 0};
  items[nworkers] = (zmq_pollitem_t){client, 0, ZMQ_POLLIN, 0};
  uint64_t start = 0, last_hb = util_mono_us();
  Clapper__Result *rbuf = NULL;
  Clapper__Result **rptr = NULL;
  size_t rcap = 0;

  while (acked < ntasks) {
    /* Submit once every worker is welcomed, keeping a few in flight. */
    while (welcomed == nworkers && submitted < njobs && inflight < inflight_max) {
      long long n = submitted == njobs - 1 ? ntasks - submitted * batch : batch;
      char *file = xasprintf("{\"project\":\"bench\",\"episode\":\"e1\",\"jobs\":[{\"name\":"
                             "\"b%lld\",\"command\":[\"true\",\"{job}\"],\"frames\":\"1-%lld\","
                             "\"max_attempts\":1}]}",
                             submitted, n);
      Clapper__Request rq = CLAPPER__REQUEST__INIT;
      rq.id = (uint64_t)submitted + 1;
      rq.verb = CLAPPER__VERB__VERB_SUBMIT;
      rq.body.data = (uint8_t *)file;
      rq.body.len = strlen(file);
      envelope_t env = CODEC_ENVELOPE(REQUEST, request, &rq);
      if (!start)
        start = util_mono_us();
      submit_at[submitted] = util_mono_us();
      send_or_die(client, &env);
      free(file);
      submitted++;
      inflight++;
    }
    if (zmq_poll(items, (int)nworkers + 1, 200) < 0 && errno != EINTR)
      die("poll: %s", zmq_strerror(errno));
    uint64_t now = util_mono_us();
    if (now - last_hb > (uint64_t)heartbeat_ms * 1000) {
      last_hb = now;
      for (long long i = 0; i < nworkers; i++) {
        Clapper__Heartbeat hb = CLAPPER__HEARTBEAT__INIT;
        envelope_t env = CODEC_ENVELOPE(HEARTBEAT, heartbeat, &hb);
        send_or_die(ws[i].sock, &env);
      }
    }
    envelope_t *env = NULL;
    while (codec_recv(client, NULL, NULL, NULL, CODEC_MAX_CLIENT_MSG, &env, err, sizeof err) == 1) {
      if (env->body_case == CLAPPER__ENVELOPE__BODY_REPLY) {
        if (!env->reply->ok)
          die("submission refused: %s", env->reply->error_message);
        if (!first_job) {
          const char *p = strstr(env->reply->json, "\"job_id\":");
          if (p)
            first_job = strtoull(p + 9, NULL, 10);
        }
        replies++;
        inflight--;
      }
      codec_free(&env);
    }
    for (long long i = 0; i < nworkers; i++) {
      sim_worker_t *w = &ws[i];
      while (codec_recv(w->sock, NULL, NULL, NULL, CODEC_MAX_WORKER_MSG, &env, err, sizeof err) == 1) {
        switch (env->body_case) {
        case CLAPPER__ENVELOPE__BODY_WELCOME:
          if (!w->welcomed)
            welcomed++;
          w->welcomed = true;
          break;
        case CLAPPER__ENVELOPE__BODY_RESET:
          hello(w);
          break;
        case CLAPPER__ENVELOPE__BODY_ASSIGN: {
          Clapper__Assign *as = env->assign;
          uint64_t t = util_mono_us();
          if (as->n_tasks > rcap) {
            rcap = as->n_tasks;
            rbuf = xreallocarray(rbuf, rcap, sizeof *rbuf);
            rptr = xreallocarray(rptr, rcap, sizeof *rptr);
          }
          int64_t wall = util_wall_us();
          for (size_t k = 0; k < as->n_tasks; k++) {
            Clapper__Task *tk = as->tasks[k];
            long long jidx = tk->n_argv > 1 ? strtoll(tk->argv[1] + 1, NULL, 10) : -1;
            if (jidx >= 0 && jidx < njobs && nlat < ntasks)
              lat[nlat++] = t - submit_at[jidx];
            clapper__result__init(&rbuf[k]);
            rbuf[k].attempt_id = tk->attempt_id;
            rbuf[k].outcome = CLAPPER__OUTCOME__OUTCOME_SUCCEEDED;
            rbuf[k].started_at_us = wall;
            rbuf[k].ended_at_us = wall;
            rptr[k] = &rbuf[k];
          }
          Clapper__Results rs = CLAPPER__RESULTS__INIT;
          rs.n_results = as->n_tasks;
          rs.results = rptr;
          envelope_t out = CODEC_ENVELOPE(RESULTS, results, &rs);
          send_or_die(w->sock, &out);
          break;
        }
        case CLAPPER__ENVELOPE__BODY_RESULT_ACK:
          acked += (long long)env->result_ack->n_attempt_ids;
          break;
        default:
          break;
        }
        codec_free(&env);
      }
    }
    int status;
    if (waitpid(cpid, &status, WNOHANG) == cpid)
      die("the coordinator exited; see %s/coordinator.log", workdir);
  }
  uint64_t end = util_mono_us();
  long rss_kb = peak_rss_kb(cpid);
  double cpu_s = cpu_seconds(cpid);
  kill(cpid, SIGTERM);
  int status = 0;
  waitpid(cpid, &status, 0);

  /* Every task of the run succeeded, each with exactly one attempt. */
  char firstbuf[24];
  snprintf(firstbuf, sizeof firstbuf, "%" PRIu64, first_job);
  const char *pv[1] = {firstbuf};
  PGresult *r = PQexecParams(pg,
                             "SELECT count(*) FILTER (WHERE t.state = 'succeeded'), "
                             "count(*), (SELECT count(*) FROM attempts a JOIN tasks t2 "
                             "ON t2.id = a.task_id WHERE t2.job_id >= $1::bigint) "
                             "FROM tasks t WHERE t.job_id >= $1::bigint",
                             1, NULL, pv, NULL, NULL, 0);
  long long ok = -1, all = -1, attempts = -1;
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    ok = atoll(PQgetvalue(r, 0, 0));
    all = atoll(PQgetvalue(r, 0, 1));
    attempts = atoll(PQgetvalue(r, 0, 2));
  }
  PQclear(r);
  PQfinish(pg);
  if (ok != ntasks || all != ntasks || attempts != ntasks)
    die("verification failed: %lld tasks, %lld succeeded, %lld attempts (expected %lld each)",
        all, ok, attempts, ntasks);

  qsort(lat, (size_t)nlat, sizeof *lat, cmp_u64);
  double secs = (double)(end - start) / 1e6;
  double p50 = nlat ? (double)lat[nlat / 2] / 1000.0 : 0;
  double p99 = nlat ? (double)lat[(nlat * 99) / 100 < nlat ? (nlat * 99) / 100 : nlat - 1] / 1000.0 : 0;
  printf("{\"tasks\":%lld,\"seconds\":%.3f,\"tasks_per_s\":%.0f,\"p50_dispatch_ms\":%.2f,"
         "\"p99_dispatch_ms\":%.2f,\"coordinator_peak_rss_mb\":%.1f,\"workers\":%lld,"
         "\"slots_per_worker\":%lld,\"batch\":%lld,\"coordinator_cpu_s\":%.2f,\"verified\":true}\n",
         ntasks, secs, (double)ntasks / secs, p50, p99, rss_kb / 1024.0, nworkers, slots, batch,
         cpu_s);

  for (long long i = 0; i < nworkers; i++) {
    int zero = 0;
    zmq_setsockopt(ws[i].sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(ws[i].sock);
  }
  int zero = 0;
  zmq_setsockopt(client, ZMQ_LINGER, &zero, sizeof zero);
  zmq_close(client);
  zmq_ctx_term(ctx);
  free(ws);
  free(items);
  free(lat);
  free(submit_at);
  free(rbuf);
  free(rptr);
  free(wep);
  free(cep);
  config_free(options, ARRAY_SIZE(options));
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
