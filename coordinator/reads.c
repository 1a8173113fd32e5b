/*
 * reads.c - the pool of read connections, see reads.h.
 */
#include "reads.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* What every deadline error starts with (reads_canceled). */
#define CANCELED_PREFIX "read canceled: "
/* PostgreSQL's SQLSTATE for a statement canceled (statement_timeout). */
#define SQLSTATE_CANCELED "57014"

typedef struct rclient rclient_t;

/* One read: waiting on its client's queue, then running on a connection. */
typedef struct rjob {
  struct reads *rs;
  rclient_t *cl;
  pgq_t *q;
  pgconn_cb cb;
  void *arg;
  uint64_t key;           /* its client's (cl may go before the read does) */
  uint64_t deadline_mono; /* us */
  long long limit_ms;     /* the deadline's length, for the message */
  size_t slot;            /* its connection, once running */
  struct rjob *next;
} rjob_t;

/* A client: a registered key, or without keys one connection.  Exists
 * while it has requests unanswered or reads queued or running. */
struct rclient {
  uint64_t key;
  uint32_t unanswered; /* admitted requests not answered yet */
  uint32_t running;    /* its reads on a connection now */
  rjob_t *head, *tail; /* its reads waiting for a connection */
  bool on_ring;        /* listed in ring (it has reads waiting) */
};

struct reads {
  reads_limits_t lim;
  size_t n;
  pgconn_t **conns;
  rjob_t **busy;          /* per connection: the read on it, or NULL */
  long long *timeout_set; /* per connection: its statement_timeout (ms), 0 = none yet */
  idmap_t clients;        /* key -> rclient_t* */
  rclient_t **ring;       /* clients with reads waiting, served round robin */
  size_t nring, capring, cursor;
  size_t queued, running;
  uv_timer_t sweep; /* answers waiting reads whose deadline passed */
};

/* FNV-1a over a tag and bytes; never 0 (idmap keys are non-zero). */
static uint64_t client_key(char tag, const void *p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  h = (h ^ (uint8_t)tag) * 1099511628211ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ULL;
  return h ? h : 1;
}

static void client_maybe_free(reads_t *rs, rclient_t *cl) {
  if (cl->unanswered || cl->running || cl->head)
    return;
  idmap_del(&rs->clients, cl->key);
  free(cl);
}

static rclient_t *client_get(reads_t *rs, uint64_t key) {
  rclient_t *cl = idmap_get(&rs->clients, key);
  if (!cl) {
    cl = xcalloc(1, sizeof *cl);
    cl->key = key;
    idmap_put(&rs->clients, key, cl);
  }
  return cl;
}

int reads_open(coord_t *c, uv_loop_t *loop, const char *conninfo, const reads_limits_t *lim,
               pgconn_fatal_cb fatal, char *err, size_t errlen) {
  reads_t *rs = xcalloc(1, sizeof *rs);
  uv_timer_init(loop, &rs->sweep);
  rs->sweep.data = rs;
  rs->lim = *lim;
  rs->n = lim->connections > 0 ? (size_t)lim->connections : 1;
  rs->conns = xcalloc(rs->n, sizeof *rs->conns);
  rs->busy = xcalloc(rs->n, sizeof *rs->busy);
  rs->timeout_set = xcalloc(rs->n, sizeof *rs->timeout_set);
  c->reads = rs;
  for (size_t i = 0; i < rs->n; i++) {
    char name[32];
    snprintf(name, sizeof name, "reader %zu", i + 1);
    rs->conns[i] = pgconn_open(loop, conninfo, name, fatal, c, err, errlen);
    if (!rs->conns[i])
      return -1;
  }
  return 0;
}

int reads_start(coord_t *c) {
  reads_t *rs = c->reads;
  for (size_t i = 0; i < rs->n; i++)
    if (pgconn_start(rs->conns[i]) < 0)
      return -1;
  return 0;
}

static void rjob_free(rjob_t *j) {
  pgq_free(&j->q);
  free(j);
}

/* The pool's memory goes once libuv released its timer. */
static void on_sweep_closed(uv_handle_t *h) {
  reads_t *rs = h->data;
  free(rs->timeout_set);
  free(rs->busy);
  free(rs->conns);
  free(rs);
}

