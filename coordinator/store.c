/*
 * store.c - group commit of dirty entities, see store.h.
 *
 * A batch is one pgq: per-row data travels as PostgreSQL array literals
 * (one per column) and is expanded with unnest, so the number of
 * statements does not grow with the number of rows.  Each statement's
 * columns are an enum below, in the order of its $n parameters, and one
 * function per entity fills one row.  Order inside the batch respects the
 * constraints: projects, episodes and shots before jobs, workers before
 * attempts, tasks before attempts, and attempt updates (live -> ended)
 * before attempt inserts, so that the "one live attempt per task" index
 * never sees two.
 *
 * The store knows the entities' fields (model.h) but none of the modules
 * that change them: what must happen after a commit is what those modules
 * registered (store_on_commit, store_listen).
 */
#include "store.h"

#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input.h"
#include "log.h"

/* ------------------------------------------------------------ array literals */

/* One column of a batch as a PostgreSQL array literal "{1,2,NULL}"; n is
 * its number of rows. */
typedef struct col {
  sbuf_t b;
  size_t n;
} col_t;

static void col_sep(col_t *c) { sbuf_putc(&c->b, c->n++ ? ',' : '{'); }

static void col_i64(col_t *c, int64_t v) {
  char tmp[24], *p = tmp + sizeof tmp;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    *--p = '-';
  col_sep(c);
  sbuf_append(&c->b, p, (size_t)(tmp + sizeof tmp - p));
}

static void col_null(col_t *c) {
  col_sep(c);
  sbuf_append(&c->b, "NULL", 4);
}

/* A time in unix microseconds, 0 meaning unset. */
static void col_us(col_t *c, int64_t us) {
  if (us)
    col_i64(c, us);
  else
    col_null(c);
}

static void col_bool(col_t *c, bool v) {
  col_sep(c);
  sbuf_putc(&c->b, v ? 't' : 'f');
}

/* Text, quoted for an array literal; NULL is stored as "". */
static void col_text(col_t *c, const char *s) {
  col_sep(c);
  sbuf_putc(&c->b, '"');
  for (const char *p = s ? s : ""; *p; p++) {
    if (*p == '"' || *p == '\\')
      sbuf_putc(&c->b, '\\');
    sbuf_putc(&c->b, *p);
  }
  sbuf_putc(&c->b, '"');
}

/* Text, or SQL NULL when s is NULL. */
static void col_text_or_null(col_t *c, const char *s) {
  if (s)
    col_text(c, s);
  else
    col_null(c);
}

/* bytea in hex, quoted for an array literal: "\\x0a1b..." */
static void col_bytea(col_t *c, const uint8_t *data, size_t len) {
  static const char hex[] = "0123456789abcdef";
  col_sep(c);
  sbuf_reserve(&c->b, 2 * len + 6);
  sbuf_append(&c->b, "\"\\\\x", 4);
  for (size_t i = 0; i < len; i++) {
    char two[2] = {hex[data[i] >> 4], hex[data[i] & 15]};
    sbuf_append(&c->b, two, 2);
  }
  sbuf_putc(&c->b, '"');
}

/* The literal; the caller owns it, c is empty again. */
static char *col_end(col_t *c) {
  if (!c->n)
    sbuf_putc(&c->b, '{');
  sbuf_putc(&c->b, '}');
  c->n = 0;
  return sbuf_steal(&c->b);
}

/* Where each of the rows elements of literal lit (as the col_ functions
 * write them: unquoted tokens, or quoted text with \" and \\ escapes)
 * begins; the caller frees the array.  Only a failed batch needs this. */
static size_t *col_offsets(const char *lit, size_t rows) {
  size_t *offs = xcalloc(rows ? rows : 1, sizeof *offs);
  size_t i = 1; /* past '{' */
  for (size_t n = 0; n < rows && lit[i]; n++) {
    offs[n] = i;
    if (lit[i] == '"') {
      for (i++; lit[i] && lit[i] != '"'; i++)
        if (lit[i] == '\\' && lit[i + 1])
          i++;
      if (lit[i])
        i++;
    } else {
      while (lit[i] && lit[i] != ',' && lit[i] != '}')
        i++;
    }
    if (lit[i])
      i++; /* the ',' or the '}' */
  }
  return offs;
}

/* ------------------------------------------------------------ columns */

/* The parameters of each statement, in $n order. */
enum job_update_col {
  JU_ID,
  JU_STATE,
  JU_COUNTS,
  JU_REASON,
  JU_STARTED,
  JU_FINISHED,
  JU_APPROVED,
  JU_ATTEMPTS,
  JU_WALL,
  JU_CANCELED_BY,
  JU_NCOLS
};
enum job_dep_col { JD_JOB, JD_ON, JD_KIND, JD_NCOLS };
enum task_insert_col {
  TI_ID,
  TI_JOB,
  TI_SEQ,
  TI_STATE,
  TI_FRAME_START,
  TI_FRAME_END,
  TI_FRAME_STEP,
  TI_TAKE,
  TI_SEED,
  TI_FAILURES,
  TI_LOSSES,
  TI_NOT_BEFORE,
  TI_TRIES,
  TI_NCOLS
};
enum task_update_col { TU_ID, TU_STATE, TU_FAILURES, TU_LOSSES, TU_NOT_BEFORE, TU_TRIES, TU_NCOLS };
/* What both attempt statements write, after their own leading columns. */
enum attempt_col {
  AC_STARTED,
  AC_ENDED,
  AC_EXIT_CODE,
  AC_TERM_SIGNAL,
  AC_WALL,
  AC_CPU,
  AC_RSS,
  AC_ENERGY,
  AC_ERROR,
  AC_OUTPUTS,
  AC_LOG_BYTES,
  AC_LOG_TRUNCATED,
  AC_RECORDED,
  AC_NCOLS
};
enum attempt_update_col { AU_ID, AU_STATE, AU_COMMON, AU_NCOLS = AU_COMMON + AC_NCOLS };
enum attempt_insert_col {
  AI_ID,
  AI_TASK,
  AI_WORKER,
  AI_STATE,
  AI_GPUS,
  AI_CPUS,
  AI_MEMORY,
  AI_DISPATCHED,
  AI_COMMON,
  AI_TRY = AI_COMMON + AC_NCOLS,
  AI_NCOLS
};
enum ledger_col {
  LG_ATTEMPT,
  LG_JOB,
  LG_STATE,
  LG_STARTED,
  LG_ENDED,
  LG_WALL,
  LG_GPUS,
  LG_CPUS,
  LG_MODELS,
  LG_GPU_RATE,
  LG_CPU_RATE,
  LG_AMOUNT,
  LG_ENERGY,
  LG_NCOLS
};
enum log_col { LOG_ATTEMPT, LOG_POS, LOG_DATA, LOG_NCOLS };
enum event_col {
  EV_AT,
  EV_ACTOR,
  EV_KIND,
  EV_STYPE,
  EV_SID,
  EV_DETAILS,
  EV_SEQ,
  EV_CHAIN,
  EV_PREV,
  EV_HASH,
  EV_NCOLS
};
/* Single-row statements: their parameters. */
enum job_insert_param {
  JI_PROJECT,
  JI_EPISODE,
  JI_ID,
  JI_SHOT,
  JI_NAME,
  JI_KIND,
  JI_STATE,
  JI_PRIORITY,
  JI_MAX_ATTEMPTS,
  JI_MAX_LOST,
  JI_BACKOFF,
  JI_TIMEOUT,
  JI_SEED,
  JI_REQUIRES,
  JI_PROVENANCE,
  JI_SPEC,
  JI_OUTPUT_DIR,
  JI_NTASKS,
  JI_COUNTS,
  JI_REASON,
  JI_SUBMITTED_BY,
  JI_SUBMITTED,
  JI_STARTED,
  JI_FINISHED,
  JI_RETAKE_OF,
  JI_GATE_ROOT,
  JI_APPROVED,
  JI_ATTEMPTS,
  JI_WALL,
  JI_IDEM_KEY,
  JI_IDEM_DIGEST,
  JI_IDEM_SEQ,
  JI_CANCELED_BY,
  JI_NPARAMS
};
enum worker_param {
  WK_NAME,
  WK_HOST,
  WK_STATE,
  WK_CPUS,
  WK_MEMORY,
  WK_GPUS,
  WK_TAGS,
  WK_VERSION,
  WK_LAST_SEEN,
  WK_DRAINED,
  WK_NPARAMS
};

/* ------------------------------------------------------------ the store */

typedef struct action {
  store_commit_fn fn;
  void *arg;
  uint64_t change; /* the change that registered it, 0 for none */
  char *refused;   /* held for a bulk write: why its batch refused the change (owned) */
} action_t;

typedef struct listener {
  store_listener_fn fn;
  void *arg;
} listener_t;

/* A one-off statement (store_stmt). */
typedef struct extra {
  const char *name, *sql;
  int nparams;
  char **params; /* owned */
  uint64_t change;
} extra_t;

/* The change of each row of an append-only column set (events, ledger,
 * log pieces), in row order. */
typedef struct tagv {
  uint64_t *v;
  size_t n, cap;
} tagv_t;

/* An entity a change marked dirty (only changes, not the coordinator's own
 * decisions, are recorded). */
typedef struct touch {
  const void *ent;
  uint64_t change;
} touch_t;

/* What a statement writes; for a refused row, what to undo. */
typedef enum unit_kind {
  U_JOB_INSERT, /* and its project, episode and shot */
  U_JOB_UPDATE,
  U_DEPS,
  U_WORKER,
  U_TASK_INSERT,
  U_TASK_UPDATE,
  U_ATTEMPT_UPDATE,
  U_ATTEMPT_INSERT,
  U_APPEND, /* ledger, log pieces, events, one-off statements */
} unit_kind_t;

/* One statement of a batch, kept until the batch committed, so that a
 * failed batch can be tried again row by row. */
