/*
 * dispatch.c - ready index and placement, see dispatch.h.
 */
#include "dispatch.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "workers.h"

struct dispatch {
  heap_t jobs;    /* jobs with ready tasks, best first */
  heap_t delayed; /* tasks backing off, soonest first */
};

static bool job_before(const void *a, const void *b) {
  const job_t *x = a, *y = b;
  if (x->spec->priority != y->spec->priority)
    return x->spec->priority > y->spec->priority;
  return x->id < y->id;
}
static size_t *job_pos(void *e) { return &((job_t *)e)->heap_pos; }

static bool task_sooner(const void *a, const void *b) {
  return ((const task_t *)a)->not_before < ((const task_t *)b)->not_before;
}
static size_t *task_pos(void *e) { return &((task_t *)e)->delay_pos; }

dispatch_t *dispatch_new(coord_t *c) {
  (void)c;
  dispatch_t *d = xcalloc(1, sizeof *d);
  heap_init(&d->jobs, job_before, job_pos);
  heap_init(&d->delayed, task_sooner, task_pos);
  return d;
}

void dispatch_free(dispatch_t **dp) {
  dispatch_t *d = *dp;
  if (!d)
    return;
  *dp = NULL;
  heap_free(&d->jobs);
  heap_free(&d->delayed);
  free(d);
}

static bool job_dispatchable(const job_t *j) {
  return j->state == JOB_QUEUED || j->state == JOB_RUNNING;
}

/* The first task of j's FIFO that can go now; stale entries are dropped. */
static task_t *fifo_peek(job_t *j) {
  while (j->ready_head) {
    task_t *t = j->ready_head;
    if (t->state == TASK_READY && t->delay_pos == HEAP_NONE)
      return t;
    j->ready_head = t->next;
    if (!j->ready_head)
      j->ready_tail = NULL;
    t->next = NULL;
    t->in_fifo = false;
  }
  return NULL;
}

static void fifo_pop(job_t *j) {
  task_t *t = j->ready_head;
  j->ready_head = t->next;
  if (!j->ready_head)
    j->ready_tail = NULL;
  t->next = NULL;
  t->in_fifo = false;
}

static void fifo_push(job_t *j, task_t *t) {
  if (t->in_fifo)
    return;
  t->in_fifo = true;
  t->next = NULL;
  if (j->ready_tail)
    j->ready_tail->next = t;
  else
    j->ready_head = t;
  j->ready_tail = t;
}

void dispatch_job_changed(coord_t *c, job_t *j) {
  dispatch_t *d = c->dispatch;
  bool want = job_dispatchable(j) && j->ready_head != NULL;
  if (want && j->heap_pos == HEAP_NONE) {
    heap_push(&d->jobs, j);
    c->dispatch_needed = true;
  } else if (!want && j->heap_pos != HEAP_NONE) {
    heap_remove(&d->jobs, j);
  }
}

static void on_delay(uv_timer_t *h);

static void arm_delay(coord_t *c) {
  task_t *t = heap_top(&c->dispatch->delayed);
  if (!t) {
    uv_timer_stop(&c->delay_timer);
    return;
  }
  uint64_t now = util_mono_us();
  uint64_t ms = t->not_before > now ? (t->not_before - now + 999) / 1000 : 0;
  uv_timer_start(&c->delay_timer, on_delay, ms, 0);
}

static void on_delay(uv_timer_t *h) {
  coord_t *c = h->data;
  uint64_t now = util_mono_us();
  task_t *t;
  while ((t = heap_top(&c->dispatch->delayed)) && t->not_before <= now) {
    heap_pop(&c->dispatch->delayed);
    if (t->state == TASK_READY)
      dispatch_task_ready(c, t, 0);
  }
  arm_delay(c);
}

void dispatch_task_ready(coord_t *c, task_t *t, uint64_t not_before) {
  if (not_before > util_mono_us()) {
    t->not_before = not_before;
    if (t->delay_pos == HEAP_NONE)
      heap_push(&c->dispatch->delayed, t);
    else
      heap_update(&c->dispatch->delayed, t);
    arm_delay(c);
    return;
  }
  if (t->delay_pos != HEAP_NONE) {
    heap_remove(&c->dispatch->delayed, t);
    arm_delay(c);
  }
  fifo_push(t->job, t);
  dispatch_job_changed(c, t->job);
  c->dispatch_needed = true;
}

