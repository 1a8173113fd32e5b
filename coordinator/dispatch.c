/*
 * dispatch.c - ready index, fair share and placement, see dispatch.h.
 */
#include "dispatch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limit.h"
#include "log.h"
#include "store.h"
#include "workers.h"

struct dispatch {
  heap_t levels[PRIORITY_LEVELS]; /* epqs with ready jobs, smallest share first */
  heap_t delayed;                 /* tasks backing off, soonest first */
  uint64_t round;
};

/* ------------------------------------------------------------ ordering */

static bool job_before(const void *a, const void *b) {
  return ((const job_t *)a)->id < ((const job_t *)b)->id;
}
static size_t *job_pos(void *e) { return &((job_t *)e)->heap_pos; }

static uint64_t epq_first_job(const epq_t *q) {
  const job_t *j = heap_top(&q->jobs);
  return j ? j->id : UINT64_MAX;
}

static bool epq_before(const void *a, const void *b) {
  const epq_t *x = a, *y = b;
  if (x->ep->share != y->ep->share)
    return x->ep->share < y->ep->share;
  return epq_first_job(x) < epq_first_job(y);
}
static size_t *epq_pos(void *e) { return &((epq_t *)e)->heap_pos; }

static bool task_sooner(const void *a, const void *b) {
  return ((const task_t *)a)->not_before < ((const task_t *)b)->not_before;
}
static size_t *task_pos(void *e) { return &((task_t *)e)->delay_pos; }

dispatch_t *dispatch_new(coord_t *c) {
  (void)c;
  dispatch_t *d = xcalloc(1, sizeof *d);
  for (int p = 0; p < PRIORITY_LEVELS; p++)
    heap_init(&d->levels[p], epq_before, epq_pos);
  heap_init(&d->delayed, task_sooner, task_pos);
  return d;
}

void dispatch_free(coord_t *c) {
  dispatch_t *d = c->dispatch;
  if (!d)
    return;
  c->dispatch = NULL;
  for (int p = 0; p < PRIORITY_LEVELS; p++)
    heap_free(&d->levels[p]);
  heap_free(&d->delayed);
  for (size_t i = 0; i < c->nepisodes; i++) {
    episode_t *ep = c->episodes[i];
    for (int p = 0; p < PRIORITY_LEVELS; p++) {
      if (ep->prio[p]) {
        heap_free(&ep->prio[p]->jobs);
        free(ep->prio[p]);
      }
    }
    free(ep->key);
    free(ep);
  }
  free(c->episodes);
  c->episodes = NULL;
  c->nepisodes = c->capepisodes = 0;
  free(d);
}

/* ------------------------------------------------------------ episodes */

episode_t *dispatch_episode(coord_t *c, const char *project, const char *episode) {
  char *key = xasprintf("%s/%s", project, episode);
  for (size_t i = 0; i < c->nepisodes; i++)
    if (!strcmp(c->episodes[i]->key, key)) {
      free(key);
      return c->episodes[i];
    }
  episode_t *ep = xcalloc(1, sizeof *ep);
  ep->key = key;
  ep->weight = 1;
  ep->budget_micros = -1;
  ARRAY_PUSH(c->episodes, c->nepisodes, c->capepisodes, ep);
  return ep;
}

/* Re-positions ep in every level it has ready jobs in. */
static void reorder(coord_t *c, episode_t *ep) {
  for (int p = 0; p < PRIORITY_LEVELS; p++)
    if (ep->prio[p] && ep->prio[p]->heap_pos != HEAP_NONE)
      heap_update(&c->dispatch->levels[p], ep->prio[p]);
}

static double share_of(const coord_t *c, const episode_t *ep) {
  double s = 0;
  if (c->farm_cpus)
    s = (double)ep->held_cpus / (double)c->farm_cpus;
  if (c->farm_mem_mb && (double)ep->held_mem_mb / (double)c->farm_mem_mb > s)
    s = (double)ep->held_mem_mb / (double)c->farm_mem_mb;
  if (c->farm_gpus && (double)ep->held_gpus / (double)c->farm_gpus > s)
    s = (double)ep->held_gpus / (double)c->farm_gpus;
  return s / (double)(ep->weight ? ep->weight : 1);
}