typedef struct unit {
  const char *name, *sql;
  int nparams;
  char **params;     /* NULL entries are SQL NULL */
  bool owned;        /* params are ours (a replay copied them), not the pgq's */
  size_t rows;       /* array elements, or 1 for a single-row statement */
  bool multi;        /* each parameter an array literal of rows elements */
  size_t **offs;     /* per parameter, where each element begins (a replay's) */
  const void **ents; /* per row, the entity written (NULL for appended rows) */
  uint64_t *tags;    /* per row, the change that queued it (0: none) */
  unit_kind_t kind;
} unit_t;

/* A change the database refused part of, and the first reason. */
typedef struct refusal {
  uint64_t change;
  char *reason;
} refusal_t;

/* Rows [lo, hi) of a unit. */
typedef struct range {
  size_t lo, hi;
} range_t;

/* An event kept for the tap until its batch committed. */
typedef struct tapped {
  store_tapped_t ev; /* its texts owned */
} tapped_t;

typedef struct tapv {
  tapped_t *v;
  size_t n, cap;
} tapv_t;

typedef struct tap {
  store_tap_fn fn;
  void *arg;
} tap_t;

typedef struct batch {
  uint64_t seq;
  tapv_t tapped; /* its events, for the tap */
  evchain_head_t chain; /* the event log's head once it committed */
  action_t *actions;
  size_t nactions;
  size_t rows;
  unit_t *units;
  size_t nunits, capunits;
  touch_t *touches;
  size_t ntouches;
  bool touches_sorted; /* by entity, once a row was refused */
  /* Replaying a failed batch: the unit tried (next_unit - 1), the row
   * ranges of it still to try (a stack), the range in flight. */
  size_t next_unit;
  range_t *ranges;
  size_t nranges, capranges;
  size_t lo, hi;
  bool savepoint;
  size_t tries; /* statements tried so far */
  char *error;  /* of the range in flight */
  refusal_t *refused;
  size_t nrefused, caprefused;
  size_t refused_rows;
} batch_t;

/* A bulk write (store.h): statements on the bulk connection, sent once
 * batch `after` committed. */
typedef struct bulk {
  struct bulk *next;
  store_t *store;
  uint64_t change; /* its change: commit actions wait for it */
  uint64_t after;  /* the batch accumulating when it was made */
  bool sent;
  const char *kind; /* "submit", or the update's (a literal) */
  job_t **jobs;     /* a submit: the jobs written (owned array) */
  size_t njobs;
  job_t *job; /* an update: the job whose task rows it writes */
  task_t **tasks;
  size_t ntasks, captasks;
  batch_t *places; /* a submit's projects, episodes and shots (committed first) */
  batch_t *rows;
  size_t nrows;
  size_t next_job;   /* the task rows made so far: of jobs[next_job], up to next_task; */
  uint32_t next_task; /* of an update, tasks[0..next_task) */
  bool made;          /* every statement is made */
  uint64_t t0;    /* monotonic us when sent */
  uint64_t build_us; /* how long making its statements took */
  store_commit_fn done;
  void *arg;
} bulk_t;

struct store {
  coord_t *c;
  uint64_t seq; /* batch accumulating */
  bool pending; /* something waits for a batch */
  job_t **jobs; /* dirty entities */
  size_t njobs, capjobs;
  task_t **tasks;
  size_t ntasks, captasks;
  attempt_t **attempts;
  size_t nattempts, capattempts;
  worker_t **workers;
  size_t nworkers, capworkers;
  col_t ledger[LG_NCOLS]; /* rows that accumulate between batches */
  col_t logs[LOG_NCOLS];
  col_t events[EV_NCOLS];
  tagv_t ledger_tags, logs_tags, events_tags;
  extra_t *extras;
  size_t nextras, capextras;
  action_t *actions; /* for the batch accumulating */
  size_t nactions, capactions;
  touch_t *touches;
  size_t ntouches, captouches;
  listener_t *listeners; /* after every batch */
  size_t nlisteners, caplisteners;
  tap_t *taps; /* the event tap (store_tap) */
  size_t ntaps, captaps;
  tapv_t tapped; /* events of the batch accumulating, for the tap */
  batch_t *inflight;
  uint64_t committed_seq;        /* the last batch that committed */
  bulk_t *bulks, **bulks_tail;   /* bulk writes queued or in flight, in order */
  bulk_t *gathering;             /* the update between store_bulk_begin and _end */
  action_t *held;                /* commit actions waiting for their change's bulk writes */
  size_t nheld, capheld;
  uint64_t change, last_change; /* the change now queuing, the last one begun */
  const char *refusing;         /* during a commit action: why its change was refused */
  store_stats_t stats;
  evchain_key_t chain_key; /* the event log's chain (evchain.h) */
  bool chain_keyed;
  evchain_head_t chain, committed; /* its head as queued, as committed */
};

store_t *store_new(coord_t *c) {
  store_t *s = xcalloc(1, sizeof *s);
  s->c = c;
  s->seq = 1;
  s->bulks_tail = &s->bulks;
  return s;
}

static void unit_free(unit_t *u) {
  for (int k = 0; k < u->nparams; k++) {
    if (u->owned)
      free(u->params[k]);
    if (u->offs)
      free(u->offs[k]);
  }
  free(u->params);
  free(u->offs);
  free(u->ents);
  free(u->tags);
}

static void tapv_free(tapv_t *t) {
  for (size_t i = 0; i < t->n; i++) {
    store_tapped_t *e = &t->v[i].ev;
    free((char *)e->actor);
    free((char *)e->kind);
    free((char *)e->subject_type);
    free((char *)e->subject_id);
    free((char *)e->details);
  }
  free(t->v);
  *t = (tapv_t){0};
}

static void batch_free(batch_t **bp) {
  batch_t *b = *bp;
  if (!b)
    return;
  *bp = NULL;
  tapv_free(&b->tapped);
  for (size_t i = 0; i < b->nunits; i++)
    unit_free(&b->units[i]);
  free(b->units);
  for (size_t i = 0; i < b->nactions; i++)
    free(b->actions[i].refused);
  free(b->actions);
  free(b->touches);
  free(b->ranges);
  free(b->error);
  for (size_t i = 0; i < b->nrefused; i++)
    free(b->refused[i].reason);
  free(b->refused);
  free(b);
}

static void bulk_free(bulk_t *k) {
  if (!k)
    return;
  free(k->jobs);
  free(k->tasks);
  batch_free(&k->places);
  batch_free(&k->rows);
  free(k);
}

static void cols_free(col_t *cols, size_t n) {
  for (size_t k = 0; k < n; k++)
    sbuf_free(&cols[k].b);
}

void store_free(store_t **sp) {
  store_t *s = *sp;
  if (!s)
    return;
  *sp = NULL;
  free(s->jobs);
  free(s->tasks);
  free(s->attempts);
  free(s->workers);
  cols_free(s->ledger, LG_NCOLS);
  cols_free(s->logs, LOG_NCOLS);
  cols_free(s->events, EV_NCOLS);
  for (size_t i = 0; i < s->nextras; i++) {
    for (int k = 0; k < s->extras[i].nparams; k++)
      free(s->extras[i].params[k]);
    free(s->extras[i].params);
  }
  free(s->extras);
  for (bulk_t *k = s->bulks, *next; k; k = next) {
    next = k->next;
    bulk_free(k);
  }
  bulk_free(s->gathering);
  for (size_t i = 0; i < s->nheld; i++)
    free(s->held[i].refused);
  free(s->held);
  for (size_t i = 0; i < s->nactions; i++)
    free(s->actions[i].refused);
  free(s->actions);
  free(s->listeners);
  free(s->taps);
  tapv_free(&s->tapped);
  sodium_memzero(&s->chain_key, sizeof s->chain_key);
  free(s->touches);
  free(s->ledger_tags.v);
  free(s->logs_tags.v);
  free(s->events_tags.v);
  batch_free(&s->inflight);
  free(s);
}

/* store_job, store_task, store_attempt, store_worker: an entity is put on
 * its dirty list once; the next batch writes its state then. */