void dispatch_forget_job(coord_t *c, job_t *j) {
  dispatch_t *d = c->dispatch;
  if (j->heap_pos != HEAP_NONE)
    heap_remove(&d->jobs, j);
  for (uint32_t i = 0; i < j->ntasks; i++)
    if (j->tasks[i].delay_pos != HEAP_NONE)
      heap_remove(&d->delayed, &j->tasks[i]);
  j->ready_head = j->ready_tail = NULL;
}

uint32_t dispatch_cpus(const jf_requires_t *req) {
  return req->cpus ? req->cpus : (req->gpus ? 0 : 1);
}

bool dispatch_fits(const worker_t *w, const jf_requires_t *req, uint64_t *gpu_mask) {
  if (w->state != WORKER_ONLINE || w->identlen == 0)
    return false;
  if (dispatch_cpus(req) > w->cpus_free || req->memory_mb > w->mem_free)
    return false;
  for (size_t i = 0; i < req->ntags; i++) {
    bool found = false;
    for (size_t k = 0; k < w->ntags && !found; k++)
      found = !strcmp(req->tags[i], w->tags[k]);
    if (!found)
      return false;
  }
  uint64_t mask = 0;
  uint32_t got = 0;
  for (uint32_t i = 0; i < w->ngpus && i < 64 && got < req->gpus; i++) {
    if (w->gpu_busy & (1ull << i))
      continue;
    if (w->gpus[i].memory_mb < req->gpu_memory_mb)
      continue;
    mask |= 1ull << i;
    got++;
  }
  if (got < req->gpus)
    return false;
  *gpu_mask = mask;
  return true;
}

/* A worker that can take a task of j now, round-robin; NULL if none. */
static worker_t *place(coord_t *c, const job_t *j, uint64_t *gpu_mask) {
  size_t n = c->nworkers;
  for (size_t k = 0; k < n; k++) {
    size_t i = (c->worker_cursor + k) % n;
    worker_t *w = c->workers[i];
    if (dispatch_fits(w, &j->spec->req, gpu_mask)) {
      c->worker_cursor = (i + 1) % n;
      return w;
    }
  }
  return NULL;
}

static bool any_capacity(const coord_t *c) {
  for (size_t i = 0; i < c->nworkers; i++) {
    const worker_t *w = c->workers[i];
    if (w->state == WORKER_ONLINE && w->identlen &&
        (w->cpus_free > 0 || (w->ngpus && w->gpu_busy != (w->ngpus >= 64 ? ~0ull : (1ull << w->ngpus) - 1))))
      return true;
  }
  return false;
}

void dispatch_run(coord_t *c) {
  dispatch_t *d = c->dispatch;
  c->dispatch_needed = false;
  if (!d->jobs.len || !any_capacity(c))
    return;
  job_t **skipped = NULL;
  size_t nskipped = 0, capskipped = 0;
  job_t *j;
  while ((j = heap_top(&d->jobs)) != NULL) {
    task_t *t = fifo_peek(j);
    if (!t) {
      heap_pop(&d->jobs);
      continue;
    }
    uint64_t gpu_mask = 0;
    worker_t *w = place(c, j, &gpu_mask);
    if (!w) {
      heap_pop(&d->jobs);
      if (nskipped == capskipped) {
        capskipped = capskipped ? capskipped * 2 : 16;
        skipped = xreallocarray(skipped, capskipped, sizeof *skipped);
      }
      skipped[nskipped++] = j;
      if (!any_capacity(c))
        break;
      continue;
    }
    fifo_pop(j);
    attempt_t *a = attempt_new(c, t, w, dispatch_cpus(&j->spec->req), j->spec->req.memory_mb,
                               gpu_mask);
    task_set_state(c, t, TASK_DISPATCHED);
    workers_queue(c, w, OUT_ASSIGN, a->id);
  }
  for (size_t i = 0; i < nskipped; i++)
    dispatch_job_changed(c, skipped[i]);
  free(skipped);
  /* dispatch_job_changed set dispatch_needed for re-added jobs; they were
   * just tried, so only a change in resources should wake us again. */
  c->dispatch_needed = false;
}
