/*
 * main.c - clapper-coordinator: settings, start-up, the loop, shutdown.
 *
 * Start-up is the only synchronous part: connect to PostgreSQL, become the
 * leader (advisory lock; a second coordinator waits as a standby, and
 * reconnects when PostgreSQL restarts under it), apply
 * migrations, rebuild memory from the database.  Then one libuv loop runs
 * everything: two ROUTER sockets (workers, clients) through zwatch,
 * asynchronous PostgreSQL connections (the writer, and a pool of readers:
 * reads.c), a lease timer and an end-of-iteration tick that dispatches and
 * flushes the batch.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "audit.h"
#include "auth.h"
#include "clients.h"
#include "config.h"
#include "api.h"
#include "dispatch.h"
#include "http.h"
#include "httpauth.h"
#include "log.h"
#include "migrate.h"
#include "model.h"
#include "cost.h"
#include "rates.h"
#include "reads.h"
#include "limit.h"
#include "recover.h"
#include "store.h"
#include "workers.h"
#include "zwatch.h"

/* The leader lock: one coordinator writes to a database at a time. */
#define LEADER_LOCK_KEY "7236829541001"
#define RECV_BUDGET 512 /* messages per socket per loop iteration */

static coord_t coord;
static char *log_level_name;
static char *config_path;
static bool insecure;
static bool migrate_only;
static http_settings_t http_set;
static char *http_bind, *http_cert, *http_key, *http_url;
static bool http_insecure;
#define HTTP_DEFAULT_BIND "127.0.0.1:7712"

static const cfg_opt_t options[] = {
    {"config", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE", "read settings from FILE",
     &config_path},
    {"db", 0, CFG_STRING, "CLAPPER_DB", "dbname=clapper", 0, 0, "CONNINFO",
     "PostgreSQL connection string", &coord.cfg.db},
    {"bind-workers", 0, CFG_STRING, NULL, NULL, 0, 0, "ENDPOINT",
     "where workers connect (default tcp://*:7710 with --keys, tcp://127.0.0.1:7710 without)",
     &coord.cfg.bind_workers},
    {"bind-clients", 0, CFG_STRING, NULL, "tcp://127.0.0.1:7711", 0, 0, "ENDPOINT",
     "where clients connect", &coord.cfg.bind_clients},
    {"output-root", 0, CFG_STRING, NULL, "/var/lib/clapper/output", 0, 0, "DIR",
     "root of task output directories (shared with the workers)", &coord.cfg.output_root},
    {"heartbeat-ms", 0, CFG_INT, NULL, "1000", 50, 60000, "MS",
     "heartbeat interval asked of workers", &coord.cfg.heartbeat_ms},
    {"lease-ms", 0, CFG_INT, NULL, "10000", 200, 3600000, "MS",
     "silence after which a worker is lost and its attempts requeued", &coord.cfg.lease_ms},
    {"sql-dir", 0, CFG_STRING, "CLAPPER_SQL_DIR", NULL, 0, 0, "DIR",
     "directory of the schema migrations", &coord.cfg.sql_dir},
    {"keys", 0, CFG_STRING, NULL, NULL, 0, 0, "DIR",
     "CURVE: the coordinator's key pair is DIR/coordinator.key; only registered keys connect. "
     "Without --keys nothing is authenticated: every client is an admin and any process that "
     "reaches the workers socket gets tasks and their secret environment, so both sockets "
     "bind only loopback or ipc:// endpoints",
     &coord.cfg.keys_dir},
    {"insecure", 0, CFG_BOOL, NULL, "false", 0, 0, NULL,
     "without --keys, bind other endpoints too (anyone who reaches them is an admin or a "
     "worker)",
     &insecure},
    {"audit-key", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE",
     "the secret that keys the event log's chain, made there (mode 0600) on first start; "
     "default KEYS/audit.key with --keys, none without (the chain is plain SHA-256 then)",
     &coord.cfg.audit_key},
    {"admin-key", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE",
     "a public key file (.pub) registered as an admin at start unless its name is taken",
     &coord.cfg.admin_key},
    {"currency", 0, CFG_STRING, NULL, "USD", 0, 0, "CODE",
     "the currency of every amount (ISO 4217 code); fixed once the database has money in it",
     &coord.cfg.currency},
    {"log-cap-bytes", 0, CFG_INT, NULL, "4194304", 0, 1073741824, "BYTES",
     "how much of each attempt's log the database keeps (the rest stays on the worker)",
     &coord.cfg.log_cap_bytes},
    {"read-connections", 0, CFG_INT, NULL, "4", 1, 64, "N",
     "PostgreSQL connections for client reads, apart from the writer's; one client "
     "holds at most all but one of them", &coord.cfg.read_connections},
    {"client-requests", 0, CFG_INT, NULL, "8", 1, 10000, "N",
     "requests a client (a key; without keys, a connection) may have unanswered; "
     "more are refused as busy", &coord.cfg.client_requests},
    {"read-timeout-ms", 0, CFG_INT, NULL, "10000", 100, 3600000, "MS",
     "a client read still running after MS (or after the client's own --timeout-ms) is "
     "canceled and answered with a timeout error", &coord.cfg.read_timeout_ms},
    {"bind-http", 0, CFG_STRING, NULL, NULL, 0, 0, "HOST:PORT",
     "serve the HTTP API, sign-in and metrics there (default " HTTP_DEFAULT_BIND
     ", or a free port when that one is taken; \"none\": no HTTP); a non-loopback address "
     "needs --http-cert and --http-key, or --http-insecure", &http_bind},
    {"http-cert", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE",
     "TLS certificate chain (PEM) for the HTTP side", &http_cert},
    {"http-key", 0, CFG_STRING, NULL, NULL, 0, 0, "FILE", "TLS private key (PEM) for the HTTP side",
     &http_key},
    {"http-url", 0, CFG_STRING, NULL, NULL, 0, 0, "URL",
     "the address people reach the HTTP side at, for sign-in links (default: from "
     "--bind-http)", &http_url},
    {"http-insecure", 0, CFG_BOOL, NULL, "false", 0, 0, NULL,
     "serve HTTP on a non-loopback address without TLS (sessions and tokens in clear text)",
     &http_insecure},
    {"http-link-ttl-ms", 0, CFG_INT, NULL, "60000", 100, 3600000, "MS",
     "how long a sign-in link from clapper web works (it works once)",
     &coord.cfg.http_link_ttl_ms},
    {"log-level", 0, CFG_STRING, NULL, "info", 0, 0, "LEVEL", "error, warn, info or debug",
     &log_level_name},
    {"migrate-only", 0, CFG_BOOL, NULL, "false", 0, 0, NULL,
     "apply the schema migrations and exit (run as the schema's owner; see deploy/README.md)",
     &migrate_only},
};

