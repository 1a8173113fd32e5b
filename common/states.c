/*
 * states.c - state names and transition tables, see states.h.
 */
#include "states.h"

#include <inttypes.h>
#include <string.h>

#include "log.h"

#define BIT(s) (1u << (s))

static const char *const job_names[JOB_STATE_COUNT] = {
    "waiting", "queued", "running", "paused", "held", "succeeded", "failed", "canceled"};
static const char *const task_names[TASK_STATE_COUNT] = {
    "waiting", "ready", "dispatched", "running", "succeeded",
    "failed",  "canceled", "held", "paused"};
static const char *const attempt_names[ATTEMPT_STATE_COUNT] = {
    "dispatched", "running", "succeeded", "failed", "timed_out", "lost", "canceled"};
static const char *const worker_names[WORKER_STATE_COUNT] = {"offline", "online", "draining",
                                                             "lost", "degraded"};

/* job_next[from]: the states a job may move to. */
static const unsigned job_next[JOB_STATE_COUNT] = {
    [JOB_WAITING] = BIT(JOB_QUEUED) | BIT(JOB_CANCELED) | BIT(JOB_PAUSED) | BIT(JOB_HELD),
    [JOB_QUEUED] = BIT(JOB_RUNNING) | BIT(JOB_PAUSED) | BIT(JOB_HELD) | BIT(JOB_CANCELED) |
                   BIT(JOB_WAITING),
    [JOB_RUNNING] = BIT(JOB_SUCCEEDED) | BIT(JOB_FAILED) | BIT(JOB_CANCELED) |
                    BIT(JOB_PAUSED) | BIT(JOB_HELD),
    /* Resumed or released: back to waiting when dependencies are not met. */
    [JOB_PAUSED] = BIT(JOB_QUEUED) | BIT(JOB_RUNNING) | BIT(JOB_CANCELED) |
                   BIT(JOB_SUCCEEDED) | BIT(JOB_FAILED) | BIT(JOB_WAITING),
    [JOB_HELD] = BIT(JOB_QUEUED) | BIT(JOB_RUNNING) | BIT(JOB_CANCELED) | BIT(JOB_PAUSED) |
                 BIT(JOB_SUCCEEDED) | BIT(JOB_FAILED) | BIT(JOB_WAITING),
    [JOB_SUCCEEDED] = 0,
    [JOB_FAILED] = BIT(JOB_RUNNING) | BIT(JOB_CANCELED), /* operator retry */
    /* Revived: a job canceled only because a job it runs after failed (or
     * was canceled for that reason, and so on) waits again when that job
     * is retried (job.c, revive).  A job a person canceled never does. */
    [JOB_CANCELED] = BIT(JOB_WAITING),
};

static const unsigned task_next[TASK_STATE_COUNT] = {
    [TASK_WAITING] = BIT(TASK_READY) | BIT(TASK_CANCELED) | BIT(TASK_HELD) | BIT(TASK_PAUSED),
    [TASK_READY] = BIT(TASK_DISPATCHED) | BIT(TASK_HELD) | BIT(TASK_PAUSED) |
                   BIT(TASK_CANCELED) | BIT(TASK_WAITING),
    /* From dispatched: started, a fast result, or requeued when lost
     * (paused instead of ready when its job is paused). */
    [TASK_DISPATCHED] = BIT(TASK_RUNNING) | BIT(TASK_SUCCEEDED) | BIT(TASK_FAILED) |
                        BIT(TASK_READY) | BIT(TASK_CANCELED) | BIT(TASK_PAUSED) |
                        BIT(TASK_HELD),
    [TASK_RUNNING] = BIT(TASK_SUCCEEDED) | BIT(TASK_FAILED) | BIT(TASK_READY) |
                     BIT(TASK_CANCELED) | BIT(TASK_PAUSED) | BIT(TASK_HELD),
    [TASK_SUCCEEDED] = 0,
    /* Operator retry: ready, or paused / held when its job is. */
    [TASK_FAILED] = BIT(TASK_READY) | BIT(TASK_CANCELED) | BIT(TASK_PAUSED) | BIT(TASK_HELD),
    /* Its job revived (see JOB_CANCELED above): it waits again. */
    [TASK_CANCELED] = BIT(TASK_WAITING),
    [TASK_HELD] = BIT(TASK_READY) | BIT(TASK_CANCELED) | BIT(TASK_PAUSED),
    [TASK_PAUSED] = BIT(TASK_READY) | BIT(TASK_CANCELED) | BIT(TASK_HELD),
};

