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
 * array; attempts are owned by the attempts map and freed (attempt.c) after
 * their terminal state committed; succeeded and canceled jobs are freed
 * (job.c) after their end committed; workers are owned by the worker list.
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
typedef struct episode episode_t;
typedef struct epq epq_t;
typedef struct limit limit_t; /* limit.h */
typedef struct pool pool_t;   /* limit.h */

#define PRIORITY_LEVELS 101 /* priorities 0..100 */

/* A bulk write pending on a job's rows (store.h): none; its submit (job,
 * dependencies and tasks) on the bulk connection, not committed yet, so
 * it is not dispatched; an update of some of its task rows (a cancel). */
typedef enum job_bulk { JOB_BULK_NONE, JOB_BULK_SUBMIT, JOB_BULK_UPDATE } job_bulk_t;

/* A parsed submission shared by the jobs created from it.  A submission
 * with an idempotency key writes the key, the digest of its file and the
 * job's position in the submission (job id - first_job_id) on each job row
 * (idem.h). */
typedef struct jfref {
  jobfile_t *jf;
  int refs;
  char *idem_key;        /* owned; NULL: none (recovered jobs, retakes) */
  char *idem_digest;     /* owned; with idem_key */
  uint64_t first_job_id; /* with idem_key: the submission's first job */
} jfref_t;

struct task {
  uint64_t id;
  job_t *job;
  uint32_t seq;           /* position within the job */
  uint8_t state;          /* task_state_t */
  bool persisted;         /* its row exists (or is in a batch in flight) */
  bool dirty;             /* on the store's dirty list */
  bool in_fifo;           /* linked on its job's ready FIFO (maybe stale) */
  bool bulk;              /* its row is in a bulk write not committed yet (store.h) */
  uint16_t failures;      /* failed or timed-out attempts */
  uint16_t losses;        /* lost attempts (not the task's fault) */
  uint32_t tries;         /* attempts ever made of it: the last one's try number */
  uint32_t fwait;         /* tasks of frame-wise `after` jobs covering its frames that
                             have not succeeded yet (job.c); it waits while > 0 */
  jf_task_t spec;         /* frames, take, seed */
  attempt_t *live;        /* the live attempt, or NULL */
  task_t *next;           /* ready FIFO link */
  uint64_t not_before;    /* monotonic us; retry backoff */
  int64_t not_before_us;  /* the same in wall-clock time, persisted; 0 = none */
  size_t delay_pos;       /* position in the delayed heap, or HEAP_NONE */
};

/* An episode shares the farm with the others of its priority in
 * proportion to its weight.  Its share is the dominant
 * share of the farm its running attempts hold (the largest of their
 * fractions of the farm's CPUs, memory and GPUs) divided by its weight. */
struct episode {
  char *key;              /* "project/episode", owned */
  uint32_t weight;        /* [1, 1000], default 1 */
  uint64_t held_cpus, held_mem_mb, held_gpus;
  double share;
  epq_t *prio[PRIORITY_LEVELS]; /* its jobs with ready tasks, per priority */
  /* Budget: spent is the ledger's sum; running attempts
   * cost sum_rate micro-units per hour since their starts. */
  int64_t budget_micros;  /* -1: no budget */
  int64_t spent_micros;
  __int128 sum_rate;      /* micros per hour of its started, running attempts */
  __int128 sum_start_rate; /* sum of start_us * rate over the same */
  uint32_t running;       /* how many are in those sums */
  bool over_budget;       /* its not-started work is held */
};

/* The jobs of one episode at one priority that have ready tasks, first
 * submitted first; a member of its priority level's heap while not empty. */
struct epq {
  episode_t *ep;
  int priority;
  heap_t jobs;            /* by job id */
  size_t heap_pos;        /* in the level heap, or HEAP_NONE */
};

/* A worker on which a job failed: after JOB_MAX_WORKER_FAILURES it gets no
 * more tasks of that job. */
#define JOB_MAX_WORKER_FAILURES 3
typedef struct job_bad_worker {
  worker_t *w;
  uint16_t failures;
} job_bad_worker_t;