#define STORE_DIRTY(fn, type, list)                                                                \
  static void fn(coord_t *c, type *e) {                                                            \
    store_t *s = c->store;                                                                         \
    s->pending = true;                                                                             \
    if (s->change)                                                                                 \
      ARRAY_PUSH(s->touches, s->ntouches, s->captouches, ((touch_t){e, s->change}));               \
    if (!e->dirty) {                                                                               \
      e->dirty = true;                                                                             \
      ARRAY_PUSH(s->list, s->n##list, s->cap##list, e);                                            \
    }                                                                                              \
  }
STORE_DIRTY(dirty_job, job_t, jobs)
STORE_DIRTY(dirty_task, task_t, tasks)
STORE_DIRTY(dirty_attempt, attempt_t, attempts)
STORE_DIRTY(dirty_worker, worker_t, workers)

/* The rows of a job being submitted in bulk, and of tasks in a bulk
 * update, are not written by batches until that bulk write committed: they
 * are only marked dirty (changed since the bulk write was made) and put on
 * the dirty lists then (bulk_finish). */
void store_job(coord_t *c, job_t *j) {
  if (j->bulk == JOB_BULK_SUBMIT)
    j->dirty = true;
  else
    dirty_job(c, j);
}

void store_task(coord_t *c, task_t *t) {
  bulk_t *g = c->store->gathering;
  if (t->bulk || t->job->bulk == JOB_BULK_SUBMIT) {
    t->dirty = true;
  } else if (g && t->job == g->job && t->persisted && !t->dirty) {
    t->bulk = true; /* its row goes in the bulk update being gathered */
    ARRAY_PUSH(g->tasks, g->ntasks, g->captasks, t);
  } else {
    dirty_task(c, t);
  }
}

void store_attempt(coord_t *c, attempt_t *a) { dirty_attempt(c, a); }
void store_worker(coord_t *c, worker_t *w) { dirty_worker(c, w); }

void store_ledger(coord_t *c, const attempt_t *a, uint64_t wall_us, const char *gpu_models,
                  int64_t gpu_rate, int64_t cpu_rate, int64_t amount) {
  col_t *x = c->store->ledger;
  col_i64(&x[LG_ATTEMPT], (int64_t)a->id);
  col_i64(&x[LG_JOB], (int64_t)a->task->job->id);
  col_text(&x[LG_STATE], attempt_state_name((attempt_state_t)a->state));
  col_us(&x[LG_STARTED], a->started_us);
  col_i64(&x[LG_ENDED], a->ended_us);
  col_i64(&x[LG_WALL], (int64_t)wall_us);
  col_i64(&x[LG_GPUS], __builtin_popcountll(a->gpu_mask));
  col_i64(&x[LG_CPUS], a->cpus);
  col_text(&x[LG_MODELS], gpu_models);
  col_i64(&x[LG_GPU_RATE], gpu_rate);
  col_i64(&x[LG_CPU_RATE], cpu_rate);
  col_i64(&x[LG_AMOUNT], amount);
  col_i64(&x[LG_ENERGY], (int64_t)(a->gpu_energy_mj > INT64_MAX ? 0 : a->gpu_energy_mj));
  tagv_t *t = &c->store->ledger_tags;
  ARRAY_PUSH(t->v, t->n, t->cap, c->store->change);
  c->store->pending = true;
}

void store_log(coord_t *c, uint64_t attempt_id, uint64_t pos, const uint8_t *data, size_t len) {
  col_t *x = c->store->logs;
  col_i64(&x[LOG_ATTEMPT], (int64_t)attempt_id);
  col_i64(&x[LOG_POS], (int64_t)pos);
  col_bytea(&x[LOG_DATA], data, len);
  tagv_t *t = &c->store->logs_tags;
  ARRAY_PUSH(t->v, t->n, t->cap, c->store->change);
  c->store->pending = true;
}

void store_event(coord_t *c, const char *actor, const char *kind, const char *subject_type,
                 const char *subject_id, const char *details_json) {
  store_t *s = c->store;
  col_t *x = s->events;
  /* An event is hashed into the chain now, so it must be a row the
   * database accepts: its texts are cleaned (checked at the edge already;
   * this keeps a fault from breaking the chain), its details canonical. */
  char *details = evchain_canon_json(details_json ? details_json : "{}");
  char *cactor = actor ? input_clean(actor, INPUT_NAME_MAX) : NULL;
  char *ckind = kind ? input_clean(kind, INPUT_NAME_MAX) : NULL;
  char *cstype = subject_type ? input_clean(subject_type, INPUT_NAME_MAX) : NULL;
  char *csid = subject_id ? input_clean(subject_id, INPUT_NAME_MAX) : NULL;
  actor = cactor;
  kind = ckind;
  subject_type = cstype;
  subject_id = csid;
  evchain_event_t e = {.seq = s->chain.seq + 1, .at_us = util_wall_us(), .actor = actor,
                       .kind = kind, .subject_type = subject_type, .subject_id = subject_id,
                       .details = details, .prev = s->chain.hash, .prevlen = s->chain.len};
  uint8_t hash[EVCHAIN_HASH_BYTES];
  evchain_hash(s->chain_keyed ? &s->chain_key : NULL, &e, hash);
  col_i64(&x[EV_AT], e.at_us);
  col_text(&x[EV_ACTOR], actor);
  col_text(&x[EV_KIND], kind);
  col_text(&x[EV_STYPE], subject_type);
  col_text(&x[EV_SID], subject_id);
  col_text(&x[EV_DETAILS], details);
  col_i64(&x[EV_SEQ], e.seq);
  col_text(&x[EV_CHAIN], s->chain_keyed ? "hmac-sha256" : "sha256");
  col_bytea(&x[EV_PREV], e.prev, e.prevlen);
  col_bytea(&x[EV_HASH], hash, sizeof hash);
  if (s->ntaps) {
    tapped_t tp = {.ev = {.seq = e.seq, .at_us = e.at_us, .actor = xstrdup(actor ? actor : ""),
                          .kind = xstrdup(kind ? kind : ""),
                          .subject_type = xstrdup(subject_type ? subject_type : ""),
                          .subject_id = xstrdup(subject_id ? subject_id : ""),
                          .details = details}};
    details = NULL;
    ARRAY_PUSH(s->tapped.v, s->tapped.n, s->tapped.cap, tp);
  }
  free(details);
  free(cactor);
  free(ckind);
  free(cstype);
  free(csid);
  s->chain.seq = e.seq;
  memcpy(s->chain.hash, hash, sizeof hash);
  s->chain.len = sizeof hash;
  tagv_t *t = &s->events_tags;
  ARRAY_PUSH(t->v, t->n, t->cap, s->change);
  s->pending = true;
}

void store_chain_start(coord_t *c, const evchain_key_t *key, const evchain_head_t *head) {
  store_t *s = c->store;
  s->chain_keyed = key != NULL;
  if (key)
    s->chain_key = *key;
  s->chain = s->committed = *head;
}

evchain_head_t store_chain_head(const coord_t *c) { return c->store->committed; }

const evchain_key_t *store_chain_key(const coord_t *c) {
  return c->store->chain_keyed ? &c->store->chain_key : NULL;
}

/* ------------------------------------------------------------ statements */

static const char SQL_PROJECT[] =
    "INSERT INTO projects (name) VALUES ($1) ON CONFLICT (name) DO NOTHING";
static const char SQL_EPISODE[] =
    "INSERT INTO episodes (project_id, name) SELECT id, $2 FROM projects WHERE name = $1 "
    "ON CONFLICT (project_id, name) DO NOTHING";
static const char SQL_SHOT[] =
    "INSERT INTO shots (episode_id, name) SELECT e.id, $3 FROM episodes e "
    "JOIN projects p ON p.id = e.project_id WHERE p.name = $1 AND e.name = $2 "
    "ON CONFLICT (episode_id, name) DO NOTHING";
static const char SQL_JOB_INSERT[] =
    "INSERT INTO jobs (id, episode_id, shot_id, name, kind, state, priority, max_attempts, "
    "max_lost, retry_backoff_s, timeout_s, seed, requires, provenance, spec, output_dir, "
    "ntasks, task_counts, reason, submitted_by, submitted_at, started_at, finished_at, "
    "retake_of, gate_root, approved_output, attempts, wall_us, idempotency_key, "
    "submission_digest, submission_seq, canceled_by) "
    "SELECT $3, e.id, (SELECT s.id FROM shots s WHERE s.episode_id = e.id AND s.name = $4), "
    "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb, $15::jsonb, $16::jsonb, $17, $18, "
    "$19::jsonb, $20, $21, clapper_ts($22), clapper_ts($23), clapper_ts($24), $25, $26, $27, $28, "
    "$29, "
    "$30, $31, $32, $33 "
    "FROM episodes e JOIN projects p ON p.id = e.project_id WHERE p.name = $1 AND e.name = $2";
static const char SQL_JOB_UPDATE[] =
    "UPDATE jobs j SET state = u.state, task_counts = u.counts::jsonb, reason = u.reason, "
    "started_at = clapper_ts(u.started), finished_at = clapper_ts(u.finished), "
    "approved_output = u.approved, attempts = u.attempts, wall_us = u.wall, "
    "canceled_by = u.canceled_by, updated_at = now() "
    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], "
    "$6::bigint[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[]) "
    "AS u(id, state, counts, reason, started, finished, approved, attempts, wall, canceled_by) "
    "WHERE j.id = u.id";
static const char SQL_WORKER_UPSERT[] =
    "INSERT INTO workers (name, hostname, state, cpus, memory_mb, gpus, tags, version, "
    "last_seen, drained) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::text[], $8, "
    "clapper_ts($9), $10) "
    "ON CONFLICT (name) DO UPDATE SET hostname = EXCLUDED.hostname, state = EXCLUDED.state, "
    "cpus = EXCLUDED.cpus, memory_mb = EXCLUDED.memory_mb, gpus = EXCLUDED.gpus, "
    "tags = EXCLUDED.tags, version = EXCLUDED.version, last_seen = EXCLUDED.last_seen, "
    "drained = EXCLUDED.drained";
static const char SQL_TASK_INSERT[] =
    "INSERT INTO tasks (id, job_id, seq, state, frame_start, frame_end, frame_step, take, "
    "seed, failures, losses, not_before, tries) "
    "SELECT u.id, u.job_id, u.seq, u.state, u.fs, u.fe, u.step, u.take, u.seed, u.failures, "
    "u.losses, clapper_ts(u.nb), u.tries "
    "FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::bigint[], "
    "$6::bigint[], $7::bigint[], $8::int[], $9::bigint[], $10::int[], $11::int[], "
    "$12::bigint[], $13::int[]) AS u(id, job_id, seq, state, fs, fe, step, take, seed, failures, "
    "losses, nb, tries)";
static const char SQL_TASK_UPDATE[] =
    "UPDATE tasks t SET state = u.state, failures = u.failures, losses = u.losses, "
    "not_before = clapper_ts(u.nb), tries = greatest(t.tries, u.tries), updated_at = now() "
    "FROM unnest($1::bigint[], $2::text[], $3::int[], $4::int[], $5::bigint[], $6::int[]) "
    "AS u(id, state, failures, losses, nb, tries) WHERE t.id = u.id";
