/*
 * job.c - jobs: creation from a submission, dependencies, the job state
 * machine, its derivation from task counts, and the operator's actions.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "limit.h"
#include "review.h"
#include "log.h"
#include "model.h"
#include "store.h"
#include "workers.h"

jfref_t *jfref_new(jobfile_t *jf) {
  jfref_t *r = xcalloc(1, sizeof *r);
  r->jf = jf;
  return r;
}

void jfref_release(jfref_t *r) {
  if (r && --r->refs <= 0) {
    jobfile_free(&r->jf);
    free(r->idem_key);
    free(r->idem_digest);
    free(r);
  }
}

char *job_output_dir(const coord_t *c, const char *project, const char *episode,
                     const char *shot, const char *name, uint64_t id) {
  return xasprintf("%s/%s/%s/%s/%s.%" PRIu64, c->cfg.output_root, project, episode,
                   shot ? shot : "_", name, id);
}

char *job_task_output_dir(const job_t *j, const task_t *t) {
  if (j->spec->has_takes)
    return xasprintf("%s/take-%" PRId64, j->output_dir, t->spec.take);
  return xstrdup(j->output_dir);
}

/* Logs an event about j with a few string details. */
static void job_event(coord_t *c, job_t *j, const char *actor, const char *kind, json_t *d) {
  char sid[24];
  snprintf(sid, sizeof sid, "%" PRIu64, j->id);
  char *dj = json_dumps(d, JSON_COMPACT);
  store_event(c, actor, kind, "job", sid, dj);
  free(dj);
  json_decref(d);
}

void job_add_dependent(job_t *dep, job_t *j) {
  ARRAY_PUSH(dep->dependents, dep->ndependents, dep->capdependents, j);
  j->deps_pending++;
}

void job_add_gate(coord_t *c, job_t *j, uint64_t root, const char *approved) {
  bool first = j->ngates == 0;
  ARRAY_PUSH(j->gates, j->ngates, j->capgates, ((job_gate_t){root, !approved}));
  if (approved) {
    if (first)
      j->approved_output = xstrdup(approved);
    return;
  }
  j->gates_pending++;
  review_wait_for(c, j, root);
}

/* Where a job goes when nothing (pause, budget) holds it back. */
static job_state_t free_state(const job_t *j) {
  if (j->deps_pending || j->gates_pending)
    return JOB_WAITING;
  for (int s = TASK_DISPATCHED; s <= TASK_FAILED; s++)
    if (j->counts[s])
      return JOB_RUNNING;
  return JOB_QUEUED;
}

task_state_t job_requeue_state(const job_t *j) {
  return j->state == JOB_PAUSED ? TASK_PAUSED : j->state == JOB_HELD ? TASK_HELD : TASK_READY;
}

void job_hold(coord_t *c, job_t *j, const char *reason) {
  if (j->state != JOB_WAITING && j->state != JOB_QUEUED && j->state != JOB_RUNNING)
    return;
  job_set_state(c, j, JOB_HELD, reason);
  for (uint32_t k = 0; k < j->ntasks; k++)
    if (j->tasks[k].state == TASK_READY)
      task_set_state(c, &j->tasks[k], TASK_HELD);
}

void job_release(coord_t *c, job_t *j) {
  if (j->state != JOB_HELD)
    return;
  job_set_state(c, j, free_state(j), "");
  for (uint32_t k = 0; k < j->ntasks; k++)
    if (j->tasks[k].state == TASK_HELD && task_set_state(c, &j->tasks[k], TASK_READY) == 0)
      dispatch_task_ready(c, &j->tasks[k], 0);
}

/* Sets every task of a job being created to `ts`, without transitions. */
static void init_tasks(job_t *j, task_state_t ts) {
  memset(j->counts, 0, sizeof j->counts);
  for (uint32_t k = 0; k < j->ntasks; k++)
    j->tasks[k].state = (uint8_t)ts;
  j->counts[ts] = j->ntasks;
}

static void cancel(coord_t *c, job_t *j, const char *reason);
static void maybe_retire(coord_t *c, job_t *j);