static void on_db_fatal(void *arg, const char *error) {
  (void)arg;
  /* Crash-only: a restart rebuilds everything from what committed. */
  log_error("database connection lost, exiting: %s", error);
  _exit(1);
}

/* Reads what is waiting on a ROUTER socket (at most RECV_BUDGET messages
 * per loop iteration) and hands each to the workers' or the clients'
 * side; a client whose message is refused gets the reason. */
static void receive(coord_t *c, void *sock, bool clients) {
  for (int i = 0; i < RECV_BUDGET; i++) {
    uint8_t ident[CODEC_MAX_IDENT];
    size_t identlen = 0;
    char user[CODEC_MAX_USER];
    envelope_t *env = NULL;
    char err[256];
    int rc = codec_recv(sock, ident, &identlen, user,
                        clients ? CODEC_MAX_CLIENT_MSG : CODEC_MAX_WORKER_MSG, &env, err,
                        sizeof err);
    if (rc == 0)
      break;
    if (rc < 0) {
      static log_limit_t refused[2] = {LOG_LIMIT_INIT("refused worker messages", 10),
                                       LOG_LIMIT_INIT("refused client messages", 10)};
      log_warn_limited(&refused[clients], "%s", err);
      if (clients && identlen) {
        creq_t *r = xcalloc(1, sizeof *r);
        memcpy(r->ident, ident, identlen);
        r->identlen = identlen;
        clients_reply_error(c, r, "bad_request", err);
      }
      continue;
    }
    if (clients)
      clients_on_message(c, ident, identlen, user, env);
    else
      workers_on_message(c, ident, identlen, user, env);
    codec_free(&env);
  }
}