void dispatch_set_weight(coord_t *c, episode_t *ep, uint32_t weight) {
  ep->weight = weight ? weight : 1;
  ep->share = share_of(c, ep);
  reorder(c, ep);
}

static unsigned popcount64(uint64_t x) { return (unsigned)__builtin_popcountll(x); }

void dispatch_usage(coord_t *c, const attempt_t *a, int sign) {
  limit_usage(a->task->job, sign);
  episode_t *ep = a->task->job->ep;
  if (!ep)
    return;
  uint64_t gpus = popcount64(a->gpu_mask);
  if (sign > 0) {
    ep->held_cpus += a->cpus;
    ep->held_mem_mb += a->memory_mb;
    ep->held_gpus += gpus;
  } else {
    ep->held_cpus -= a->cpus < ep->held_cpus ? a->cpus : ep->held_cpus;
    ep->held_mem_mb -= a->memory_mb < ep->held_mem_mb ? a->memory_mb : ep->held_mem_mb;
    ep->held_gpus -= gpus < ep->held_gpus ? gpus : ep->held_gpus;
  }
  ep->share = share_of(c, ep);
  reorder(c, ep);
}

static bool connected(const worker_t *w) {
  return w->identlen && (w->state == WORKER_ONLINE || w->state == WORKER_DRAINING);
}

void dispatch_farm_changed(coord_t *c) {
  c->farm_cpus = c->farm_mem_mb = c->farm_gpus = 0;
  for (size_t i = 0; i < c->nworkers; i++) {
    const worker_t *w = c->workers[i];
    if (!connected(w))
      continue;
    c->farm_cpus += w->cpus;
    c->farm_mem_mb += w->memory_mb;
    c->farm_gpus += w->ngpus;
  }
  c->farm_version++;
  for (size_t i = 0; i < c->nepisodes; i++) {
    c->episodes[i]->share = share_of(c, c->episodes[i]);
    reorder(c, c->episodes[i]);
  }
  c->dispatch_needed = true;
}

/* ------------------------------------------------------------ the index */

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

static epq_t *epq_of(job_t *j) {
  int p = j->spec->priority < PRIORITY_LEVELS ? (int)j->spec->priority : PRIORITY_LEVELS - 1;
  episode_t *ep = j->ep;
  if (!ep->prio[p]) {
    epq_t *q = xcalloc(1, sizeof *q);
    q->ep = ep;
    q->priority = p;
    q->heap_pos = HEAP_NONE;
    heap_init(&q->jobs, job_before, job_pos);
    ep->prio[p] = q;
  }
  return ep->prio[p];
}

/* Puts q in, out of, or back into place in its level. */
static void epq_settle(coord_t *c, epq_t *q) {
  heap_t *level = &c->dispatch->levels[q->priority];
  if (q->jobs.len && q->heap_pos == HEAP_NONE)
    heap_push(level, q);
  else if (!q->jobs.len && q->heap_pos != HEAP_NONE)
    heap_remove(level, q);
  else if (q->heap_pos != HEAP_NONE)
    heap_update(level, q);
}

