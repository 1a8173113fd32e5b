/*
 * log.c - one-line log records on stderr, see log.h.
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "clapper";
static int log_max = LOG_LVL_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_init(const char *prog, int level) {
  log_prog = prog;
  log_max = level;
}

int log_level_parse(const char *name) {
  for (int i = 0; i <= LOG_LVL_DEBUG; i++)
    if (strcmp(name, level_names[i]) == 0)
      return i;
  return -1;
}

void log_write(int level, const char *func, const char *fmt, ...) {
  if (level > log_max)
    return;
  int saved = errno;
  char line[2048];
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] %s %s: ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, (int)(tv.tv_usec / 1000), log_prog, (int)getpid(),
                   level_names[level], func);
  if (n < 0)
    n = 0;
  if ((size_t)n >= sizeof line)
    n = sizeof line - 1;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2)
    len = sizeof line - 2;
  line[len++] = '\n';
  /* One write(2) per record so concurrent writers do not interleave. */
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
  errno = saved;
}

/* Limiters that have written at least once, for log_limit_tick. */
static log_limit_t *limits;

/* Writes l's count of held-back records, if any, and ends its interval. */
static void limit_summary(log_limit_t *l, int64_t now_us) {
  if (l->count)
    log_write(LOG_LVL_WARN, l->func ? l->func : "log_limited",
              "%s: %" PRIu64 " more in the last %" PRId64 " s, the last: %s", l->what, l->count,
              (now_us - l->start_us + 500000) / 1000000, l->last);
  l->count = 0;
  l->start_us = 0;
}

void log_limited(log_limit_t *l, int64_t now_us, const char *func, const char *fmt, ...) {
  if (LOG_LVL_WARN > log_max)
    return;
  int saved = errno;
  if (!l->listed) { /* first use: onto the list */
    l->listed = true;
    l->next = limits;
    limits = l;
  }
  char msg[sizeof l->last];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (l->start_us && now_us - l->start_us < l->interval_us) {
    l->count++;
    memcpy(l->last, msg, sizeof msg);
    l->func = func;
    errno = saved;
    return;
  }
  limit_summary(l, now_us);
  l->start_us = now_us ? now_us : 1;
  log_write(LOG_LVL_WARN, func, "%s: %s", l->what, msg);
  errno = saved;
}

void log_limit_tick(int64_t now_us) {
  for (log_limit_t *l = limits; l; l = l->next)
    if (l->start_us && now_us - l->start_us >= l->interval_us && l->count)
      limit_summary(l, now_us);
}