static const char SQL_ATTEMPT_UPDATE[] =
    "UPDATE attempts a SET state = u.state, started_at = clapper_ts(u.started), "
    "ended_at = clapper_ts(u.ended), exit_code = u.exit_code, term_signal = u.term_signal, "
    "wall_us = u.wall_us, cpu_us = u.cpu_us, max_rss_kb = u.rss, gpu_energy_mj = u.energy, "
    "error = u.error, outputs = u.outputs::jsonb, log_bytes = u.log_bytes, "
    "log_truncated = u.log_truncated, recorded_at = clapper_ts(u.recorded) "
    "FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], $6::int[], "
    "$7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[], "
    "$13::bigint[], $14::boolean[], $15::bigint[]) "
    "AS u(id, state, started, ended, exit_code, term_signal, wall_us, cpu_us, rss, energy, "
    "error, outputs, log_bytes, log_truncated, recorded) WHERE a.id = u.id";
static const char SQL_ATTEMPT_INSERT[] =
    "INSERT INTO attempts (id, task_id, worker, state, gpus, cpus, memory_mb, dispatched_at, "
    "started_at, ended_at, exit_code, term_signal, wall_us, cpu_us, max_rss_kb, "
    "gpu_energy_mj, error, outputs, log_bytes, log_truncated, recorded_at, try_no) "
    "SELECT u.id, u.task_id, u.worker, u.state, u.gpus::int[], u.cpus, u.mem, "
    "clapper_ts(u.disp), clapper_ts(u.started), clapper_ts(u.ended), u.exit_code, "
    "u.term_signal, u.wall_us, u.cpu_us, u.rss, u.energy, u.error, u.outputs::jsonb, "
    "u.log_bytes, u.log_truncated, clapper_ts(u.recorded), u.try_no "
    "FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::int[], "
    "$7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::int[], $12::int[], "
    "$13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::text[], $18::text[], "
    "$19::bigint[], $20::boolean[], $21::bigint[], $22::int[]) "
    "AS u(id, task_id, worker, state, gpus, cpus, mem, disp, started, ended, exit_code, "
    "term_signal, wall_us, cpu_us, rss, energy, error, outputs, log_bytes, log_truncated, "
    "recorded, try_no)";
static const char SQL_LOGS[] = "INSERT INTO attempt_logs (attempt_id, pos, data) "
                               "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) "
                               "ON CONFLICT (attempt_id, pos) DO NOTHING";
static const char SQL_LEDGER[] =
    "INSERT INTO ledger (attempt_id, job_id, episode_id, state, started_at, ended_at, wall_us, "
    "gpus, cpus, gpu_model, gpu_micros_per_hour, cpu_micros_per_hour, amount_micros, energy_mj) "
    "SELECT u.a, u.j, j.episode_id, u.state, clapper_ts(u.s), clapper_ts(u.e), u.w, u.g, u.c, "
    "u.m, u.gr, u.cr, u.amount, u.energy "
    "FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], "
    "$6::bigint[], $7::int[], $8::int[], $9::text[], $10::bigint[], $11::bigint[], "
    "$12::bigint[], $13::bigint[]) "
    "AS u(a, j, state, s, e, w, g, c, m, gr, cr, amount, energy) JOIN jobs j ON j.id = u.j";
static const char SQL_DEPS[] =
    "INSERT INTO job_deps (job_id, depends_on, kind) "
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[]) ON CONFLICT DO NOTHING";
static const char SQL_EVENTS[] =
    "INSERT INTO events (at, actor, kind, subject_type, subject_id, details, seq, chain, "
    "prev_hash, hash) "
    "SELECT clapper_ts(u.at), u.actor, u.kind, u.stype, u.sid, u.details::jsonb, u.seq, u.chain, "
    "u.prev, u.hash "
    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "$7::bigint[], $8::text[], $9::bytea[], $10::bytea[]) "
    "AS u(at, actor, kind, stype, sid, details, seq, chain, prev, hash) ORDER BY u.seq";

/* Statements of a batch are units of the batch (see unit_t); each is
 * prepared once per connection when the batch is sent. */

static unit_t *unit_new(batch_t *b, const char *name, const char *sql, int nparams,
                        unit_kind_t kind) {
  ARRAY_RESERVE(b->units, b->nunits, b->capunits, 1);
  unit_t *u = &b->units[b->nunits++];
  *u = (unit_t){.name = name, .sql = sql, .nparams = nparams, .kind = kind};
  u->params = xcalloc((size_t)(nparams > 0 ? nparams : 1), sizeof *u->params);
  u->owned = true;
  return u;
}

/* Adds a single-row statement writing entity ent (NULL: none) for change;
 * takes ownership of params[0..n) (not of the array). */
static void add_row(batch_t *b, const char *name, const char *sql, int n, char **params,
                    unit_kind_t kind, const void *ent, uint64_t change) {
  unit_t *u = unit_new(b, name, sql, n, kind);
  for (int k = 0; k < n; k++)
    u->params[k] = params[k];
  u->rows = 1;
  u->ents = xcalloc(1, sizeof *u->ents);
  u->ents[0] = ent;
  u->tags = xcalloc(1, sizeof *u->tags);
  u->tags[0] = change;
}
#define PGQ_ADD(b, sql, n, params, kind, ent) add_row(b, #sql, sql, n, params, kind, ent, 0)

/* Entities of the rows of a multi-row statement, in row order. */
typedef struct entv {
  const void **v;
  size_t n, cap;
} entv_t;
#define ENT_PUSH(ev, e) ARRAY_PUSH((ev)->v, (ev)->n, (ev)->cap, (const void *)(e))

/* Adds a statement whose parameters are the n columns when they hold rows
 * (returns how many), else nothing.  Takes ents->v and tags->v (either may
 * be NULL: no entities, no changes). */
static size_t add_cols(batch_t *b, const char *name, const char *sql, col_t *cols, size_t n,
                       unit_kind_t kind, entv_t *ents, tagv_t *tags) {
  size_t rows = cols[0].n;
  if (rows) {
    unit_t *u = unit_new(b, name, sql, (int)n, kind);
    for (size_t k = 0; k < n; k++)
      u->params[k] = col_end(&cols[k]);
    u->rows = rows;
    u->multi = true;
    u->ents = ents && ents->v ? ents->v : xcalloc(rows, sizeof *u->ents);
    u->tags = tags && tags->v ? tags->v : xcalloc(rows, sizeof *u->tags);
  } else {
    if (ents)
      free(ents->v);
    if (tags)
      free(tags->v);
  }
  if (ents)
    *ents = (entv_t){0};
  if (tags)
    *tags = (tagv_t){0};
  return rows;
}
#define ADD_COLS(b, sql, cols, kind, ents, tags)                                                   \
  add_cols(b, #sql, sql, cols, ARRAY_SIZE(cols), kind, ents, tags)

static char *i64s(int64_t v) { return xasprintf("%" PRId64, v); }
static char *us_or_null(int64_t us) { return us ? i64s(us) : NULL; }

/* The task counts of a job as a JSON object text (caller frees). */
static char *counts_json(const job_t *j) {
  sbuf_t b = {0};
  sbuf_putc(&b, '{');
  for (int i = 0; i < TASK_STATE_COUNT; i++)
    sbuf_printf(&b, "%s\"%s\":%u", i ? "," : "", task_state_name((task_state_t)i), j->counts[i]);
  sbuf_putc(&b, '}');
  return sbuf_steal(&b);
}

static char *requires_json(const jf_requires_t *r) {
  json_t *tags = json_array();
  for (size_t i = 0; i < r->ntags; i++)
    json_array_append_new(tags, json_string(r->tags[i]));
  json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:o}", "gpus", (json_int_t)r->gpus, "gpu_memory_mb",
                        (json_int_t)r->gpu_memory_mb, "cpus", (json_int_t)r->cpus, "memory_mb",
                        (json_int_t)r->memory_mb, "tags", tags);
  /* Licence limits and the pool only when given: other jobs keep their shape. */
  if (r->nlimits) {
    json_t *limits = json_array();
    for (size_t i = 0; i < r->nlimits; i++)
      json_array_append_new(limits, json_string(r->limits[i]));
    json_object_set_new(o, "limits", limits);
  }
  if (r->pool)
    json_object_set_new(o, "pool", json_string(r->pool));
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return text;
}

/* ------------------------------------------------------------ rows */

/* A new job's row, after its project, episode and shot (prev: the job
 * written before it in this batch, whose project, episode and shot exist
 * by then). */
static void put_job_place(batch_t *q, const job_t *j, const job_t *prev) {
  const jf_job_t *sp = j->spec;
  bool same_ep = prev && prev->src == j->src; /* one submission: one episode */
  if (!same_ep) {
    char *p1[] = {xstrdup(j->project)};
    PGQ_ADD(q, SQL_PROJECT, 1, p1, U_JOB_INSERT, j);
    char *p2[] = {xstrdup(j->project), xstrdup(j->episode)};
    PGQ_ADD(q, SQL_EPISODE, 2, p2, U_JOB_INSERT, j);
  }
  if (sp->shot && !(same_ep && prev->spec->shot && !strcmp(prev->spec->shot, sp->shot))) {
    char *p3[] = {xstrdup(j->project), xstrdup(j->episode), xstrdup(sp->shot)};
    PGQ_ADD(q, SQL_SHOT, 3, p3, U_JOB_INSERT, j);
  }
}

/* The job's own row: the one place a job row is inserted (batches and bulk
 * submits both write it here). */