void dispatch_job_changed(coord_t *c, job_t *j) {
  if (!j->ep)
    return;
  epq_t *q = epq_of(j);
  bool want = job_dispatchable(j) && j->ready_head != NULL;
  if (want && j->heap_pos == HEAP_NONE) {
    heap_push(&q->jobs, j);
    epq_settle(c, q);
    c->dispatch_needed = true;
  } else if (!want && j->heap_pos != HEAP_NONE) {
    heap_remove(&q->jobs, j);
    epq_settle(c, q);
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
  if (t->job->bulk == JOB_BULK_SUBMIT)
    return; /* its rows are not written yet: its ready tasks come once they are (job.c) */
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
  if (t->not_before_us) {
    t->not_before_us = 0;
    store_task(c, t);
  }
  t->not_before = util_mono_us(); /* dispatchable from now: metrics_observe_assign */
  fifo_push(t->job, t);
  dispatch_job_changed(c, t->job);
  c->dispatch_needed = true;
}

void dispatch_forget_job(coord_t *c, job_t *j) {
  dispatch_t *d = c->dispatch;
  if (j->heap_pos != HEAP_NONE && j->ep) {
    epq_t *q = epq_of(j);
    heap_remove(&q->jobs, j);
    epq_settle(c, q);
  }
  for (uint32_t i = 0; i < j->ntasks; i++)
    if (j->tasks[i].delay_pos != HEAP_NONE)
      heap_remove(&d->delayed, &j->tasks[i]);
  j->ready_head = j->ready_tail = NULL;
}

/* ------------------------------------------------------------ placement */

uint32_t dispatch_cpus(const jf_requires_t *req) {
  return req->cpus ? req->cpus : (req->gpus ? 0 : 1);
}

static bool has_tags(const worker_t *w, const jf_requires_t *req) {
  for (size_t i = 0; i < req->ntags; i++) {
    bool found = false;
    for (size_t k = 0; k < w->ntags && !found; k++)
      found = !strcmp(req->tags[i], w->tags[k]);
    if (!found)
      return false;
  }
  return true;
}

/* GPUs of w with enough memory and (when busy_ok is false) not held:
 * fills *mask with the first `want` of them; returns how many there are. */
static uint32_t pick_gpus(const worker_t *w, const jf_requires_t *req, bool busy_ok,
                          uint64_t *mask) {
  uint32_t got = 0;
  *mask = 0;
  for (uint32_t i = 0; i < w->ngpus && i < 64; i++) {
    if (!busy_ok && (w->gpu_busy & (1ull << i)))
      continue;
    if (w->gpus[i].memory_mb < req->gpu_memory_mb)
      continue;
    if (got < req->gpus)
      *mask |= 1ull << i;
    got++;
  }
  return got;
}

bool dispatch_fits(const worker_t *w, const jf_requires_t *req, uint64_t *gpu_mask) {
  if (w->state != WORKER_ONLINE || w->identlen == 0)
    return false;
  if (dispatch_cpus(req) > w->cpus_free || req->memory_mb > w->mem_free)
    return false;
  if (!has_tags(w, req))
    return false;
  uint64_t mask;
  if (pick_gpus(w, req, false, &mask) < req->gpus)
    return false;
  *gpu_mask = mask;
  return true;
}

bool dispatch_could_fit(const worker_t *w, const jf_requires_t *req) {
  uint64_t mask;
  return dispatch_cpus(req) <= w->cpus && req->memory_mb <= w->memory_mb && has_tags(w, req) &&
         pick_gpus(w, req, true, &mask) >= req->gpus;
}

/* A worker that can take a task of j now, round-robin; NULL if none. */
static worker_t *place(coord_t *c, const job_t *j, uint64_t *gpu_mask) {
  size_t n = c->nworkers;
  for (size_t k = 0; k < n; k++) {
    size_t i = (c->worker_cursor + k) % n;
    worker_t *w = c->workers[i];
    if (dispatch_fits(w, &j->spec->req, gpu_mask) && limit_in_pool(j->pool, w) &&
        !job_worker_excluded(j, w)) {
      c->worker_cursor = (i + 1) % n;
      return w;
    }
  }
  return NULL;
}

/* j cannot be placed now; say why when no worker could run it now.
 *
 * Of the known workers that could ever run it (dispatch_could_fit):
 * one online and not excluded means it only waits for room; one offline
 * within a lease of the coordinator's start (it may still reconnect) or
 * draining may take it later; when every one of them is degraded, lost or excluded by the
 * job's failures there, no worker can run it any more: the reason then
 * starts with DISPATCH_STRANDED and names them (`clapper wait` stops
 * waiting for such a job).  With no such worker at all, it waits for one
 * to join. */
/* Sets j's reason to why (a waiting reason, cleared when a task of j is
 * dispatched), storing the job when it changed. */
static void set_waiting(coord_t *c, job_t *j, const char *why) {
  j->unfit = true;
  if (strcmp(j->reason, why) != 0) {
    free(j->reason);
    j->reason = xstrdup(why);
    store_job(c, j);
    log_debug("job %" PRIu64 " waits: %s", j->id, j->reason);
  }
}

/* Whether a limit of j has no unit free: then its reason says which. */
static bool note_limit(coord_t *c, job_t *j) {
  const limit_t *l = limit_full(j);
  if (!l)
    return false;
  char why[200];
  limit_reason(l, why, sizeof why);
  set_waiting(c, j, why);
  j->unfit_version = 0; /* once a unit is free, what else it waits for is checked again */
  return true;
}

static void note_unfit(coord_t *c, job_t *j) {
  if (note_limit(c, j))
    return;
  if (j->unfit_version == c->farm_version)
    return;
  j->unfit_version = c->farm_version;
  const jf_requires_t *r = &j->spec->req;
  bool possible = false, later = false;
  size_t capable = 0, excluded = 0;
  sbuf_t who = {0};
  for (size_t i = 0; i < c->nworkers && !possible; i++) {
    const worker_t *w = c->workers[i];
    if (!dispatch_could_fit(w, r) || !limit_in_pool(j->pool, w))
      continue;
    capable++;
    bool ex = job_worker_excluded(j, w);
    excluded += ex && connected(w);
    if (w->state == WORKER_ONLINE && w->identlen && !ex)
      possible = true;
    else if ((w->state == WORKER_OFFLINE && !c->grace_over) ||
             (w->state == WORKER_DRAINING && !ex))
      later = true;
    else if (who.len < 512) {
      sbuf_printf(&who, "%s%s ", who.len ? "; " : "", w->name);
      if (ex)
        sbuf_printf(&who, "failed it %d times", JOB_MAX_WORKER_FAILURES);
      else if (w->state == WORKER_DEGRADED)
        sbuf_printf(&who, "is degraded (%s)", w->degraded ? w->degraded : "no reason given");
      else if (w->state == WORKER_OFFLINE)
        sbuf_printf(&who, "is offline (not back since the coordinator started)");
      else
        sbuf_printf(&who, "is %s", worker_state_name((worker_state_t)w->state));
    }
  }
  if (possible && j->pool) {
    sbuf_free(&who);
    char why[160];
    snprintf(why, sizeof why, "waiting for a free worker in pool %s", j->pool->name);
    set_waiting(c, j, why);
    return;
  }
  if (possible) {
    sbuf_free(&who);
    if (j->unfit) {
      free(j->reason);
      j->reason = xstrdup("");
      j->unfit = false;
      store_job(c, j);
    }
    return;
  }
  sbuf_t b = {0};
  if (capable && !later) {
    sbuf_printf(&b, DISPATCH_STRANDED ": %s", who.buf);
  } else if (excluded) {
    sbuf_printf(&b, "every connected worker that could run it failed it %d times",
                JOB_MAX_WORKER_FAILURES);
  } else {
    sbuf_printf(&b, "no connected worker%s%s%s has %u CPUs", j->pool ? " in pool " : "",
                j->pool ? j->pool->name : "",
                j->pool && !j->pool->defined ? " (not defined: clapper pool set)" : "",
                dispatch_cpus(r));
    if (r->memory_mb)
      sbuf_printf(&b, ", %" PRIu64 " MB of memory", r->memory_mb);
    if (r->gpus) {
      sbuf_printf(&b, ", %u GPUs", r->gpus);
      if (r->gpu_memory_mb)
        sbuf_printf(&b, " with %" PRIu64 " MB each", r->gpu_memory_mb);
    }
    for (size_t i = 0; i < r->ntags; i++)
      sbuf_printf(&b, "%s%s", i ? "," : " and tags ", r->tags[i]);
  }
  sbuf_free(&who);
  if (strcmp(j->reason, b.buf) != 0) {
    free(j->reason);
    j->reason = sbuf_steal(&b);
    store_job(c, j);
    log_info("job %" PRIu64 " waits: %s", j->id, j->reason);
  }
  sbuf_free(&b);
  j->unfit = true;
}

/* With no room anywhere the dispatch loop tries no job, so nothing would
 * say why a job waits whose workers are all degraded or lost: check the
 * jobs with ready tasks here (note_unfit does the work once per farm
 * version and job). */
static void note_unplaced(coord_t *c) {
  dispatch_t *d = c->dispatch;
  for (int p = 0; p < PRIORITY_LEVELS; p++)
    for (size_t i = 0; i < d->levels[p].len; i++) {
      epq_t *q = d->levels[p].items[i];
      for (size_t k = 0; k < q->jobs.len; k++) {
        job_t *j = q->jobs.items[k];
        if (fifo_peek(j))
          note_unfit(c, j);
      }
    }
}

/* Whether w could take any task at all now (a free CPU or a free GPU). */
static bool has_capacity(const worker_t *w) {
  if (w->state != WORKER_ONLINE || !w->identlen)
    return false;
  uint64_t all = w->ngpus >= 64 ? ~0ull : (1ull << w->ngpus) - 1;
  return w->cpus_free > 0 || (w->ngpus && (w->gpu_busy & all) != all);
}

static bool any_capacity(const coord_t *c) {
  for (size_t i = 0; i < c->nworkers; i++)
    if (has_capacity(c->workers[i]))
      return true;
  return false;
}

typedef struct aside {
  void **items;
  size_t n, cap;
} aside_t;

static void aside_push(aside_t *a, void *p) { ARRAY_PUSH(a->items, a->n, a->cap, p); }

/* The first job of q with a ready task some worker takes now: its task
 * and worker.  Jobs that cannot be placed go to jobs_aside. */
static job_t *pick(coord_t *c, epq_t *q, aside_t *jobs_aside, task_t **task, worker_t **worker,
                   uint64_t *mask) {
  job_t *j;
  while ((j = heap_top(&q->jobs)) != NULL) {
    task_t *t = fifo_peek(j);
    if (!t) {
      heap_pop(&q->jobs);
      continue;
    }
    if (note_limit(c, j)) { /* waits for a licence, whatever the workers have */
      heap_pop(&q->jobs);
      aside_push(jobs_aside, j);
      continue;
    }
    worker_t *w = place(c, j, mask);
    if (w) {
      *task = t;
      *worker = w;
      return j;
    }
    note_unfit(c, j);
    heap_pop(&q->jobs);
    aside_push(jobs_aside, j);
  }
  return NULL;
}

void dispatch_run(coord_t *c) {
  dispatch_t *d = c->dispatch;
  c->dispatch_needed = false;
  d->round++;
  aside_t jobs_aside = {0}, epqs_aside = {0};
  bool capacity = any_capacity(c);
  if (!capacity)
    note_unplaced(c);
  for (int p = PRIORITY_LEVELS - 1; p >= 0 && capacity; p--) {
    heap_t *level = &d->levels[p];
    epq_t *q;
    while (capacity && (q = heap_top(level)) != NULL) {
      task_t *t = NULL;
      worker_t *w = NULL;
      uint64_t mask = 0;
      job_t *j = pick(c, q, &jobs_aside, &t, &w, &mask);
      if (!j) {
        /* Nothing of this episode fits now: let the next one try. */
        heap_pop(level);
        aside_push(&epqs_aside, q);
        capacity = any_capacity(c);
        continue;
      }
      fifo_pop(j);
      if (j->unfit) {
        free(j->reason);
        j->reason = xstrdup("");
        j->unfit = false;
        j->unfit_version = 0; /* blocked again, it says why again */
      }
      attempt_t *a = attempt_new(c, t, w, dispatch_cpus(&j->spec->req), j->spec->req.memory_mb,
                                 mask);
      task_set_state(c, t, TASK_DISPATCHED);
      workers_queue(c, w, OUT_ASSIGN, a->id);
      if (!fifo_peek(j)) {
        heap_remove(&q->jobs, j);
        epq_settle(c, q);
      } else {
        heap_update(level, q); /* its share grew */
      }
      if (!has_capacity(w))
        capacity = any_capacity(c);
    }
  }
  /* Back in place for the next round. */
  for (size_t i = 0; i < jobs_aside.n; i++) {
    job_t *j = jobs_aside.items[i];
    if (job_dispatchable(j) && j->ready_head && j->heap_pos == HEAP_NONE)
      heap_push(&epq_of(j)->jobs, j);
  }
  for (size_t i = 0; i < epqs_aside.n; i++)
    epq_settle(c, epqs_aside.items[i]);
  for (size_t i = 0; i < jobs_aside.n; i++)
    epq_settle(c, epq_of(jobs_aside.items[i]));
  free(jobs_aside.items);
  free(epqs_aside.items);
  /* What was set aside was just tried: only a change in resources should
   * wake dispatch again. */
  c->dispatch_needed = false;
}
