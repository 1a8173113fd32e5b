/*
 * metrics.h - Prometheus metrics: GET /metrics on the HTTP server.
 *
 * The answer is the text exposition format 0.0.4.  Almost everything in
 * it is the coordinator's memory at the moment of the request: queue
 * depth per episode and priority (the ready tasks of the jobs in memory),
 * workers by state, GPUs total and busy per model, budgets and spending
 * per episode, the event log's committed head, and the counters and
 * histograms this module keeps (dispatch and commit latency, results,
 * HTTP requests).  Jobs and tasks by state over all time are the
 * database's: one read on the read pool per request, counted the way
 * `clapper jobs --all --json` and `clapper job ID --json` show them (the
 * jobs table's state and its task_counts), so the figures match the
 * CLI's.  The request is suspended until that read answers; when it
 * fails, the rest is answered anyway with clapper_metrics_db_ok 0.
 * docs/metrics.md lists every metric with its meaning and labels.
 *
 * Who decides what:
 *  - the modules that see an event call metrics_observe_* (workers.c
 *    when an Assign goes out and when a result comes in, http.c per
 *    request); the commit latency comes from the store's own figure
 *    (store_stats's last_commit_us), read by a store listener here, since
 *    the store calls nothing above it;
 *  - this module owns the figures' memory (c->metrics, made by coord_init
 *    and released by coord_release) and how they are written.
 *
 * The exposition writer (metrics_family, metrics_sample, metrics_hist_write)
 * and the rendering (metrics_render) are pure functions of their inputs,
 * for tests/unit/test_metrics.c.
 */
#ifndef CLAPPER_METRICS_H
#define CLAPPER_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

typedef struct metrics metrics_t;

/* Makes c->metrics and registers its store listener (coord_init). */
void metrics_new(coord_t *c);
/* Releases c->metrics (coord_release).  Safe when it was never made. */
void metrics_free(coord_t *c);

/* Registers GET /metrics (any identity; see docs/metrics.md). */
void metrics_routes(coord_t *c);

/* ------------------------------------------------------------ observations */

/* The Assign of a went out now: observes the dispatch latency, from the
 * moment its task entered the ready index (task->not_before, see
 * dispatch_task_ready) to now. */
void metrics_observe_assign(coord_t *c, const attempt_t *a);

/* A worker's result was recorded and ended an attempt in state `to`;
 * to = -1: it was ignored (late, duplicate, or another worker's). */
void metrics_observe_result(coord_t *c, int to);

/* An HTTP request was answered with status. */
void metrics_observe_http(coord_t *c, int status);

/* ------------------------------------------------------------ histograms */

/* A histogram with fixed buckets: counts[i] the observations in bucket i
 * (not cumulative: the writer adds them up), counts[nbounds] those above
 * the last bound (+Inf); sum in microseconds, written in seconds. */
#define METRICS_MAX_BUCKETS 24
typedef struct metrics_bound {
  uint64_t us;    /* upper bound, inclusive */
  const char *le; /* the same in seconds, as the le label says it */
} metrics_bound_t;
typedef struct metrics_hist {
  const metrics_bound_t *bounds; /* increasing */
  size_t nbounds;                /* at most METRICS_MAX_BUCKETS */
  uint64_t counts[METRICS_MAX_BUCKETS + 1];
  uint64_t count;
  uint64_t sum_us;
} metrics_hist_t;

void metrics_hist_observe(metrics_hist_t *h, uint64_t us);

/* ------------------------------------------------------------ the writer */

/* "# HELP name help" (backslash and newline escaped) and "# TYPE name
 * type" (counter, gauge, histogram). */
void metrics_family(sbuf_t *b, const char *name, const char *type, const char *help);

/* One sample line: name{k="v",...} value.  labels: NULL, or key, value
 * pairs ended by a NULL key; values are escaped (\\, \", \n). */
void metrics_sample(sbuf_t *b, const char *name, const char *const *labels, const char *value);
void metrics_sample_u64(sbuf_t *b, const char *name, const char *const *labels, uint64_t v);

/* A histogram's samples: name_bucket{...,le="..."} cumulative, the last
 * le="+Inf" equal to name_count; name_sum (seconds); name_count. */
void metrics_hist_write(sbuf_t *b, const char *name, const char *const *labels,
                        const metrics_hist_t *h);

/* ------------------------------------------------------------ rendering */

/* What the database read gives: jobs and tasks by state over all time. */
typedef struct metrics_counts {
  bool ok; /* the read answered */
  uint64_t jobs[JOB_STATE_COUNT];
  uint64_t tasks[TASK_STATE_COUNT];
} metrics_counts_t;

/* Adds one row of the read: kind "job" or "task", a state name and its
 * count.  0, or -1 when kind or state is unknown (the row is skipped). */
int metrics_counts_add(metrics_counts_t *m, const char *kind, const char *state, uint64_t n);

/* The whole exposition text from c's memory and db, at now_us (wall
 * clock, for the running cost of budgets).  Caller frees. */
char *metrics_render(coord_t *c, const metrics_counts_t *db, int64_t now_us);

/* The read's SQL: a row per job state (state, jobs, then a column named
 * after each task state with the sum of the jobs' counts of it). */
extern const char METRICS_SQL_COUNTS[];

/* The content type of the answer. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