job_t *job_new(coord_t *c, uint64_t id, jfref_t *src, jf_job_t *spec, episode_t *ep,
               uint32_t ntasks, uint64_t first_task_id) {
  job_t *j = xcalloc(1, sizeof *j);
  j->id = id;
  j->src = src;
  src->refs++;
  j->spec = spec;
  j->project = src->jf->project;
  j->episode = src->jf->episode;
  j->ep = ep;
  j->gate_root = id;
  j->heap_pos = HEAP_NONE;
  j->ntasks = ntasks;
  j->first_task_id = first_task_id;
  j->tasks = xcalloc(ntasks ? ntasks : 1, sizeof *j->tasks);
  for (uint32_t k = 0; k < ntasks; k++) {
    task_t *t = &j->tasks[k];
    t->id = first_task_id + k;
    t->job = j;
    t->seq = k;
    t->delay_pos = HEAP_NONE;
  }
  limit_job_new(c, j);
  idmap_put(&c->jobs, id, j);
  return j;
}

/* The state of the job an `after` entry names: in made[] (this file), in
 * memory, or in ext; a job by id in neither is taken as having succeeded
 * (the caller checked it exists).  *dep is set when it is in memory. */
static job_state_t dep_state(coord_t *c, job_t **made, const jf_dep_t *d, const dep_state_t *ext,
                             size_t next, uint64_t *id, job_t **dep) {
  *dep = d->by_id ? idmap_get(&c->jobs, d->job_id) : made[d->index];
  if (*dep) {
    *id = (*dep)->id;
    return (job_state_t)(*dep)->state;
  }
  *id = d->job_id;
  for (size_t e = 0; e < next; e++)
    if (ext[e].id == d->job_id)
      return ext[e].state;
  return JOB_SUCCEEDED;
}

/* The gate root of an `after_approval` entry and, when a take of it is
 * approved already, that take's first output (else NULL).  A job by id
 * counts for its gate root: ext's, else its own when in memory (a retake
 * not yet in the database). */
static uint64_t gate_root(coord_t *c, job_t **made, const jf_dep_t *d, const dep_state_t *ext,
                          size_t next, const char **approved) {
  uint64_t root = d->by_id ? d->job_id : made[d->index]->id;
  const job_t *mem = d->by_id ? idmap_get(&c->jobs, d->job_id) : NULL;
  if (mem && mem->gate_root)
    root = mem->gate_root;
  *approved = NULL;
  for (size_t e = 0; d->by_id && e < next; e++)
    if (ext[e].id == d->job_id) {
      root = ext[e].gate_root ? ext[e].gate_root : d->job_id;
      *approved = ext[e].approved_output;
    }
  if (!*approved)
    *approved = review_approved_output(c, root);
  return root;
}

/* Jobs created from one submission whose rows are written (in the batch
 * accumulating, or committed by a bulk submit): what follows their
 * creation. */
typedef struct submitted {
  job_t **made;
  size_t n;
  char **canceled_by; /* per job: why it is canceled at once, or NULL */
  char *actor;
} submitted_t;

static void submitted(coord_t *c, void *arg) {
  submitted_t *sub = arg;
  job_t **made = sub->made;
  for (size_t i = 0; i < sub->n; i++) {
    job_t *j = made[i];
    for (uint32_t k = 0; k < j->ntasks; k++)
      if (j->tasks[k].state == TASK_READY)
        dispatch_task_ready(c, &j->tasks[k], 0);
    json_t *deps = json_array();
    for (size_t k = 0; k < j->ndeps; k++)
      json_array_append_new(deps, json_integer((json_int_t)j->deps[k]));
    job_event(c, j, sub->actor, "job.submitted",
              json_pack("{s:s,s:s,s:I,s:o}", "name", j->spec->name, "kind",
                        job_kind_name(j->spec->kind), "tasks", (json_int_t)j->ntasks, "after",
                        deps));
  }
  /* Jobs after a failed or canceled job are canceled, with theirs. */
  for (size_t i = 0; i < sub->n; i++) {
    if (sub->canceled_by[i])
      cancel(c, made[i], sub->canceled_by[i]);
    free(sub->canceled_by[i]);
  }
  /* An episode over its budget starts nothing new. */
  for (size_t i = 0; i < sub->n; i++)
    if (made[i]->ep && made[i]->ep->over_budget)
      job_hold(c, made[i], "budget: the episode is over its budget");
  for (size_t i = 0; i < sub->n; i++)
    maybe_retire(c, made[i]); /* changed while its rows were written */
  free(sub->canceled_by);
  free(sub->made);
  free(sub->actor);
  free(sub);
}

