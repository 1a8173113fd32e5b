/*
 * log.h - one-line log records on stderr.
 *
 * Every record is "TIME PROG[PID] LEVEL func: message".  Daemons log to
 * stderr; `clapper local up` and systemd redirect it to a file or journal.
 */
#ifndef CLAPPER_LOG_H
#define CLAPPER_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h" /* util_mono_us */

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sets the program name shown in records and the most verbose level kept. */
void log_init(const char *prog, int level);

/* Returns the level parsed from "error", "warn", "info" or "debug", or -1. */
int log_level_parse(const char *name);

void log_write(int level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_write(LOG_LVL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define log_info(...) log_write(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_debug(...) log_write(LOG_LVL_DEBUG, __func__, __VA_ARGS__)

/* Rate-limited warnings, for what an attacker can repeat at will (refused
 * handshakes, refused messages): the first record of an interval is
 * written at once; the ones that follow within the interval are counted,
 * and when the interval is over (at the next record, or at log_limit_tick
 * from a timer) one line says how many there were and the last one:
 *   "refused worker messages: 312 more in the last 10 s, the last: ..."
 * So each limiter writes at most two lines per interval, whatever the
 * rate.  A limiter is a static variable of the module that refuses. */
typedef struct log_limit {
  const char *what;    /* what is counted, e.g. "refused worker messages" */
  int64_t interval_us; /* the interval */
  int64_t start_us;    /* when the current interval began (monotonic); 0: none */
  uint64_t count;      /* records held back in it */
  char last[512];      /* the last of them */
  const char *func;    /* the function that wrote it */
  bool listed;         /* on the list log_limit_tick walks */
  struct log_limit *next;
} log_limit_t;

#define LOG_LIMIT_INIT(what_, interval_s)                                                          \
  { .what = (what_), .interval_us = (int64_t)(interval_s) * 1000000 }

/* Writes a warning through l at now_us (a monotonic time, util_mono_us). */
void log_limited(log_limit_t *l, int64_t now_us, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes the count of every limiter whose interval is over (call it from a
 * timer, so that a burst's count does not wait for the next record). */
void log_limit_tick(int64_t now_us);

#define log_warn_limited(l, ...) log_limited((l), (int64_t)util_mono_us(), __func__, __VA_ARGS__)

#endif