static void put_job_row(batch_t *q, const job_t *j) {
  const jf_job_t *sp = j->spec;
  /* A job is usually dispatched, and may even finish, within the batch
   * that creates it: its times go in with the row. */
  char *p[JI_NPARAMS] = {
      [JI_PROJECT] = xstrdup(j->project),
      [JI_EPISODE] = xstrdup(j->episode),
      [JI_ID] = i64s((int64_t)j->id),
      [JI_SHOT] = sp->shot ? xstrdup(sp->shot) : NULL,
      [JI_NAME] = xstrdup(sp->name),
      [JI_KIND] = xstrdup(job_kind_name(sp->kind)),
      [JI_STATE] = xstrdup(job_state_name((job_state_t)j->state)),
      [JI_PRIORITY] = i64s(sp->priority),
      [JI_MAX_ATTEMPTS] = i64s(sp->max_attempts),
      [JI_MAX_LOST] = i64s(sp->max_lost),
      [JI_BACKOFF] = i64s(sp->retry_backoff_s),
      [JI_TIMEOUT] = i64s(sp->timeout_s),
      [JI_SEED] = i64s(sp->seed),
      [JI_REQUIRES] = requires_json(&sp->req),
      [JI_PROVENANCE] = xstrdup(sp->provenance_json),
      [JI_SPEC] = xstrdup(sp->spec_json),
      [JI_OUTPUT_DIR] = xstrdup(j->output_dir),
      [JI_NTASKS] = i64s(j->ntasks),
      [JI_COUNTS] = counts_json(j),
      [JI_REASON] = xstrdup(j->reason),
      [JI_SUBMITTED_BY] = xstrdup(j->submitted_by),
      [JI_SUBMITTED] = i64s(j->submitted_us),
      [JI_STARTED] = us_or_null(j->started_us),
      [JI_FINISHED] = us_or_null(j->finished_us),
      [JI_RETAKE_OF] = j->retake_of ? i64s((int64_t)j->retake_of) : NULL,
      [JI_GATE_ROOT] = j->gate_root && j->gate_root != j->id ? i64s((int64_t)j->gate_root) : NULL,
      [JI_APPROVED] = j->approved_output ? xstrdup(j->approved_output) : NULL,
      [JI_ATTEMPTS] = i64s((int64_t)j->nattempts),
      [JI_WALL] = i64s((int64_t)j->wall_us),
      /* The submission's idempotency key goes in with the row (idem.h). */
      [JI_IDEM_KEY] = j->src->idem_key ? xstrdup(j->src->idem_key) : NULL,
      [JI_IDEM_DIGEST] = j->src->idem_key ? xstrdup(j->src->idem_digest) : NULL,
      [JI_IDEM_SEQ] = j->src->idem_key ? i64s((int64_t)(j->id - j->src->first_job_id)) : NULL,
      [JI_CANCELED_BY] = j->canceled_by ? i64s((int64_t)j->canceled_by) : NULL,
  };
  PGQ_ADD(q, SQL_JOB_INSERT, JI_NPARAMS, p, U_JOB_INSERT, j);
}

static void put_job_insert(batch_t *q, const job_t *j, const job_t *prev) {
  put_job_place(q, j, prev);
  put_job_row(q, j);
}

static void put_job_update(col_t x[JU_NCOLS], const job_t *j) {
  char *counts = counts_json(j);
  col_i64(&x[JU_ID], (int64_t)j->id);
  col_text(&x[JU_STATE], job_state_name((job_state_t)j->state));
  col_text(&x[JU_COUNTS], counts);
  col_text(&x[JU_REASON], j->reason);
  col_us(&x[JU_STARTED], j->started_us);
  col_us(&x[JU_FINISHED], j->finished_us);
  col_text_or_null(&x[JU_APPROVED], j->approved_output);
  col_i64(&x[JU_ATTEMPTS], (int64_t)j->nattempts);
  col_i64(&x[JU_WALL], (int64_t)j->wall_us);
  if (j->canceled_by)
    col_i64(&x[JU_CANCELED_BY], (int64_t)j->canceled_by);
  else
    col_null(&x[JU_CANCELED_BY]);
  free(counts);
}

/* A new job's job_deps rows: ids of `after` jobs (kind after_frames when
 * frame-wise), gate jobs of `after_approval`. */
static void put_job_deps(col_t x[JD_NCOLS], entv_t *ents, const job_t *j) {
  for (size_t k = 0; k < j->ndeps + j->ngates; k++) {
    bool gate = k >= j->ndeps;
    ENT_PUSH(ents, j);
    col_i64(&x[JD_JOB], (int64_t)j->id);
    col_i64(&x[JD_ON], (int64_t)(gate ? j->gates[k - j->ndeps].root : j->deps[k]));
    col_text(&x[JD_KIND], gate ? "after_approval"
                                : j->deps_frames && j->deps_frames[k] ? "after_frames" : "after");
  }
}

static void put_worker(batch_t *q, const worker_t *w) {
  json_t *gpus = json_array();
  for (uint32_t i = 0; i < w->ngpus; i++)
    json_array_append_new(gpus,
                          json_pack("{s:I,s:s,s:s,s:I}", "index", (json_int_t)w->gpus[i].index,
                                    "uuid", w->gpus[i].uuid, "model", w->gpus[i].model, "memory_mb",
                                    (json_int_t)w->gpus[i].memory_mb));
  col_t tags = {0};
  for (size_t i = 0; i < w->ntags; i++)
    col_text(&tags, w->tags[i]);
  char *p[WK_NPARAMS] = {
      [WK_NAME] = xstrdup(w->name),
      [WK_HOST] = xstrdup(w->hostname ? w->hostname : ""),
      [WK_STATE] = xstrdup(worker_state_name((worker_state_t)w->state)),
      [WK_CPUS] = i64s(w->cpus),
      [WK_MEMORY] = i64s((int64_t)w->memory_mb),
      [WK_GPUS] = json_dumps(gpus, JSON_COMPACT),
      [WK_TAGS] = col_end(&tags),
      [WK_VERSION] = xstrdup(w->version ? w->version : ""),
      [WK_LAST_SEEN] = i64s(w->last_seen_us ? w->last_seen_us : util_wall_us()),
      [WK_DRAINED] = xstrdup(w->drained ? "t" : "f"),
  };
  json_decref(gpus);
  PGQ_ADD(q, SQL_WORKER_UPSERT, WK_NPARAMS, p, U_WORKER, w);
}

static void put_task_insert(col_t x[TI_NCOLS], const task_t *t) {
  col_i64(&x[TI_ID], (int64_t)t->id);
  col_i64(&x[TI_JOB], (int64_t)t->job->id);
  col_i64(&x[TI_SEQ], t->seq);
  col_text(&x[TI_STATE], task_state_name((task_state_t)t->state));
  if (t->job->spec->has_frames) {
    col_i64(&x[TI_FRAME_START], t->spec.frame_start);
    col_i64(&x[TI_FRAME_END], t->spec.frame_end);
    col_i64(&x[TI_FRAME_STEP], t->spec.frame_step);
  } else {
    col_null(&x[TI_FRAME_START]);
    col_null(&x[TI_FRAME_END]);
    col_null(&x[TI_FRAME_STEP]);
  }
  if (t->spec.take)
    col_i64(&x[TI_TAKE], t->spec.take);
  else
    col_null(&x[TI_TAKE]);
  col_i64(&x[TI_SEED], t->spec.seed);
  col_i64(&x[TI_FAILURES], t->failures);
  col_i64(&x[TI_LOSSES], t->losses);
  col_us(&x[TI_NOT_BEFORE], t->not_before_us);
  col_i64(&x[TI_TRIES], t->tries);
}

static void put_task_update(col_t x[TU_NCOLS], const task_t *t) {
  col_i64(&x[TU_ID], (int64_t)t->id);
  col_text(&x[TU_STATE], task_state_name((task_state_t)t->state));
  col_i64(&x[TU_FAILURES], t->failures);
  col_i64(&x[TU_LOSSES], t->losses);
  col_us(&x[TU_NOT_BEFORE], t->not_before_us);
  col_i64(&x[TU_TRIES], t->tries);
}

/* The columns both attempt statements write: times, outcome, measures,
 * log.  An ended attempt's end and record times, none for a live one. */
static void put_attempt_common(col_t x[AC_NCOLS], const attempt_t *a) {
  bool live = attempt_state_live((attempt_state_t)a->state);
  col_us(&x[AC_STARTED], a->started_us);
  col_us(&x[AC_ENDED], live ? 0 : a->ended_us);
  if (a->has_exit) {
    col_i64(&x[AC_EXIT_CODE], a->exit_code);
    col_i64(&x[AC_TERM_SIGNAL], a->term_signal);
    col_i64(&x[AC_WALL], (int64_t)a->wall_us);
    col_i64(&x[AC_CPU], (int64_t)a->cpu_us);
    col_i64(&x[AC_RSS], (int64_t)a->max_rss_kb);
    col_i64(&x[AC_ENERGY], (int64_t)a->gpu_energy_mj);
  } else {
    for (int k = AC_EXIT_CODE; k <= AC_ENERGY; k++)
      col_null(&x[k]);
  }
  col_text(&x[AC_ERROR], a->error);
  col_text(&x[AC_OUTPUTS], a->outputs_json ? a->outputs_json : "[]");
  col_i64(&x[AC_LOG_BYTES], (int64_t)a->log_next);
  col_bool(&x[AC_LOG_TRUNCATED], a->log_truncated);
  col_us(&x[AC_RECORDED], live ? 0 : a->recorded_us);
}

static void put_attempt_update(col_t x[AU_NCOLS], const attempt_t *a) {
  col_i64(&x[AU_ID], (int64_t)a->id);
  col_text(&x[AU_STATE], attempt_state_name((attempt_state_t)a->state));
  put_attempt_common(&x[AU_COMMON], a);
}