/* An approval gate of a job: the gate root (the job whose takes, or whose
 * retakes' takes, count) and whether it still waits for an approval. */
typedef struct job_gate {
  uint64_t root;
  bool pending;
} job_gate_t;

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
  uint64_t nattempts;     /* attempts ever made of its tasks (written with its row) */
  uint64_t wall_us;       /* their summed wall time, as ended (written with its row) */
  task_t *ready_head, *ready_tail; /* FIFO of ready tasks (lazy: may hold stale) */
  episode_t *ep;          /* its episode */
  size_t heap_pos;        /* in its epq's job heap, or HEAP_NONE */
  uint64_t *deps;         /* ids of the jobs it runs after (owned) */
  bool *deps_frames;      /* per deps[k]: frame-wise (owned; NULL: none is) */
  size_t ndeps;
  bool deps_new;          /* its job_deps rows are not written yet */
  job_gate_t *gates;      /* its after_approval gates, in file order (owned) */
  size_t ngates, capgates;
  uint32_t gates_pending; /* of those, the ones with no approved take yet */
  char *approved_output;  /* the first approved take's first output, owned; NULL until then */
  uint64_t retake_of;     /* the take this job retakes, 0 if none */
  uint64_t gate_root;     /* the job whose takes it adds to (itself when not a retake) */
  uint32_t deps_pending;  /* of those, the ones not succeeded yet */
  job_t **dependents;     /* jobs waiting for this one (owned array) */
  size_t ndependents, capdependents;
  job_t **fdependents;    /* jobs waiting for this one frame-wise (owned array) */
  size_t nfdependents, capfdependents;
  /* Chains that come back: a job canceled only because a job it runs
   * after failed (or was canceled so, and so on) records that job
   * (canceled_by, persisted) and, while that job may still be retried,
   * stays in memory (cause) on its list of revivable jobs; retrying the
   * failed job revives them (job.c). */
  uint64_t canceled_by;
  job_t *cause;
  job_t **revivable;
  size_t nrevivable, caprevivable;
  job_bad_worker_t *bad;  /* workers it failed on (owned array) */
  size_t nbad, capbad;
  bool retiring;          /* leaves memory once its end committed (job.c) */
  uint8_t bulk;           /* job_bulk_t: a bulk write of its rows is pending (store.h) */
  uint64_t unfit_version; /* farm version of the last "can it ever fit" check */
  bool unfit;             /* reason says why it waits (no worker, a limit): cleared on dispatch */
  limit_t **limits;       /* the limits it requires (owned array; entries are c's) */
  size_t nlimits;
  pool_t *pool;           /* the pool it runs in, or NULL: any worker */
};

struct attempt {
  uint64_t id;            /* the fencing token */
  uint32_t try_no;        /* its task's try: 1, 2, ... ({attempt}) */
  task_t *task;
  worker_t *worker;
  uint8_t state;          /* attempt_state_t */
  bool persisted, dirty;
  uint32_t cpus;
  uint64_t memory_mb;
  uint64_t gpu_mask;      /* bit i: worker->gpus[i] is held */
  int64_t dispatched_us, started_us, ended_us; /* wall clock */
  int64_t recorded_us;    /* when the coordinator learnt it ended */
  uint64_t dispatched_mono;  /* when sent (monotonic us; 0: not yet): the start deadline */
  bool has_exit;
  int32_t exit_code, term_signal;
  uint64_t wall_us, cpu_us, max_rss_kb, gpu_energy_mj;
  char *error;            /* owned, NULL = "" */
  char *outputs_json;     /* owned JSON array text, NULL = "[]" */
  attempt_t *wprev, *wnext; /* the worker's list of live attempts */
  uint64_t log_bytes;     /* log stored so far (up to the cap) */
  uint64_t log_next;      /* the offset the next chunk should start at */
  bool log_truncated;
  int64_t run_rate;       /* micros per hour counted in its episode's running cost, 0 if not */
};

/* One entry of the rate card: the price of a GPU model's hour, of any other
 * GPU's hour, or of a CPU's hour, from a time on. */
