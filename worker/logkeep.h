/*
 * logkeep.h - how long attempt logs (WORKDIR/logs/ATTEMPT.log) stay on the
 * worker: --log-retention.
 *
 * A log is "stored" once the coordinator has all of it: the log streamer
 * sent it to its end before the attempt's Result went out, and the
 * coordinator acknowledged that Result (it acknowledges a result only once
 * the batch holding it, and the log sent before it, is committed).  The
 * worker then marks the log read-only (mode 0400); the mark survives
 * restarts.
 *
 * --log-retention is an age, a size or both ("7d", "20G", "7d,20G";
 * "off" keeps every log): ages are N followed by s, m, h or d, sizes N
 * followed by K, M, G or T (powers of 1024).  A sweep, at start and then
 * every quarter of the age (between 1 s and 10 min; every minute with a
 * size alone), deletes
 *   - every stored log older than the age (by its modification time);
 *   - then, while the logs take more than the size, the oldest logs:
 *     stored ones first, then ones the coordinator does not have whole
 *     (longer than --log-stream-max-bytes, or sent while no coordinator
 *     was there), which only the size limit deletes.
 * A log whose attempt runs, or whose result is not yet acknowledged, is
 * never deleted.
 */
#ifndef CLAPPER_WORKER_LOGKEEP_H
#define CLAPPER_WORKER_LOGKEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define LOGKEEP_DEFAULT "7d"

/* Parses spec into *max_age_s and *max_bytes (0: no such limit).  0, or
 * -1 with a one-line reason in err. */
int logkeep_parse(const char *spec, uint64_t *max_age_s, uint64_t *max_bytes, char *err,
                  size_t errlen) MUSTCHECK;

/* One log as a sweep sees it. */
typedef struct logkeep_entry {
  uint64_t id;   /* attempt id */
  int64_t mtime; /* seconds */
  uint64_t size; /* bytes */
  bool stored;   /* the coordinator has it whole */
  bool busy;     /* running or its result unacknowledged: kept */
  bool remove;   /* set by logkeep_plan */
} logkeep_entry_t;

/* Decides which of e[0..n) to delete at time now (seconds) under the
 * limits (see above); sets their remove and returns their number.  May
 * reorder e. */
size_t logkeep_plan(logkeep_entry_t *e, size_t n, int64_t now, uint64_t max_age_s,
                    uint64_t max_bytes);

/* Says whether the attempt's log must be kept now (busy). */
typedef bool (*logkeep_busy_fn)(void *arg, uint64_t attempt_id);

/* Sweeps dir (WORKDIR/logs): lists ID.log files, plans and deletes.
 * Returns the number deleted (their bytes in *freed), or -1 with errno
 * when dir cannot be read. */
long logkeep_sweep(const char *dir, int64_t now, uint64_t max_age_s, uint64_t max_bytes,
                   logkeep_busy_fn busy, void *arg, uint64_t *freed);

/* Marks the log at path stored (mode 0400).  0, or -1 with errno. */
int logkeep_mark_stored(const char *path);

#endif