static void put_attempt_insert(col_t x[AI_NCOLS], const attempt_t *a, sbuf_t *gpus) {
  sbuf_reset(gpus);
  sbuf_putc(gpus, '{');
  for (uint32_t i = 0, first = 1; i < a->worker->ngpus && i < 64; i++)
    if (a->gpu_mask & (1ull << i)) {
      sbuf_printf(gpus, "%s%u", first ? "" : ",", a->worker->gpus[i].index);
      first = 0;
    }
  sbuf_putc(gpus, '}');
  col_i64(&x[AI_ID], (int64_t)a->id);
  col_i64(&x[AI_TASK], (int64_t)a->task->id);
  col_text(&x[AI_WORKER], a->worker->name);
  col_text(&x[AI_STATE], attempt_state_name((attempt_state_t)a->state));
  col_text(&x[AI_GPUS], gpus->buf);
  col_i64(&x[AI_CPUS], a->cpus);
  col_i64(&x[AI_MEMORY], (int64_t)a->memory_mb);
  col_i64(&x[AI_DISPATCHED], a->dispatched_us);
  put_attempt_common(&x[AI_COMMON], a);
  col_i64(&x[AI_TRY], a->try_no);
}

/* ------------------------------------------------------------ batches */

/* Writes the current state of every dirty entity, then what accumulated,
 * into b's units, and empties the dirty lists.  Returns the number of
 * rows. */
static size_t build(store_t *s, batch_t *q) {
  size_t rows = 0;

  /* Jobs: new ones first (with their project, episode and shot), and the
   * dependencies of new jobs. */
  const job_t *prev = NULL;
  col_t ju[JU_NCOLS] = {0}, jd[JD_NCOLS] = {0};
  entv_t jue = {0}, jde = {0};
  for (size_t i = 0; i < s->njobs; i++) {
    job_t *j = s->jobs[i];
    j->dirty = false;
    if (!j->persisted) {
      put_job_insert(q, j, prev);
      prev = j;
      j->persisted = true;
    } else {
      put_job_update(ju, j);
      ENT_PUSH(&jue, j);
    }
    if (j->deps_new) {
      put_job_deps(jd, &jde, j);
      j->deps_new = false;
    }
  }
  rows += s->njobs;
  s->njobs = 0;

  for (size_t i = 0; i < s->nworkers; i++) {
    worker_t *w = s->workers[i];
    w->dirty = false;
    w->persisted = true;
    put_worker(q, w);
  }
  rows += s->nworkers;
  s->nworkers = 0;
  ADD_COLS(q, SQL_JOB_UPDATE, ju, U_JOB_UPDATE, &jue, NULL);
  rows += ADD_COLS(q, SQL_DEPS, jd, U_DEPS, &jde, NULL);

  col_t ti[TI_NCOLS] = {0}, tu[TU_NCOLS] = {0};
  entv_t tie = {0}, tue = {0};
  for (size_t i = 0; i < s->ntasks; i++) {
    task_t *t = s->tasks[i];
    t->dirty = false;
    if (!t->persisted) {
      t->persisted = true;
      put_task_insert(ti, t);
      ENT_PUSH(&tie, t);
    } else {
      put_task_update(tu, t);
      ENT_PUSH(&tue, t);
    }
  }
  rows += s->ntasks;
  s->ntasks = 0;
  ADD_COLS(q, SQL_TASK_INSERT, ti, U_TASK_INSERT, &tie, NULL);
  ADD_COLS(q, SQL_TASK_UPDATE, tu, U_TASK_UPDATE, &tue, NULL);

  /* Attempts: updates (which end live attempts) before inserts. */
  col_t au[AU_NCOLS] = {0}, ai[AI_NCOLS] = {0};
  entv_t aue = {0}, aie = {0};
  sbuf_t gpus = {0};
  for (size_t i = 0; i < s->nattempts; i++) {
    attempt_t *a = s->attempts[i];
    a->dirty = false;
    if (a->persisted) {
      put_attempt_update(au, a);
      ENT_PUSH(&aue, a);
    } else {
      a->persisted = true;
      put_attempt_insert(ai, a, &gpus);
      ENT_PUSH(&aie, a);
    }
  }
  sbuf_free(&gpus);
  rows += s->nattempts;
  s->nattempts = 0;
  ADD_COLS(q, SQL_ATTEMPT_UPDATE, au, U_ATTEMPT_UPDATE, &aue, NULL);
  ADD_COLS(q, SQL_ATTEMPT_INSERT, ai, U_ATTEMPT_INSERT, &aie, NULL);

  /* The ledger and log pieces after their attempts. */
  rows += ADD_COLS(q, SQL_LEDGER, s->ledger, U_APPEND, NULL, &s->ledger_tags);
  rows += ADD_COLS(q, SQL_LOGS, s->logs, U_APPEND, NULL, &s->logs_tags);

  for (size_t i = 0; i < s->nextras; i++) {
    extra_t *e = &s->extras[i];
    add_row(q, e->name, e->sql, e->nparams, e->params, U_APPEND, NULL, e->change);
    free(e->params);
  }
  rows += s->nextras;
  s->nextras = 0;

  rows += ADD_COLS(q, SQL_EVENTS, s->events, U_APPEND, NULL, &s->events_tags);
  return rows;
}

/* The batch's statements as one pgq, which takes the parameters; the
 * units keep pointers to them, valid until the pgq's callback returned
 * (on_committed copies them when the batch failed, for the replay). */
static pgq_t *batch_pgq(batch_t *b) {
  pgq_t *q = pgq_new();
  for (size_t i = 0; i < b->nunits; i++) {
    unit_t *u = &b->units[i];
    pgq_add_prepared(q, u->name, u->sql, u->nparams, u->params);
    u->owned = false;
  }
  return q;
}

/* Runs what waited for batch b, which committed (some of its changes
 * perhaps refused), and sends the next one. */
static bool bulk_pending(const store_t *s, uint64_t change);
static void bulk_send(store_t *s);

static void finish_batch(store_t *s, batch_t *b) {
  coord_t *c = s->c;
  s->inflight = NULL;
  s->committed = b->chain;
  s->stats.batches++;
  s->stats.rows += b->rows;
  s->committed_seq = b->seq;
  for (size_t i = 0; i < b->nactions; i++) {
    action_t *act = &b->actions[i];
    s->refusing = act->refused;
    for (size_t k = 0; k < b->nrefused && act->change && !s->refusing; k++)
      if (b->refused[k].change == act->change)
        s->refusing = b->refused[k].reason;
    if (act->change && bulk_pending(s, act->change)) {
      /* Its change has a bulk write not committed yet: after that. */
      action_t held = *act;
      held.refused = s->refusing && !act->refused ? xstrdup(s->refusing) : act->refused;
      act->refused = NULL;
      ARRAY_PUSH(s->held, s->nheld, s->capheld, held);
      continue;
    }
    act->fn(c, act->arg);
  }
  s->refusing = NULL;
  for (size_t i = 0; i < s->nlisteners; i++)
    s->listeners[i].fn(c, b->seq, s->listeners[i].arg);
  for (size_t i = 0; i < b->tapped.n; i++)
    for (size_t k = 0; k < s->ntaps; k++)
      s->taps[k].fn(c, &b->tapped.v[i].ev, s->taps[k].arg);
  batch_free(&b);
  bulk_send(s);
  store_flush(c);
}

/* ------------------------------------------------------------ replay */

/* Statements a replay tries before it refuses a failing range of rows as
 * a whole instead of halving it (one round trip each: about a second). */
#define REPLAY_MAX_TRIES 4096

static void replay_step(store_t *s);

/* Ends the coordinator: the writer could not even roll back or commit. */
static void replay_fatal(const batch_t *b, const char *what, const char *error) {
  log_error("batch %" PRIu64 ": %s failed, exiting: %s", b->seq, what, error);
  _exit(1);
}

static void submit_sql(store_t *s, const char *sql, pgconn_cb cb) {
  pgq_t *q = pgq_new();
  pgq_add(q, sql, 0, NULL);
  pgconn_submit(s->c->wdb, q, cb, s);
}

/* Rows [lo, hi) of the array literal lit whose elements begin at offs
 * (rows elements), as an array literal of their own (caller frees). */
static char *cut_rows(const char *lit, const size_t *offs, size_t rows, size_t lo, size_t hi) {
  size_t start = offs[lo];
  size_t end = hi < rows ? offs[hi] - 1 : strlen(lit) - 1; /* the ',' or the '}' */
  sbuf_t b = {0};
  sbuf_putc(&b, '{');
  sbuf_append(&b, lit + start, end - start);
  sbuf_putc(&b, '}');
  return sbuf_steal(&b);
}

static int touch_cmp(const void *x, const void *y) {
  uintptr_t a = (uintptr_t)((const touch_t *)x)->ent, b = (uintptr_t)((const touch_t *)y)->ent;
  return a < b ? -1 : a > b;
}

/* Records that the database refused row `row` of unit u: the changes it
 * belongs to are refused, and an entity whose new row was refused is
 * inserted again the next time it is written (see store.h). */