size_t job_create_all(coord_t *c, jobfile_t *jf, const char *actor, const dep_state_t *ext,
                      size_t next, uint64_t *first_job_id) {
  return job_create_keyed(c, jf, actor, ext, next, NULL, NULL, first_job_id);
}

size_t job_create_keyed(coord_t *c, jobfile_t *jf, const char *actor, const dep_state_t *ext,
                        size_t next, const char *key, const char *digest,
                        uint64_t *first_job_id) {
  jfref_t *ref = jfref_new(jf);
  *first_job_id = c->next_job_id;
  if (key) {
    /* Before any row is made: a bulk submit makes them below. */
    ref->idem_key = xstrdup(key);
    ref->idem_digest = xstrdup(digest);
    ref->first_job_id = c->next_job_id;
  }
  int64_t now = util_wall_us();
  job_t **made = xcalloc(jf->njobs, sizeof *made);
  episode_t *ep = dispatch_episode(c, jf->project, jf->episode);

  for (size_t i = 0; i < jf->njobs; i++) {
    jf_job_t *sp = &jf->jobs[i];
    job_t *j = job_new(c, c->next_job_id++, ref, sp, ep, (uint32_t)sp->ntasks, c->next_task_id);
    made[i] = j;
    c->next_task_id += sp->ntasks;
    j->output_dir = job_output_dir(c, jf->project, jf->episode, sp->shot, sp->name, j->id);
    j->submitted_by = xstrdup(actor);
    j->reason = xstrdup("");
    j->submitted_us = now;
    for (uint32_t k = 0; k < j->ntasks; k++)
      j->tasks[k].spec = sp->tasks[k];
    /* The task array now carries the expansion; drop the parser's copy. */
    free(sp->tasks);
    sp->tasks = NULL;
  }

  /* Dependencies and approval gates, in file order. */
  char **canceled_by = xcalloc(jf->njobs, sizeof *canceled_by);
  for (size_t i = 0; i < jf->njobs; i++) {
    job_t *j = made[i];
    const jf_job_t *sp = j->spec;
    j->deps = xcalloc(sp->ndeps ? sp->ndeps : 1, sizeof *j->deps);
    j->deps_new = sp->ndeps > 0;
    for (size_t k = 0; k < sp->ndeps; k++) {
      const jf_dep_t *d = &sp->deps[k];
      if (d->kind == JF_DEP_AFTER) {
        uint64_t id;
        job_t *dep;
        job_state_t st = dep_state(c, made, d, ext, next, &id, &dep);
        j->deps[j->ndeps++] = id;
        /* Unfinished but not in memory (the caller refuses that; never
         * wait on nothing): as if it could not be recovered. */
        if (st != JOB_SUCCEEDED && !dep && st != JOB_FAILED)
          st = JOB_CANCELED;
        if (st == JOB_FAILED || st == JOB_CANCELED) {
          if (!canceled_by[i])
            canceled_by[i] = xasprintf("dependency job %" PRIu64 " %s", id,
                                       st == JOB_FAILED ? "failed" : "was canceled");
        } else if (st != JOB_SUCCEEDED) {
          job_add_dependent(dep, j);
        }
        continue;
      }
      const char *approved;
      uint64_t root = gate_root(c, made, d, ext, next, &approved);
      job_add_gate(c, j, root, approved);
    }
  }

  uint64_t rows = 0;
  for (size_t i = 0; i < jf->njobs; i++) {
    job_t *j = made[i];
    bool waits = j->deps_pending > 0 || j->gates_pending > 0;
    j->state = (uint8_t)(waits ? JOB_WAITING : JOB_QUEUED);
    init_tasks(j, waits ? TASK_WAITING : TASK_READY);
    rows += j->ntasks;
  }
  submitted_t *sub = xcalloc(1, sizeof *sub);
  sub->made = made;
  sub->n = jf->njobs;
  sub->canceled_by = canceled_by;
  sub->actor = xstrdup(actor);
  if (store_bulk_wanted(c, rows)) {
    /* Written beside the batches; it starts once its rows committed. */
    store_bulk_submit(c, made, jf->njobs, submitted, sub);
  } else {
    for (size_t i = 0; i < jf->njobs; i++) {
      store_job(c, made[i]);
      for (uint32_t k = 0; k < made[i]->ntasks; k++)
        store_task(c, &made[i]->tasks[k]);
    }
    submitted(c, sub);
  }
  return jf->njobs;
}