static const unsigned attempt_next[ATTEMPT_STATE_COUNT] = {
    [ATTEMPT_DISPATCHED] = BIT(ATTEMPT_RUNNING) | BIT(ATTEMPT_SUCCEEDED) |
                           BIT(ATTEMPT_FAILED) | BIT(ATTEMPT_TIMED_OUT) | BIT(ATTEMPT_LOST) |
                           BIT(ATTEMPT_CANCELED),
    [ATTEMPT_RUNNING] = BIT(ATTEMPT_SUCCEEDED) | BIT(ATTEMPT_FAILED) |
                        BIT(ATTEMPT_TIMED_OUT) | BIT(ATTEMPT_LOST) | BIT(ATTEMPT_CANCELED),
};

static int parse(const char *const *names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], name))
      return i;
  return -1;
}

const char *job_state_name(job_state_t s) {
  return (unsigned)s < JOB_STATE_COUNT ? job_names[s] : "?";
}
const char *task_state_name(task_state_t s) {
  return (unsigned)s < TASK_STATE_COUNT ? task_names[s] : "?";
}
const char *attempt_state_name(attempt_state_t s) {
  return (unsigned)s < ATTEMPT_STATE_COUNT ? attempt_names[s] : "?";
}

const char *worker_state_name(worker_state_t s) {
  return (unsigned)s < WORKER_STATE_COUNT ? worker_names[s] : "?";
}

int job_state_parse(const char *name) { return parse(job_names, JOB_STATE_COUNT, name); }
int task_state_parse(const char *name) { return parse(task_names, TASK_STATE_COUNT, name); }
int attempt_state_parse(const char *name) {
  return parse(attempt_names, ATTEMPT_STATE_COUNT, name);
}

bool job_state_allowed(job_state_t from, job_state_t to) {
  return (unsigned)from < JOB_STATE_COUNT && (unsigned)to < JOB_STATE_COUNT &&
         (job_next[from] & BIT(to));
}
bool task_state_allowed(task_state_t from, task_state_t to) {
  return (unsigned)from < TASK_STATE_COUNT && (unsigned)to < TASK_STATE_COUNT &&
         (task_next[from] & BIT(to));
}
bool attempt_state_allowed(attempt_state_t from, attempt_state_t to) {
  return (unsigned)from < ATTEMPT_STATE_COUNT && (unsigned)to < ATTEMPT_STATE_COUNT &&
         (attempt_next[from] & BIT(to));
}

bool job_state_terminal(job_state_t s) {
  return s == JOB_SUCCEEDED || s == JOB_FAILED || s == JOB_CANCELED;
}
bool task_state_terminal(task_state_t s) {
  return s == TASK_SUCCEEDED || s == TASK_FAILED || s == TASK_CANCELED;
}
bool attempt_state_live(attempt_state_t s) {
  return s == ATTEMPT_DISPATCHED || s == ATTEMPT_RUNNING;
}

/* Each kind's names and transition table. */
static const struct {
  const char *what;
  const char *const *names;
  const unsigned *next;
  int count;
} kinds[] = {
    [STATE_JOB] = {"job", job_names, job_next, JOB_STATE_COUNT},
    [STATE_TASK] = {"task", task_names, task_next, TASK_STATE_COUNT},
    [STATE_ATTEMPT] = {"attempt", attempt_names, attempt_next, ATTEMPT_STATE_COUNT},
};

int state_step(state_kind_t kind, uint64_t id, int from, int to) {
  if (from == to)
    return 0;
  int n = kinds[kind].count;
  bool in = from >= 0 && from < n && to >= 0 && to < n;
  if (in && (kinds[kind].next[from] & BIT(to)))
    return 1;
  log_error("%s %" PRIu64 ": transition %s -> %s refused", kinds[kind].what, id,
            from >= 0 && from < n ? kinds[kind].names[from] : "?",
            to >= 0 && to < n ? kinds[kind].names[to] : "?");
  return -1;
}