static void refuse_row(store_t *s, batch_t *b, const unit_t *u, size_t row, const char *why) {
  /* Each event's hash chains the one before it: a dropped event would
   * break the log for good.  Events hold only checked text and the
   * coordinator's own figures, so this is a fault, not input: restart, and
   * recovery continues the chain from the events that did commit. */
  if (u->sql == SQL_EVENTS)
    replay_fatal(b, "an event of the chained log", why);
  static log_limit_t lim = LOG_LIMIT_INIT("rows refused by the database", 10);
  log_warn_limited(&lim, "batch %" PRIu64 ": %s row %zu refused: %s", b->seq, u->name, row, why);
  b->refused_rows++;
  uint64_t changes[64];
  size_t n = 0;
  if (u->tags[row])
    changes[n++] = u->tags[row];
  const void *ent = u->ents[row];
  if (ent && !b->touches_sorted && b->ntouches) {
    qsort(b->touches, b->ntouches, sizeof *b->touches, touch_cmp);
    b->touches_sorted = true;
  }
  size_t lo = 0, hi = b->ntouches; /* the first touch of ent */
  while (ent && lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if ((uintptr_t)b->touches[mid].ent < (uintptr_t)ent)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (size_t i = lo; ent && i < b->ntouches && b->touches[i].ent == ent; i++)
    if (n < ARRAY_SIZE(changes))
      changes[n++] = b->touches[i].change;
  for (size_t i = 0; i < n; i++) {
    bool known = false;
    for (size_t k = 0; k < b->nrefused && !known; k++)
      known = b->refused[k].change == changes[i];
    if (!known)
      ARRAY_PUSH(b->refused, b->nrefused, b->caprefused, ((refusal_t){changes[i], xstrdup(why)}));
  }
  switch (u->kind) {
  case U_JOB_INSERT:
    ((job_t *)ent)->persisted = false;
    break;
  case U_DEPS:
    ((job_t *)ent)->deps_new = true;
    break;
  case U_TASK_INSERT:
    ((task_t *)ent)->persisted = false;
    break;
  case U_ATTEMPT_INSERT:
    ((attempt_t *)ent)->persisted = false;
    break;
  default:
    break;
  }
  (void)s;
}

static void on_replay_commit(void *arg, PGresult *const *res, size_t n, const char *error) {
  store_t *s = arg;
  batch_t *b = s->inflight;
  (void)res;
  (void)n;
  if (error)
    replay_fatal(b, "COMMIT of the replay", error);
  log_error("batch %" PRIu64 ": the database refused %zu of its %zu rows (%zu changes "
            "answered with an error); the rest committed",
            b->seq, b->refused_rows, b->rows, b->nrefused);
  finish_batch(s, b);
}

static void on_rolled_back(void *arg, PGresult *const *res, size_t n, const char *error) {
  store_t *s = arg;
  batch_t *b = s->inflight;
  (void)res;
  (void)n;
  if (error)
    replay_fatal(b, "ROLLBACK TO SAVEPOINT", error);
  const unit_t *u = &b->units[b->next_unit - 1];
  if (b->hi - b->lo == 1 || b->tries >= REPLAY_MAX_TRIES) {
    /* One row, or the replay has taken long enough (a refused job whose
     * million tasks follow it): the range is refused as a whole. */
    for (size_t row = b->lo; row < b->hi; row++)
      refuse_row(s, b, u, row, b->error);
  } else { /* halves, the first on top */
    size_t mid = b->lo + (b->hi - b->lo) / 2;
    ARRAY_PUSH(b->ranges, b->nranges, b->capranges, ((range_t){mid, b->hi}));
    ARRAY_PUSH(b->ranges, b->nranges, b->capranges, ((range_t){b->lo, mid}));
  }
  free(b->error);
  b->error = NULL;
  replay_step(s);
}

static void on_tried(void *arg, PGresult *const *res, size_t n, const char *error) {
  store_t *s = arg;
  batch_t *b = s->inflight;
  (void)res;
  (void)n;
  if (!error) {
    replay_step(s);
    return;
  }
  b->error = xstrdup(error);
  submit_sql(s, "ROLLBACK TO SAVEPOINT clapper_replay", on_rolled_back);
}

/* Tries the next range of rows under a savepoint, or commits when none is
 * left. */
static void replay_step(store_t *s) {
  batch_t *b = s->inflight;
  while (!b->nranges) {
    if (b->next_unit == b->nunits) {
      submit_sql(s, "COMMIT", on_replay_commit);
      return;
    }
    const unit_t *u = &b->units[b->next_unit++];
    ARRAY_PUSH(b->ranges, b->nranges, b->capranges, ((range_t){0, u->rows}));
  }
  b->nranges--;
  b->lo = b->ranges[b->nranges].lo;
  b->hi = b->ranges[b->nranges].hi;
  const unit_t *u = &b->units[b->next_unit - 1];
  pgq_t *q = pgq_new();
  if (b->savepoint)
    pgq_add(q, "RELEASE SAVEPOINT clapper_replay", 0, NULL);
  pgq_add(q, "SAVEPOINT clapper_replay", 0, NULL);
  b->savepoint = true;
  b->tries++;
  char **p = xcalloc((size_t)(u->nparams > 0 ? u->nparams : 1), sizeof *p);
  for (int k = 0; k < u->nparams; k++)
    p[k] = u->offs        ? cut_rows(u->params[k], u->offs[k], u->rows, b->lo, b->hi)
           : u->params[k] ? xstrdup(u->params[k])
                          : NULL;
  pgq_add(q, u->sql, u->nparams, p);
  free(p);
  pgconn_submit(s->c->wdb, q, on_tried, s);
}

static void on_begun(void *arg, PGresult *const *res, size_t n, const char *error) {
  store_t *s = arg;
  (void)res;
  (void)n;
  if (error)
    replay_fatal(s->inflight, "BEGIN of the replay", error);
  replay_step(s);
}

static void on_committed(void *arg, PGresult *const *results, size_t n, const char *error) {
  store_t *s = arg;
  batch_t *b = s->inflight;
  (void)results;
  (void)n;
  if (error) {
    /* The batch rolled back.  Try it again in one transaction, statement
     * by statement and a failing statement row range by row range (halves),
     * each under a savepoint: every row the database accepts commits, the
     * changes of the rows it refuses are answered with an error. */
    log_error("batch %" PRIu64 " (%zu rows) failed: %s; trying it again row by row", b->seq,
              b->rows, error);
    for (size_t i = 0; i < b->nunits; i++) { /* the pgq's are freed after this call */
      unit_t *u = &b->units[i];
      for (int k = 0; k < u->nparams; k++)
        u->params[k] = u->params[k] ? xstrdup(u->params[k]) : NULL;
      u->owned = true;
      if (u->multi) {
        u->offs = xcalloc((size_t)u->nparams, sizeof *u->offs);
        for (int k = 0; k < u->nparams; k++)
          u->offs[k] = col_offsets(u->params[k], u->rows);
      }
    }
    submit_sql(s, "BEGIN", on_begun);
    return;
  }
  finish_batch(s, b);
}

void store_flush(coord_t *c) {
  store_t *s = c->store;
  if (s->inflight || !s->pending)
    return;
  batch_t *b = xcalloc(1, sizeof *b);
  b->seq = s->seq++;
  b->chain = s->chain;
  b->actions = s->actions;
  b->nactions = s->nactions;
  s->actions = NULL;
  s->nactions = s->capactions = 0;
  b->touches = s->touches;
  b->ntouches = s->ntouches;
  s->touches = NULL;
  s->ntouches = s->captouches = 0;
  b->tapped = s->tapped;
  s->tapped = (tapv_t){0};
  b->rows = build(s, b);
  s->pending = false;
  s->inflight = b;
  pgconn_submit(c->wdb, batch_pgq(b), on_committed, s);
}

void store_stmt(coord_t *c, const char *name, const char *sql, int nparams, char **params) {
  store_t *s = c->store;
  extra_t e = {name, sql, nparams, xcalloc((size_t)(nparams > 0 ? nparams : 1), sizeof(char *)),
               s->change};
  for (int k = 0; k < nparams; k++)
    e.params[k] = params[k];
  ARRAY_PUSH(s->extras, s->nextras, s->capextras, e);
  s->pending = true;
}

void store_on_commit(coord_t *c, store_commit_fn fn, void *arg) {
  store_t *s = c->store;
  ARRAY_PUSH(s->actions, s->nactions, s->capactions, ((action_t){fn, arg, s->change, NULL}));
  s->pending = true;
}

void store_listen(coord_t *c, store_listener_fn fn, void *arg) {
  store_t *s = c->store;
  ARRAY_PUSH(s->listeners, s->nlisteners, s->caplisteners, ((listener_t){fn, arg}));
}

void store_tap(coord_t *c, store_tap_fn fn, void *arg) {
  store_t *s = c->store;
  ARRAY_PUSH(s->taps, s->ntaps, s->captaps, ((tap_t){fn, arg}));
}

uint64_t store_seq(const coord_t *c) { return c->store->seq; }

void store_kick(coord_t *c) { c->store->pending = true; }

bool store_idle(const coord_t *c) {
  return !c->store->pending && !c->store->inflight && !c->store->bulks;
}

store_stats_t store_stats(const coord_t *c) { return c->store->stats; }

uint64_t store_change_begin(coord_t *c) {
  store_t *s = c->store;
  s->change = ++s->last_change;
  return s->change;
}

void store_change_resume(coord_t *c, uint64_t change) { c->store->change = change; }

void store_change_end(coord_t *c) { c->store->change = 0; }

const char *store_refused(const coord_t *c) { return c->store->refusing; }

/* ------------------------------------------------------------ bulk writes */

/* A bulk write's intent: inserted with the job rows of a submit, or with
 * the batch that changes the job before a bulk update; deleted with the
 * batch that logs job.submitted, or with the update's task rows.  What
 * recovery finds here did not finish (recover.c). */
static const char SQL_BULK_MARK[] =
    "INSERT INTO bulk_pending (job_id, kind) VALUES ($1, $2) ON CONFLICT DO NOTHING";
static const char SQL_BULK_DONE[] = "DELETE FROM bulk_pending WHERE job_id = $1 AND kind = $2";

static void bulk_mark(batch_t *b, const char *name, const char *sql, const job_t *j,
                      const char *kind) {
  char *p[] = {i64s((int64_t)j->id), xstrdup(kind)};
  add_row(b, name, sql, 2, p, U_APPEND, NULL, 0);
}

/* The same as a one-off statement of the next batch. */
static void stmt_mark(coord_t *c, const char *name, const char *sql, const job_t *j,
                      const char *kind) {
  char *p[] = {i64s((int64_t)j->id), xstrdup(kind)};
  store_stmt(c, name, sql, 2, p);
}

static bool bulk_pending(const store_t *s, uint64_t change) {
  for (const bulk_t *k = s->bulks; k; k = k->next)
    if (k->change == change)
      return true;
  return false;
}

static void on_bulk_written(void *arg, PGresult *const *res, size_t n, const char *error);

static void on_places(void *arg, PGresult *const *res, size_t n, const char *error) {
  bulk_t *k = arg;
  (void)res;
  (void)n;
  if (error) /* the rows that follow fail too, and say so */
    log_warn("bulk %s of job %" PRIu64 ": its project, episode or shot: %s", k->kind,
             k->jobs[0]->id, error);
}

/* Sends the bulk writes whose batch committed. */
static void bulk_send(store_t *s) {
  for (bulk_t *k = s->bulks; k; k = k->next) {
    if (k->sent || !k->made || k->after > s->committed_seq)
      continue;
    k->sent = true;
    k->t0 = util_mono_us();
    if (k->places && k->places->nunits)
      pgconn_submit(s->c->bdb, batch_pgq(k->places), on_places, k);
    pgconn_submit(s->c->bdb, batch_pgq(k->rows), on_bulk_written, k);
  }
}

/* Rows a bulk write's statements get per turn of the loop: making the
 * rows of a million tasks at once held the loop (dispatch, results) for
 * seconds; a chunk takes milliseconds.  Each chunk is a statement of the
 * bulk write's one transaction. */
#define BULK_CHUNK_ROWS 20000

/* Makes the next chunk of k's task rows; true when all are made. */
static bool bulk_make(bulk_t *k) {
  size_t rows = 0;
  if (k->job) { /* an update */
    col_t tu[TU_NCOLS] = {0};
    entv_t tue = {0};
    for (; k->next_task < k->ntasks && rows < BULK_CHUNK_ROWS; k->next_task++, rows++) {
      put_task_update(tu, k->tasks[k->next_task]);
      ENT_PUSH(&tue, k->tasks[k->next_task]);
    }
    ADD_COLS(k->rows, SQL_TASK_UPDATE, tu, U_TASK_UPDATE, &tue, NULL);
    return k->next_task == k->ntasks;
  }
  col_t ti[TI_NCOLS] = {0};
  entv_t tie = {0};
  while (k->next_job < k->njobs && rows < BULK_CHUNK_ROWS) {
    const job_t *j = k->jobs[k->next_job];
    for (; k->next_task < j->ntasks && rows < BULK_CHUNK_ROWS; k->next_task++, rows++) {
      put_task_insert(ti, &j->tasks[k->next_task]);
      ENT_PUSH(&tie, &j->tasks[k->next_task]);
    }
    if (k->next_task == j->ntasks) {
      k->next_job++;
      k->next_task = 0;
    }
  }
  ADD_COLS(k->rows, SQL_TASK_INSERT, ti, U_TASK_INSERT, &tie, NULL);
  return k->next_job == k->njobs;
}

/* The bulk timer: a chunk of the first bulk write not made yet, then the
 * loop turns (I/O, batches) and the timer comes again.  Its timeout is
 * 1 ms, not 0: libuv runs a timer restarted with 0 again in the same pass,
 * which would make every chunk before the loop turns. */
static void on_bulk_timer(uv_timer_t *h) {
  coord_t *c = h->data;
  store_t *s = c->store;
  bulk_t *k = s->bulks;
  while (k && k->made)
    k = k->next;
  if (!k)
    return;
  uint64_t t0 = util_mono_us();
  k->made = bulk_make(k);
  k->build_us += util_mono_us() - t0;
  if (k->made) {
    bulk_send(s);
    while (k && k->made)
      k = k->next;
  }
  if (k)
    uv_timer_start(&c->bulk_timer, on_bulk_timer, 1, 0);
}

static void bulk_queue(store_t *s, bulk_t *k) {
  k->after = s->seq; /* the batch accumulating now: the bulk write goes after it */
  *s->bulks_tail = k;
  s->bulks_tail = &k->next;
  s->pending = true;
  uv_timer_start(&s->c->bulk_timer, on_bulk_timer, 1, 0);
}

/* Runs after k committed (or failed: then its rows go into the next batch,
 * which writes them the usual way): its rows' later changes are put on the
 * dirty lists, its done function runs in its change, and the commit
 * actions of the change that waited for it are queued again. */
static void bulk_finish(store_t *s, bulk_t *k, bool ok) {
  coord_t *c = s->c;
  uint64_t outer = s->change;
  s->change = k->change;
  for (size_t i = 0; i < k->njobs; i++) {
    job_t *j = k->jobs[i];
    j->bulk = JOB_BULK_NONE;
    j->persisted = ok;
    j->dirty = false;
    if (!ok)
      j->deps_new = j->ndeps + j->ngates > 0;
    store_job(c, j); /* its state from now on, with job.submitted (done) */
    for (uint32_t t = 0; t < j->ntasks; t++) {
      task_t *tk = &j->tasks[t];
      tk->persisted = ok;
      if (!ok || tk->dirty) {
        tk->dirty = false;
        store_task(c, tk);
      }
    }
    if (ok)
      stmt_mark(c, "SQL_BULK_DONE", SQL_BULK_DONE, j, k->kind);
  }
  for (size_t i = 0; i < k->ntasks; i++) {
    task_t *t = k->tasks[i];
    t->bulk = false;
    if (!ok || t->dirty) {
      t->dirty = false;
      store_task(c, t);
    }
  }
  if (k->job) {
    k->job->bulk = JOB_BULK_NONE;
    if (!ok)
      stmt_mark(c, "SQL_BULK_DONE", SQL_BULK_DONE, k->job, k->kind);
  }
  if (k->done)
    k->done(c, k->arg);
  s->change = outer;
  /* k leaves the queue (it is its head: one connection, in order). */
  s->bulks = k->next;
  if (!s->bulks)
    s->bulks_tail = &s->bulks;
  if (k->change && !bulk_pending(s, k->change)) {
    size_t keep = 0;
    for (size_t i = 0; i < s->nheld; i++) {
      if (s->held[i].change == k->change)
        ARRAY_PUSH(s->actions, s->nactions, s->capactions, s->held[i]);
      else
        s->held[keep++] = s->held[i];
    }
    s->nheld = keep;
  }
  s->pending = true;
  bulk_free(k);
}

static void on_bulk_written(void *arg, PGresult *const *res, size_t n, const char *error) {
  bulk_t *k = arg;
  (void)res;
  (void)n;
  uint64_t id = k->job ? k->job->id : k->jobs[0]->id;
  uint64_t ms = (util_mono_us() - k->t0) / 1000;
  if (error)
    log_error("bulk %s of job %" PRIu64 " (%zu rows) failed after %" PRIu64
              " ms: %s; the next batches write it instead",
              k->kind, id, k->nrows, ms, error);
  else
    log_info("bulk %s of job %" PRIu64 ": %zu rows made in %" PRIu64 " ms, committed in %" PRIu64
             " ms", k->kind, id, k->nrows, k->build_us / 1000, ms);
  bulk_finish(k->store, k, !error);
}

void store_bulk_submit(coord_t *c, job_t **jobs, size_t n, store_commit_fn done, void *arg) {
  store_t *s = c->store;
  uint64_t t0 = util_mono_us();
  bulk_t *k = xcalloc(1, sizeof *k);
  k->store = s;
  k->change = s->change;
  k->kind = "submit";
  k->jobs = xcalloc(n ? n : 1, sizeof *k->jobs);
  memcpy(k->jobs, jobs, n * sizeof *jobs);
  k->njobs = n;
  k->done = done;
  k->arg = arg;
  k->places = xcalloc(1, sizeof *k->places);
  k->rows = xcalloc(1, sizeof *k->rows);
  /* Projects, episodes and shots in a transaction of their own, committed
   * at once: a batch that needs the same new episode never waits for the
   * rows.  Then every job, its dependencies and its tasks in one. */
  const job_t *prev = NULL;
  col_t jd[JD_NCOLS] = {0};
  entv_t jde = {0};
  for (size_t i = 0; i < n; i++) {
    job_t *j = jobs[i];
    j->bulk = JOB_BULK_SUBMIT;
    j->dirty = false;
    put_job_place(k->places, j, prev);
    prev = j;
    put_job_row(k->rows, j);
    bulk_mark(k->rows, "SQL_BULK_MARK", SQL_BULK_MARK, j, k->kind);
    if (j->deps_new) {
      put_job_deps(jd, &jde, j);
      j->deps_new = false;
    }
    k->nrows += 1 + j->ntasks;
  }
  k->nrows += ADD_COLS(k->rows, SQL_DEPS, jd, U_DEPS, &jde, NULL);
  k->build_us = util_mono_us() - t0;
  bulk_queue(s, k); /* its task rows: bulk_make */
}

void store_bulk_begin(coord_t *c, job_t *j) {
  store_t *s = c->store;
  bulk_t *k = xcalloc(1, sizeof *k);
  k->store = s;
  k->change = s->change;
  k->job = j;
  j->bulk = JOB_BULK_UPDATE; /* it stays in memory until the update committed */
  s->gathering = k;
}

void store_bulk_end(coord_t *c, const char *kind, store_commit_fn done, void *arg) {
  store_t *s = c->store;
  bulk_t *k = s->gathering;
  s->gathering = NULL;
  if (!k)
    return;
  if (!k->ntasks) { /* nothing went in it: done now */
    k->job->bulk = JOB_BULK_NONE;
    bulk_free(k);
    if (done)
      done(c, arg);
    return;
  }
  k->kind = kind;
  k->done = done;
  k->arg = arg;
  k->rows = xcalloc(1, sizeof *k->rows);
  k->nrows = k->ntasks;
  bulk_mark(k->rows, "SQL_BULK_DONE", SQL_BULK_DONE, k->job, kind);
  /* The intent commits with the batch now accumulating (the job's own
   * change), before the task rows. */
  stmt_mark(c, "SQL_BULK_MARK", SQL_BULK_MARK, k->job, kind);
  bulk_queue(s, k);
}

bool store_bulk_wanted(const coord_t *c, uint64_t rows) {
  return c->bdb && rows >= STORE_BULK_MIN_ROWS && !c->store->gathering;
}
