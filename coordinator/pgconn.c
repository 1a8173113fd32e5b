/*
 * pgconn.c - libpq in pipeline mode on a libuv loop, see pgconn.h.
 */
#include "pgconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

typedef struct pgstmt {
  const char *name; /* prepared statement name, or NULL */
  const char *sql;
  int nparams;
  char **params; /* owned */
} pgstmt_t;

struct pgq {
  pgstmt_t *stmts;
  size_t n, cap;
  PGresult **results; /* one per statement, filled as they arrive */
  int *slots;         /* per result in the stream: statement index, -1 = a Prepare */
  size_t nslots;
  size_t cur;         /* slot whose results are being read */
  const char **prepared_here; /* names first prepared by this pgq */
  size_t nprepared_here;
  char *error;        /* first error */
  char sqlstate[6];   /* its SQLSTATE, "" when none */
  pgconn_cb cb;
  void *arg;
  pgq_t *next;
};

struct pgconn {
  uv_poll_t poll;
  PGconn *conn;
  char *name;
  bool started;
  bool closing;
  bool broken;
  int poll_events;
  pgq_t *head, *tail; /* queued, head first; head may be in flight */
  bool in_flight;
  const char **prepared; /* statement names prepared on this connection */
  size_t nprepared, capprepared;
  pgconn_fatal_cb fatal;
  void *fatal_arg;
  char sqlstate[6]; /* of the pgq whose callback runs now */
};