typedef enum rate_kind { RATE_GPU_MODEL = 0, RATE_DEFAULT_GPU, RATE_CPU, RATE_KIND_COUNT } rate_kind_t;
typedef struct rate {
  uint8_t kind;           /* rate_kind_t */
  char *gpu_model;        /* for RATE_GPU_MODEL, owned */
  int64_t micros_per_hour;
  int64_t from_us;        /* in force from (wall clock, unix us) */
  char *set_by;           /* owned */
} rate_t;

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
  size_t nwelcome_cancel, capwelcome_cancel;
  uint64_t hello_id;              /* of its latest Hello, echoed by the Welcome */
  bool touched;                   /* on coord->touched */
  bool drained;                   /* by an operator (persisted) */
  bool self_draining;             /* the worker said so (SIGTERM) */
  char *workdir;                  /* where its attempt logs are, or NULL */
  char *degraded;                 /* why the worker says it takes no work, or NULL */
};

/* Settings (coordinator/main.c fills them from the config table). */
typedef struct coord_settings {
  char *db;
  char *bind_workers, *bind_clients;
  char *output_root;
  char *currency;                 /* e.g. "USD": the one currency of every amount */
  char *keys_dir;                 /* CURVE: DIR/coordinator.key; NULL: no authentication */
  char *admin_key;                /* a .pub registered as admin at start, or NULL */
  char *audit_key;                /* the event log's chain key file, or NULL: KEYS/audit.key */
  char *sql_dir;
  long long heartbeat_ms, lease_ms;
  long long log_cap_bytes;        /* attempt log kept in the database */
  long long log_level;
  long long read_connections;     /* the pool of read connections (reads.c) */
  long long client_requests;      /* unanswered requests per client */
  long long read_timeout_ms;      /* a read's deadline */
  long long http_link_ttl_ms;     /* how long a sign-in link works (httpauth.h) */
} coord_settings_t;

typedef struct store store_t;
typedef struct dispatch dispatch_t;
typedef struct review review_t;
typedef struct auth auth_t;
typedef struct reads reads_t;
typedef struct httpauth httpauth_t;

struct coord {
  uv_loop_t *loop;
  coord_settings_t cfg;
  void *zctx;
  void *wsock, *csock;            /* ROUTER sockets: workers, clients */
  struct zwatch *wwatch, *cwatch;
  pgconn_t *wdb;                  /* the writer: batches of state changes */
  pgconn_t *bdb;                  /* the bulk writer: big submits and cancels (store.h) */
  reads_t *reads;                 /* the readers: client queries (reads.c) */
  struct http *http;              /* the HTTP server (http.h), NULL when off */
  struct idem_rec *idem;          /* keyed submissions in progress (idem.h) */
  idmap_t jobs;                   /* id -> job_t* */
  idmap_t attempts;               /* id -> attempt_t* (live, or terminal until committed) */
  idmap_t by_ident;               /* hash of routing id -> worker_t* */
  worker_t **workers;             /* every known worker */
  size_t nworkers, capworkers;
  size_t worker_cursor;           /* round-robin start for placement */
  worker_t **touched;             /* workers with outbox items */
  size_t ntouched, captouched;
  episode_t **episodes;           /* every episode seen */
  size_t nepisodes, capepisodes;
  uint64_t farm_cpus, farm_mem_mb, farm_gpus; /* connected workers' totals */
  uint64_t farm_version;          /* changes when workers come, go or change */
  rate_t *rates;                  /* the rate card, by kind, model and start */
  size_t nrates, caprates;
  uv_timer_t budget_timer;        /* running attempts keep costing */
  uv_timer_t bulk_timer;          /* makes bulk writes' rows a chunk at a time (store.c) */
  uint64_t next_job_id, next_task_id, next_attempt_id;
  store_t *store;
  dispatch_t *dispatch;
  review_t *review;               /* approval gates and decisions (review.c) */
  auth_t *auth;                   /* registry and ZAP handler (auth.c) */
  httpauth_t *httpauth;           /* sign-in links, sessions, API tokens (httpauth.c) */
  limit_t **limits;               /* every limit named so far (limit.h) */
  size_t nlimits, caplimits;
  pool_t **pools;                 /* every pool named so far (limit.h) */
  size_t npools, cappools;
  bool dispatch_needed;
  uint64_t ready_mono;            /* when it began to serve as the leader: workers that
                                     ran attempts reconnect within a lease of it */
  bool grace_over;                /* a lease has passed since ready_mono: a worker still
                                     offline no longer counts as coming back */
  uv_prepare_t tick;              /* end-of-iteration work: dispatch, flush */
  uv_timer_t lease_timer;
  uv_timer_t delay_timer;
  uv_signal_t sigterm, sigint;
  bool stopping;
  int exit_code;
};

