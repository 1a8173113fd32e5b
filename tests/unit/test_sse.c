/*
 * test_sse.c - live events (coordinator/sse.c) against a real private
 * PostgreSQL, with the store, the writer and the read pool wired as
 * coordinator/main.c wires them, and fake streams in place of http.c's
 * (sse_io_t).
 *
 * Checks: filters parse (and refuse what they should) and match; an event
 * is formatted to the exact bytes documented in docs/events.md; events
 * reach every watcher whose filter takes them, after their batch
 * committed, in the log's order, the same bytes for each; a resume after
 * N sends exactly the events after N, then the live ones of batches that
 * committed while its read waited, with no gap and no duplicate (the read
 * is kept waiting behind a slow one on the only read connection, so the
 * held path is taken); a resume too far behind (or after the head) gets
 * "reset"; job.progress is coalesced to the latest committed counts and
 * filtered by job and kind; a watcher too far behind is ended; watchers
 * past the limit are refused "unavailable".
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "migrate.h"
#include "model.h"
#include "reads.h"
#include "sse.h"
#include "store.h"
#include "pgtest.h" /* after store.h: pgtest_flush */

static uv_loop_t loop;
static coord_t coord, *c = &coord;
static PGconn *db;

static void on_fatal(void *arg, const char *error) {
  (void)arg;
  fprintf(stderr, "database connection broke: %s\n", error);
  exit(1);
}

/* ------------------------------------------------------------ fake streams */

typedef struct fstream {
  sbuf_t out;
  bool ended;
  size_t limit; /* write fails past this many bytes (0: never) */
  void (*on_close)(void *);
  void *arg;
} fstream_t;

typedef struct freq {
  fstream_t *stream; /* once started */
  char code[32], msg[256];
  size_t limit;
} freq_t;

static void *f_start(void *req, void (*on_close)(void *), void *arg) {
  freq_t *r = req;
  fstream_t *s = xcalloc(1, sizeof *s);
  s->on_close = on_close;
  s->arg = arg;
  s->limit = r->limit;
  r->stream = s;
  return s;
}
static int f_write(void *stream, const char *data, size_t len) {
  fstream_t *s = stream;
  CHECK(!s->ended);
  if (s->limit && s->out.len + len > s->limit)
    return -1;
  sbuf_append(&s->out, data, len);
  return 0;
}
static void f_end(void *stream) {
  fstream_t *s = stream;
  CHECK(!s->ended);
  s->ended = true;
  s->on_close(s->arg); /* at once, as http.c may */
}
static void f_error(void *req, const char *code, const char *message) {
  freq_t *r = req;
  snprintf(r->code, sizeof r->code, "%s", code);
  snprintf(r->msg, sizeof r->msg, "%s", message);
}
static const sse_io_t fake_io = {f_start, f_write, f_end, f_error};

static void req_free(freq_t *r) {
  if (r->stream) {
    sbuf_free(&r->stream->out);
    free(r->stream);
  }
  memset(r, 0, sizeof *r);
}

static const char *out_of(const freq_t *r) {
  return r->stream && r->stream->out.buf ? r->stream->out.buf : "";
}

/* Watches with kinds and job (NULL: none); resume when after >= 0. */
static void watch(freq_t *r, const char *kinds, const char *job, long long after) {
  sse_filter_t f;
  char err[160];
  CHECK_INT(sse_filter_parse(&f, kinds, job, err, sizeof err), 0);
  sse_watch(c, r, "tester", &f, after >= 0, after >= 0 ? (uint64_t)after : 0);
}

/* The ids ("id: N" lines) of the events in text, in order, into ids;
 * returns how many. */
static size_t ids_of(const char *text, uint64_t *ids, size_t max) {
  size_t n = 0;
  for (const char *p = text; (p = strstr(p, "\nid: ")) && n < max; p += 5)
    ids[n++] = strtoull(p + 5, NULL, 10);
  return n;
}

