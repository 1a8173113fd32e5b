/*
 * test_reads.c - the pool of read connections, against a real private
 * server.
 *
 * Checks that a client gets at most client_requests requests admitted
 * (the next is refused with a "busy" line, and answering one lets the next
 * in); that one client's slow reads hold at most all but one connection,
 * so another client's read runs meanwhile; that a read past the pool's
 * deadline, or past the wait its client announced, is canceled in
 * PostgreSQL with an error reads_canceled recognises, and the connection
 * serves the next read; that a read whose deadline passes while it waits
 * for a connection is answered then, without running; and that the pool is
 * idle at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "model.h"
#include "pgtest.h"
#include "reads.h"
#include "util.h"

static uv_loop_t loop;
static coord_t coord;
static int completions;

static void on_fatal(void *arg, const char *error) {
  (void)arg;
  fprintf(stderr, "fatal: %s\n", error);
  exit(1);
}

/* What one read's callback saw. */
typedef struct seen {
  int order;   /* completion position, 1-based; 0 = not called */
  char *error; /* copy, or NULL */
  char *value; /* first value, or NULL */
  uint64_t at; /* when (monotonic us) */
  creq_t *r;   /* released when called */
} seen_t;

static void on_read(void *arg, PGresult *const *res, size_t n, const char *error) {
  seen_t *s = arg;
  s->order = ++completions;
  s->at = util_mono_us();
  s->error = error ? xstrdup(error) : NULL;
  if (!error && n && PQntuples(res[0]) > 0)
    s->value = xstrdup(PQgetvalue(res[0], 0, 0));
  reads_release(&coord, s->r); /* as the reply does */
  free(s->r);
  s->r = NULL;
}

static void seen_free(seen_t *s) {
  free(s->error);
  free(s->value);
  memset(s, 0, sizeof *s);
}

/* Runs the loop until cond holds, at most ms; returns cond. */
static bool run_until(bool (*cond)(void *), void *arg, uint64_t ms) {
  return pgtest_run_until(&loop, cond, arg, ms);
}

static bool is_called(void *arg) { return ((seen_t *)arg)->order != 0; }
static bool is_idle(void *arg) { return reads_idle(arg); }

/* A request of user (wait_ms: the client's announced wait, 0: none),
 * admitted; NULL with the refusal in err when not. */
static creq_t *request(const char *user, uint32_t wait_ms, char *err, size_t errlen) {
  creq_t *r = xcalloc(1, sizeof *r);
  r->identlen = 5;
  memcpy(r->ident, "ident", 5);
  r->wait_ms = wait_ms;
  if (!reads_admit(&coord, r, user, err, errlen)) {
    free(r);
    return NULL;
  }
  return r;
}

static void submit(seen_t *s, creq_t *r, const char *sql) {
  s->r = r;
  pgq_t *q = pgq_new();
  pgq_add(q, sql, 0, NULL);
  reads_submit(&coord, r, q, on_read, s);
}

static void test_admission(void) {
  char err[200];
  creq_t *a[3];
  for (int i = 0; i < 3; i++) {
    a[i] = request("alice", 0, err, sizeof err);
    CHECK(a[i] != NULL);
  }
  CHECK(request("alice", 0, err, sizeof err) == NULL);
  CHECK_STR(err, "busy: 3 requests of yours are in flight (the limit); wait for their answers");
  /* Another client is not affected. */
  creq_t *b = request("bob", 0, err, sizeof err);
  CHECK(b != NULL);
  /* An answer lets the next one in. */
  reads_release(&coord, a[0]);
  creq_t *again = request("alice", 0, err, sizeof err);
  CHECK(again != NULL);
  reads_release(&coord, again);
  reads_release(&coord, a[1]);
  reads_release(&coord, a[2]);
  reads_release(&coord, b);
  free(a[0]);
  free(a[1]);
  free(a[2]);
  free(b);
  free(again);
}

