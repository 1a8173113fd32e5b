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
#include "sse.h"
#include "log.h"
#include "model.h"
#include "store.h"
#include "template.h"
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

/* ------------------------------------------------------------ frame-wise */

/* The tasks of j (a job with frames: chunks in ascending order, not
 * overlapping) whose frame ranges meet [start, end]: tasks[*lo .. *hi-1]. */
static void frame_tasks(const job_t *j, int64_t start, int64_t end, uint32_t *lo, uint32_t *hi) {
  uint32_t l = 0, h = j->ntasks;
  while (l < h) {
    uint32_t m = l + (h - l) / 2;
    if (j->tasks[m].spec.frame_end < start)
      l = m + 1;
    else
      h = m;
  }
  *lo = l;
  h = j->ntasks;
  while (l < h) {
    uint32_t m = l + (h - l) / 2;
    if (j->tasks[m].spec.frame_start <= end)
      l = m + 1;
    else
      h = m;
  }
  *hi = l;
}

void job_add_frame_dependent(job_t *dep, job_t *j) {
  ARRAY_PUSH(dep->fdependents, dep->nfdependents, dep->capfdependents, j);
  for (uint32_t k = 0; k < j->ntasks; k++) {
    task_t *t = &j->tasks[k];
    uint32_t lo, hi;
    frame_tasks(dep, t->spec.frame_start, t->spec.frame_end, &lo, &hi);
    for (uint32_t m = lo; m < hi; m++)
      t->fwait += dep->tasks[m].state != TASK_SUCCEEDED;
  }
}

/* t waits for nothing any more: ready when its job may run, or paused or
 * held with it; it stays waiting while its job waits. */
static void frame_ready(coord_t *c, task_t *t) {
  job_t *j = t->job;
  if (t->state != TASK_WAITING || t->fwait || j->deps_pending || j->gates_pending)
    return;
  switch ((job_state_t)j->state) {
  case JOB_QUEUED:
  case JOB_RUNNING:
    if (task_set_state(c, t, TASK_READY) == 0)
      dispatch_task_ready(c, t, 0);
    break;
  case JOB_PAUSED:
  case JOB_HELD:
    task_set_state(c, t, job_requeue_state(j));
    break;
  default:
    break;
  }
}

void job_frames_settled(coord_t *c, job_t *j) {
  for (uint32_t k = 0; k < j->ntasks; k++)
    frame_ready(c, &j->tasks[k]);
}

void job_frames_task_succeeded(coord_t *c, task_t *t) {
  job_t *on = t->job;
  for (size_t i = 0; i < on->nfdependents; i++) {
    job_t *d = on->fdependents[i];
    uint32_t lo, hi;
    frame_tasks(d, t->spec.frame_start, t->spec.frame_end, &lo, &hi);
    for (uint32_t k = lo; k < hi; k++) {
      task_t *w = &d->tasks[k];
      if (w->fwait && --w->fwait == 0)
        frame_ready(c, w);
    }
  }
}

/* ------------------------------------------------------------ changes */

/* What an operator action changed besides the jobs it named. */
static struct {
  bool on;
  job_t **v;
  size_t n, cap;
} changes;

void job_changes_begin(void) {
  changes.on = true;
  changes.n = 0;
}

job_t **job_changes_end(size_t *n) {
  job_t **v = changes.v;
  *n = changes.n;
  changes.on = false;
  changes.v = NULL;
  changes.n = changes.cap = 0;
  return v;
}

static void changed(job_t *j) {
  if (!changes.on)
    return;
  for (size_t i = 0; i < changes.n; i++)
    if (changes.v[i] == j)
      return;
  ARRAY_PUSH(changes.v, changes.n, changes.cap, j);
}

/* While a person's cancel cascades: who, and their note. */
static const char *cascade_actor, *cascade_note;