static void on_workers(zwatch_t *w, void *sock, void *arg) {
  (void)w;
  receive(arg, sock, false);
}

static void on_clients(zwatch_t *w, void *sock, void *arg) {
  (void)w;
  receive(arg, sock, true);
}

static void close_all(coord_t *c);

static void on_tick(uv_prepare_t *h) {
  coord_t *c = h->data;
  if (!c->stopping && c->dispatch_needed)
    dispatch_run(c);
  store_flush(c);
  if (c->stopping && store_idle(c) && pgconn_idle(c->wdb) && pgconn_idle(c->bdb) &&
      reads_idle(c))
    close_all(c);
}

static void on_lease_timer(uv_timer_t *h) {
  workers_check_leases(h->data);
  log_limit_tick((int64_t)util_mono_us()); /* counts of rate-limited warnings */
}

static void on_signal(uv_signal_t *h, int signum) {
  coord_t *c = h->data;
  if (c->stopping)
    return;
  log_info("signal %d: finishing the current batch and stopping", signum);
  c->stopping = true;
  http_quiesce(c);
  zwatch_stop(&c->wwatch);
  zwatch_stop(&c->cwatch);
  uv_timer_stop(&c->lease_timer);
  uv_timer_stop(&c->delay_timer);
  uv_timer_stop(&c->budget_timer);
}

static void close_all(coord_t *c) {
  if (uv_is_closing((uv_handle_t *)&c->tick))
    return;
  uv_close((uv_handle_t *)&c->tick, NULL);
  uv_close((uv_handle_t *)&c->lease_timer, NULL);
  coord_close_timers(c);
  uv_close((uv_handle_t *)&c->sigterm, NULL);
  uv_close((uv_handle_t *)&c->sigint, NULL);
  pgconn_close(&c->wdb);
  pgconn_close(&c->bdb);
  reads_close(c);
  http_close(c);
  auth_free(c); /* its ZAP watcher keeps the loop alive otherwise */
}

static void *bind_router(coord_t *c, const char *endpoint, int maxmsg, const char *what) {
  void *s = zmq_socket(c->zctx, ZMQ_ROUTER);
  int one = 1, hwm = 200000, linger = 1000;
  int64_t max = maxmsg;
  zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
  zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
  auth_server(c, s, what);
  if (zmq_bind(s, endpoint) < 0) {
    log_error("cannot bind the %s socket to %s: %s", what, endpoint, zmq_strerror(errno));
    zmq_close(s);
    return NULL;
  }
  log_info("%s socket bound to %s", what, endpoint);
  return s;
}

/* Without keys nobody is authenticated: the sockets stay on this host
 * unless --insecure says otherwise.  0, or -1 after one line on stderr. */
static int check_local(const coord_settings_t *cfg) {
  const char *eps[2][2] = {{"--bind-workers", cfg->bind_workers},
                           {"--bind-clients", cfg->bind_clients}};
  for (int i = 0; i < 2; i++) {
    if (cfg->keys_dir || auth_endpoint_local(eps[i][1]))
      continue;
    if (insecure) {
      fprintf(stderr,
              "clapper-coordinator: warning: %s %s without --keys (--insecure): whoever "
              "reaches it is an admin or gets tasks and their secret environment\n",
              eps[i][0], eps[i][1]);
      continue;
    }
    fprintf(stderr,
            "clapper-coordinator: %s %s: without --keys only loopback or ipc:// endpoints "
            "are bound (nothing is authenticated); give --keys DIR, or --insecure\n",
            eps[i][0], eps[i][1]);
    return -1;
  }
  return 0;
}

/* The HTTP side (http.h) and its routes.  The default address is taken
 * when free, else a free port (a second farm on the host still starts);
 * an address given is served or the start fails. */
static int start_http(coord_t *c, char *err, size_t errlen) {
  http_set = (http_settings_t){.bind = http_bind ? http_bind : HTTP_DEFAULT_BIND,
                               .cert_file = http_cert, .key_file = http_key, .url = http_url,
                               .insecure = http_insecure};
  if (http_open(c, &http_set, err, errlen) < 0) {
    if (http_bind)
      return -1;
    log_warn("%s; trying a free port", err);
    http_set.bind = "127.0.0.1:0";
    if (http_open(c, &http_set, err, errlen) < 0)
      return -1;
  }
  api_routes(c);
  httpauth_routes(c);
  return 0;
}

