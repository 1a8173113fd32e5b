/*
 * test_pgconn.c - asynchronous PostgreSQL in pipeline mode, against a real
 * private server.
 *
 * Checks that pgqs submitted back to back complete in submission order
 * with their results readable in the callback; that the statements of one
 * pgq are one transaction (an error in the middle rolls back the earlier
 * ones, the callback gets the message, and the next pgq still works); that
 * large array parameters (100,000 elements, beyond one socket buffer) go
 * through; that an empty pgq completes; and that pgconn_close drops what
 * was queued without calling back.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "pgconn.h"
#include "pgtest.h"
#include "util.h"

static uv_loop_t loop;
static int fatal_calls;

static void on_fatal(void *arg, const char *error) {
  (void)arg;
  fprintf(stderr, "fatal: %s\n", error);
  fatal_calls++;
}

/* What one callback saw. */
typedef struct seen {
  int order;        /* completion position, 1-based; 0 = not called */
  size_t n;         /* statements */
  char *error;      /* copy, or NULL */
  char *first;      /* first value of the last statement's result, or NULL */
  long long ntuples;
} seen_t;

static int completions;

static void on_done(void *arg, PGresult *const *results, size_t n, const char *error) {
  seen_t *s = arg;
  s->order = ++completions;
  s->n = n;
  s->error = error ? xstrdup(error) : NULL;
  if (!error && n) {
    PGresult *r = results[n - 1];
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK) {
      s->ntuples = PQntuples(r);
      if (PQntuples(r) > 0)
        s->first = xstrdup(PQgetvalue(r, 0, 0));
    }
  }
}

static void seen_free(seen_t *s) {
  free(s->error);
  free(s->first);
  memset(s, 0, sizeof *s);
}

/* Runs the loop until cond holds, at most ms; returns cond. */
static bool run_until(bool (*cond)(void *), void *arg, uint64_t ms) {
  return pgtest_run_until(&loop, cond, arg, ms);
}

static bool is_called(void *arg) { return ((seen_t *)arg)->order != 0; }
static bool is_idle(void *arg) { return pgconn_idle(arg); }

/* A pgq of one parameterless statement. */
static pgq_t *q1(const char *sql) {
  pgq_t *q = pgq_new();
  pgq_add(q, sql, 0, NULL);
  return q;
}

static void test_order(pgconn_t *pc) {
  enum { N = 20 };
  seen_t s[N] = {{0}};
  completions = 0;
  for (int i = 0; i < N; i++) {
    pgq_t *q = pgq_new();
    char *p[] = {xasprintf("%d", i)};
    pgq_add(q, "INSERT INTO t_order (v) VALUES ($1::int)", 1, p);
    char *p2[] = {xasprintf("%d", i)};
    pgq_add(q, "SELECT count(*) FROM t_order WHERE v <= $1::int", 1, p2);
    CHECK_INT(pgq_len(q), 2);
    pgconn_submit(pc, q, on_done, &s[i]);
  }
  CHECK(!pgconn_idle(pc));
  CHECK(run_until(is_idle, pc, 10000));
  for (int i = 0; i < N; i++) {
    CHECK_INT(s[i].order, i + 1);
    CHECK(s[i].error == NULL);
    CHECK_INT(s[i].n, 2);
    /* Each pgq sees the ones before it committed. */
    CHECK_INT(s[i].first ? atoi(s[i].first) : -1, i + 1);
    seen_free(&s[i]);
  }
}

static void test_transaction(pgconn_t *pc, PGconn *db) {
  seen_t bad = {0}, after = {0}, before = {0};
  completions = 0;
  pgconn_submit(pc, q1("INSERT INTO t_tx (v) VALUES (1)"), on_done, &before);

  pgq_t *q = pgq_new();
  pgq_add(q, "INSERT INTO t_tx (v) VALUES (10)", 0, NULL);
  pgq_add(q, "UPDATE t_tx SET v = v + 100", 0, NULL);
  pgq_add(q, "INSERT INTO t_tx (v) VALUES (1 / 0)", 0, NULL); /* fails */
  pgq_add(q, "INSERT INTO t_tx (v) VALUES (20)", 0, NULL);
  pgconn_submit(pc, q, on_done, &bad);

  pgq_t *q2 = pgq_new();
  pgq_add(q2, "INSERT INTO t_tx (v) VALUES (30)", 0, NULL);
  pgq_add(q2, "SELECT string_agg(v::text, ',' ORDER BY v) FROM t_tx", 0, NULL);
  pgconn_submit(pc, q2, on_done, &after);

  CHECK(run_until(is_idle, pc, 10000));
  CHECK_INT(before.order, 1);
  CHECK(before.error == NULL);
  CHECK_INT(bad.order, 2);
  CHECK_CONTAINS(bad.error, "division by zero");
  CHECK(bad.error && !strchr(bad.error, '\n'));
  CHECK_INT(after.order, 3);
  CHECK(after.error == NULL);
  /* 10 and the +100 were rolled back with the failing statement; 20 never ran. */
  CHECK_STR(after.first, "1,30");
  CHECK_STR(pgtest_value(db, "SELECT string_agg(v::text, ',' ORDER BY v) FROM t_tx"), "1,30");
  CHECK_INT(fatal_calls, 0);
  seen_free(&before);
  seen_free(&bad);
  seen_free(&after);

  /* A constraint violation in the last statement rolls back the first. */
  seen_t dup = {0};
  q = pgq_new();
  pgq_add(q, "INSERT INTO t_tx (v) VALUES (40)", 0, NULL);
  pgq_add(q, "INSERT INTO t_tx (v) VALUES (1)", 0, NULL); /* unique */
  pgconn_submit(pc, q, on_done, &dup);
  CHECK(run_until(is_called, &dup, 10000));
  CHECK_CONTAINS(dup.error, "duplicate key");
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM t_tx WHERE v = 40"), 0);
  seen_free(&dup);
}