/* The dependencies of j all succeeded. */
static void deps_met(coord_t *c, job_t *j) {
  if (j->state == JOB_WAITING && j->ep && j->ep->over_budget) {
    job_hold(c, j, "budget: the episode is over its budget");
  } else if (j->state == JOB_WAITING) {
    job_set_state(c, j, JOB_QUEUED, "");
    for (uint32_t k = 0; k < j->ntasks; k++)
      if (j->tasks[k].state == TASK_WAITING && task_set_state(c, &j->tasks[k], TASK_READY) == 0)
        dispatch_task_ready(c, &j->tasks[k], 0);
  } else if (j->state == JOB_PAUSED || j->state == JOB_HELD) {
    /* Resume and release make paused and held tasks ready. */
    for (uint32_t k = 0; k < j->ntasks; k++)
      if (j->tasks[k].state == TASK_WAITING)
        task_set_state(c, &j->tasks[k], job_requeue_state(j));
  }
}

void job_deps_settled(coord_t *c, job_t *j) {
  if (!j->deps_pending && !j->gates_pending)
    deps_met(c, j);
}

void job_gates_settled(coord_t *c, job_t *j) {
  if (j->gates_pending || j->deps_pending)
    return;
  if (j->unfit || !strncmp(j->reason, "every take", 10) || !strncmp(j->reason, "no take", 7)) {
    free(j->reason);
    j->reason = xstrdup("");
  }
  deps_met(c, j);
}

/* ------------------------------------------------------------ retirement */

/* Succeeded and canceled jobs whose tasks all ended leave memory once that
 * is durable; failed jobs stay, since `retry` can run them again. */
static bool retirable(const job_t *j) {
  return j->bulk == JOB_BULK_NONE && (j->state == JOB_SUCCEEDED || j->state == JOB_CANCELED) &&
         j->counts[TASK_SUCCEEDED] + j->counts[TASK_CANCELED] + j->counts[TASK_FAILED] ==
             j->ntasks;
}

/* After the batch holding j's end committed: drop it from every index and
 * free it, unless it changed again meanwhile (then after that change). */
static void retire(coord_t *c, void *arg) {
  job_t *j = arg;
  if (!retirable(j)) {
    j->retiring = false;
    return;
  }
  if (j->dirty) {
    store_on_commit(c, retire, j);
    return;
  }
  idmap_del(&c->jobs, j->id);
  /* A job canceled while a job it runs after still runs is among that
   * job's dependents: it must not be told when that one ends. */
  for (size_t k = 0; k < j->ndeps; k++) {
    job_t *dep = idmap_get(&c->jobs, j->deps[k]);
    for (size_t i = 0; dep && i < dep->ndependents; i++)
      if (dep->dependents[i] == j) {
        dep->dependents[i] = dep->dependents[--dep->ndependents];
        break;
      }
  }
  dispatch_forget_job(c, j);
  review_forget_job(c, j);
  job_free(j);
}

static void maybe_retire(coord_t *c, job_t *j) {
  if (!j->retiring && retirable(j)) {
    j->retiring = true;
    store_on_commit(c, retire, j);
  }
}

/* j finished: tell the jobs that wait for it. */
static void notify_dependents(coord_t *c, job_t *j) {
  job_t **ds = j->dependents;
  size_t n = j->ndependents;
  j->dependents = NULL;
  j->ndependents = j->capdependents = 0;
  for (size_t i = 0; i < n; i++) {
    job_t *d = ds[i];
    if (j->state == JOB_SUCCEEDED) {
      if (d->deps_pending && --d->deps_pending == 0 && !d->gates_pending)
        deps_met(c, d);
    } else {
      char reason[96];
      snprintf(reason, sizeof reason, "dependency job %" PRIu64 " %s", j->id,
               j->state == JOB_FAILED ? "failed" : "was canceled");
      cancel(c, d, reason);
    }
  }
  free(ds);
}