/* The database keeps amounts in one currency: the first start records it,
 * later starts must agree.  0, or -1 with err. */
static int check_currency(PGconn *conn, const char *cur, char *err, size_t errlen) {
  if (strlen(cur) != 3 || cur[0] < 'A' || cur[0] > 'Z' || cur[1] < 'A' || cur[1] > 'Z' ||
      cur[2] < 'A' || cur[2] > 'Z') {
    snprintf(err, errlen, "--currency: '%s' is not a currency code (three capitals, e.g. USD)",
             cur);
    return -1;
  }
  const char *p[1] = {cur};
  PGresult *r = PQexecParams(conn,
                             "INSERT INTO settings (name, value) VALUES ('currency', $1) "
                             "ON CONFLICT (name) DO NOTHING", 1, NULL, p, NULL, NULL, 0);
  PQclear(r);
  r = PQexec(conn, "SELECT value FROM settings WHERE name = 'currency'");
  int rc = 0;
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
    snprintf(err, errlen, "cannot read the currency setting: %s", PQresultErrorMessage(r));
    rc = -1;
  } else if (strcmp(PQgetvalue(r, 0, 0), cur) != 0) {
    snprintf(err, errlen,
             "--currency %s: the database keeps its amounts in %s (a currency cannot change)",
             cur, PQgetvalue(r, 0, 0));
    rc = -1;
  }
  PQclear(r);
  return rc;
}

/* One statement on conn for the leader lock: 1 when it returned true (or a
 * row for pg_advisory_lock), 0 when it returned false or the wait ran past
 * lock_timeout, -1 when the connection failed (logged). */
static int lock_query(PGconn *conn, const char *sql) {
  const char *p[1] = {LEADER_LOCK_KEY};
  PGresult *r = PQexecParams(conn, sql, 1, NULL, p, NULL, NULL, 0);
  int rc;
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    rc = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "f") != 0;
  } else {
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && !strcmp(state, "55P03")) { /* lock_not_available: lock_timeout */
      rc = 0;
    } else {
      char why[512];
      util_fail_line(why, sizeof why, "leader lock: %s", PQresultErrorMessage(r));
      log_warn("%s", why);
      rc = -1;
    }
  }
  PQclear(r);
  return rc;
}

/* Waits for the leader lock on conn.  A standby waits inside PostgreSQL
 * (pg_advisory_lock), so it holds the lock the moment the leader's session
 * ends, not at its next poll; lock_timeout wakes it every
 * STANDBY_CHECK_S to find out whether its connection still works.  0 once
 * held, -1 when the connection failed. */
#define STANDBY_CHECK_S "10s"
static int become_leader(PGconn *conn) {
  int got = lock_query(conn, "SELECT pg_try_advisory_lock($1::bigint)");
  if (got)
    return got > 0 ? 0 : -1;
  log_info("another coordinator is the leader; standing by");
  PGresult *r = PQexec(conn, "SET lock_timeout = '" STANDBY_CHECK_S "'");
  bool set = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!set)
    return -1;
  while ((got = lock_query(conn, "SELECT pg_advisory_lock($1::bigint)")) == 0)
    ;
  if (got < 0)
    return -1;
  r = PQexec(conn, "RESET lock_timeout");
  set = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  return set ? 0 : -1;
}

/* Connects the writer and takes the leader lock on it: the lock lives as
 * long as that connection, so whoever writes holds it.  A standby whose
 * database goes away (PostgreSQL restarted or stopped) reconnects every
 * STANDBY_RETRY_S and goes on waiting; only a first connection that fails
 * ends the start (the caller exits; a supervisor starts it again).  0, or
 * -1 with err. */
