/*
 * job.c - jobs: creation from a submission, the job state machine and its
 * derivation from task counts.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "log.h"
#include "model.h"
#include "store.h"

void jfref_release(jfref_t *r) {
  if (r && --r->refs <= 0) {
    jobfile_free(&r->jf);
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

size_t job_create_all(coord_t *c, jobfile_t *jf, const char *actor, uint64_t *first_job_id) {
  jfref_t *ref = xcalloc(1, sizeof *ref);
  ref->jf = jf;
  ref->refs = (int)jf->njobs;
  *first_job_id = c->next_job_id;
  int64_t now = util_wall_us();
  for (size_t i = 0; i < jf->njobs; i++) {
    jf_job_t *sp = &jf->jobs[i];
    job_t *j = xcalloc(1, sizeof *j);
    j->id = c->next_job_id++;
    j->state = JOB_QUEUED;
    j->src = ref;
    j->spec = sp;
    j->project = jf->project;
    j->episode = jf->episode;
    j->output_dir = job_output_dir(c, jf->project, jf->episode, sp->shot, sp->name, j->id);
    j->submitted_by = xstrdup(actor);
    j->reason = xstrdup("");
    j->submitted_us = now;
    j->heap_pos = HEAP_NONE;
    j->ntasks = (uint32_t)sp->ntasks;
    j->first_task_id = c->next_task_id;
    c->next_task_id += sp->ntasks;
    j->tasks = xcalloc(sp->ntasks, sizeof *j->tasks);
    for (uint32_t k = 0; k < j->ntasks; k++) {
      task_t *t = &j->tasks[k];
      t->id = j->first_task_id + k;
      t->job = j;
      t->seq = k;
      t->state = TASK_READY;
      t->spec = sp->tasks[k];
      t->delay_pos = HEAP_NONE;
    }
    j->counts[TASK_READY] = j->ntasks;
    /* The task array now carries the expansion; drop the parser's copy. */
    free(sp->tasks);
    sp->tasks = NULL;
    idmap_put(&c->jobs, j->id, j);
    store_job(c, j);
    for (uint32_t k = 0; k < j->ntasks; k++) {
      store_task(c, &j->tasks[k]);
      dispatch_task_ready(c, &j->tasks[k], 0);
    }
    char sid[24];
    snprintf(sid, sizeof sid, "%" PRIu64, j->id);
    json_t *d = json_pack("{s:s,s:s,s:I}", "name", sp->name, "kind", job_kind_name(sp->kind),
                          "tasks", (json_int_t)j->ntasks);
    char *dj = json_dumps(d, JSON_COMPACT);
    store_event(c, actor, "job.submitted", "job", sid, dj);
    free(dj);
    json_decref(d);
  }
  return jf->njobs;
}

int job_set_state(coord_t *c, job_t *j, job_state_t to, const char *reason) {
  job_state_t from = (job_state_t)j->state;
  if (from == to)
    return 0;
  if (!job_state_allowed(from, to)) {
    log_error("job %" PRIu64 ": transition %s -> %s refused", j->id, job_state_name(from),
              job_state_name(to));
    return -1;
  }
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
  }
  store_job(c, j);
  char sid[24];
  snprintf(sid, sizeof sid, "%" PRIu64, j->id);
  json_t *d = json_pack("{s:s,s:s,s:s}", "from", job_state_name(from), "to", job_state_name(to),
                        "reason", reason ? reason : "");
  char *dj = json_dumps(d, JSON_COMPACT);
  store_event(c, "coordinator", "job.state", "job", sid, dj);
  free(dj);
  json_decref(d);
  dispatch_job_changed(c, j);
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
    return;
  }
  if (j->state == JOB_QUEUED &&
      j->counts[TASK_DISPATCHED] + j->counts[TASK_RUNNING] + ok + failed > 0)
    job_set_state(c, j, JOB_RUNNING, NULL);
}

void job_free(job_t *j) {
  if (!j)
    return;
  free(j->tasks);
  free(j->output_dir);
  free(j->submitted_by);
  free(j->reason);
  jfref_release(j->src);
  free(j);
}