void reads_close(coord_t *c) {
  reads_t *rs = c->reads;
  if (!rs)
    return;
  c->reads = NULL;
  for (size_t i = 0; i < rs->n; i++) {
    pgconn_close(&rs->conns[i]);
    free(rs->busy[i]); /* its pgq went with the connection */
  }
  uint64_t key;
  void *val;
  for (size_t pos = 0; idmap_next(&rs->clients, &pos, &key, &val);) {
    rclient_t *cl = val;
    while (cl->head) {
      rjob_t *j = cl->head;
      cl->head = j->next;
      rjob_free(j);
    }
    free(cl);
  }
  idmap_free(&rs->clients);
  free(rs->ring);
  uv_close((uv_handle_t *)&rs->sweep, on_sweep_closed);
}

bool reads_idle(const coord_t *c) {
  const reads_t *rs = c->reads;
  return !rs || (rs->queued == 0 && rs->running == 0);
}

bool reads_admit(coord_t *c, creq_t *r, const char *user, char *err, size_t errlen) {
  reads_t *rs = c->reads;
  if (!rs) /* no pool (unit tests of the verb table): no limits */
    return true;
  uint64_t key =
      user && *user ? client_key('u', user, strlen(user)) : client_key('i', r->ident, r->identlen);
  rclient_t *cl = client_get(rs, key);
  if (cl->unanswered >= (uint32_t)rs->lim.client_requests) {
    snprintf(err, errlen,
             "busy: %u requests of yours are in flight (the limit); wait for their answers",
             cl->unanswered);
    client_maybe_free(rs, cl);
    return false;
  }
  cl->unanswered++;
  r->client = key;
  long long ms = rs->lim.timeout_ms;
  if (r->wait_ms && (long long)r->wait_ms < ms)
    ms = r->wait_ms;
  r->deadline_ms = ms;
  r->deadline_mono = util_mono_us() + (uint64_t)ms * 1000;
  return true;
}

void reads_release(coord_t *c, const creq_t *r) {
  reads_t *rs = c->reads;
  if (!rs || !r->client)
    return;
  rclient_t *cl = idmap_get(&rs->clients, r->client);
  if (!cl || !cl->unanswered)
    return;
  cl->unanswered--;
  client_maybe_free(rs, cl);
}

bool reads_canceled(const char *error) {
  return error && !strncmp(error, CANCELED_PREFIX, strlen(CANCELED_PREFIX));
}

static void canceled_message(char *buf, size_t len, long long ms) {
  snprintf(buf, len,
           CANCELED_PREFIX "it ran past its deadline of %lld ms (the coordinator's "
                           "--read-timeout-ms, or your --timeout-ms); ask for less, e.g. "
                           "with --limit",
           ms);
}

static void schedule(reads_t *rs);

/* Answers j, taken off its queue, whose deadline passed before it could
 * start, and frees it. */
static void answer_expired(reads_t *rs, rjob_t *j) {
  char msg[256];
  canceled_message(msg, sizeof msg, j->limit_ms);
  log_warn("%s (before it started)", msg);
  j->cb(j->arg, NULL, 0, msg);
  rclient_t *cl = idmap_get(&rs->clients, j->key);
  if (cl)
    client_maybe_free(rs, cl);
  rjob_free(j);
}

static void on_done(void *arg, PGresult *const *res, size_t n, const char *error) {
  rjob_t *j = arg;
  reads_t *rs = j->rs;
  rclient_t *cl = j->cl;
  char msg[256];
  if (error && !strcmp(pgconn_sqlstate(rs->conns[j->slot]), SQLSTATE_CANCELED)) {
    canceled_message(msg, sizeof msg, j->limit_ms);
    log_warn("%s", msg);
    error = msg;
  }
  rs->busy[j->slot] = NULL;
  rs->running--;
  cl->running--;
  /* The callback replies, which may free cl: look it up again after. */
  uint64_t key = cl->key;
  j->cb(j->arg, res, n, error);
  if ((cl = idmap_get(&rs->clients, key)))
    client_maybe_free(rs, cl);
  free(j);
  schedule(rs);
}

static void ring_remove(reads_t *rs, size_t i) {
  rs->ring[i]->on_ring = false;
  memmove(&rs->ring[i], &rs->ring[i + 1], (rs->nring - i - 1) * sizeof *rs->ring);
  rs->nring--;
  if (rs->cursor > i)
    rs->cursor--;
  if (rs->cursor >= rs->nring)
    rs->cursor = 0;
}

/* The next client, round robin, that may run one more read; NULL when
 * none.  Takes its first waiting read off its queue. */
