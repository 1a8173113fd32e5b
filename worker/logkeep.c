/*
 * logkeep.c - attempt log retention, see logkeep.h.
 */
#include "logkeep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* Parses one "N<unit>" item. */
static int parse_item(const char *s, size_t len, uint64_t *age, uint64_t *bytes, char *err,
                      size_t errlen) {
  uint64_t n = 0;
  size_t i = 0;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
    if (n > (UINT64_MAX - 9) / 10)
      return util_fail(err, errlen, "--log-retention: '%.*s' is too large", (int)len, s);
    n = n * 10 + (uint64_t)(s[i] - '0');
  }
  if (i == 0 || i + 1 != len || n == 0)
    return util_fail(err, errlen,
                     "--log-retention: '%.*s' is not an age (7d, 12h, 30m, 90s) or a size "
                     "(20G, 500M)",
                     (int)len, s);
  uint64_t mul;
  bool is_age = true;
  switch (s[i]) {
  case 's':
    mul = 1;
    break;
  case 'm':
    mul = 60;
    break;
  case 'h':
    mul = 3600;
    break;
  case 'd':
    mul = 86400;
    break;
  case 'K':
    mul = (uint64_t)1 << 10, is_age = false;
    break;
  case 'M':
    mul = (uint64_t)1 << 20, is_age = false;
    break;
  case 'G':
    mul = (uint64_t)1 << 30, is_age = false;
    break;
  case 'T':
    mul = (uint64_t)1 << 40, is_age = false;
    break;
  default:
    return util_fail(err, errlen,
                     "--log-retention: '%.*s' has no unit (s, m, h, d for an age; K, M, G, T "
                     "for a size)",
                     (int)len, s);
  }
  if (n > UINT64_MAX / mul || (is_age && n * mul > (uint64_t)100 * 365 * 86400))
    return util_fail(err, errlen, "--log-retention: '%.*s' is too large", (int)len, s);
  uint64_t *dst = is_age ? age : bytes;
  if (*dst)
    return util_fail(err, errlen, "--log-retention: two %s", is_age ? "ages" : "sizes");
  *dst = n * mul;
  return 0;
}

int logkeep_parse(const char *spec, uint64_t *max_age_s, uint64_t *max_bytes, char *err,
                  size_t errlen) {
  *max_age_s = *max_bytes = 0;
  if (!strcmp(spec, "off"))
    return 0;
  const char *p = spec;
  if (!*p)
    return util_fail(err, errlen, "--log-retention: empty (an age, a size, both, or off)");
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (parse_item(p, len, max_age_s, max_bytes, err, errlen) < 0)
      return -1;
    if (!comma)
      return 0;
    p = comma + 1;
  }
}

/* Oldest first; among equals, the lower id first. */
static int by_age(const void *a, const void *b) {
  const logkeep_entry_t *x = a, *y = b;
  if (x->mtime != y->mtime)
    return x->mtime < y->mtime ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

size_t logkeep_plan(logkeep_entry_t *e, size_t n, int64_t now, uint64_t max_age_s,
                    uint64_t max_bytes) {
  size_t removed = 0;
  uint64_t total = 0;
  if (n)
    qsort(e, n, sizeof *e, by_age);
  for (size_t i = 0; i < n; i++) {
    e[i].remove = false;
    if (max_age_s && e[i].stored && !e[i].busy && now - e[i].mtime >= (int64_t)max_age_s) {
      e[i].remove = true;
      removed++;
    } else {
      total += e[i].size;
    }
  }
  /* Over the size: stored logs first, then the others, oldest first. */
  for (int pass = 0; pass < 2 && max_bytes && total > max_bytes; pass++)
    for (size_t i = 0; i < n && total > max_bytes; i++) {
      if (e[i].remove || e[i].busy || e[i].stored != (pass == 0))
        continue;
      e[i].remove = true;
      removed++;
      total -= e[i].size;
    }
  return removed;
}

/* The attempt id of a file named ID.log, or 0. */
static uint64_t log_id(const char *name) {
  char *end;
  if (name[0] < '1' || name[0] > '9')
    return 0;
  errno = 0;
  unsigned long long id = strtoull(name, &end, 10);
  if (errno || strcmp(end, ".log") != 0)
    return 0;
  return (uint64_t)id;
}

long logkeep_sweep(const char *dir, int64_t now, uint64_t max_age_s, uint64_t max_bytes,
                   logkeep_busy_fn busy, void *arg, uint64_t *freed) {
  *freed = 0;
  if (!max_age_s && !max_bytes)
    return 0;
  DIR *d = opendir(dir);
  if (!d)
    return -1;
  logkeep_entry_t *e = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    uint64_t id = log_id(de->d_name);
    struct stat st;
    if (!id || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
      continue;
    ARRAY_PUSH(e, n, cap,
               ((logkeep_entry_t){.id = id,
                                  .mtime = (int64_t)st.st_mtime,
                                  .size = (uint64_t)st.st_size,
                                  .stored = (st.st_mode & 0777) == 0400,
                                  .busy = busy && busy(arg, id)}));
  }
  size_t plan = logkeep_plan(e, n, now, max_age_s, max_bytes);
  long deleted = 0;
  for (size_t i = 0; i < n && plan; i++) {
    if (!e[i].remove)
      continue;
    char name[40];
    snprintf(name, sizeof name, "%" PRIu64 ".log", e[i].id);
    if (unlinkat(dirfd(d), name, 0) < 0) {
      log_warn("log retention: cannot delete %s/%s: %s", dir, name, strerror(errno));
      continue;
    }
    deleted++;
    *freed += e[i].size;
  }
  closedir(d);
  free(e);
  return deleted;
}

int logkeep_mark_stored(const char *path) { return chmod(path, 0400); }