int job_set_state(coord_t *c, job_t *j, job_state_t to, const char *reason) {
  job_state_t from = (job_state_t)j->state;
  int step = state_step(STATE_JOB, j->id, from, to);
  if (step <= 0)
    return step;
  j->state = (uint8_t)to;
  int64_t now = util_wall_us();
  if (to == JOB_RUNNING && !j->started_us)
    j->started_us = now;
  if (job_state_terminal(to))
    j->finished_us = now;
  else
    j->finished_us = 0;
  if (reason) {
    free(j->reason);
    j->reason = xstrdup(reason);
    j->unfit = false;
  }
  store_job(c, j);
  job_event(c, j, "coordinator", "job.state",
            json_pack("{s:s,s:s,s:s}", "from", job_state_name(from), "to", job_state_name(to),
                      "reason", reason ? reason : ""));
  dispatch_job_changed(c, j);
  if (to == JOB_SUCCEEDED && j->spec->kind == JOB_KIND_RENDER)
    review_job_succeeded(c, j);
  if (job_state_terminal(to))
    notify_dependents(c, j);
  maybe_retire(c, j);
  return 0;
}

void job_refresh(coord_t *c, job_t *j) {
  uint32_t ok = j->counts[TASK_SUCCEEDED], failed = j->counts[TASK_FAILED],
           canceled = j->counts[TASK_CANCELED];
  store_job(c, j); /* the counts changed */
  if (ok + failed + canceled == j->ntasks) {
    job_state_t to = failed ? JOB_FAILED : canceled ? JOB_CANCELED : JOB_SUCCEEDED;
    if (j->state != to && j->state != JOB_CANCELED) {
      char reason[96] = "";
      if (failed)
        snprintf(reason, sizeof reason, "%u of %u tasks failed", failed, j->ntasks);
      job_set_state(c, j, to, reason);
    }
    maybe_retire(c, j);
    return;
  }
  if (j->state == JOB_QUEUED &&
      j->counts[TASK_DISPATCHED] + j->counts[TASK_RUNNING] + ok + failed > 0)
    job_set_state(c, j, JOB_RUNNING, NULL);
}

/* Cancels j: what has not started never will, live attempts are stopped
 * on their workers (their tasks end as canceled when the workers report,
 * or are lost), and jobs after j are canceled too. */
static void bulk_written(coord_t *c, void *arg) { maybe_retire(c, arg); }

static void cancel(coord_t *c, job_t *j, const char *reason) {
  if (j->state == JOB_SUCCEEDED || j->state == JOB_CANCELED)
    return;
  /* A big job's task rows are a bulk update (store.h): the batches go on. */
  bool bulk = j->bulk == JOB_BULK_NONE && store_bulk_wanted(c, j->ntasks);
  if (bulk)
    store_bulk_begin(c, j);
  job_set_state(c, j, JOB_CANCELED, reason);
  for (uint32_t k = 0; k < j->ntasks; k++) {
    task_t *t = &j->tasks[k];
    switch ((task_state_t)t->state) {
    case TASK_WAITING:
    case TASK_READY:
    case TASK_HELD:
    case TASK_PAUSED:
      task_set_state(c, t, TASK_CANCELED);
      break;
    case TASK_DISPATCHED:
    case TASK_RUNNING:
      if (t->live)
        workers_queue(c, t->live->worker, OUT_CANCEL, t->live->id);
      break;
    default:
      break;
    }
  }
  if (bulk)
    store_bulk_end(c, "cancel", bulk_written, j);
}

static int refuse(char *err, size_t errlen, const job_t *j, const char *what) {
  snprintf(err, errlen, "job %" PRIu64 " is %s: %s", j->id,
           job_state_name((job_state_t)j->state), what);
  return -1;
}

int job_check(const job_t *j, job_action_t act, char *err, size_t errlen) {
  switch (act) {
  case JOB_ACT_CANCEL:
    if (j->state == JOB_SUCCEEDED || j->state == JOB_CANCELED)
      return refuse(err, errlen, j, "only unfinished jobs can be canceled");
    return 0;
  case JOB_ACT_PAUSE:
    if (j->state != JOB_WAITING && j->state != JOB_QUEUED && j->state != JOB_RUNNING)
      return refuse(err, errlen, j, "only waiting, queued or running jobs can be paused");
    return 0;
  case JOB_ACT_RESUME:
    if (j->state != JOB_PAUSED)
      return refuse(err, errlen, j, "only paused jobs can be resumed");
    return 0;
  case JOB_ACT_RETRY:
    if (j->state == JOB_CANCELED || j->state == JOB_SUCCEEDED)
      return refuse(err, errlen, j, "only jobs that can still run can be retried");
    if (!j->counts[TASK_FAILED])
      return refuse(err, errlen, j, "it has no failed tasks to retry");
    return 0;
  }
  return refuse(err, errlen, j, "unknown action");
}