static size_t count_of(const char *text, const char *needle) {
  size_t n = 0;
  for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

/* A copy of the event that starts with start in text, through its blank
 * line; NULL when none. */
static char *block_of(const char *text, const char *start) {
  const char *p = strstr(text, start);
  const char *e = p ? strstr(p, "\n\n") : NULL;
  return e ? xasprintf("%.*s", (int)(e + 2 - p), p) : NULL;
}

static uint64_t head(void) { return (uint64_t)store_chain_head(c).seq; }

/* Logs an event about job (0: a worker) and commits it. */
static void event(const char *kind, uint64_t job) {
  char sid[24], details[64];
  snprintf(sid, sizeof sid, "%" PRIu64, job);
  if (!strncmp(kind, "take.", 5)) {
    snprintf(details, sizeof details, "{\"job_id\":%" PRIu64 ",\"state\":\"x\"}", job);
    store_event(c, "alice", kind, "take", "77", details);
  } else if (job) {
    store_event(c, "coordinator", kind, "job", sid, "{\"to\":\"running\"}");
  } else {
    store_event(c, "coordinator", kind, "worker", "w1", "{\"to\":\"online\"}");
  }
}

static bool flush(void) { return pgtest_flush(c, &loop); }

/* ------------------------------------------------------------ pure parts */

static void filters(void) {
  sse_filter_t f;
  char err[160];
  CHECK_INT(sse_filter_parse(&f, "take.,job.state", "12", err, sizeof err), 0);
  CHECK_INT(f.nkinds, 2);
  CHECK_INT(f.job, 12);
  CHECK(sse_filter_match(&f, "take.approved", 12));
  CHECK(sse_filter_match(&f, "job.state", 12));
  CHECK(!sse_filter_match(&f, "job.progress", 12));
  CHECK(!sse_filter_match(&f, "take.approved", 13));
  CHECK(!sse_filter_match(&f, "take.approved", 0));
  CHECK_INT(sse_filter_parse(&f, NULL, NULL, err, sizeof err), 0);
  CHECK(sse_filter_match(&f, "anything", 0));
  CHECK_INT(sse_filter_parse(&f, "take.,,job", NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "empty prefix");
  CHECK_INT(sse_filter_parse(&f, "take'", NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "letters, digits");
  CHECK_INT(sse_filter_parse(&f, "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", NULL, err, sizeof err), -1);
  CHECK_CONTAINS(err, "at most 16");
  CHECK_INT(sse_filter_parse(&f, NULL, "0", err, sizeof err), -1);
  CHECK_INT(sse_filter_parse(&f, NULL, "-3", err, sizeof err), -1);
  CHECK_INT(sse_filter_parse(&f, NULL, "99999999999999999999999", err, sizeof err), -1);
  CHECK_CONTAINS(err, "job id");
  uint64_t v = 1;
  CHECK_INT(sse_parse_seq("0", &v), 0);
  CHECK_INT(v, 0);
  CHECK_INT(sse_parse_seq("42", &v), 0);
  CHECK_INT(v, 42);
  CHECK_INT(sse_parse_seq("", &v), -1);
  CHECK_INT(sse_parse_seq("4 2", &v), -1);
  CHECK_INT(sse_parse_seq("+4", &v), -1);
  CHECK_INT(sse_parse_seq("18446744073709551616", &v), -1);
}

static void format(void) {
  store_tapped_t ev = {.seq = 7,
                       .at_us = 1764547200123456LL,
                       .actor = "alice",
                       .kind = "take.approved",
                       .subject_type = "take",
                       .subject_id = "12",
                       .details = "{\"job\":\"lighting\",\"job_id\":3,\"note\":\"a\\nb\"}"};
  sbuf_t b = {0};
  uint64_t job = 0;
  sse_format_event(&ev, &b, &job);
  CHECK_STR(b.buf, "event: take.approved\nid: 7\ndata: {\"id\":7,\"kind\":\"take.approved\","
                   "\"at\":\"2025-12-01T00:00:00.123456Z\",\"actor\":\"alice\","
                   "\"subject_type\":\"take\",\"subject_id\":\"12\",\"details\":{\"job\":"
                   "\"lighting\",\"job_id\":3,\"note\":\"a\\nb\"}}\n\n");
  CHECK_INT(job, 3);
  /* A kind with a line break cannot end the field. */
  ev.kind = "evil\nid: 1";
  ev.subject_type = "job";
  ev.subject_id = "9";
  sbuf_reset(&b);
  sse_format_event(&ev, &b, &job);
  CHECK(!strncmp(b.buf, "event: evil id: 1\nid: 7\n", 24));
  CHECK_INT(job, 9);
  sbuf_free(&b);
}

/* ------------------------------------------------------------ live */

static freq_t all, takes, job5;

static void live(void) {
  watch(&all, NULL, NULL, -1);
  watch(&takes, "take.", NULL, -1);
  watch(&job5, NULL, "5", -1);
  CHECK(all.stream && takes.stream && job5.stream);
  CHECK_INT(sse_watchers(c), 3);
  CHECK_CONTAINS(out_of(&all), "retry: 2000\n");
  uint64_t h0 = head();
  event("worker.state", 0);
  event("job.state", 5);
  event("take.approved", 5);
  event("job.state", 6);
  /* Nothing before the commit. */
  CHECK(!strstr(out_of(&all), "event: "));
  CHECK(flush());
  uint64_t ids[16];
  size_t n = ids_of(out_of(&all), ids, 16);
  CHECK_INT(n, 4);
  for (size_t i = 0; i < n; i++)
    CHECK_INT(ids[i], h0 + 1 + i);
  n = ids_of(out_of(&takes), ids, 16);
  CHECK_INT(n, 1);
  CHECK_INT(ids[0], h0 + 3);
  n = ids_of(out_of(&job5), ids, 16);
  CHECK_INT(n, 2);
  CHECK_INT(ids[0], h0 + 2);
  CHECK_INT(ids[1], h0 + 3);
  /* The same bytes for every watcher. */
  const char *t = strstr(out_of(&takes), "event: take.approved");
  CHECK(t && strstr(out_of(&all), t) && strstr(out_of(&job5), t));
  CHECK_CONTAINS(out_of(&all), "\"kind\":\"job.state\",");
  CHECK_CONTAINS(out_of(&all), "\"details\":{\"to\":\"running\"}}");
}

/* ------------------------------------------------------------ resume */

static bool answered(void *arg) { return ((freq_t *)arg)->stream || ((freq_t *)arg)->code[0]; }
static bool slow_done;
static void on_slow(void *arg, PGresult *const *res, size_t n, const char *error) {
  (void)arg, (void)res, (void)n;
  CHECK(error == NULL);
  slow_done = true;
}

static void resume(void) {
  /* "all" goes away having seen up to the head. */
  uint64_t seen = head();
  f_end(all.stream);
  CHECK_INT(sse_watchers(c), 2);
  event("job.state", 5);
  event("take.rejected", 8);
  event("worker.state", 0);
  CHECK(flush());
  uint64_t missed_to = head();
  CHECK_INT(missed_to, seen + 3);
  /* Keep the only read connection busy, so that the resume's read waits
   * while more batches commit. */
  pgq_t *q = pgq_new();
  pgq_add(q, "SELECT pg_sleep(0.5)", 0, NULL);
  reads_submit(c, NULL, q, on_slow, NULL);
  freq_t back = {0};
  watch(&back, NULL, NULL, (long long)seen);
  CHECK(!back.stream && !back.code[0]); /* pending */
  event("job.state", 9);
  CHECK(flush());
  event("take.approved", 9);
  CHECK(flush());
  CHECK(!back.stream); /* still waiting: the live ones were held */
  CHECK(pgtest_run_until(&loop, answered, &back, 10000));
  CHECK_STR(back.code, "");
  uint64_t ids[32];
  size_t n = ids_of(out_of(&back), ids, 32);
  CHECK_INT(n, 5);
  for (size_t i = 0; i < n; i++)
    CHECK_INT(ids[i], seen + 1 + i);
  CHECK_INT(head(), seen + 5);
  /* And live from there, without duplicates. */
  event("worker.state", 0);
  CHECK(flush());
  n = ids_of(out_of(&back), ids, 32);
  CHECK_INT(n, 6);
  CHECK_INT(ids[5], seen + 6);
  CHECK(slow_done);

  /* A filtered resume takes what its filter takes. */
  freq_t tk = {0};
  watch(&tk, "take.", NULL, (long long)seen);
  CHECK(pgtest_run_until(&loop, answered, &tk, 10000));
  n = ids_of(out_of(&tk), ids, 32);
  CHECK_INT(n, 2);
  CHECK_INT(ids[0], seen + 2);
  CHECK_INT(ids[1], seen + 5);
  freq_t j9 = {0};
  watch(&j9, NULL, "9", (long long)seen);
  CHECK(pgtest_run_until(&loop, answered, &j9, 10000));
  n = ids_of(out_of(&j9), ids, 32);
  CHECK_INT(n, 2);
  CHECK_INT(ids[0], seen + 4);
  /* The resumed bytes equal the live ones (same formatter, same text):
   * take.rejected came to "back" from the database, to "takes" live. */
  char *block = block_of(out_of(&back), "event: take.rejected\n");
  CHECK(block && strstr(out_of(&takes), block) != NULL);
  free(block);

  /* Resuming at the head: nothing to read, live at once. */
  freq_t at = {0};
  watch(&at, NULL, NULL, (long long)head());
  CHECK(at.stream != NULL);
  CHECK_INT(count_of(out_of(&at), "\nid: "), 0);

  /* After the head: reset. */
  freq_t future = {0};
  watch(&future, NULL, NULL, (long long)head() + 100);
  CHECK(future.stream != NULL);
  CHECK_CONTAINS(out_of(&future), "event: reset\n");
  CHECK_CONTAINS(out_of(&future), "is after the log's last");

  f_end(back.stream);
  f_end(tk.stream);
  f_end(j9.stream);
  f_end(at.stream);
  f_end(future.stream);
  req_free(&back);
  req_free(&tk);
  req_free(&j9);
  req_free(&at);
  req_free(&future);
}

/* More than SSE_RESUME_MAX missed: reset with the head as its id, then
 * live. */
static void too_far(void) {
  uint64_t from = head();
  for (int i = 0; i < SSE_RESUME_MAX + 1; i++)
    event("worker.state", 0);
  CHECK(flush());
  freq_t r = {0};
  watch(&r, NULL, NULL, (long long)from);
  CHECK(pgtest_run_until(&loop, answered, &r, 10000));
  char want[64];
  snprintf(want, sizeof want, "event: reset\nid: %" PRIu64 "\n", head());
  CHECK_CONTAINS(out_of(&r), want);
  CHECK_CONTAINS(out_of(&r), "more than 10000 events were missed");
  CHECK_INT(count_of(out_of(&r), "event: worker.state"), 0);
  event("job.state", 1);
  CHECK(flush());
  CHECK_INT(count_of(out_of(&r), "event: job.state"), 1);
  f_end(r.stream);
  req_free(&r);
}

/* ------------------------------------------------------------ progress */

static bool has_progress(void *arg) { return strstr(out_of(arg), "job.progress") != NULL; }
static bool two_progress(void *arg) { return count_of(out_of(arg), "job.progress") >= 2; }

static void progress(void) {
  job_t j = {.id = 5, .state = JOB_RUNNING, .ntasks = 4};
  j.counts[TASK_READY] = 4;
  sse_job_changed(c, &j);
  j.counts[TASK_READY] = 3;
  j.counts[TASK_RUNNING] = 1;
  sse_job_changed(c, &j);
  job_t other = {.id = 6, .state = JOB_QUEUED, .ntasks = 1};
  other.counts[TASK_READY] = 1;
  sse_job_changed(c, &other);
  store_kick(c);
  CHECK(flush());
  CHECK(pgtest_run_until(&loop, has_progress, &job5, 2000));
  const char *p = strstr(out_of(&job5), "event: job.progress\ndata: ");
  CHECK(p != NULL);
  CHECK_CONTAINS(p, "{\"job_id\":5,\"state\":\"running\",\"ntasks\":4,\"counts\":{");
  CHECK_CONTAINS(p, "\"ready\":3,");
  CHECK_CONTAINS(p, "\"running\":1,");
  CHECK_INT(count_of(out_of(&job5), "job.progress"), 1); /* coalesced */
  CHECK(!strstr(out_of(&job5), "\"job_id\":6"));        /* the job filter */
  CHECK(!has_progress(&takes));                          /* the kinds filter */
  CHECK(p && !strstr(p, "\nid: "));                      /* no id */
  /* A change not committed yet is not sent. */
  j.counts[TASK_RUNNING] = 0;
  j.counts[TASK_SUCCEEDED] = 1;
  sse_job_changed(c, &j);
  uv_sleep(400);
  uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_INT(count_of(out_of(&job5), "job.progress"), 1);
  store_kick(c);
  CHECK(flush());
  CHECK(pgtest_run_until(&loop, two_progress, &job5, 2000));
  CHECK_INT(count_of(out_of(&job5), "job.progress"), 2);
  const char *second = strstr(strstr(out_of(&job5), "job.progress") + 1, "job.progress");
  CHECK(second != NULL);
  CHECK_CONTAINS(second, "\"succeeded\":1");
}

/* ------------------------------------------------------------ limits */

static void limits(void) {
  /* A watcher too far behind is ended; the others go on. */
  freq_t slow = {.limit = 200};
  watch(&slow, NULL, NULL, -1);
  CHECK(slow.stream != NULL);
  size_t before = sse_watchers(c);
  size_t takes_had = count_of(out_of(&takes), "event:");
  for (int i = 0; i < 5; i++)
    event("worker.state", 0);
  CHECK(flush());
  CHECK(slow.stream && slow.stream->ended);
  CHECK_INT(sse_watchers(c), before - 1);
  CHECK_INT(count_of(out_of(&takes), "event:"), takes_had); /* untouched */
  req_free(&slow);

  /* Past the limit: refused. */
  freq_t extra[8];
  memset(extra, 0, sizeof extra);
  size_t k = 0;
  while (sse_watchers(c) < 8) {
    watch(&extra[k], NULL, NULL, -1);
    CHECK(extra[k].stream != NULL);
    k++;
  }
  freq_t refused = {0};
  watch(&refused, NULL, NULL, -1);
  CHECK(refused.stream == NULL);
  CHECK_STR(refused.code, "unavailable");
  CHECK_CONTAINS(refused.msg, "--http-max-streams");
  for (size_t i = 0; i < k; i++) {
    f_end(extra[i].stream);
    req_free(&extra[i]);
  }
}

int main(void) {
  log_init("test_sse", LOG_LVL_ERROR);
  filters();
  format();

  const char *conninfo = pgtest_start();
  db = pgtest_connect();
  uv_loop_init(&loop);
  coord_init(c, &loop);
  char err[512];
  c->wdb = pgconn_open(&loop, conninfo, "writer", on_fatal, c, err, sizeof err);
  if (!c->wdb) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  CHECK(migrate_apply(pgconn_raw(c->wdb), pgtest_sql_dir(), err, sizeof err) >= 1);
  CHECK_INT(pgconn_start(c->wdb), 0);
  reads_limits_t lim = {.connections = 1, .client_requests = 8, .timeout_ms = 10000};
  CHECK_INT(reads_open(c, &loop, conninfo, &lim, on_fatal, err, sizeof err), 0);
  CHECK_INT(reads_start(c), 0);
  sse_init(c, &fake_io, 8);

  live();
  resume();
  too_far();
  progress();
  limits();

  f_end(takes.stream);
  f_end(job5.stream);
  req_free(&all);
  req_free(&takes);
  req_free(&job5);
  CHECK_INT(sse_watchers(c), 0);

  pgconn_close(&c->wdb);
  reads_close(c);
  coord_close_timers(c);
  uv_run(&loop, UV_RUN_DEFAULT);
  coord_release(c);
  CHECK_INT(uv_loop_close(&loop), 0);
  PQfinish(db);
  return check_report("test_sse");
}
