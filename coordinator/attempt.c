/*
 * attempt.c - attempts: creation with a resource reservation on a worker,
 * the attempt state machine, and release once their end is durable.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "cost.h"
#include "dispatch.h"
#include "log.h"
#include "model.h"
#include "store.h"
#include "workers.h"

attempt_t *attempt_new(coord_t *c, task_t *t, worker_t *w, uint32_t cpus, uint64_t memory_mb,
                       uint64_t gpu_mask) {
  attempt_t *a = xcalloc(1, sizeof *a);
  a->id = c->next_attempt_id++;
  a->try_no = ++t->tries; /* written with the task's row, dirty from here on */
  a->task = t;
  a->state = ATTEMPT_DISPATCHED;
  a->cpus = cpus;
  a->memory_mb = memory_mb;
  a->gpu_mask = gpu_mask;
  a->dispatched_us = util_wall_us();
  a->dispatched_mono = 0; /* the start deadline runs from the send (workers.c) */
  workers_attach(w, a);
  t->live = a;
  idmap_put(&c->attempts, a->id, a);
  dispatch_usage(c, a, +1);
  t->job->nattempts++;
  store_job(c, t->job);
  store_attempt(c, a);
  return a;
}

/* After the batch holding a's end committed: free it, unless it changed
 * again meanwhile (a log piece arriving after the result), then after
 * that change is durable. */
static void retire(coord_t *c, void *arg) {
  attempt_t *a = arg;
  if (a->dirty) {
    store_on_commit(c, retire, a);
    return;
  }
  idmap_del(&c->attempts, a->id);
  attempt_free(a);
}

int attempt_set_state(coord_t *c, attempt_t *a, attempt_state_t to) {
  int step = state_step(STATE_ATTEMPT, a->id, a->state, to);
  if (step <= 0)
    return step;
  a->state = (uint8_t)to;
  if (!attempt_state_live(to)) {
    a->recorded_us = util_wall_us();
    if (!a->ended_us)
      a->ended_us = a->recorded_us;
    workers_detach(a->worker, a);
    if (a->task->live == a)
      a->task->live = NULL;
    dispatch_usage(c, a, -1);
    job_t *j = a->task->job;
    /* Saturating: a worker's figure is not to be trusted to fit. */
    j->wall_us = a->wall_us > (uint64_t)INT64_MAX - j->wall_us ? (uint64_t)INT64_MAX
                                                               : j->wall_us + a->wall_us;
    store_job(c, j);
    c->dispatch_needed = true;
    cost_attempt_ended(c, a);
    store_on_commit(c, retire, a);
  }
  store_attempt(c, a);
  return 0;
}

void attempt_free(attempt_t *a) {
  if (!a)
    return;
  free(a->error);
  free(a->outputs_json);
  free(a);
}
