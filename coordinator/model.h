/*
 * model.h - the coordinator's in-memory view of the farm.
 *
 * PostgreSQL is the single source of truth; this is the coordinator's
 * working copy, from which it decides.  Every change goes through the
 * transition functions (job_set_state, task_set_state, attempt_set_state,
 * worker_set_state), which refuse transitions the tables in states.h do
 * not allow and mark what changed dirty; store.c writes dirty entities in
 * the next batch, and nothing is told to a worker or a client before that
 * batch committed.
 *
 * Ownership: the coordinator (coord_t) owns every job; a job owns its task
 * array; attempts are owned by the attempts map and freed after their
 * terminal state committed; workers are owned by the worker list.
 */
#ifndef CLAPPER_MODEL_H
#define CLAPPER_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "codec.h"
#include "heap.h"
#include "idmap.h"
#include "jobfile.h"
#include "pgconn.h"
#include "states.h"
#include "util.h"

typedef struct coord coord_t;
typedef struct job job_t;
typedef struct task task_t;
typedef struct attempt attempt_t;
typedef struct worker worker_t;

/* A parsed submission shared by the jobs created from it. */
typedef struct jfref {
  jobfile_t *jf;
  int refs;
} jfref_t;

struct task {
  uint64_t id;
  job_t *job;
  uint32_t seq;           /* position within the job */
  uint8_t state;          /* task_state_t */
  bool persisted;         /* its row exists (or is in a batch in flight) */
  bool dirty;             /* on the store's dirty list */
  bool in_fifo;           /* linked on its job's ready FIFO (maybe stale) */
  uint16_t failures;      /* failed or timed-out attempts */
  uint16_t losses;        /* lost attempts (not the task's fault) */
  jf_task_t spec;         /* frames, take, seed */
  attempt_t *live;        /* the live attempt, or NULL */
  task_t *next;           /* ready FIFO link */
  uint64_t not_before;    /* monotonic us; retry backoff */
  size_t delay_pos;       /* position in the delayed heap, or HEAP_NONE */
};

struct job {
  uint64_t id;
  uint8_t state;          /* job_state_t */
  bool persisted, dirty;
  jfref_t *src;           /* the submission */
  jf_job_t *spec;         /* points into src->jf */
  const char *project, *episode; /* point into src->jf */
  char *output_dir;       /* owned */
  char *submitted_by;     /* owned */
  char *reason;           /* owned, "" when none */
  int64_t submitted_us, started_us, finished_us; /* wall clock, 0 = unset */
  uint32_t ntasks;
  uint64_t first_task_id; /* tasks[i].id == first_task_id + i */
  task_t *tasks;          /* owned array of ntasks */
  uint32_t counts[TASK_STATE_COUNT];
  task_t *ready_head, *ready_tail; /* FIFO of ready tasks (lazy: may hold stale) */
  size_t heap_pos;        /* in the dispatch heap, or HEAP_NONE */
  job_t *next_free;       /* on the store's free list */
};

struct attempt {
  uint64_t id;            /* the fencing token */
  task_t *task;
  worker_t *worker;
  uint8_t state;          /* attempt_state_t */
  bool persisted, dirty;
  uint32_t cpus;
  uint64_t memory_mb;
  uint64_t gpu_mask;      /* bit i: worker->gpus[i] is held */
  int64_t dispatched_us, started_us, ended_us; /* wall clock */
  uint64_t dispatched_mono;                    /* for the start deadline */
  bool has_exit;
  int32_t exit_code, term_signal;
  uint64_t wall_us, cpu_us, max_rss_kb, gpu_energy_mj;
  char *error;            /* owned, NULL = "" */
  char *outputs_json;     /* owned JSON array text, NULL = "[]" */
  attempt_t *wprev, *wnext; /* the worker's list of live attempts */
};

typedef enum worker_state {
  WORKER_OFFLINE = 0, /* known from the database, not connected since start */
  WORKER_ONLINE,
  WORKER_DRAINING,    /* finishes what it runs, gets nothing new */
  WORKER_LOST,        /* lease expired */
  WORKER_STATE_COUNT
} worker_state_t;

const char *worker_state_name(worker_state_t s);

typedef struct worker_gpu {
  uint32_t index;
  char *uuid, *model;
  uint64_t memory_mb;
} worker_gpu_t;

/* Messages waiting for a batch to commit before they go to a worker. */
typedef enum out_kind { OUT_WELCOME, OUT_ASSIGN, OUT_CANCEL, OUT_ACK } out_kind_t;
typedef struct out_item {
  uint64_t seq;  /* the batch that must commit first */
  uint8_t kind;  /* out_kind_t */
  uint64_t id;   /* attempt id (unused for WELCOME) */
} out_item_t;