#define STANDBY_RETRY_S 1
static int connect_and_lead(coord_t *c, uv_loop_t *loop, char *err, size_t errlen) {
  static log_limit_t retry = LOG_LIMIT_INIT("failed reconnections to PostgreSQL", 30);
  bool connected = false;
  for (;;) {
    c->wdb = pgconn_open(loop, c->cfg.db, "writer", on_db_fatal, c, err, errlen);
    if (!c->wdb) {
      if (!connected)
        return -1;
      log_warn_limited(&retry, "standing by: %s; retrying every %d s", err, STANDBY_RETRY_S);
      sleep(STANDBY_RETRY_S);
      continue;
    }
    if (connected)
      log_info("reconnected to PostgreSQL");
    connected = true;
    if (become_leader(pgconn_raw(c->wdb)) == 0)
      return 0;
    log_warn("lost the database while standing by; reconnecting");
    pgconn_close(&c->wdb);
    uv_run(loop, UV_RUN_NOWAIT); /* the close callback frees it */
    sleep(STANDBY_RETRY_S);
  }
}

/* Takes the bulk writer's lock on conn, waiting for a previous leader's
 * bulk writer to be gone. */
static int bulk_lock(PGconn *conn, char *err, size_t errlen) {
  char key[24];
  snprintf(key, sizeof key, "%lld", strtoll(LEADER_LOCK_KEY, NULL, 10) + 1);
  const char *p[1] = {key};
  PGresult *r = PQexecParams(conn, "SELECT pg_advisory_lock($1::bigint)", 1, NULL, p, NULL,
                             NULL, 0);
  int rc = PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
  if (rc < 0)
    snprintf(err, errlen, "bulk writer lock: %s", PQresultErrorMessage(r));
  PQclear(r);
  return rc;
}