static rjob_t *next_job(reads_t *rs) {
  uint32_t cap = rs->n > 1 ? (uint32_t)rs->n - 1 : 1;
  for (size_t k = 0; k < rs->nring; k++) {
    size_t i = (rs->cursor + k) % rs->nring;
    rclient_t *cl = rs->ring[i];
    if (cl->running >= cap)
      continue;
    rjob_t *j = cl->head;
    cl->head = j->next;
    if (!cl->head)
      cl->tail = NULL;
    rs->queued--;
    if (!cl->head) {
      ring_remove(rs, i);
    } else {
      rs->cursor = (i + 1) % rs->nring;
    }
    return j;
  }
  return NULL;
}

static void schedule(reads_t *rs) {
  for (size_t slot = 0; slot < rs->n; slot++) {
    if (rs->busy[slot])
      continue;
    rjob_t *j = next_job(rs);
    if (!j)
      return;
    uint64_t now = util_mono_us();
    if (now >= j->deadline_mono) {
      /* Its time ran out while it waited: answer without running it. */
      answer_expired(rs, j);
      slot--; /* this connection is still free */
      continue;
    }
    long long left_ms = (long long)((j->deadline_mono - now + 999) / 1000);
    if (left_ms < 1)
      left_ms = 1;
    /* statement_timeout is the connection's: set it when it differs
     * (most reads run with the coordinator's whole deadline). */
    if (rs->timeout_set[slot] != left_ms) {
      pgq_t *set = pgq_new();
      char *p[1] = {xasprintf("%lld", left_ms)};
      pgq_add_prepared(set, "SQL_READ_TIMEOUT", "SELECT set_config('statement_timeout', $1, false)",
                       1, p);
      pgconn_submit(rs->conns[slot], set, NULL, NULL);
      rs->timeout_set[slot] = left_ms;
    }
    j->slot = slot;
    rs->busy[slot] = j;
    rs->running++;
    j->cl->running++;
    pgq_t *q = j->q;
    j->q = NULL;
    pgconn_submit(rs->conns[slot], q, on_done, j);
  }
}

/* Every SWEEP_MS while reads wait: those whose deadline passed are taken
 * off their queues and answered, so that a client hears of it in time
 * even while every connection it may use is busy. */
#define SWEEP_MS 50
static void on_sweep(uv_timer_t *t) {
  reads_t *rs = t->data;
  uint64_t now = util_mono_us();
  rjob_t *expired = NULL, **last = &expired;
  for (size_t i = 0; i < rs->nring;) {
    rclient_t *cl = rs->ring[i];
    rjob_t **pp = &cl->head, *prev = NULL;
    while (*pp) {
      rjob_t *j = *pp;
      if (now >= j->deadline_mono) {
        *pp = j->next;
        j->next = NULL;
        *last = j;
        last = &j->next;
        rs->queued--;
      } else {
        prev = j;
        pp = &j->next;
      }
    }
    cl->tail = prev;
    if (!cl->head)
      ring_remove(rs, i);
    else
      i++;
  }
  /* The queues are consistent again: now the callbacks may run. */
  while (expired) {
    rjob_t *j = expired;
    expired = j->next;
    answer_expired(rs, j);
  }
  if (!rs->queued)
    uv_timer_stop(t);
}

void reads_submit(coord_t *c, const creq_t *r, pgq_t *q, pgconn_cb cb, void *arg) {
  reads_t *rs = c->reads;
  rjob_t *j = xcalloc(1, sizeof *j);
  j->rs = rs;
  j->q = q;
  j->cb = cb;
  j->arg = arg;
  uint64_t key = r && r->client ? r->client : client_key('s', "", 0);
  j->cl = client_get(rs, key);
  j->key = key;
  if (r && r->client) {
    j->deadline_mono = r->deadline_mono;
    j->limit_ms = r->deadline_ms;
  } else {
    j->limit_ms = rs->lim.timeout_ms;
    j->deadline_mono = util_mono_us() + (uint64_t)j->limit_ms * 1000;
  }
  rclient_t *cl = j->cl;
  if (cl->tail)
    cl->tail->next = j;
  else
    cl->head = j;
  cl->tail = j;
  rs->queued++;
  if (!cl->on_ring) {
    cl->on_ring = true;
    ARRAY_PUSH(rs->ring, rs->nring, rs->capring, cl);
  }
  schedule(rs);
  if (rs->queued && !uv_is_active((uv_handle_t *)&rs->sweep))
    uv_timer_start(&rs->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
}
