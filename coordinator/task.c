/*
 * task.c - the task state machine and what happens when an attempt ends.
 */
#include <inttypes.h>

#include "dispatch.h"
#include "log.h"
#include "review.h"
#include "model.h"
#include "store.h"

int task_set_state(coord_t *c, task_t *t, task_state_t to) {
  task_state_t from = (task_state_t)t->state;
  int step = state_step(STATE_TASK, t->id, from, to);
  if (step <= 0)
    return step;
  job_t *j = t->job;
  j->counts[from]--;
  j->counts[to]++;
  t->state = (uint8_t)to;
  store_task(c, t);
  if (to == TASK_SUCCEEDED && j->nfdependents)
    job_frames_task_succeeded(c, t);
  job_refresh(c, j);
  return 0;
}

/* Back-off before retry n (1-based): retry_backoff_s * 2^(n-1), at most a day. */
static uint64_t backoff_us(const jf_job_t *sp, unsigned n) {
  uint64_t s = sp->retry_backoff_s;
  for (unsigned i = 1; i < n && s < 86400; i++)
    s *= 2;
  if (s > 86400)
    s = 86400;
  return s * 1000000;
}

void task_attempt_ended(coord_t *c, task_t *t, attempt_t *a) {
  const jf_job_t *sp = t->job->spec;
  if (a->state == ATTEMPT_FAILED || a->state == ATTEMPT_TIMED_OUT)
    job_worker_failed(t->job, a->worker);
  /* A canceled job keeps what succeeded; everything else ends canceled. */
  if (t->job->state == JOB_CANCELED) {
    bool ok = a->state == ATTEMPT_SUCCEEDED;
    if (task_set_state(c, t, ok ? TASK_SUCCEEDED : TASK_CANCELED) == 0 && ok &&
        sp->kind == JOB_KIND_GENERATE)
      review_task_succeeded(c, t, a);
    return;
  }
  switch ((attempt_state_t)a->state) {
  case ATTEMPT_SUCCEEDED:
    if (task_set_state(c, t, TASK_SUCCEEDED) == 0 && sp->kind == JOB_KIND_GENERATE)
      review_task_succeeded(c, t, a);
    break;
  case ATTEMPT_FAILED:
  case ATTEMPT_TIMED_OUT:
    if (t->failures < UINT16_MAX)
      t->failures++;
    if (t->failures >= sp->max_attempts) {
      task_set_state(c, t, TASK_FAILED);
    } else if (task_set_state(c, t, job_requeue_state(t->job)) == 0 &&
               t->state == TASK_READY) {
      uint64_t wait = backoff_us(sp, t->failures);
      t->not_before_us = wait ? util_wall_us() + (int64_t)wait : 0;
      dispatch_task_ready(c, t, util_mono_us() + wait);
    }
    break;
  case ATTEMPT_LOST:
    if (t->losses < UINT16_MAX)
      t->losses++;
    if (t->losses > sp->max_lost) {
      task_set_state(c, t, TASK_FAILED);
      break;
    }
    /* requeued, not the task's fault */
    __attribute__((fallthrough));
  case ATTEMPT_CANCELED: /* e.g. a draining worker gave it back */
    if (task_set_state(c, t, job_requeue_state(t->job)) == 0 && t->state == TASK_READY)
      dispatch_task_ready(c, t, 0);
    break;
  default:
    log_error("task %" PRIu64 ": attempt %" PRIu64 " is not ended", t->id, a->id);
    return;
  }
  store_task(c, t);
}