static void test_large(pgconn_t *pc) {
  enum { N = 100000 };
  sbuf_t b = {0};
  sbuf_putc(&b, '{');
  for (int i = 1; i <= N; i++)
    sbuf_printf(&b, "%s%d", i > 1 ? "," : "", i);
  sbuf_putc(&b, '}');
  sbuf_t t = {0};
  sbuf_putc(&t, '{');
  for (int i = 1; i <= N; i++)
    sbuf_printf(&t, "%s\"text \\\"%d\\\", {x}\"", i > 1 ? "," : "", i);
  sbuf_putc(&t, '}');
  char *ints = sbuf_steal(&b), *texts = sbuf_steal(&t);
  CHECK(strlen(texts) > 2000000);

  seen_t ins = {0}, sum = {0};
  pgq_t *q = pgq_new();
  char *p[] = {ints, texts};
  pgq_add(q, "INSERT INTO t_big (id, label) SELECT * FROM unnest($1::bigint[], $2::text[])", 2, p);
  pgconn_submit(pc, q, on_done, &ins);
  pgq_t *q2 = pgq_new();
  pgq_add(q2,
          "SELECT count(*)::text || ' ' || sum(id)::text || ' ' || "
          "(SELECT label FROM t_big WHERE id = 77777) FROM t_big",
          0, NULL);
  pgconn_submit(pc, q2, on_done, &sum);
  CHECK(run_until(is_idle, pc, 20000));
  CHECK(ins.error == NULL);
  CHECK(sum.error == NULL);
  CHECK_STR(sum.first, "100000 5000050000 text \"77777\", {x}");

  /* A large result is readable in the callback too. */
  seen_t all = {0};
  pgconn_submit(pc, q1("SELECT id FROM t_big ORDER BY id DESC"), on_done, &all);
  CHECK(run_until(is_called, &all, 20000));
  CHECK_INT(all.ntuples, N);
  CHECK_STR(all.first, "100000");
  seen_free(&ins);
  seen_free(&sum);
  seen_free(&all);
}

static void test_empty(pgconn_t *pc) {
  seen_t e = {0}, next = {0};
  completions = 0;
  pgconn_submit(pc, pgq_new(), on_done, &e);
  pgconn_submit(pc, q1("SELECT 42"), on_done, &next);
  CHECK(run_until(is_idle, pc, 10000));
  CHECK_INT(e.order, 1);
  CHECK(e.error == NULL);
  CHECK_INT(e.n, 0);
  CHECK_INT(next.order, 2);
  CHECK_STR(next.first, "42");
  seen_free(&e);
  seen_free(&next);
}

/* Prepared statements: prepared once per connection and reused; a pgq
 * that fails after preparing does not leave the name marked prepared; the
 * results line up with the statements whatever was prepared on the way. */
static pgq_t *qp(const char *name, const char *sql, const char *arg) {
  pgq_t *q = pgq_new();
  char *p[1] = {arg ? xstrdup(arg) : NULL};
  pgq_add_prepared(q, name, sql, arg ? 1 : 0, p);
  return q;
}