struct worker {
  char *name;
  char *hostname, *version;
  uint8_t ident[CODEC_MAX_IDENT]; /* ZeroMQ routing id of its connection */
  size_t identlen;
  uint64_t ident_key;             /* hash of ident, key in coord->by_ident */
  uint8_t state;                  /* worker_state_t */
  bool persisted, dirty;
  uint32_t cpus;
  uint64_t memory_mb;
  worker_gpu_t *gpus;
  uint32_t ngpus;
  char **tags;
  size_t ntags;
  uint32_t cpus_free;
  uint64_t mem_free;
  uint64_t gpu_busy;              /* bit i: gpus[i] is held */
  uint64_t last_seen_mono;        /* us */
  int64_t last_seen_us;           /* wall clock */
  attempt_t *live;                /* live attempts, linked by wprev/wnext */
  uint32_t nlive;
  out_item_t *out;                /* outbox, in order */
  size_t nout, capout;
  uint64_t *welcome_cancel;       /* for the pending Welcome */
  size_t nwelcome_cancel;
  bool touched;                   /* on coord->touched */
};

/* Settings (coordinator/main.c fills them from the config table). */
typedef struct coord_settings {
  char *db;
  char *bind_workers, *bind_clients;
  char *output_root;
  char *sql_dir;
  long long heartbeat_ms, lease_ms;
  long long log_level;
} coord_settings_t;

typedef struct store store_t;
typedef struct dispatch dispatch_t;

struct coord {
  uv_loop_t *loop;
  coord_settings_t cfg;
  void *zctx;
  void *wsock, *csock;            /* ROUTER sockets: workers, clients */
  struct zwatch *wwatch, *cwatch;
  pgconn_t *wdb;                  /* the writer: batches of state changes */
  pgconn_t *rdb;                  /* the reader: client queries */
  idmap_t jobs;                   /* id -> job_t* */
  idmap_t attempts;               /* id -> attempt_t* (live, or terminal until committed) */
  idmap_t by_ident;               /* hash of routing id -> worker_t* */
  worker_t **workers;             /* every known worker */
  size_t nworkers, capworkers;
  size_t worker_cursor;           /* round-robin start for placement */
  worker_t **touched;             /* workers with outbox items */
  size_t ntouched, captouched;
  uint64_t next_job_id, next_task_id, next_attempt_id;
  store_t *store;
  dispatch_t *dispatch;
  bool dispatch_needed;
  uint64_t started_mono;          /* coordinator start, for reconnect grace */
  uv_prepare_t tick;              /* end-of-iteration work: dispatch, flush */
  uv_timer_t lease_timer;
  uv_timer_t delay_timer;
  uv_signal_t sigterm, sigint;
  bool stopping;
  int exit_code;
};

/* ------------------------------------------------------------ coord.c */

/* Prepares a zeroed c to run on loop: id counters at 1, an empty store and
 * dispatch index, the back-off timer.  Settings (c->cfg) are the caller's. */
void coord_init(coord_t *c, uv_loop_t *loop);

/* Releases every job, task, attempt and worker and the store and dispatch
 * index.  The caller closed the loop's handles (c->delay_timer included)
 * first; c itself stays the caller's. */
void coord_release(coord_t *c);

/* ------------------------------------------------------------ job.c */

/* Creates the jobs of a validated submission with ids allocated here, in
 * state queued with every task ready, marks them new and dirty and hands
 * the ready tasks to dispatch.  Takes ownership of jf.  Returns the number
 * of jobs created; their ids are first_job_id .. first_job_id + n - 1. */
size_t job_create_all(coord_t *c, jobfile_t *jf, const char *actor, uint64_t *first_job_id);

/* Moves job to state `to` if the transition table allows it; stamps
 * started/finished times, logs an event and marks the job dirty.  Returns
 * 0, or -1 (logged) when refused. */
int job_set_state(coord_t *c, job_t *j, job_state_t to, const char *reason);

/* Re-derives the job's state from its task counts (queued -> running,
 * all tasks ended -> succeeded/failed/canceled). */
void job_refresh(coord_t *c, job_t *j);

/* The output directory of a task (caller frees). */
char *job_task_output_dir(const job_t *j, const task_t *t);

/* Releases a job, its tasks and its reference on the submission. */
void job_free(job_t *j);

/* A job's output directory for settings and names (caller frees). */
char *job_output_dir(const coord_t *c, const char *project, const char *episode,
                     const char *shot, const char *name, uint64_t id);

void jfref_release(jfref_t *r);

/* ------------------------------------------------------------ task.c */

/* Moves t to `to` if allowed; keeps its job's counts, marks it dirty and
 * refreshes the job.  Returns 0 or -1 (logged) when refused. */
int task_set_state(coord_t *c, task_t *t, task_state_t to);

/* Handles the end of t's live attempt a (already in its terminal state):
 * success ends the task; failure and time-out count and either retry with
 * back-off or fail the task; lost requeues up to the job's max_lost;
 * canceled requeues unless the job was canceled. */
void task_attempt_ended(coord_t *c, task_t *t, attempt_t *a);

/* ------------------------------------------------------------ attempt.c */

/* A new attempt of t on w holding the given resources, state dispatched,
 * registered in the attempts map and on w's live list. */
attempt_t *attempt_new(coord_t *c, task_t *t, worker_t *w, uint32_t cpus, uint64_t memory_mb,
                       uint64_t gpu_mask);

/* Moves a to `to` if allowed.  A terminal state releases the worker's
 * resources, unlinks a from the worker and the task and stamps ended_us
 * (when unset).  Returns 0 or -1 (logged) when refused. */
int attempt_set_state(coord_t *c, attempt_t *a, attempt_state_t to);

void attempt_free(attempt_t *a);

#endif
