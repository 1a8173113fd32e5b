/*
 * health.h - whether this worker can take work: its workdir exists (the
 * one it started in), has at least a floor of free space, and its journal
 * can be written.
 *
 * A worker that is not healthy takes no new work (it refuses assignments,
 * which go back to the queue uncounted) and says why in every Heartbeat
 * and Hello (field `degraded`); the coordinator lists it as `degraded`
 * with that reason and sends it nothing new.  Attempts it runs go on and
 * their results are still sent.  It is healthy again, by itself, as soon
 * as a check finds the cause gone (space freed, journal rewritten).
 */
#ifndef CLAPPER_WORKER_HEALTH_H
#define CLAPPER_WORKER_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HEALTH_REASON_MAX 512

/* What one check found. */
typedef struct health_facts {
  const char *workdir;
  int workdir_errno;       /* stat of the workdir failed with this, or 0 */
  bool workdir_replaced;   /* it exists but is not the directory the worker started in */
  uint64_t free_bytes;     /* available to the worker on the workdir's file system */
  uint64_t floor_bytes;    /* --min-free-mb */
  const char *journal_err; /* why the journal could not be written, or NULL */
} health_facts_t;

/* Writes why a worker with facts f must not take work into why (one line,
 * the causes joined by "; ": workdir gone or replaced, disk full, journal)
 * and returns true; returns false with why = "" when it is healthy. */
bool health_judge(const health_facts_t *f, char *why, size_t len);

typedef struct health {
  char *workdir;
  dev_t dev; /* of the workdir at start */
  ino_t ino;
  uint64_t floor_bytes;
  char *journal_err;              /* owned; NULL once the journal was written again */
  char reason[HEALTH_REASON_MAX]; /* "" when healthy, as of the last check */
} health_t;

/* Notes the workdir (which must exist) and the floor.  0, or -1 with errno. */
int health_init(health_t *h, const char *workdir, uint64_t floor_bytes);
void health_free(health_t *h);

/* The journal could not be written (errno value e), or could again (e 0). */
void health_journal(health_t *h, int e);

/* Checks the workdir now (stat, statvfs) and updates h->reason.  Returns
 * true when the verdict changed. */
bool health_check(health_t *h);

static inline bool health_ok(const health_t *h) { return h->reason[0] == '\0'; }

/* Free bytes available on the file system of path, or UINT64_MAX when it
 * cannot be told. */
uint64_t health_free_bytes(const char *path);

#endif
