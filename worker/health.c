/*
 * health.c - the worker's own health checks, see health.h.
 */
#include "health.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "log.h"
#include "util.h"

/* Appends "; " and the formatted text to why[0..len). */
static void add(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *why, size_t len, const char *fmt, ...) {
  size_t used = strlen(why);
  if (used && used + 2 < len) {
    memcpy(why + used, "; ", 3);
    used += 2;
  }
  if (used + 1 >= len)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why + used, len - used, fmt, ap);
  va_end(ap);
}

/* n bytes as "N MiB" (or "N KiB", "N bytes" when small). */
static void size_text(uint64_t n, char *buf, size_t len) {
  if (n >= (uint64_t)1 << 20)
    snprintf(buf, len, "%" PRIu64 " MiB", n >> 20);
  else if (n >= 1024)
    snprintf(buf, len, "%" PRIu64 " KiB", n >> 10);
  else
    snprintf(buf, len, "%" PRIu64 " bytes", n);
}

bool health_judge(const health_facts_t *f, char *why, size_t len) {
  if (!len)
    return false;
  why[0] = '\0';
  if (f->workdir_errno)
    add(why, len, "workdir %s is gone (%s)", f->workdir, strerror(f->workdir_errno));
  else if (f->workdir_replaced)
    add(why, len, "workdir %s is gone (replaced by another directory since the start)", f->workdir);
  else if (f->free_bytes < f->floor_bytes) {
    char fr[32], fl[32];
    size_text(f->free_bytes, fr, sizeof fr);
    size_text(f->floor_bytes, fl, sizeof fl);
    add(why, len,
        "disk full: %s free on the disk of workdir %s, under the floor of %s "
        "(--min-free-mb)",
        fr, f->workdir, fl);
  }
  if (f->journal_err)
    add(why, len, "journal cannot be written (%s): results are not durable", f->journal_err);
  return why[0] != '\0';
}

uint64_t health_free_bytes(const char *path) {
  struct statvfs sv;
  if (statvfs(path, &sv) < 0)
    return UINT64_MAX;
  return (uint64_t)sv.f_bavail * (uint64_t)(sv.f_frsize ? sv.f_frsize : sv.f_bsize);
}

int health_init(health_t *h, const char *workdir, uint64_t floor_bytes) {
  memset(h, 0, sizeof *h);
  struct stat st;
  if (stat(workdir, &st) < 0)
    return -1;
  h->workdir = xstrdup(workdir);
  h->dev = st.st_dev;
  h->ino = st.st_ino;
  h->floor_bytes = floor_bytes;
  return 0;
}

void health_free(health_t *h) {
  free(h->workdir);
  free(h->journal_err);
  h->workdir = h->journal_err = NULL;
}

void health_journal(health_t *h, int e) {
  free(h->journal_err);
  h->journal_err = e ? xstrdup(strerror(e)) : NULL;
}

bool health_check(health_t *h) {
  health_facts_t f = {.workdir = h->workdir,
                      .floor_bytes = h->floor_bytes,
                      .journal_err = h->journal_err,
                      .free_bytes = UINT64_MAX};
  struct stat st;
  if (stat(h->workdir, &st) < 0)
    f.workdir_errno = errno ? errno : ENOENT;
  else if (st.st_dev != h->dev || st.st_ino != h->ino)
    f.workdir_replaced = true;
  else
    f.free_bytes = health_free_bytes(h->workdir);
  char why[HEALTH_REASON_MAX];
  health_judge(&f, why, sizeof why);
  if (!strcmp(why, h->reason))
    return false;
  if (why[0])
    log_warn("degraded, taking no new work: %s", why);
  else
    log_info("healthy again (was: %s): taking work", h->reason);
  snprintf(h->reason, sizeof h->reason, "%s", why);
  return true;
}