int job_cancel(coord_t *c, job_t *j, const char *actor, const char *why, char *err,
               size_t errlen) {
  if (job_check(j, JOB_ACT_CANCEL, err, errlen) < 0)
    return -1;
  char *reason = xasprintf("canceled by %s%s%s", actor, why && *why ? ": " : "",
                           why ? why : "");
  job_event(c, j, actor, "job.cancel", json_pack("{s:s}", "note", why ? why : ""));
  cancel(c, j, reason);
  free(reason);
  return 0;
}

int job_pause(coord_t *c, job_t *j, const char *actor, char *err, size_t errlen) {
  if (job_check(j, JOB_ACT_PAUSE, err, errlen) < 0)
    return -1;
  job_event(c, j, actor, "job.pause", json_object());
  char *reason = xasprintf("paused by %s", actor);
  job_set_state(c, j, JOB_PAUSED, reason);
  free(reason);
  for (uint32_t k = 0; k < j->ntasks; k++)
    if (j->tasks[k].state == TASK_READY)
      task_set_state(c, &j->tasks[k], TASK_PAUSED);
  return 0;
}

int job_resume(coord_t *c, job_t *j, const char *actor, char *err, size_t errlen) {
  if (job_check(j, JOB_ACT_RESUME, err, errlen) < 0)
    return -1;
  job_event(c, j, actor, "job.resume", json_object());
  job_set_state(c, j, free_state(j), "");
  for (uint32_t k = 0; k < j->ntasks; k++)
    if (j->tasks[k].state == TASK_PAUSED && task_set_state(c, &j->tasks[k], TASK_READY) == 0)
      dispatch_task_ready(c, &j->tasks[k], 0);
  if (j->ep && j->ep->over_budget)
    job_hold(c, j, "budget: the episode is over its budget");
  return 0;
}

int job_retry(coord_t *c, job_t *j, const char *actor, uint32_t *retried, char *err,
              size_t errlen) {
  *retried = 0;
  if (job_check(j, JOB_ACT_RETRY, err, errlen) < 0)
    return -1;
  job_event(c, j, actor, "job.retry", json_pack("{s:I}", "tasks", (json_int_t)j->counts[TASK_FAILED]));
  if (j->state == JOB_FAILED)
    job_set_state(c, j, JOB_RUNNING, "");
  /* A fresh budget, and no worker is held against the job any more. */
  free(j->bad);
  j->bad = NULL;
  j->nbad = j->capbad = 0;
  for (uint32_t k = 0; k < j->ntasks; k++) {
    task_t *t = &j->tasks[k];
    if (t->state != TASK_FAILED)
      continue;
    t->failures = 0;
    t->losses = 0;
    task_state_t to = job_requeue_state(j);
    if (task_set_state(c, t, to) == 0) {
      (*retried)++;
      if (to == TASK_READY)
        dispatch_task_ready(c, t, 0);
    }
  }
  return 0;
}

void job_worker_failed(job_t *j, worker_t *w) {
  j->unfit_version = 0; /* where it may run has perhaps changed */
  for (size_t i = 0; i < j->nbad; i++)
    if (j->bad[i].w == w) {
      if (j->bad[i].failures < UINT16_MAX)
        j->bad[i].failures++;
      return;
    }
  ARRAY_PUSH(j->bad, j->nbad, j->capbad, ((job_bad_worker_t){w, 1}));
}

bool job_worker_excluded(const job_t *j, const worker_t *w) {
  for (size_t i = 0; i < j->nbad; i++)
    if (j->bad[i].w == w)
      return j->bad[i].failures >= JOB_MAX_WORKER_FAILURES;
  return false;
}

void job_free(job_t *j) {
  if (!j)
    return;
  free(j->tasks);
  free(j->output_dir);
  free(j->submitted_by);
  free(j->reason);
  free(j->deps);
  free(j->dependents);
  free(j->bad);
  free(j->gates);
  free(j->approved_output);
  free(j->limits);
  jfref_release(j->src);
  free(j);
}