/* ------------------------------------------------------------ coord.c */

/* Prepares a zeroed c to run on loop: id counters at 1, an empty store,
 * dispatch index and review state, the worker outbox registered with the
 * store, the back-off and budget timers.  Settings (c->cfg) are the
 * caller's. */
void coord_init(coord_t *c, uv_loop_t *loop);

/* Closes the timers coord_init started (their memory is c's). */
void coord_close_timers(coord_t *c);

/* Releases every job, task, attempt and worker, the store, the dispatch
 * index and the review state.  The caller closed the loop's handles
 * (c->delay_timer included) first; c itself stays the caller's. */
void coord_release(coord_t *c);

/* ------------------------------------------------------------ job.c */

/* The state of a job that is no longer in memory (finished), as read
 * from the database, for `after` entries naming it. */
typedef struct dep_state {
  uint64_t id;
  job_state_t state;
  uint64_t gate_root;          /* the job whose takes count for it (itself if not a retake) */
  const char *approved_output; /* the first output of its root's first approved take, or NULL */
  bool has_frames;             /* its job file gave it frames */
} dep_state_t;

/* A new job in memory, registered in c->jobs: id, its spec (spec points
 * into src->jf; the job holds a reference on src), project and episode
 * names (point into src->jf), its episode ep (dispatch_episode), and
 * ntasks tasks with ids first_task_id, first_task_id + 1, ... in order,
 * each linked to the job, not in any index, with no state counted yet.
 * Submission and recovery fill in the rest. */
job_t *job_new(coord_t *c, uint64_t id, jfref_t *src, jf_job_t *spec, episode_t *ep,
               uint32_t ntasks, uint64_t first_task_id);

/* Creates the jobs of a validated submission with ids allocated here.  A
 * job whose dependencies (`after`: jobs of the file, or jobs by id in
 * memory or listed in ext) all succeeded is queued with every task ready;
 * one with a dependency still to finish waits; one with a failed or
 * canceled dependency is canceled.  `after_approval` dependencies by id
 * must be listed in ext (whether a take of theirs is approved is in the
 * database).  Marks everything new and dirty and hands ready tasks to
 * dispatch.  Takes ownership of jf.  Returns the number of jobs created;
 * their ids are first_job_id, first_job_id + 1, ... */
size_t job_create_all(coord_t *c, jobfile_t *jf, const char *actor, const dep_state_t *ext,
                      size_t next, uint64_t *first_job_id);

/* job_create_all for a submission with an idempotency key: key and digest
 * (copied) go on every job row, with the job's position (idem.h). */
size_t job_create_keyed(coord_t *c, jobfile_t *jf, const char *actor, const dep_state_t *ext,
                        size_t next, const char *key, const char *digest,
                        uint64_t *first_job_id);

/* Moves job to state `to` if the transition table allows it; stamps
 * started/finished times, logs an event, marks the job dirty and tells its
 * dependents when it finished.  Returns 0, or -1 (logged) when refused. */
int job_set_state(coord_t *c, job_t *j, job_state_t to, const char *reason);

/* What an operator may do to a job. */
typedef enum job_action { JOB_ACT_CANCEL, JOB_ACT_PAUSE, JOB_ACT_RESUME, JOB_ACT_RETRY } job_action_t;

/* Whether j's state allows act: 0, or -1 with a one-line reason in err. */
int job_check(const job_t *j, job_action_t act, char *err, size_t errlen);