static void test_prepared(pgconn_t *pc, PGconn *db) {
  seen_t a = {0}, b = {0}, bad = {0}, again = {0}, mixed = {0};
  completions = 0;
  pgconn_submit(pc, qp("double", "SELECT $1::int * 2", "21"), on_done, &a);
  pgconn_submit(pc, qp("double", "SELECT $1::int * 2", "50"), on_done, &b);
  /* Prepared inside a pgq that then fails: rolled back with it. */
  pgq_t *q = pgq_new();
  char *p1[1] = {xstrdup("1")};
  pgq_add_prepared(q, "triple", "SELECT $1::int * 3", 1, p1);
  pgq_add(q, "SELECT 1 / 0", 0, NULL);
  pgconn_submit(pc, q, on_done, &bad);
  pgconn_submit(pc, qp("triple", "SELECT $1::int * 3", "5"), on_done, &again);
  /* Unnamed and prepared statements mixed in one pgq. */
  pgq_t *m = pgq_new();
  pgq_add(m, "SELECT 'plain'", 0, NULL);
  char *p2[1] = {xstrdup("7")};
  pgq_add_prepared(m, "quad", "SELECT $1::int * 4", 1, p2);
  pgconn_submit(pc, m, on_done, &mixed);
  CHECK(run_until(is_idle, pc, 10000));
  CHECK_STR(a.first, "42");
  CHECK_STR(b.first, "100");
  CHECK(bad.error != NULL);
  CHECK(again.error == NULL);
  CHECK_STR(again.first, "15");
  CHECK(mixed.error == NULL);
  CHECK_INT(mixed.n, 2);
  CHECK_STR(mixed.first, "28");
  /* After the reset, "double" is prepared again on first use, and only
   * once however often it runs. */
  (void)db;
  seen_t d1 = {0}, d2 = {0};
  pgconn_submit(pc, qp("double", "SELECT $1::int * 2", "1"), on_done, &d1);
  pgconn_submit(pc, qp("double", "SELECT $1::int * 2", "2"), on_done, &d2);
  CHECK(run_until(is_idle, pc, 10000));
  CHECK_STR(d1.first, "2");
  CHECK_STR(d2.first, "4");
  seen_free(&d1);
  seen_free(&d2);
  seen_t count = {0};
  pgconn_submit(pc, q1("SELECT count(*) FROM pg_prepared_statements WHERE name = 'double'"),
                on_done, &count);
  CHECK(run_until(is_called, &count, 10000));
  CHECK_STR(count.first, "1");
  seen_free(&a);
  seen_free(&b);
  seen_free(&bad);
  seen_free(&again);
  seen_free(&mixed);
  seen_free(&count);
}

/* A callback that submits the next pgq from inside the completion. */
typedef struct chain {
  pgconn_t *pc;
  int left;
  seen_t last;
} chain_t;

static void on_chain(void *arg, PGresult *const *results, size_t n, const char *error) {
  chain_t *ch = arg;
  (void)results;
  (void)n;
  CHECK(error == NULL);
  if (--ch->left > 0)
    pgconn_submit(ch->pc, q1("INSERT INTO t_order (v) VALUES (1000)"), on_chain, ch);
  else
    pgconn_submit(ch->pc, q1("SELECT count(*) FROM t_order WHERE v = 1000"), on_done, &ch->last);
}

static bool chain_done(void *arg) { return ((chain_t *)arg)->last.order != 0; }

static void test_chain(pgconn_t *pc) {
  chain_t ch = {pc, 5, {0}};
  pgconn_submit(pc, q1("INSERT INTO t_order (v) VALUES (1000)"), on_chain, &ch);
  CHECK(run_until(chain_done, &ch, 10000));
  CHECK_STR(ch.last.first, "5");
  seen_free(&ch.last);
}

int main(void) {
  log_init("test_pgconn", LOG_LVL_INFO);
  const char *conninfo = pgtest_start();
  PGconn *db = pgtest_connect();
  pgtest_exec(db, "CREATE TABLE t_order (v int NOT NULL)");
  pgtest_exec(db, "CREATE TABLE t_tx (v int PRIMARY KEY)");
  pgtest_exec(db, "CREATE TABLE t_big (id bigint PRIMARY KEY, label text NOT NULL)");

  uv_loop_init(&loop);
  char err[512];
  pgconn_t *bad = pgconn_open(&loop, "host=/nonexistent-dir dbname=none connect_timeout=2",
                              "bad", on_fatal, NULL, err, sizeof err);
  CHECK(bad == NULL);
  CHECK_CONTAINS(err, "cannot connect to PostgreSQL");
  CHECK(!strchr(err, '\n'));

  pgconn_t *pc = pgconn_open(&loop, conninfo, "test", on_fatal, NULL, err, sizeof err);
  CHECK(pc != NULL);
  if (!pc) {
    fprintf(stderr, "%s\n", err);
    return check_report("test_pgconn");
  }
  /* Synchronous use before the start, as the coordinator's start-up does. */
  PGresult *r = PQexec(pgconn_raw(pc), "SHOW TimeZone");
  CHECK_STR(PQgetvalue(r, 0, 0), "UTC");
  PQclear(r);
  /* Submitted before the start: runs once started. */
  seen_t early = {0};
  pgconn_submit(pc, q1("SELECT 'early'"), on_done, &early);
  CHECK_INT(pgconn_start(pc), 0);
  CHECK(run_until(is_called, &early, 10000));
  CHECK_STR(early.first, "early");
  seen_free(&early);

  test_order(pc);
  test_transaction(pc, db);
  test_large(pc);
  test_empty(pc);
  test_chain(pc);
  test_prepared(pc, db);

  /* Close with work queued: no callback runs, nothing leaks. */
  seen_t dropped = {0};
  pgconn_submit(pc, q1("SELECT pg_sleep(0.01)"), on_done, &dropped);
  pgconn_submit(pc, q1("SELECT 2"), on_done, &dropped);
  pgconn_close(&pc);
  CHECK(pc == NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(dropped.order, 0);
  CHECK_INT(fatal_calls, 0);
  CHECK_INT(uv_loop_close(&loop), 0);
  PQfinish(db);
  pgtest_stop();
  return check_report("test_pgconn");
}