static void test_fair(void) {
  char err[200];
  seen_t slow1 = {0}, slow2 = {0}, fast = {0};
  completions = 0;
  /* Two connections: alice runs on one at most, so bob's read, queued
   * after both of hers, runs on the other while her first sleeps. */
  submit(&slow1, request("alice", 0, err, sizeof err), "SELECT pg_sleep(0.2)::text");
  submit(&slow2, request("alice", 0, err, sizeof err), "SELECT pg_sleep(0.2)::text");
  submit(&fast, request("bob", 0, err, sizeof err), "SELECT 'bob'");
  CHECK(run_until(is_called, &slow2, 5000));
  CHECK_INT(fast.order, 1);
  CHECK_STR(fast.value, "bob");
  CHECK_INT(slow1.order, 2);
  CHECK_INT(slow2.order, 3);
  CHECK(slow1.error == NULL && slow2.error == NULL);
  CHECK(run_until(is_idle, &coord, 1000));
  seen_free(&slow1);
  seen_free(&slow2);
  seen_free(&fast);
}

static void test_deadline(void) {
  char err[200];
  seen_t slow = {0}, waited = {0}, after = {0}, mine = {0};
  completions = 0;
  /* The pool's deadline (800 ms) cancels the statement in PostgreSQL. */
  uint64_t t0 = util_mono_us();
  submit(&slow, request("carol", 0, err, sizeof err), "SELECT pg_sleep(5)::text");
  /* carol holds her one connection: this one waits past its 300 ms, and
   * is answered then, while her first read still runs. */
  submit(&waited, request("carol", 300, err, sizeof err), "SELECT 'never'");
  CHECK(run_until(is_called, &waited, 2000));
  CHECK((waited.at - t0) / 1000 < 700);
  CHECK_INT(slow.order, 0);
  CHECK(run_until(is_called, &slow, 5000));
  uint64_t took = (slow.at - t0) / 1000;
  CHECK(took >= 700 && took < 3000);
  CHECK(reads_canceled(slow.error));
  CHECK_CONTAINS(slow.error, "read canceled: it ran past its deadline of 800 ms");
  CHECK(reads_canceled(waited.error));
  CHECK(waited.value == NULL);
  /* The connection serves the next read. */
  submit(&after, request("carol", 0, err, sizeof err), "SELECT 'after'");
  CHECK(run_until(is_called, &after, 2000));
  CHECK(after.error == NULL);
  CHECK_STR(after.value, "after");
  /* A client's own wait, shorter than the pool's, is its deadline. */
  t0 = util_mono_us();
  submit(&mine, request("dave", 300, err, sizeof err), "SELECT pg_sleep(5)::text");
  CHECK(run_until(is_called, &mine, 3000));
  took = (mine.at - t0) / 1000;
  CHECK(took >= 250 && took < 2000);
  CHECK_CONTAINS(mine.error, "deadline of 300 ms");
  CHECK(!reads_canceled("ERROR: something else"));
  CHECK(!reads_canceled(NULL));
  CHECK(run_until(is_idle, &coord, 1000));
  seen_free(&slow);
  seen_free(&waited);
  seen_free(&after);
  seen_free(&mine);
}

int main(void) {
  log_init("test_reads", LOG_LVL_WARN);
  const char *conninfo = pgtest_start();
  uv_loop_init(&loop);
  char err[512];
  reads_limits_t lim = {.connections = 2, .client_requests = 3, .timeout_ms = 800};
  coord.loop = &loop;
  CHECK_INT(reads_open(&coord, &loop, conninfo, &lim, on_fatal, err, sizeof err), 0);
  CHECK_INT(reads_start(&coord), 0);
  CHECK(reads_idle(&coord));
  test_admission();
  test_fair();
  test_deadline();
  reads_close(&coord);
  CHECK(coord.reads == NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
  pgtest_stop();
  return check_report("test_reads");
}