/* Operator actions.  Each returns 0, or -1 with a one-line reason in err
 * when the job's state does not allow it (nothing is changed then).
 * cancel: nothing more starts, live attempts are stopped on their workers,
 *   dependents are canceled;
 * pause: nothing more starts, running tasks finish;
 * resume: undoes pause;
 * retry: the failed tasks run again with a fresh attempt budget
 *   (*retried = how many). */
int job_cancel(coord_t *c, job_t *j, const char *actor, const char *why, char *err,
               size_t errlen);
int job_pause(coord_t *c, job_t *j, const char *actor, char *err, size_t errlen);
int job_resume(coord_t *c, job_t *j, const char *actor, char *err, size_t errlen);
int job_retry(coord_t *c, job_t *j, const char *actor, uint32_t *retried, char *err,
              size_t errlen);

/* Budget: hold j (nothing new starts: waiting, queued or running jobs
 * become held, ready tasks held) or release it. */
void job_hold(coord_t *c, job_t *j, const char *reason);
void job_release(coord_t *c, job_t *j);

/* The state a task of j goes back to when it must run again: ready, or
 * paused / held when its job is. */
task_state_t job_requeue_state(const job_t *j);

/* Counts a failed attempt of j on w. */
void job_worker_failed(job_t *j, worker_t *w);
/* True when w failed j JOB_MAX_WORKER_FAILURES times. */
bool job_worker_excluded(const job_t *j, const worker_t *w);

/* Links j after the unfinished job dep (recovery). */
void job_add_dependent(job_t *dep, job_t *j);

/* Adds an after_approval gate on root to j: met when approved is the
 * first output of an approved take (the first gate's becomes j's
 * {approved_output}), else pending (j waits, review.c tells it). */
void job_add_gate(coord_t *c, job_t *j, uint64_t root, const char *approved);

/* Links j after the unfinished job dep frame by frame: each task of j
 * waits for the tasks of dep whose frame ranges meet its own (recovery
 * and submit). */
void job_add_frame_dependent(job_t *dep, job_t *j);

/* The tasks of j that wait only for frame-wise dependencies already met
 * become ready (recovery, after job_add_frame_dependent). */
void job_frames_settled(coord_t *c, job_t *j);

/* t of a job others run after frame-wise succeeded: their tasks whose
 * frames it covered may become ready (task.c). */
void job_frames_task_succeeded(coord_t *c, task_t *t);

/* j, canceled because of cause (failed, or canceled so), stays in memory
 * and comes back when cause is retried (recovery). */
void job_add_revivable(job_t *cause, job_t *j);

/* The jobs an operator action changed besides those it named (cancel:
 * the dependents canceled with them; retry: the jobs revived): collected
 * between begin and end (the array is the caller's to free). */
void job_changes_begin(void);
job_t **job_changes_end(size_t *n);

/* A waiting j whose dependencies all succeeded moves on (recovery). */
void job_deps_settled(coord_t *c, job_t *j);

/* The same, after one of its approval gates was met. */
void job_gates_settled(coord_t *c, job_t *j);

/* Re-derives the job's state from its task counts (queued -> running,
 * all tasks ended -> succeeded/failed/canceled). */
void job_refresh(coord_t *c, job_t *j);

/* The output directory of a task (caller frees). */
char *job_task_output_dir(const job_t *j, const task_t *t);

/* Releases a job, its tasks and its reference on the submission (no
 * index may hold it any more: see job retirement in job.c). */
void job_free(job_t *j);

/* A job's output directory for settings and names (caller frees). */
char *job_output_dir(const coord_t *c, const char *project, const char *episode,
                     const char *shot, const char *name, uint64_t id);

/* A submission's parse, shared by its jobs (takes ownership of jf; no
 * references until job_new takes them); jfref_release drops one and
 * frees the parse with the last. */
jfref_t *jfref_new(jobfile_t *jf);
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
 * resources, unlinks a from the worker's list and the task (a->worker
 * stays), stamps ended_us (when unset), writes its ledger row, and frees a
 * once that batch committed.  Returns 0 or -1 (logged) when refused. */
int attempt_set_state(coord_t *c, attempt_t *a, attempt_state_t to);

/* Releases a (no index may hold it any more). */
void attempt_free(attempt_t *a);

#endif