int main(int argc, char **argv) {
  coord_t *c = &coord;
  int rc = 1;
  char err[1024];
  cfg_result_t res = {0};
  int prc = config_parse(options, ARRAY_SIZE(options), argc, argv, "clapper-coordinator",
                         "[options]", &res, err, sizeof err);
  if (prc != 0) {
    if (prc < 0)
      fprintf(stderr, "clapper-coordinator: %s\n", err);
    config_free(options, ARRAY_SIZE(options));
    free(res.pos);
    return prc < 0 ? 2 : 0;
  }
  int level = log_level_parse(log_level_name);
  if (res.npos || level < 0) {
    fprintf(stderr, "clapper-coordinator: %s\n",
            res.npos ? "unexpected argument (see --help)" : "--log-level: expected error, warn, info or debug");
    config_free(options, ARRAY_SIZE(options));
    free(res.pos);
    return 2;
  }
  free(res.pos);
  if (!coord.cfg.bind_workers)
    coord.cfg.bind_workers =
        xstrdup(coord.cfg.keys_dir ? "tcp://*:7710" : "tcp://127.0.0.1:7710");
  if (check_local(&coord.cfg) < 0) {
    config_free(options, ARRAY_SIZE(options));
    return 2;
  }
  log_init("clapper-coordinator", level);
  signal(SIGPIPE, SIG_IGN);
  if (!c->cfg.sql_dir)
    c->cfg.sql_dir = migrate_default_dir();

  uv_loop_t loop;
  uv_loop_init(&loop);
  coord_init(c, &loop);

  if (connect_and_lead(c, &loop, err, sizeof err) < 0) {
    log_error("%s", err);
    goto out;
  }
  int applied = migrate_apply(pgconn_raw(c->wdb), c->cfg.sql_dir, err, sizeof err);
  if (applied < 0) {
    log_error("%s", err);
    goto out;
  }
  if (migrate_only) {
    log_info("%d migrations applied; --migrate-only: exiting", applied);
    rc = 0;
    goto out;
  }
  if (check_currency(pgconn_raw(c->wdb), c->cfg.currency, err, sizeof err) < 0 ||
      rates_load(c, pgconn_raw(c->wdb), err, sizeof err) < 0 ||
      limit_load(c, pgconn_raw(c->wdb), err, sizeof err) < 0 ||
      auth_load(c, pgconn_raw(c->wdb), c->cfg.admin_key, err, sizeof err) < 0 ||
      httpauth_init(c, pgconn_raw(c->wdb), err, sizeof err) < 0) {
    log_error("%s", err);
    goto out;
  }
  /* The bulk writer: big submits and cancels beside the batches (store.h).
   * It holds a lock of its own for its life: a killed leader's bulk write
   * still running in PostgreSQL ends (commits or not) before recovery
   * reads what it left. */
  c->bdb = pgconn_open(&loop, c->cfg.db, "bulk", on_db_fatal, c, err, sizeof err);
  if (!c->bdb || bulk_lock(pgconn_raw(c->bdb), err, sizeof err) < 0) {
    log_error("%s", err);
    goto out;
  }
  if (audit_start(c, pgconn_raw(c->wdb), err, sizeof err) < 0 ||
      recover_load(c, pgconn_raw(c->wdb), err, sizeof err) < 0) {
    log_error("%s", err);
    goto out;
  }
  limit_log_usage(c);
  reads_limits_t lim = {.connections = (int)c->cfg.read_connections,
                        .client_requests = (int)c->cfg.client_requests,
                        .timeout_ms = c->cfg.read_timeout_ms};
  if (reads_open(c, &loop, c->cfg.db, &lim, on_db_fatal, err, sizeof err) < 0) {
    log_error("%s", err);
    goto out;
  }

  c->zctx = zmq_ctx_new();
  if (auth_start(c, err, sizeof err) < 0) {
    log_error("%s", err);
    goto out;
  }
  c->wsock = bind_router(c, c->cfg.bind_workers, (int)CODEC_MAX_WORKER_MSG, "workers");
  c->csock = bind_router(c, c->cfg.bind_clients, (int)CODEC_MAX_CLIENT_MSG, "clients");
  if (!c->wsock || !c->csock)
    goto out;
  if (start_http(c, err, sizeof err) < 0) {
    log_error("%s", err);
    goto out;
  }
  c->wwatch = zwatch_start(&loop, c->wsock, on_workers, c);
  c->cwatch = zwatch_start(&loop, c->csock, on_clients, c);
  if (!c->wwatch || !c->cwatch || pgconn_start(c->wdb) < 0 ||
      pgconn_start(c->bdb) < 0 || reads_start(c) < 0)
    goto out;

  uv_prepare_init(&loop, &c->tick);
  c->tick.data = c;
  uv_prepare_start(&c->tick, on_tick);
  uv_timer_init(&loop, &c->lease_timer);
  c->lease_timer.data = c;
  uint64_t every = (uint64_t)(c->cfg.lease_ms / 4 < 250 ? c->cfg.lease_ms / 4 : 250);
  uv_timer_start(&c->lease_timer, on_lease_timer, every, every);
  cost_start(c);
  uv_signal_init(&loop, &c->sigterm);
  uv_signal_init(&loop, &c->sigint);
  c->sigterm.data = c->sigint.data = c;
  uv_signal_start(&c->sigterm, on_signal, SIGTERM);
  uv_signal_start(&c->sigint, on_signal, SIGINT);

  /* Workers of recovered attempts have a lease from now to say hello. */
  c->ready_mono = util_mono_us();
  log_info("clapper-coordinator %s ready (heartbeat %lld ms, lease %lld ms)", CLAPPER_VERSION,
           c->cfg.heartbeat_ms, c->cfg.lease_ms);
  uv_run(&loop, UV_RUN_DEFAULT);
  store_stats_t st = store_stats(c);
  log_info("stopped after %llu batches, %llu rows", (unsigned long long)st.batches,
           (unsigned long long)st.rows);
  rc = 0;

out:
  zwatch_stop(&c->wwatch);
  zwatch_stop(&c->cwatch);
  pgconn_close(&c->wdb);
  pgconn_close(&c->bdb);
  reads_close(c);
  http_close(c);
  auth_free(c);
  httpauth_free(c);
  uv_run(&loop, UV_RUN_NOWAIT); /* let close callbacks run */
  if (c->wsock)
    zmq_close(c->wsock);
  if (c->csock)
    zmq_close(c->csock);
  if (c->zctx)
    zmq_ctx_term(c->zctx);
  coord_close_timers(c);
  uv_run(&loop, UV_RUN_NOWAIT);
  coord_release(c); /* sanitizer builds check for leaks */
  if (uv_loop_close(&loop) != 0)
    log_debug("loop closed with handles open");
  config_free(options, ARRAY_SIZE(options));
  return rc;
}
