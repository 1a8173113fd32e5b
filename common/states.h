/*
 * states.h - the states of jobs, tasks, attempts and workers, their
 * names as stored in PostgreSQL and printed by the CLI, and the table of
 * allowed transitions.  The coordinator's job_set_state, task_set_state and
 * attempt_set_state consult these tables and refuse everything else.
 */
#ifndef CLAPPER_STATES_H
#define CLAPPER_STATES_H

#include <stdbool.h>
#include <stdint.h>

typedef enum job_state {
  JOB_WAITING = 0, /* dependencies or an approval gate not met */
  JOB_QUEUED,      /* tasks may be dispatched; none has started yet */
  JOB_RUNNING,     /* at least one task was dispatched */
  JOB_PAUSED,      /* operator paused: nothing new is dispatched */
  JOB_HELD,        /* over budget: nothing new is dispatched */
  JOB_SUCCEEDED,   /* every task succeeded (terminal) */
  JOB_FAILED,      /* every task ended and at least one failed */
  JOB_CANCELED,    /* canceled by a person or a failed dependency (terminal, except
                    * that one canceled only because of a failed dependency waits
                    * again when that dependency is retried) */
  JOB_STATE_COUNT
} job_state_t;

typedef enum task_state {
  TASK_WAITING = 0, /* its job is waiting */
  TASK_READY,       /* in the ready index, or backing off before a retry */
  TASK_DISPATCHED,  /* an attempt was assigned to a worker */
  TASK_RUNNING,     /* the worker started it */
  TASK_SUCCEEDED,   /* terminal */
  TASK_FAILED,      /* attempts exhausted; an operator may retry */
  TASK_CANCELED,    /* terminal */
  TASK_HELD,        /* over budget */
  TASK_PAUSED,      /* its job is paused */
  TASK_STATE_COUNT
} task_state_t;

typedef enum attempt_state {
  ATTEMPT_DISPATCHED = 0, /* persisted, sent (or about to be) to a worker */
  ATTEMPT_RUNNING,        /* the worker spawned it */
  ATTEMPT_SUCCEEDED,
  ATTEMPT_FAILED,
  ATTEMPT_TIMED_OUT,
  ATTEMPT_LOST,           /* worker died, lease expired or never started it */
  ATTEMPT_CANCELED,
  ATTEMPT_STATE_COUNT
} attempt_state_t;

/* A worker as the coordinator sees it (its transitions are worker_set_state's:
 * any state may follow any other). */
typedef enum worker_state {
  WORKER_OFFLINE = 0, /* known from the database, not connected since start */
  WORKER_ONLINE,
  WORKER_DRAINING,    /* finishes what it runs, gets nothing new */
  WORKER_LOST,        /* lease expired */
  WORKER_DEGRADED,    /* connected, but its own health refuses work (disk full,
                       * journal unwritable, workdir gone): keeps what it runs,
                       * gets nothing new, back online when the cause is gone */
  WORKER_STATE_COUNT
} worker_state_t;

/* How the reason of an unfinished job begins when no worker can run it any
 * more (every known worker that could is degraded, lost or excluded by the
 * job's failures there); `clapper wait` stops waiting for such a job. */
#define STATES_STRANDED "no worker can run it"

const char *job_state_name(job_state_t s);
const char *task_state_name(task_state_t s);
const char *attempt_state_name(attempt_state_t s);
const char *worker_state_name(worker_state_t s);

/* Parse a stored name; return the state or -1. */
int job_state_parse(const char *name);
int task_state_parse(const char *name);
int attempt_state_parse(const char *name);

/* True when the transition from -> to is in the table of allowed transitions
 * (states.c). */
bool job_state_allowed(job_state_t from, job_state_t to);
bool task_state_allowed(task_state_t from, task_state_t to);
bool attempt_state_allowed(attempt_state_t from, attempt_state_t to);

/* The entities with a transition table. */
typedef enum state_kind { STATE_JOB = 0, STATE_TASK, STATE_ATTEMPT } state_kind_t;

/* One step of entity id (of kind) from -> to, as its transition function
 * takes it: 0 when to is from (nothing to do), 1 when the table allows the
 * step, -1 when it refuses it (logged as an error naming both states). */
int state_step(state_kind_t kind, uint64_t id, int from, int to);

/* Finished: succeeded, failed or canceled (a failed job may still be retried). */
bool job_state_terminal(job_state_t s);
bool task_state_terminal(task_state_t s);     /* succeeded, failed, canceled */
bool attempt_state_live(attempt_state_t s);   /* dispatched or running */

#endif