void job_add_revivable(job_t *cause, job_t *j) {
  j->cause = cause;
  j->canceled_by = cause->id;
  ARRAY_PUSH(cause->revivable, cause->nrevivable, cause->caprevivable, j);
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
static void release_revivable(coord_t *c, job_t *j);
static void unlink_deps(coord_t *c, job_t *j);

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
    if (sub->canceled_by[i]) {
      /* After a failed job (or one canceled because of one): it comes
       * back when that job is retried. */
      for (size_t k = 0; k < made[i]->ndeps && !made[i]->cause; k++) {
        job_t *dep = idmap_get(&c->jobs, made[i]->deps[k]);
        if (dep && (dep->state == JOB_FAILED || (dep->state == JOB_CANCELED && dep->cause)))
          job_add_revivable(dep, made[i]);
      }
      cancel(c, made[i], sub->canceled_by[i]);
    }
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

/* ------------------------------------------------------------ {job:NAME:output_dir} */

/* The jobs of one submission by name, for resolve_refs. */
typedef struct ref_names {
  json_t *index; /* name -> position */
  job_t **made;
} ref_names_t;

static const char *ref_dir(void *arg, const char *name, size_t n) {
  ref_names_t *rn = arg;
  char *key = xstrndup(name, n);
  json_t *at = json_object_get(rn->index, key);
  free(key);
  /* The parser checked every name; an unknown one resolves to nothing. */
  return at ? rn->made[json_integer_value(at)]->output_dir : "";
}

/* Replaces *s by its resolution; true if it changed. */
static bool resolve_one(char **s, ref_names_t *rn) {
  char *r = template_resolve_jobs(*s, ref_dir, rn);
  bool changed = strcmp(r, *s) != 0;
  free(*s);
  *s = r;
  return changed;
}

/* Resolves the {job:NAME:output_dir} of the jobs made from one submission
 * to the other jobs' output directories, in their templates and in the
 * spec kept with the job (which a restart or a retake reads again without
 * the other jobs' names), so that the references mean the same forever. */
static void resolve_refs(job_t **made, size_t n) {
  ref_names_t rn = {.made = made};
  for (size_t i = 0; i < n; i++) {
    jf_job_t *sp = made[i]->spec;
    if (!(sp->placeholders & TV_BIT(TV_JOB_OUTPUT_DIR)))
      continue;
    if (!rn.index) {
      rn.index = json_object();
      for (size_t k = 0; k < n; k++)
        json_object_set_new(rn.index, made[k]->spec->name, json_integer((json_int_t)k));
    }
    json_t *spec = json_loads(sp->spec_json, 0, NULL);
    json_t *cmd = json_object_get(spec, "command");
    json_t *outs = json_object_get(spec, "outputs");
    json_t *env = json_object_get(spec, "env");
    for (size_t k = 0; k < sp->ncommand; k++)
      if (resolve_one(&sp->command[k], &rn))
        json_array_set_new(cmd, k, json_string(sp->command[k]));
    for (size_t k = 0; k < sp->noutputs; k++)
      if (resolve_one(&sp->outputs[k], &rn))
        json_array_set_new(outs, k, json_string(sp->outputs[k]));
    for (size_t k = 0; k < sp->nenv; k++)
      if (resolve_one(&sp->env[k].value, &rn))
        json_object_set_new(env, sp->env[k].name, json_string(sp->env[k].value));
    char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(spec);
    if (text) {
      free(sp->spec_json);
      sp->spec_json = text;
    }
    sp->placeholders &= ~TV_BIT(TV_JOB_OUTPUT_DIR);
  }
  json_decref(rn.index);
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
  resolve_refs(made, jf->njobs);

  /* Dependencies and approval gates, in file order. */
  char **canceled_by = xcalloc(jf->njobs, sizeof *canceled_by);
  for (size_t i = 0; i < jf->njobs; i++) {
    job_t *j = made[i];
    const jf_job_t *sp = j->spec;
    j->deps = xcalloc(sp->ndeps ? sp->ndeps : 1, sizeof *j->deps);
    j->deps_frames = xcalloc(sp->ndeps ? sp->ndeps : 1, sizeof *j->deps_frames);
    j->deps_new = sp->ndeps > 0;
    for (size_t k = 0; k < sp->ndeps; k++) {
      const jf_dep_t *d = &sp->deps[k];
      if (d->kind == JF_DEP_AFTER) {
        uint64_t id;
        job_t *dep;
        job_state_t st = dep_state(c, made, d, ext, next, &id, &dep);
        j->deps_frames[j->ndeps] = d->frames;
        j->deps[j->ndeps++] = id;
        /* Unfinished but not in memory (the caller refuses that; never
         * wait on nothing): as if it could not be recovered. */
        if (st != JOB_SUCCEEDED && !dep && st != JOB_FAILED)
          st = JOB_CANCELED;
        if (st == JOB_FAILED || st == JOB_CANCELED) {
          if (!canceled_by[i])
            canceled_by[i] = xasprintf("dependency job %" PRIu64 " %s", id,
                                       st == JOB_FAILED ? "failed" : "was canceled");
        } else if (st != JOB_SUCCEEDED && d->frames) {
          job_add_frame_dependent(dep, j);
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
    for (uint32_t k = 0; !waits && k < j->ntasks; k++)
      if (j->tasks[k].fwait) { /* waits for frames of a job it runs after */
        j->tasks[k].state = TASK_WAITING;
        j->counts[TASK_READY]--;
        j->counts[TASK_WAITING]++;
      }
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
      if (j->tasks[k].state == TASK_WAITING && !j->tasks[k].fwait &&
          task_set_state(c, &j->tasks[k], TASK_READY) == 0)
        dispatch_task_ready(c, &j->tasks[k], 0);
  } else if (j->state == JOB_PAUSED || j->state == JOB_HELD) {
    /* Resume and release make paused and held tasks ready. */
    for (uint32_t k = 0; k < j->ntasks; k++)
      if (j->tasks[k].state == TASK_WAITING && !j->tasks[k].fwait)
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
  return j->bulk == JOB_BULK_NONE && !j->cause &&
         (j->state == JOB_SUCCEEDED || j->state == JOB_CANCELED) &&
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
  unlink_deps(c, j);
  release_revivable(c, j);
  dispatch_forget_job(c, j);
  review_forget_job(c, j);
  job_free(j);
}

/* A job canceled while a job it runs after still runs is among that
 * job's dependents: it must not be told when that one ends. */
static void unlink_deps(coord_t *c, job_t *j) {
  for (size_t k = 0; k < j->ndeps; k++) {
    job_t *dep = idmap_get(&c->jobs, j->deps[k]);
    for (size_t i = 0; dep && i < dep->ndependents; i++)
      if (dep->dependents[i] == j) {
        dep->dependents[i] = dep->dependents[--dep->ndependents];
        break;
      }
    for (size_t i = 0; dep && i < dep->nfdependents; i++)
      if (dep->fdependents[i] == j) {
        dep->fdependents[i] = dep->fdependents[--dep->nfdependents];
        break;
      }
  }
}

static void maybe_retire(coord_t *c, job_t *j) {
  if (!j->retiring && retirable(j)) {
    j->retiring = true;
    store_on_commit(c, retire, j);
  }
}

/* j can no longer be retried (canceled by a person, or leaving memory):
 * the jobs it canceled will not come back either. */
static void release_revivable(coord_t *c, job_t *j) {
  job_t **v = j->revivable;
  size_t n = j->nrevivable;
  j->revivable = NULL;
  j->nrevivable = j->caprevivable = 0;
  for (size_t i = 0; i < n; i++) {
    v[i]->cause = NULL;
    maybe_retire(c, v[i]);
  }
  free(v);
}

/* j, canceled for a failed job, will not come back after all (a person
 * canceled it, or another job it runs after): nor will those canceled
 * for it. */
static void forget_revival(coord_t *c, job_t *j) {
  job_t *cause = j->cause;
  for (size_t i = 0; cause && i < cause->nrevivable; i++)
    if (cause->revivable[i] == j) {
      cause->revivable[i] = cause->revivable[--cause->nrevivable];
      break;
    }
  j->cause = NULL;
  j->canceled_by = 0;
  store_job(c, j);
  release_revivable(c, j);
  maybe_retire(c, j);
}

/* j finished: tell the jobs that wait for it. */
static void notify_dependents(coord_t *c, job_t *j) {
  job_t **ds = j->dependents, **fs = j->fdependents;
  size_t n = j->ndependents, nf = j->nfdependents;
  j->dependents = j->fdependents = NULL;
  j->ndependents = j->capdependents = j->nfdependents = j->capfdependents = 0;
  /* A job canceled because of a failure that a retry can undo comes back
   * with it; one canceled because a person canceled j does not. */
  bool revivable = j->state == JOB_FAILED || (j->state == JOB_CANCELED && j->cause);
  for (size_t i = 0; i < n + nf; i++) {
    job_t *d = i < n ? ds[i] : fs[i - n];
    if (j->state == JOB_SUCCEEDED) {
      /* Frame-wise ones were told task by task. */
      if (i < n && d->deps_pending && --d->deps_pending == 0 && !d->gates_pending)
        deps_met(c, d);
      continue;
    }
    if (d->state == JOB_CANCELED && d->cause && !revivable)
      forget_revival(c, d); /* j will not come back: d cannot run */
    if (d->state == JOB_SUCCEEDED || d->state == JOB_CANCELED)
      continue;
    char reason[600];
    if (j->state == JOB_CANCELED && !j->cause && cascade_actor)
      snprintf(reason, sizeof reason, "dependency job %" PRIu64 " was canceled by %s%s%.400s",
               j->id, cascade_actor, *cascade_note ? ": " : "", cascade_note);
    else
      snprintf(reason, sizeof reason, "dependency job %" PRIu64 " %s", j->id,
               j->state == JOB_FAILED ? "failed" : "was canceled");
    if (revivable)
      job_add_revivable(j, d); /* before its own dependents hear of it */
    if (cascade_actor)
      job_event(c, d, cascade_actor, "job.cancel",
                json_pack("{s:s,s:I}", "note", cascade_note, "with", (json_int_t)j->id));
    changed(d);
    cancel(c, d, reason);
  }
  free(ds);
  free(fs);
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
  if (from == JOB_FAILED && to == JOB_CANCELED)
    release_revivable(c, j);
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
    sse_job_changed(c, j); /* counts and state: live watchers (sse.h) */
    maybe_retire(c, j);
    return;
  }
  if (j->state == JOB_QUEUED &&
      j->counts[TASK_DISPATCHED] + j->counts[TASK_RUNNING] + ok + failed > 0)
    job_set_state(c, j, JOB_RUNNING, NULL);
  sse_job_changed(c, j);
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

/* A job canceled because of a failed job comes back with that job. */
static int revive_hint(char *err, size_t errlen, const job_t *j) {
  const job_t *root = j->cause;
  while (root->cause)
    root = root->cause;
  snprintf(err, errlen,
           "job %" PRIu64 " is canceled because job %" PRIu64 " failed: retry job %" PRIu64
           " and it runs again",
           j->id, root->id, root->id);
  return -1;
}

int job_check(const job_t *j, job_action_t act, char *err, size_t errlen) {
  switch (act) {
  case JOB_ACT_CANCEL:
    if (j->state == JOB_CANCELED && j->cause)
      return 0; /* a person's cancel: it will not come back (job_cancel) */
    if (j->state == JOB_SUCCEEDED || j->state == JOB_CANCELED)
      return refuse(err, errlen, j, "only unfinished jobs can be canceled");
    return 0;
  case JOB_ACT_PAUSE:
    if (j->state != JOB_WAITING && j->state != JOB_QUEUED && j->state != JOB_RUNNING)
      return refuse(err, errlen, j, "only waiting, queued or running jobs can be paused");
    return 0;
  case JOB_ACT_RESUME:
    if (j->state == JOB_CANCELED && j->cause)
      return revive_hint(err, errlen, j);
    if (j->state != JOB_PAUSED)
      return refuse(err, errlen, j, "only paused jobs can be resumed");
    return 0;
  case JOB_ACT_RETRY:
    if (j->state == JOB_CANCELED && j->cause)
      return revive_hint(err, errlen, j);
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
  if (j->state == JOB_CANCELED) {
    /* Canceled for a failed dependency, now by a person: it leaves the
     * list of jobs that come back, and so do those canceled for it. */
    free(j->reason);
    j->reason = reason;
    forget_revival(c, j);
    return 0;
  }
  cascade_actor = actor;
  cascade_note = why ? why : "";
  cancel(c, j, reason);
  cascade_actor = cascade_note = NULL;
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

static void revive_dependents(coord_t *c, job_t *j, const char *actor);

/* d, canceled only because `by` failed (or was canceled so), waits again
 * for the jobs it runs after: its canceled tasks wait, what succeeded
 * stays.  When another job it runs after failed too, it stays canceled
 * and comes back with that one. */
static void revive(coord_t *c, job_t *d, job_t *by, const char *actor) {
  if (d->state != JOB_CANCELED || !d->counts[TASK_CANCELED])
    return; /* nothing of it to run again */
  for (size_t k = 0; k < d->ndeps; k++) {
    job_t *dep = idmap_get(&c->jobs, d->deps[k]);
    if (dep && dep != by &&
        (dep->state == JOB_FAILED || (dep->state == JOB_CANCELED && dep->cause))) {
      job_add_revivable(dep, d);
      return;
    }
  }
  d->canceled_by = 0;
  job_event(c, d, actor, "job.revive", json_pack("{s:I}", "with", (json_int_t)by->id));
  job_set_state(c, d, JOB_WAITING, "");
  for (uint32_t k = 0; k < d->ntasks; k++) {
    task_t *t = &d->tasks[k];
    t->fwait = 0;
    if (t->state == TASK_CANCELED) {
      t->failures = t->losses = 0;
      task_set_state(c, t, TASK_WAITING);
    }
  }
  /* Wait again for what has not succeeded (jobs not in memory did); the
   * count it had when canceled is stale. */
  d->deps_pending = 0;
  unlink_deps(c, d);
  for (size_t k = 0; k < d->ndeps; k++) {
    job_t *dep = idmap_get(&c->jobs, d->deps[k]);
    if (!dep || dep->state == JOB_SUCCEEDED)
      continue;
    if (d->deps_frames && d->deps_frames[k])
      job_add_frame_dependent(dep, d);
    else
      job_add_dependent(dep, d);
  }
  changed(d);
  job_deps_settled(c, d);
  revive_dependents(c, d, actor);
}

/* j runs again: the jobs canceled because of it come back. */
static void revive_dependents(coord_t *c, job_t *j, const char *actor) {
  job_t **v = j->revivable;
  size_t n = j->nrevivable;
  j->revivable = NULL;
  j->nrevivable = j->caprevivable = 0;
  for (size_t i = 0; i < n; i++) {
    v[i]->cause = NULL;
    revive(c, v[i], j, actor);
  }
  free(v);
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
  revive_dependents(c, j, actor);
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
  free(j->deps_frames);
  free(j->dependents);
  free(j->fdependents);
  free(j->revivable);
  free(j->bad);
  free(j->gates);
  free(j->approved_output);
  free(j->limits);
  jfref_release(j->src);
  free(j);
}
