/*
 * limit.h - licence limits and pools of workers.
 *
 * A limit is a named count of something the farm has a fixed number of,
 * such as licences ("houdini 20").  A job that requires it
 * (requires.limits in its job file) has each of its tasks hold one unit of
 * it while the task's attempt is live (from dispatch until it ends), and
 * dispatch never starts an attempt that would make more live attempts
 * hold a limit than its count.  What is in use is counted here, in memory,
 * from the attempts themselves (dispatch_usage, at dispatch, at its end and
 * at recovery for every live attempt recovered), so a restarted or
 * standby coordinator counts the attempts still running; nothing per task
 * touches the database.  A count lowered below what is in use lets the
 * running attempts finish and starts no new one until fewer hold it.
 *
 * A pool is a named set of workers: those with one of its tags, and those
 * it names.  A job with requires.pool runs only on the pool's members
 * (membership is decided at placement: a worker that gains a tag joins).
 *
 * Operators set both (`clapper limit set NAME N`, `clapper limit remove
 * NAME`, `clapper pool set NAME tag:T worker:W...`, `clapper pool remove
 * NAME`); every role reads them (`clapper limits`, `clapper pools`).  Each
 * change is a row in the limits or pools table (sql/012_limits.sql) and an
 * event with its actor, written in the next batch; the reply waits for it.
 *
 * Choices: a job file that requires a limit or targets a pool nobody
 * defined is refused at submit with one line naming it (a typo would
 * otherwise wait forever); a limit or pool that an unfinished or failed job
 * still requires cannot be removed (set the count to 0 instead: its tasks
 * then wait, running ones finish).  Entries live as long as the
 * coordinator, so jobs keep pointers to them; a removed one is kept,
 * marked undefined (a job recovered with one waits, saying so).
 */
#ifndef CLAPPER_LIMIT_H
#define CLAPPER_LIMIT_H

#include <jansson.h>
#include <libpq-fe.h>

#include "model.h"
#include "verbs.h"

#define LIMITS_MAX_COUNT 1000000

struct limit {
  char *name;
  bool defined;    /* set, and not removed since */
  uint32_t count;  /* [0, LIMITS_MAX_COUNT] */
  uint32_t in_use; /* live attempts of jobs requiring it */
  char *set_by;    /* owned, NULL when not defined */
  int64_t set_us;
};

struct pool {
  char *name;
  bool defined;
  char **tags; /* members by tag (owned) */
  size_t ntags;
  char **workers; /* members by name (owned) */
  size_t nworkers;
  char *set_by;
  int64_t set_us;
};

/* Loads the limits and pools (start-up, before recovery; synchronous).
 * 0 or -1 with err. */
int limit_load(coord_t *c, PGconn *conn, char *err, size_t errlen) MUSTCHECK;

/* Logs each limit's use (after recovery counted the live attempts). */
void limit_log_usage(const coord_t *c);

/* Releases every limit and pool (coord_release). */
void limit_free(coord_t *c);

/* Defines (or changes) limit name with count, in memory only (the verb
 * persists it); returns it. */
limit_t *limit_define(coord_t *c, const char *name, uint32_t count);

/* Defines (or redefines) pool name with its members by tag and by name
 * (copied), in memory only (the verb persists it); returns it. */
pool_t *limit_define_pool(coord_t *c, const char *name, char *const *tags, size_t ntags,
                          char *const *workers, size_t nworkers);

/* Points j at the limits and the pool its spec requires (entries made
 * undefined when unknown): job_new calls it. */
void limit_job_new(coord_t *c, job_t *j);

/* The first limit of j that has no unit free now, or NULL. */
const limit_t *limit_full(const job_t *j);

/* An attempt of j went live (+1) or ended (-1). */
void limit_usage(const job_t *j, int sign);

/* Whether w is a member of p; every worker is when p is NULL. */
bool limit_in_pool(const pool_t *p, const worker_t *w);

/* Why j waits for l: "waiting for licence houdini (20/20 in use)". */
void limit_reason(const limit_t *l, char *buf, size_t len);

/* Refuses a job file that requires a limit or targets a pool not defined:
 * 0, or -1 with one line naming it in err. */
int limit_check_jobfile(coord_t *c, const jobfile_t *jf, char *err, size_t errlen) MUSTCHECK;

/* The names of the pools w is a member of (new reference). */
json_t *limit_worker_pools(const coord_t *c, const worker_t *w);

/* Verb handlers (verbs.c). */
void limit_set_verb(coord_t *c, creq_t *r, const verb_call_t *v);
void limit_remove_verb(coord_t *c, creq_t *r, const verb_call_t *v);
void limit_list_verb(coord_t *c, creq_t *r, const verb_call_t *v);
void limit_pool_set_verb(coord_t *c, creq_t *r, const verb_call_t *v);
void limit_pool_remove_verb(coord_t *c, creq_t *r, const verb_call_t *v);

#endif
