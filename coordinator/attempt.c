/*
 * attempt.c - attempts: creation with a resource reservation on a worker,
 * and the attempt state machine.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "cost.h"
#include "dispatch.h"
#include "log.h"
#include "model.h"
#include "store.h"

attempt_t *attempt_new(coord_t *c, task_t *t, worker_t *w, uint32_t cpus, uint64_t memory_mb,
                       uint64_t gpu_mask) {
  attempt_t *a = xcalloc(1, sizeof *a);
  a->id = c->next_attempt_id++;
  a->task = t;
  a->worker = w;
  a->state = ATTEMPT_DISPATCHED;
  a->cpus = cpus;
  a->memory_mb = memory_mb;
  a->gpu_mask = gpu_mask;
  a->dispatched_us = util_wall_us();
  a->dispatched_mono = util_mono_us();
  w->cpus_free -= cpus < w->cpus_free ? cpus : w->cpus_free;
  w->mem_free -= memory_mb < w->mem_free ? memory_mb : w->mem_free;
  w->gpu_busy |= gpu_mask;
  a->wnext = w->live;
  if (w->live)
    w->live->wprev = a;
  w->live = a;
  w->nlive++;
  t->live = a;
  idmap_put(&c->attempts, a->id, a);
  dispatch_usage(c, a, +1);
  store_attempt(c, a);
  return a;
}

int attempt_set_state(coord_t *c, attempt_t *a, attempt_state_t to) {
  attempt_state_t from = (attempt_state_t)a->state;
  if (from == to)
    return 0;
  if (!attempt_state_allowed(from, to)) {
    log_error("attempt %" PRIu64 ": transition %s -> %s refused", a->id,
              attempt_state_name(from), attempt_state_name(to));
    return -1;
  }
  a->state = (uint8_t)to;
  if (!attempt_state_live(to)) {
    a->recorded_us = util_wall_us();
    if (!a->ended_us)
      a->ended_us = a->recorded_us;
    worker_t *w = a->worker;
    w->cpus_free += a->cpus;
    if (w->cpus_free > w->cpus)
      w->cpus_free = w->cpus;
    w->mem_free += a->memory_mb;
    if (w->mem_free > w->memory_mb)
      w->mem_free = w->memory_mb;
    w->gpu_busy &= ~a->gpu_mask;
    if (a->wprev)
      a->wprev->wnext = a->wnext;
    else
      w->live = a->wnext;
    if (a->wnext)
      a->wnext->wprev = a->wprev;
    a->wprev = a->wnext = NULL;
    w->nlive--;
    if (a->task->live == a)
      a->task->live = NULL;
    dispatch_usage(c, a, -1);
    c->dispatch_needed = true;
    cost_attempt_ended(c, a);
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