PGresult *pgconn_query_sync(PGconn *conn, const char *sql, const char *what, char *err,
                            size_t errlen) {
  PGresult *r = PQexec(conn, sql);
  if (PQresultStatus(r) == PGRES_TUPLES_OK)
    return r;
  util_fail_line(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
  PQclear(r);
  return NULL;
}

pgq_t *pgq_new(void) { return xcalloc(1, sizeof(pgq_t)); }

void pgq_add(pgq_t *q, const char *sql, int nparams, char **params) {
  pgq_add_prepared(q, NULL, sql, nparams, params);
}

void pgq_add_prepared(pgq_t *q, const char *name, const char *sql, int nparams,
                      char **params) {
  ARRAY_RESERVE(q->stmts, q->n, q->cap, 1);
  pgstmt_t *s = &q->stmts[q->n++];
  s->name = name;
  s->sql = sql;
  s->nparams = nparams;
  s->params = nparams ? xcalloc((size_t)nparams, sizeof(char *)) : NULL;
  for (int i = 0; i < nparams; i++)
    s->params[i] = params[i];
}

size_t pgq_len(const pgq_t *q) { return q->n; }

void pgq_free(pgq_t **qp) {
  pgq_t *q = *qp;
  if (!q)
    return;
  *qp = NULL;
  for (size_t i = 0; i < q->n; i++) {
    for (int k = 0; k < q->stmts[i].nparams; k++)
      free(q->stmts[i].params[k]);
    free(q->stmts[i].params);
    if (q->results && q->results[i])
      PQclear(q->results[i]);
  }
  free(q->stmts);
  free(q->results);
  free(q->slots);
  free(q->prepared_here);
  free(q->error);
  free(q);
}

static void set_poll(pgconn_t *c, int events);
static void on_poll(uv_poll_t *h, int status, int events);

static void broken(pgconn_t *c, const char *what) {
  if (c->broken)
    return;
  c->broken = true;
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s: %s", c->name, what, PQerrorMessage(c->conn));
  /* libpq messages end with a newline; keep records one line. */
  for (char *p = msg; *p; p++)
    if (*p == '\n')
      *p = ' ';
  uv_poll_stop(&c->poll);
  c->fatal(c->fatal_arg, msg);
}

static void flush(pgconn_t *c) {
  int r = PQflush(c->conn);
  if (r < 0)
    broken(c, "flush");
  else
    set_poll(c, r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

static bool is_prepared(const pgconn_t *c, const char *name) {
  for (size_t i = 0; i < c->nprepared; i++)
    if (!strcmp(c->prepared[i], name))
      return true;
  return false;
}

static void send_next(pgconn_t *c) {
  if (c->in_flight || !c->head || c->broken || c->closing)
    return;
  pgq_t *q = c->head;
  q->results = xcalloc(q->n ? q->n : 1, sizeof *q->results);
  q->slots = xcalloc(2 * q->n + 1, sizeof *q->slots);
  q->prepared_here = xcalloc(q->n + 1, sizeof *q->prepared_here);
  for (size_t i = 0; i < q->n; i++) {
    pgstmt_t *s = &q->stmts[i];
    int ok;
    if (s->name) {
      /* Parsed and planned once per connection, then only executed. */
      if (!is_prepared(c, s->name)) {
        if (!PQsendPrepare(c->conn, s->name, s->sql, s->nparams, NULL)) {
          broken(c, "prepare");
          return;
        }
        q->slots[q->nslots++] = -1;
        ARRAY_PUSH(c->prepared, c->nprepared, c->capprepared, s->name);
        q->prepared_here[q->nprepared_here++] = s->name;
      }
      ok = PQsendQueryPrepared(c->conn, s->name, s->nparams, (const char *const *)s->params,
                               NULL, NULL, 0);
    } else {
      ok = PQsendQueryParams(c->conn, s->sql, s->nparams, NULL, (const char *const *)s->params,
                             NULL, NULL, 0);
    }
    if (!ok) {
      broken(c, "send");
      return;
    }
    q->slots[q->nslots++] = (int)i;
  }
  if (!PQpipelineSync(c->conn)) {
    broken(c, "sync");
    return;
  }
  c->in_flight = true;
  flush(c);
}

static void finish(pgconn_t *c) {
  pgq_t *q = c->head;
  c->head = q->next;
  if (!c->head)
    c->tail = NULL;
  c->in_flight = false;
  if (q->error && q->nprepared_here) {
    /* Whether the failed pipeline got as far as preparing its new
     * statements is unknown (and preparing is not transactional): start
     * over from a clean slate before anything else runs. */
    c->nprepared = 0;
    pgq_t *reset = pgq_new();
    pgq_add(reset, "DEALLOCATE ALL", 0, NULL);
    reset->next = c->head;
    c->head = reset;
    if (!c->tail)
      c->tail = reset;
  }
  memcpy(c->sqlstate, q->sqlstate, sizeof c->sqlstate);
  if (q->cb)
    q->cb(q->arg, q->results, q->n, q->error);
  c->sqlstate[0] = '\0';
  pgq_free(&q);
}

static void read_results(pgconn_t *c) {
  if (!PQconsumeInput(c->conn)) {
    broken(c, "read");
    return;
  }
  while (c->in_flight && !c->broken && !PQisBusy(c->conn)) {
    pgq_t *q = c->head;
    PGresult *r = PQgetResult(c->conn);
    if (!r) {
      q->cur++; /* end of one statement's results */
      continue;
    }
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC) {
      PQclear(r);
      finish(c);
      send_next(c);
      continue;
    }
    if ((st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED) && !q->error) {
      const char *m = st == PGRES_FATAL_ERROR ? PQresultErrorMessage(r) : "pipeline aborted";
      q->error = xstrdup(m);
      const char *code = st == PGRES_FATAL_ERROR ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
      snprintf(q->sqlstate, sizeof q->sqlstate, "%s", code ? code : "");
      for (char *p = q->error; *p; p++)
        if (*p == '\n')
          *p = ' ';
    }
    int slot = q->cur < q->nslots ? q->slots[q->cur] : -1;
    if (slot >= 0) {
      if (q->results[slot])
        PQclear(q->results[slot]);
      q->results[slot] = r;
    } else {
      PQclear(r);
    }
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  pgconn_t *c = h->data;
  if (status < 0) {
    broken(c, uv_strerror(status));
    return;
  }
  if (events & UV_WRITABLE)
    flush(c);
  if (!c->broken && (events & UV_READABLE))
    read_results(c);
  /* Nothing in flight: keep watching for the server closing on us. */
}

static void set_poll(pgconn_t *c, int events) {
  if (c->poll_events == events || c->closing)
    return;
  c->poll_events = events;
  uv_poll_start(&c->poll, events, on_poll);
}

/* Server notices ("... already exists, skipping") are not errors. */
static void on_notice(void *arg, const char *message) {
  pgconn_t *c = arg;
  size_t n = strlen(message);
  while (n && message[n - 1] == '\n')
    n--;
  log_debug("%s: %.*s", c->name, (int)n, message);
}

pgconn_t *pgconn_open(uv_loop_t *loop, const char *conninfo, const char *name,
                      pgconn_fatal_cb fatal, void *fatal_arg, char *err, size_t errlen) {
  pgconn_t *c = xcalloc(1, sizeof *c);
  c->name = xstrdup(name);
  c->fatal = fatal;
  c->fatal_arg = fatal_arg;
  c->conn = PQconnectdb(conninfo);
  if (PQstatus(c->conn) != CONNECTION_OK) {
    snprintf(err, errlen, "cannot connect to PostgreSQL (%s): %s", conninfo,
             PQerrorMessage(c->conn));
    for (char *p = err; *p; p++)
      if (*p == '\n')
        *p = ' ';
    goto fail;
  }
  PQsetNoticeProcessor(c->conn, on_notice, c);
  PGresult *r = PQexec(c->conn, "SET TimeZone = 'UTC'");
  PQclear(r);
  if (uv_poll_init(loop, &c->poll, PQsocket(c->conn)) < 0) {
    snprintf(err, errlen, "uv_poll_init on the PostgreSQL socket failed");
    goto fail;
  }
  c->poll.data = c;
  return c;
fail:
  PQfinish(c->conn); /* also after a failed connect */
  free(c->name);
  free(c);
  return NULL;
}

PGconn *pgconn_raw(pgconn_t *c) { return c->conn; }

int pgconn_start(pgconn_t *c) {
  if (PQsetnonblocking(c->conn, 1) != 0 || !PQenterPipelineMode(c->conn)) {
    log_error("%s: cannot enter pipeline mode: %s", c->name, PQerrorMessage(c->conn));
    return -1;
  }
  c->started = true;
  set_poll(c, UV_READABLE);
  send_next(c);
  return 0;
}

void pgconn_submit(pgconn_t *c, pgq_t *q, pgconn_cb cb, void *arg) {
  q->cb = cb;
  q->arg = arg;
  q->next = NULL;
  if (c->tail)
    c->tail->next = q;
  else
    c->head = q;
  c->tail = q;
  if (c->started)
    send_next(c);
}

bool pgconn_idle(const pgconn_t *c) { return c->head == NULL; }

const char *pgconn_sqlstate(const pgconn_t *c) { return c->sqlstate; }

static void on_close(uv_handle_t *h) {
  pgconn_t *c = h->data;
  free(c->prepared);
  PQfinish(c->conn);
  free(c->name);
  free(c);
}

void pgconn_close(pgconn_t **cp) {
  pgconn_t *c = *cp;
  if (!c)
    return;
  *cp = NULL;
  c->closing = true;
  while (c->head) {
    pgq_t *q = c->head;
    c->head = q->next;
    pgq_free(&q);
  }
  c->tail = NULL;
  uv_close((uv_handle_t *)&c->poll, on_close);
}
