/*
 * test_job.c - jobs in memory: creation, dependencies, the job state
 * machine and the operator's actions.
 *
 * Each scenario builds a coordinator by hand (no database, no sockets),
 * submits job files, runs tasks on workers with dispatch_run and ends
 * their attempts as results would.  Covered: job_new (task ids
 * first_task_id + k, registration in c->jobs) and the numbering of
 * job_create_all; `after` dependencies on a job of the same file, on a
 * job in memory by id and on finished jobs listed in ext (waiting, queued
 * when they succeed, canceled with "dependency job N failed" or "was
 * canceled"); job_set_state refusing every transition the table in
 * common/states.c does not list; job_refresh deriving running, succeeded,
 * failed and canceled from the task counts; job_check and the actions
 * cancel (dependents too), pause, resume and retry (a fresh attempt
 * budget, no worker held against the job), each refusing the wrong state
 * with a one-line reason and changing nothing then; the count of failures
 * per worker; and job_hold / job_release (the budget).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dispatch.h"
#include "log.h"
#include "memcoord.h"
#include "model.h"
#include "workers.h"

/* Dispatches, then ends every live attempt of j in state `to`. */
static void end_live(coord_t *c, job_t *j, attempt_state_t to) {
  dispatch_run(c);
  for (uint32_t k = 0; k < j->ntasks; k++)
    if (j->tasks[k].live)
      memcoord_end(c, j->tasks[k].live, to);
}

static bool tasks_all(const job_t *j, task_state_t s) {
  return j->counts[s] == j->ntasks;
}

/* What an action refused must leave as it was. */
typedef struct snap {
  uint8_t state;
  char reason[256];
  uint32_t counts[TASK_STATE_COUNT];
  int64_t finished_us;
} snap_t;

static snap_t snap(const job_t *j) {
  snap_t s = {.state = j->state, .finished_us = j->finished_us};
  snprintf(s.reason, sizeof s.reason, "%s", j->reason ? j->reason : "");
  memcpy(s.counts, j->counts, sizeof s.counts);
  return s;
}

static void check_unchanged(const job_t *j, const snap_t *s) {
  CHECK_INT(j->state, s->state);
  CHECK_STR(j->reason, s->reason);
  CHECK(memcmp(j->counts, s->counts, sizeof s->counts) == 0);
  CHECK_INT(j->finished_us, s->finished_us);
}

/* err is the one-line refusal "job N is STATE: ..." */
static void check_refusal(const job_t *j, const char *err, const char *why) {
  char head[64];
  snprintf(head, sizeof head, "job %" PRIu64 " is %s: ", j->id,
           job_state_name((job_state_t)j->state));
  CHECK(strncmp(err, head, strlen(head)) == 0);
  CHECK_CONTAINS(err, why);
  CHECK(strchr(err, '\n') == NULL);
}

/* ------------------------------------------------------------ scenarios */

static void test_new(void) {
  coord_t *c = memcoord_new();
  static const char one[] = "{\"project\":\"p\",\"episode\":\"e\",\"jobs\":[{\"name\":\"a\","
                            "\"command\":[\"true\"],\"frames\":\"1-3\"}]}";
  char err[256];
  jobfile_t *jf = jobfile_parse(one, strlen(one), err, sizeof err);
  CHECK(jf != NULL);
  if (!jf)
    exit(1);
  jfref_t *ref = jfref_new(jf);
  episode_t *ep = dispatch_episode(c, "p", "e");
  job_t *j = job_new(c, 42, ref, &jf->jobs[0], ep, 3, 100);
  CHECK(idmap_get(&c->jobs, 42) == j);
  CHECK_INT(j->id, 42);
  CHECK_INT(ref->refs, 1);
  CHECK(j->src == ref);
  CHECK(j->spec == &jf->jobs[0]);
  CHECK(j->ep == ep);
  CHECK_STR(j->project, "p");
  CHECK_STR(j->episode, "e");
  CHECK_INT(j->gate_root, 42);
  CHECK_INT(j->ntasks, 3);
  CHECK_INT(j->first_task_id, 100);
  CHECK(j->heap_pos == HEAP_NONE);
  for (uint32_t k = 0; k < 3; k++) {
    CHECK_INT(j->tasks[k].id, 100 + k);
    CHECK_INT(j->tasks[k].seq, k);
    CHECK(j->tasks[k].job == j);
    CHECK(j->tasks[k].delay_pos == HEAP_NONE);
    CHECK(j->tasks[k].live == NULL);
  }
  for (int s = 0; s < TASK_STATE_COUNT; s++)
    CHECK_INT(j->counts[s], 0);
  memcoord_free(c);

  /* job_create_all numbers jobs and tasks on from the counters. */
  c = memcoord_new();
  job_t *a = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"a\",\"shot\":\"sh010\",\"command\":[\"true\"],"
                                "\"frames\":\"1-3\"},"
                                "{\"name\":\"b\",\"command\":[\"true\"],\"takes\":2}]}");
  job_t *b = idmap_get(&c->jobs, 2);
  CHECK(a && b);
  if (!a || !b)
    exit(1);
  CHECK_INT(a->id, 1);
  CHECK_INT(a->first_task_id, 1);
  CHECK_INT(b->first_task_id, 4);
  CHECK_INT(b->tasks[1].id, 5);
  CHECK_INT(c->next_job_id, 3);
  CHECK_INT(c->next_task_id, 6);
  CHECK(a->src == b->src);
  CHECK_INT(a->src->refs, 2);
  CHECK_STR(a->output_dir, "/tmp/clapper-test-memcoord-out/proj/ep1/sh010/a.1");
  CHECK_STR(b->output_dir, "/tmp/clapper-test-memcoord-out/proj/ep1/_/b.2");
  CHECK_STR(a->submitted_by, "tester");
  CHECK_STR(a->reason, "");
  CHECK(a->submitted_us > 0);
  CHECK_INT(a->tasks[2].spec.frame_start, 3);
  CHECK_INT(b->tasks[1].spec.take, 2);
  CHECK_INT(a->state, JOB_QUEUED);
  CHECK(tasks_all(a, TASK_READY));
  CHECK(a->dirty && a->tasks[0].dirty);
  job_t *n = memcoord_submit1(c, "next", "\"frames\":\"1-2\"");
  CHECK_INT(n->id, 3);
  CHECK_INT(n->first_task_id, 6);
  CHECK(idmap_get(&c->jobs, 3) == n);
  memcoord_free(c);
}

/* `after` a job of the same file: waits; queued when it succeeded;
 * canceled when it failed or was canceled. */
static void test_after_same_file(void) {
  coord_t *c = memcoord_new();
  memcoord_worker(c, "w1", 16, 64000, 0, NULL, NULL);
  job_t *a = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"a\",\"command\":[\"true\"],\"frames\":\"1-2\"},"
                                "{\"name\":\"b\",\"command\":[\"true\"],\"after\":[\"a\"],"
                                "\"max_attempts\":1},"
                                "{\"name\":\"c\",\"command\":[\"true\"],\"after\":[\"b\"]}]}");
  job_t *b = idmap_get(&c->jobs, a->id + 1), *cc = idmap_get(&c->jobs, a->id + 2);
  CHECK_INT(a->state, JOB_QUEUED);
  CHECK_INT(b->state, JOB_WAITING);
  CHECK(tasks_all(b, TASK_WAITING));
  CHECK_INT(b->deps_pending, 1);
  CHECK_INT(b->ndeps, 1);
  CHECK_INT(b->deps[0], a->id);
  CHECK(b->deps_new);
  CHECK_INT(a->ndependents, 1);
  CHECK(a->ndependents == 1 && a->dependents[0] == b);
  CHECK_INT(cc->state, JOB_WAITING);
  CHECK_INT(b->ndependents, 1);

  /* Only a runs; when it succeeded, b is queued. */
  dispatch_run(c);
  CHECK_INT(a->counts[TASK_DISPATCHED], 2);
  CHECK(tasks_all(b, TASK_WAITING));
  end_live(c, a, ATTEMPT_SUCCEEDED);
  CHECK_INT(a->state, JOB_SUCCEEDED);
  CHECK_INT(b->state, JOB_QUEUED);
  CHECK_INT(b->deps_pending, 0);
  CHECK(tasks_all(b, TASK_READY));
  CHECK_INT(cc->state, JOB_WAITING);

  /* b fails: c is canceled, saying why. */
  end_live(c, b, ATTEMPT_FAILED);
  CHECK_INT(b->state, JOB_FAILED);
  CHECK_STR(b->reason, "1 of 1 tasks failed");
  CHECK_INT(cc->state, JOB_CANCELED);
  char why[64];
  snprintf(why, sizeof why, "dependency job %" PRIu64 " failed", b->id);
  CHECK_STR(cc->reason, why);
  CHECK(tasks_all(cc, TASK_CANCELED));
  CHECK(cc->finished_us > 0);

  /* A canceled dependency cancels too. */
  job_t *x = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"x\",\"command\":[\"true\"]},"
                                "{\"name\":\"y\",\"command\":[\"true\"],\"after\":[\"x\"]}]}");
  job_t *y = idmap_get(&c->jobs, x->id + 1);
  char err[200];
  CHECK_INT(job_cancel(c, x, "alice", NULL, err, sizeof err), 0);
  CHECK_INT(y->state, JOB_CANCELED);
  snprintf(why, sizeof why, "dependency job %" PRIu64 " was canceled by alice", x->id);
  CHECK_STR(y->reason, why);
  CHECK(tasks_all(y, TASK_CANCELED));
  memcoord_free(c);
}

/* `after` by id of a job in memory, whatever its state. */
static void test_after_by_id(void) {
  coord_t *c = memcoord_new();
  memcoord_worker(c, "w1", 16, 64000, 0, NULL, NULL);
  char json[512];
  job_t *m = memcoord_submit1(c, "m", NULL);
  snprintf(json, sizeof json,
           "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":[{\"name\":\"n\","
           "\"command\":[\"true\"],\"after\":[%" PRIu64 "]}]}", m->id);
  job_t *n = memcoord_submit(c, json);
  CHECK_INT(n->state, JOB_WAITING);
  CHECK_INT(n->deps[0], m->id);
  CHECK(m->ndependents == 1 && m->dependents[0] == n);
  end_live(c, m, ATTEMPT_SUCCEEDED);
  CHECK_INT(m->state, JOB_SUCCEEDED);
  CHECK_INT(n->state, JOB_QUEUED);
  CHECK(tasks_all(n, TASK_READY));

  /* m succeeded (still in memory until that is durable): queued at once. */
  job_t *n2 = memcoord_submit(c, json);
  CHECK_INT(n2->state, JOB_QUEUED);
  CHECK_INT(n2->deps_pending, 0);
  CHECK_INT(m->ndependents, 0);

  /* A failed job in memory: canceled at once. */
  job_t *f = memcoord_submit1(c, "f", "\"max_attempts\":1");
  end_live(c, f, ATTEMPT_FAILED);
  CHECK_INT(f->state, JOB_FAILED);
  snprintf(json, sizeof json,
           "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":[{\"name\":\"g\","
           "\"command\":[\"true\"],\"after\":[%" PRIu64 "]}]}", f->id);
  job_t *g = memcoord_submit(c, json);
  CHECK_INT(g->state, JOB_CANCELED);
  char why[64];
  snprintf(why, sizeof why, "dependency job %" PRIu64 " failed", f->id);
  CHECK_STR(g->reason, why);
  CHECK(tasks_all(g, TASK_CANCELED));
  CHECK_INT(f->ndependents, 0);
  memcoord_free(c);
}

/* `after` by id of finished jobs, whose states come in ext. */
static void test_after_ext(void) {
  coord_t *c = memcoord_new();
  const dep_state_t ext[] = {{.id = 900, .state = JOB_SUCCEEDED},
                             {.id = 901, .state = JOB_FAILED},
                             {.id = 902, .state = JOB_CANCELED}};
  job_t *s = memcoord_submit_ext(
      c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
         "{\"name\":\"s\",\"command\":[\"true\"],\"after\":[900]},"
         "{\"name\":\"f\",\"command\":[\"true\"],\"after\":[901]},"
         "{\"name\":\"k\",\"command\":[\"true\"],\"after\":[902]},"
         "{\"name\":\"both\",\"command\":[\"true\"],\"after\":[900,901]},"
         "{\"name\":\"g\",\"command\":[\"true\"],\"after\":[\"f\"]}]}",
      ext, 3);
  job_t *f = idmap_get(&c->jobs, s->id + 1), *k = idmap_get(&c->jobs, s->id + 2),
        *both = idmap_get(&c->jobs, s->id + 3), *g = idmap_get(&c->jobs, s->id + 4);
  CHECK_INT(s->state, JOB_QUEUED);
  CHECK(tasks_all(s, TASK_READY));
  CHECK_INT(s->ndeps, 1);
  CHECK_INT(s->deps[0], 900);
  CHECK_INT(s->deps_pending, 0);
  CHECK_INT(f->state, JOB_CANCELED);
  CHECK_STR(f->reason, "dependency job 901 failed");
  CHECK(tasks_all(f, TASK_CANCELED));
  CHECK_INT(k->state, JOB_CANCELED);
  CHECK_STR(k->reason, "dependency job 902 was canceled");
  CHECK_INT(both->state, JOB_CANCELED);
  CHECK_STR(both->reason, "dependency job 901 failed");
  CHECK_INT(both->ndeps, 2);
  /* g runs after f of the same file, canceled with it. */
  CHECK_INT(g->state, JOB_CANCELED);
  char why[64];
  snprintf(why, sizeof why, "dependency job %" PRIu64 " was canceled", f->id);
  CHECK_STR(g->reason, why);

  /* A job the database says runs but memory does not hold (it could not
   * be recovered; clients.c refuses such a submission) is never waited
   * on: the job is canceled, and nothing dereferences a missing job. */
  const dep_state_t lost[] = {{.id = 903, .state = JOB_RUNNING}};
  job_t *orphan = memcoord_submit_ext(
      c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
         "{\"name\":\"o\",\"command\":[\"true\"],\"after\":[903]}]}",
      lost, 1);
  CHECK_INT(orphan->state, JOB_CANCELED);
  CHECK_STR(orphan->reason, "dependency job 903 was canceled");
  CHECK_INT(orphan->deps_pending, 0);
  memcoord_free(c);
}

/* job_set_state moves a job exactly along the transition table. */
static void test_set_state(void) {
  coord_t *c = memcoord_new();
  job_t *m = memcoord_submit1(c, "m", NULL);
  char json[512];
  snprintf(json, sizeof json,
           "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":[{\"name\":\"j\","
           "\"command\":[\"true\"],\"after\":[%" PRIu64 "]}]}", m->id);
  job_t *j = memcoord_submit(c, json); /* waiting, nothing to dispatch */
  log_init("test_job", -1);            /* every refusal is logged as an error */
  for (int from = 0; from < JOB_STATE_COUNT; from++)
    for (int to = 0; to < JOB_STATE_COUNT; to++) {
      j->state = (uint8_t)from;
      j->finished_us = 0;
      free(j->reason);
      j->reason = xstrdup("before");
      bool allowed = from == to || job_state_allowed((job_state_t)from, (job_state_t)to);
      int rc = job_set_state(c, j, (job_state_t)to, "after");
      CHECK_INT(rc, allowed ? 0 : -1);
      CHECK_INT(j->state, allowed ? to : from);
      CHECK_STR(j->reason, allowed && from != to ? "after" : "before");
      CHECK(allowed && from != to ? (j->finished_us > 0) == job_state_terminal((job_state_t)to)
                                  : j->finished_us == 0);
    }
  log_init("test_job", LOG_LVL_ERROR);
  /* The table itself, where it matters most. */
  CHECK(!job_state_allowed(JOB_QUEUED, JOB_SUCCEEDED));
  CHECK(!job_state_allowed(JOB_WAITING, JOB_RUNNING));
  CHECK(!job_state_allowed(JOB_SUCCEEDED, JOB_RUNNING));
  CHECK(!job_state_allowed(JOB_CANCELED, JOB_QUEUED));
  CHECK(job_state_allowed(JOB_FAILED, JOB_RUNNING)); /* retry */
  CHECK(job_state_allowed(JOB_HELD, JOB_QUEUED));
  memcoord_free(c);
}

/* job_refresh: the job's state follows its task counts. */
static void test_refresh(void) {
  coord_t *c = memcoord_new();
  job_t *j = memcoord_submit1(c, "ok", "\"frames\":\"1-3\"");
  task_t *t = j->tasks;
  CHECK_INT(task_set_state(c, &t[0], TASK_DISPATCHED), 0);
  CHECK_INT(j->state, JOB_RUNNING);
  CHECK(j->started_us > 0);
  CHECK_INT(task_set_state(c, &t[0], TASK_SUCCEEDED), 0);
  CHECK_INT(task_set_state(c, &t[1], TASK_DISPATCHED), 0);
  CHECK_INT(task_set_state(c, &t[1], TASK_SUCCEEDED), 0);
  CHECK_INT(j->state, JOB_RUNNING);
  CHECK_INT(task_set_state(c, &t[2], TASK_DISPATCHED), 0);
  CHECK_INT(task_set_state(c, &t[2], TASK_SUCCEEDED), 0);
  CHECK_INT(j->state, JOB_SUCCEEDED);
  CHECK_STR(j->reason, "");
  CHECK(j->finished_us > 0);
  /* A task transition the table refuses changes nothing. */
  log_init("test_job", -1);
  CHECK_INT(task_set_state(c, &t[2], TASK_READY), -1);
  log_init("test_job", LOG_LVL_ERROR);
  CHECK_INT(t[2].state, TASK_SUCCEEDED);
  CHECK_INT(j->counts[TASK_SUCCEEDED], 3);

  /* One failed: failed, whatever else was canceled. */
  j = memcoord_submit1(c, "bad", "\"frames\":\"1-3\"");
  t = j->tasks;
  task_set_state(c, &t[0], TASK_DISPATCHED);
  task_set_state(c, &t[0], TASK_SUCCEEDED);
  task_set_state(c, &t[1], TASK_DISPATCHED);
  task_set_state(c, &t[1], TASK_FAILED);
  CHECK_INT(j->state, JOB_RUNNING);
  task_set_state(c, &t[2], TASK_CANCELED);
  CHECK_INT(j->state, JOB_FAILED);
  CHECK_STR(j->reason, "1 of 3 tasks failed");

  /* Canceled and succeeded tasks: canceled. */
  j = memcoord_submit1(c, "some", "\"frames\":\"1-2\"");
  t = j->tasks;
  task_set_state(c, &t[0], TASK_DISPATCHED);
  task_set_state(c, &t[0], TASK_SUCCEEDED);
  task_set_state(c, &t[1], TASK_CANCELED);
  CHECK_INT(j->state, JOB_CANCELED);
  /* All canceled before anything ran: queued straight to canceled. */
  j = memcoord_submit1(c, "none", "\"frames\":\"1-2\"");
  task_set_state(c, &j->tasks[0], TASK_CANCELED);
  CHECK_INT(j->state, JOB_QUEUED);
  CHECK_INT(j->started_us, 0);
  task_set_state(c, &j->tasks[1], TASK_CANCELED);
  CHECK_INT(j->state, JOB_CANCELED);

  /* Counts changed behind its back: job_refresh derives the state. */
  j = memcoord_submit1(c, "direct", NULL);
  j->tasks[0].state = TASK_RUNNING;
  j->counts[TASK_READY] = 0;
  j->counts[TASK_RUNNING] = 1;
  job_refresh(c, j);
  CHECK_INT(j->state, JOB_RUNNING);
  j->tasks[0].state = TASK_SUCCEEDED;
  j->counts[TASK_RUNNING] = 0;
  j->counts[TASK_SUCCEEDED] = 1;
  job_refresh(c, j);
  CHECK_INT(j->state, JOB_SUCCEEDED);

  /* A canceled job stays canceled when its last attempt succeeds. */
  memcoord_worker(c, "w1", 4, 8000, 0, NULL, NULL);
  j = memcoord_submit1(c, "late", NULL);
  dispatch_run(c);
  attempt_t *a = j->tasks[0].live;
  char err[200];
  CHECK_INT(job_cancel(c, j, "alice", NULL, err, sizeof err), 0);
  CHECK(a != NULL);
  if (a)
    memcoord_end(c, a, ATTEMPT_SUCCEEDED);
  CHECK_INT(j->tasks[0].state, TASK_SUCCEEDED);
  CHECK_INT(j->state, JOB_CANCELED);
  memcoord_free(c);
}

/* job_check for every state and action. */
static void test_check(void) {
  coord_t *c = memcoord_new();
  job_t *j = memcoord_submit1(c, "chk", "\"frames\":\"1-2\"");
  char err[200];
  for (int st = 0; st < JOB_STATE_COUNT; st++)
    for (int failed = 0; failed < 2; failed++) {
      j->state = (uint8_t)st;
      j->counts[TASK_FAILED] = (uint32_t)failed;
      bool live = st == JOB_WAITING || st == JOB_QUEUED || st == JOB_RUNNING;
      bool want[] = {
          [JOB_ACT_CANCEL] = st != JOB_SUCCEEDED && st != JOB_CANCELED,
          [JOB_ACT_PAUSE] = live,
          [JOB_ACT_RESUME] = st == JOB_PAUSED,
          [JOB_ACT_RETRY] = st != JOB_SUCCEEDED && st != JOB_CANCELED && failed,
      };
      for (int act = JOB_ACT_CANCEL; act <= JOB_ACT_RETRY; act++) {
        err[0] = '\0';
        int rc = job_check(j, (job_action_t)act, err, sizeof err);
        CHECK_INT(rc, want[act] ? 0 : -1);
        if (rc < 0)
          check_refusal(j, err, ": ");
      }
    }
  j->state = JOB_RUNNING;
  j->counts[TASK_FAILED] = 0;
  job_check(j, JOB_ACT_RETRY, err, sizeof err);
  CHECK_CONTAINS(err, "it has no failed tasks to retry");
  memcoord_free(c);
}

static void test_cancel(void) {
  coord_t *c = memcoord_new();
  worker_t *w = memcoord_worker(c, "w1", 2, 8000, 0, NULL, NULL);
  job_t *j = memcoord_submit1(c, "c1", "\"frames\":\"1-3\"");
  dispatch_run(c);
  attempt_t *a0 = j->tasks[0].live, *a1 = j->tasks[1].live;
  CHECK(a0 && a1);
  if (!a0 || !a1)
    exit(1);
  char err[200];
  CHECK_INT(job_cancel(c, j, "alice", "wrong frames", err, sizeof err), 0);
  CHECK_INT(j->state, JOB_CANCELED);
  CHECK_STR(j->reason, "canceled by alice: wrong frames");
  CHECK(j->finished_us > 0);
  CHECK_INT(j->tasks[2].state, TASK_CANCELED);
  /* Running tasks are stopped on their worker; they end when it says so. */
  CHECK_INT(j->tasks[0].state, TASK_DISPATCHED);
  size_t cancels = 0;
  for (size_t i = 0; i < w->nout; i++)
    cancels += w->out[i].kind == OUT_CANCEL && (w->out[i].id == a0->id || w->out[i].id == a1->id);
  CHECK_INT(cancels, 2);
  memcoord_end(c, a0, ATTEMPT_CANCELED);
  CHECK_INT(j->tasks[0].state, TASK_CANCELED);
  memcoord_end(c, a1, ATTEMPT_SUCCEEDED); /* what succeeded is kept */
  CHECK_INT(j->tasks[1].state, TASK_SUCCEEDED);
  CHECK_INT(j->state, JOB_CANCELED);
  dispatch_run(c);
  CHECK_INT(w->nlive, 0);

  /* Twice: refused, nothing changes. */
  snap_t s = snap(j);
  CHECK_INT(job_cancel(c, j, "bob", "again", err, sizeof err), -1);
  check_refusal(j, err, "only unfinished jobs can be canceled");
  check_unchanged(j, &s);

  /* A failed job may be canceled; a succeeded one not. */
  job_t *f = memcoord_submit1(c, "f", "\"max_attempts\":1");
  end_live(c, f, ATTEMPT_FAILED);
  CHECK_INT(f->state, JOB_FAILED);
  CHECK_INT(job_cancel(c, f, "bob", NULL, err, sizeof err), 0);
  CHECK_INT(f->state, JOB_CANCELED);
  CHECK_STR(f->reason, "canceled by bob");
  job_t *ok = memcoord_submit1(c, "ok", NULL);
  end_live(c, ok, ATTEMPT_SUCCEEDED);
  s = snap(ok);
  CHECK_INT(job_cancel(c, ok, "bob", NULL, err, sizeof err), -1);
  check_refusal(ok, err, "only unfinished jobs can be canceled");
  check_unchanged(ok, &s);

  /* Its dependents, and theirs, are canceled with it. */
  job_t *x = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"x\",\"command\":[\"true\"]},"
                                "{\"name\":\"y\",\"command\":[\"true\"],\"after\":[\"x\"]},"
                                "{\"name\":\"z\",\"command\":[\"true\"],\"after\":[\"y\"]}]}");
  job_t *y = idmap_get(&c->jobs, x->id + 1), *z = idmap_get(&c->jobs, x->id + 2);
  CHECK_INT(job_cancel(c, x, "alice", NULL, err, sizeof err), 0);
  char why[64];
  CHECK_INT(y->state, JOB_CANCELED);
  snprintf(why, sizeof why, "dependency job %" PRIu64 " was canceled by alice", x->id);
  CHECK_STR(y->reason, why);
  CHECK_INT(z->state, JOB_CANCELED);
  snprintf(why, sizeof why, "dependency job %" PRIu64 " was canceled by alice", y->id);
  CHECK_STR(z->reason, why);
  CHECK(tasks_all(z, TASK_CANCELED));
  memcoord_free(c);
}

static void test_pause_resume(void) {
  coord_t *c = memcoord_new();
  worker_t *w = memcoord_worker(c, "w1", 1, 8000, 0, NULL, NULL);
  job_t *j = memcoord_submit1(c, "p", "\"frames\":\"1-3\"");
  dispatch_run(c);
  attempt_t *a0 = j->tasks[0].live;
  CHECK(a0 != NULL);
  if (!a0)
    exit(1);
  char err[200];
  CHECK_INT(job_pause(c, j, "bob", err, sizeof err), 0);
  CHECK_INT(j->state, JOB_PAUSED);
  CHECK_STR(j->reason, "paused by bob");
  CHECK_INT(j->tasks[0].state, TASK_DISPATCHED); /* running tasks finish */
  CHECK_INT(j->tasks[1].state, TASK_PAUSED);
  CHECK_INT(j->tasks[2].state, TASK_PAUSED);
  /* A lost attempt of a paused job waits paused, and nothing starts. */
  memcoord_end(c, a0, ATTEMPT_LOST);
  CHECK_INT(j->tasks[0].state, TASK_PAUSED);
  dispatch_run(c);
  CHECK_INT(w->nlive, 0);
  CHECK_INT(j->counts[TASK_PAUSED], 3);

  snap_t s = snap(j);
  CHECK_INT(job_pause(c, j, "bob", err, sizeof err), -1);
  check_refusal(j, err, "only waiting, queued or running jobs can be paused");
  check_unchanged(j, &s);

  CHECK_INT(job_resume(c, j, "bob", err, sizeof err), 0);
  CHECK_INT(j->state, JOB_QUEUED); /* nothing of it runs now */
  CHECK_STR(j->reason, "");
  CHECK_INT(j->counts[TASK_READY], 3);
  dispatch_run(c);
  CHECK_INT(w->nlive, 1);
  CHECK_INT(j->state, JOB_RUNNING);
  s = snap(j);
  CHECK_INT(job_resume(c, j, "bob", err, sizeof err), -1);
  check_refusal(j, err, "only paused jobs can be resumed");
  check_unchanged(j, &s);

  /* A waiting job paused: its dependency succeeds meanwhile, it stays
   * paused, and resuming queues it. */
  w->cpus = w->cpus_free = 16;
  job_t *x = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"x\",\"command\":[\"true\"]},"
                                "{\"name\":\"y\",\"command\":[\"true\"],\"after\":[\"x\"]},"
                                "{\"name\":\"z\",\"command\":[\"true\"],\"after\":[\"y\"]}]}");
  job_t *y = idmap_get(&c->jobs, x->id + 1), *z = idmap_get(&c->jobs, x->id + 2);
  CHECK_INT(job_pause(c, y, "bob", err, sizeof err), 0);
  CHECK_INT(job_pause(c, z, "bob", err, sizeof err), 0);
  CHECK_INT(y->state, JOB_PAUSED);
  CHECK(tasks_all(y, TASK_WAITING));
  end_live(c, x, ATTEMPT_SUCCEEDED);
  CHECK_INT(y->state, JOB_PAUSED);
  CHECK(tasks_all(y, TASK_PAUSED));
  dispatch_run(c);
  CHECK(tasks_all(y, TASK_PAUSED));
  CHECK_INT(job_resume(c, y, "bob", err, sizeof err), 0);
  CHECK_INT(y->state, JOB_QUEUED);
  CHECK(tasks_all(y, TASK_READY));
  /* z's dependency has not succeeded: resumed, it waits again. */
  CHECK_INT(job_resume(c, z, "bob", err, sizeof err), 0);
  CHECK_INT(z->state, JOB_WAITING);
  CHECK(tasks_all(z, TASK_WAITING));
  memcoord_free(c);
}

static void test_retry(void) {
  coord_t *c = memcoord_new();
  worker_t *w = memcoord_worker(c, "w1", 3, 8000, 0, NULL, NULL);
  job_t *j = memcoord_submit1(c, "f", "\"frames\":\"1-3\",\"max_attempts\":1");
  dispatch_run(c);
  memcoord_end(c, j->tasks[0].live, ATTEMPT_LOST); /* a loss first */
  CHECK_INT(j->tasks[0].losses, 1);
  end_live(c, j, ATTEMPT_FAILED);
  CHECK_INT(j->state, JOB_FAILED);
  CHECK_STR(j->reason, "3 of 3 tasks failed");
  CHECK(tasks_all(j, TASK_FAILED));
  CHECK(job_worker_excluded(j, w));

  uint32_t retried = 99;
  char err[200];
  CHECK_INT(job_retry(c, j, "bob", &retried, err, sizeof err), 0);
  CHECK_INT(retried, 3);
  CHECK_INT(j->state, JOB_RUNNING);
  CHECK_STR(j->reason, "");
  CHECK(j->finished_us == 0);
  CHECK(tasks_all(j, TASK_READY));
  for (uint32_t k = 0; k < 3; k++) {
    CHECK_INT(j->tasks[k].failures, 0);
    CHECK_INT(j->tasks[k].losses, 0);
  }
  CHECK(!job_worker_excluded(j, w));
  CHECK_INT(j->nbad, 0);
  dispatch_run(c);
  CHECK_INT(j->counts[TASK_DISPATCHED], 3); /* w1 takes them again */

  /* Nothing failed now: refused, nothing changes. */
  snap_t s = snap(j);
  CHECK_INT(job_retry(c, j, "bob", &retried, err, sizeof err), -1);
  CHECK_INT(retried, 0);
  check_refusal(j, err, "it has no failed tasks to retry");
  check_unchanged(j, &s);
  end_live(c, j, ATTEMPT_SUCCEEDED);
  CHECK_INT(j->state, JOB_SUCCEEDED);
  s = snap(j);
  CHECK_INT(job_retry(c, j, "bob", &retried, err, sizeof err), -1);
  check_refusal(j, err, "only jobs that can still run can be retried");
  check_unchanged(j, &s);

  /* A running job with one failed task: that one runs again. */
  job_t *g = memcoord_submit1(c, "g", "\"frames\":\"1-2\",\"max_attempts\":1");
  dispatch_run(c);
  memcoord_end(c, g->tasks[0].live, ATTEMPT_FAILED);
  CHECK_INT(g->state, JOB_RUNNING);
  CHECK_INT(job_retry(c, g, "bob", &retried, err, sizeof err), 0);
  CHECK_INT(retried, 1);
  CHECK_INT(g->state, JOB_RUNNING);
  CHECK_INT(g->tasks[0].state, TASK_READY);
  CHECK_INT(g->tasks[1].state, TASK_DISPATCHED);
  /* Paused: retried tasks wait paused. */
  dispatch_run(c);
  memcoord_end(c, g->tasks[0].live, ATTEMPT_FAILED);
  CHECK_INT(job_pause(c, g, "bob", err, sizeof err), 0);
  CHECK_INT(job_retry(c, g, "bob", &retried, err, sizeof err), 0);
  CHECK_INT(g->tasks[0].state, TASK_PAUSED);
  CHECK_INT(g->state, JOB_PAUSED);
  memcoord_free(c);
}

static void test_worker_failures(void) {
  coord_t *c = memcoord_new();
  worker_t *w1 = memcoord_worker(c, "w1", 4, 8000, 0, NULL, NULL);
  worker_t *w2 = memcoord_worker(c, "w2", 4, 8000, 0, NULL, NULL);
  job_t *j = memcoord_submit1(c, "wf", NULL);
  j->unfit_version = 7;
  job_worker_failed(j, w1);
  CHECK_INT(j->unfit_version, 0); /* where it may run changed */
  job_worker_failed(j, w1);
  CHECK(!job_worker_excluded(j, w1));
  job_worker_failed(j, w2);
  job_worker_failed(j, w1);
  CHECK(job_worker_excluded(j, w1));
  CHECK(!job_worker_excluded(j, w2));
  CHECK_INT(j->nbad, 2);
  /* w1 gets no task of it, w2 does. */
  dispatch_run(c);
  CHECK(j->tasks[0].live && j->tasks[0].live->worker == w2);
  memcoord_free(c);
}

static void test_hold_release(void) {
  coord_t *c = memcoord_new();
  worker_t *w = memcoord_worker(c, "w1", 1, 8000, 0, NULL, NULL);
  job_t *j = memcoord_submit1(c, "h", "\"frames\":\"1-3\"");
  dispatch_run(c);
  attempt_t *a0 = j->tasks[0].live;
  CHECK_INT(j->state, JOB_RUNNING);
  job_hold(c, j, "budget: test");
  CHECK_INT(j->state, JOB_HELD);
  CHECK_STR(j->reason, "budget: test");
  CHECK_INT(j->tasks[0].state, TASK_DISPATCHED); /* it runs on */
  CHECK_INT(j->tasks[1].state, TASK_HELD);
  CHECK_INT(j->tasks[2].state, TASK_HELD);
  if (a0)
    memcoord_end(c, a0, ATTEMPT_LOST);
  CHECK_INT(j->tasks[0].state, TASK_HELD);
  w->cpus = w->cpus_free = 4;
  dispatch_run(c);
  CHECK_INT(w->nlive, 0);

  job_release(c, j);
  CHECK_INT(j->state, JOB_QUEUED);
  CHECK(tasks_all(j, TASK_READY));
  dispatch_run(c);
  CHECK_INT(w->nlive, 3);
  CHECK_INT(j->state, JOB_RUNNING);

  /* Holding leaves paused and finished jobs alone; releasing leaves
   * jobs that are not held alone. */
  job_t *p = memcoord_submit1(c, "p", NULL);
  char err[200];
  CHECK_INT(job_pause(c, p, "bob", err, sizeof err), 0);
  job_hold(c, p, "budget: test");
  CHECK_INT(p->state, JOB_PAUSED);
  end_live(c, j, ATTEMPT_SUCCEEDED);
  job_hold(c, j, "budget: test");
  CHECK_INT(j->state, JOB_SUCCEEDED);
  job_release(c, p);
  CHECK_INT(p->state, JOB_PAUSED);

  /* A waiting job held: released, it waits again; when its dependency
   * succeeded while it was held, released it runs. */
  job_t *x = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"x\",\"command\":[\"true\"]},"
                                "{\"name\":\"y\",\"command\":[\"true\"],\"after\":[\"x\"]}]}");
  job_t *y = idmap_get(&c->jobs, x->id + 1);
  job_hold(c, y, "budget: test");
  CHECK_INT(y->state, JOB_HELD);
  job_release(c, y);
  CHECK_INT(y->state, JOB_WAITING);
  CHECK(tasks_all(y, TASK_WAITING));
  job_hold(c, y, "budget: test");
  end_live(c, x, ATTEMPT_SUCCEEDED);
  CHECK_INT(x->state, JOB_SUCCEEDED);
  CHECK_INT(y->state, JOB_HELD);
  job_release(c, y);
  CHECK_INT(y->state, JOB_QUEUED);
  CHECK(tasks_all(y, TASK_READY));
  dispatch_run(c);
  CHECK_INT(y->counts[TASK_DISPATCHED], 1);
  memcoord_free(c);
}

/* Frame-wise after: each comp task waits for the render tasks meeting its
 * frames, and starts while the render job still runs. */
static void test_after_frames(void) {
  coord_t *c = memcoord_new();
  memcoord_worker(c, "w1", 16, 64000, 0, NULL, NULL);
  job_t *r = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"r\",\"command\":[\"true\"],\"frames\":\"1-8\","
                                "\"chunk\":4},"
                                "{\"name\":\"k\",\"command\":[\"true\"],\"frames\":\"1-8\","
                                "\"chunk\":3,\"after\":[{\"job\":\"r\",\"frames\":true}]}]}");
  job_t *k = idmap_get(&c->jobs, r->id + 1);
  CHECK_INT(k->state, JOB_QUEUED);
  CHECK_INT(k->deps_pending, 0);
  CHECK(k->deps_frames && k->deps_frames[0]);
  CHECK(tasks_all(k, TASK_WAITING));
  CHECK_INT(k->tasks[0].fwait, 1); /* 1-3: render 1-4 */
  CHECK_INT(k->tasks[1].fwait, 2); /* 4-6: render 1-4 and 5-8 */
  CHECK_INT(k->tasks[2].fwait, 1); /* 7-8: render 5-8 */
  CHECK(r->nfdependents == 1 && r->fdependents[0] == k);
  dispatch_run(c);
  CHECK_INT(r->counts[TASK_DISPATCHED], 2);
  CHECK(tasks_all(k, TASK_WAITING));

  memcoord_end(c, r->tasks[0].live, ATTEMPT_SUCCEEDED);
  CHECK_INT(r->state, JOB_RUNNING);
  CHECK_INT(k->tasks[0].state, TASK_READY);
  CHECK_INT(k->tasks[1].state, TASK_WAITING);
  CHECK_INT(k->tasks[2].state, TASK_WAITING);
  dispatch_run(c);
  CHECK_INT(k->tasks[0].state, TASK_DISPATCHED);
  CHECK_INT(k->state, JOB_RUNNING); /* before r ended */

  memcoord_end(c, r->tasks[1].live, ATTEMPT_SUCCEEDED);
  CHECK_INT(r->state, JOB_SUCCEEDED);
  CHECK_INT(k->tasks[1].state, TASK_READY);
  CHECK_INT(k->tasks[2].state, TASK_READY);
  CHECK_INT(r->nfdependents, 0);
  end_live(c, k, ATTEMPT_SUCCEEDED);
  CHECK_INT(k->state, JOB_SUCCEEDED);

  /* Paused while it waits for frames: a covered task waits paused. */
  job_t *r2 = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                 "{\"name\":\"r\",\"command\":[\"true\"],\"frames\":\"1-2\"},"
                                 "{\"name\":\"k\",\"command\":[\"true\"],\"frames\":\"1-2\","
                                 "\"after\":[{\"job\":\"r\",\"frames\":true}]}]}");
  job_t *k2 = idmap_get(&c->jobs, r2->id + 1);
  char err[200];
  CHECK_INT(job_pause(c, k2, "bob", err, sizeof err), 0);
  dispatch_run(c);
  memcoord_end(c, r2->tasks[0].live, ATTEMPT_SUCCEEDED);
  CHECK_INT(k2->tasks[0].state, TASK_PAUSED);
  CHECK_INT(k2->tasks[1].state, TASK_WAITING);
  CHECK_INT(job_resume(c, k2, "bob", err, sizeof err), 0);
  CHECK_INT(k2->tasks[0].state, TASK_READY);
  CHECK_INT(k2->tasks[1].state, TASK_WAITING);
  memcoord_free(c);
}

/* A failed job's retry revives the jobs canceled because of it, down the
 * chain; never one a person canceled. */
static void test_revive(void) {
  coord_t *c = memcoord_new();
  memcoord_worker(c, "w1", 16, 64000, 0, NULL, NULL);
  job_t *r = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"r\",\"command\":[\"true\"],\"frames\":\"1-4\","
                                "\"chunk\":2,\"max_attempts\":1},"
                                "{\"name\":\"k\",\"command\":[\"true\"],\"frames\":\"1-4\","
                                "\"after\":[{\"job\":\"r\",\"frames\":true}]},"
                                "{\"name\":\"f\",\"command\":[\"true\"],\"after\":[\"k\"]},"
                                "{\"name\":\"p\",\"command\":[\"true\"],\"after\":[\"r\"]}]}");
  job_t *k = idmap_get(&c->jobs, r->id + 1), *f = idmap_get(&c->jobs, r->id + 2),
        *p = idmap_get(&c->jobs, r->id + 3);
  char err[200];
  CHECK_INT(job_cancel(c, p, "bob", "not this one", err, sizeof err), 0);
  dispatch_run(c);
  memcoord_end(c, r->tasks[0].live, ATTEMPT_SUCCEEDED);
  end_live(c, k, ATTEMPT_SUCCEEDED); /* frames 1 and 2 */
  CHECK_INT(k->counts[TASK_SUCCEEDED], 2);
  memcoord_end(c, r->tasks[1].live, ATTEMPT_FAILED);
  CHECK_INT(r->state, JOB_FAILED);
  CHECK_INT(k->state, JOB_CANCELED);
  CHECK_INT(k->counts[TASK_CANCELED], 2);
  CHECK(k->cause == r && k->canceled_by == r->id);
  CHECK_INT(f->state, JOB_CANCELED);
  CHECK(f->cause == k && f->canceled_by == k->id);
  CHECK_INT(p->state, JOB_CANCELED);
  CHECK(!p->cause && !p->canceled_by);

  /* retry or resume of a revivable job names the job to retry. */
  snap_t s = snap(f);
  uint32_t retried;
  CHECK_INT(job_check(f, JOB_ACT_RETRY, err, sizeof err), -1);
  char want[120];
  snprintf(want, sizeof want, "retry job %" PRIu64 " and it runs again", r->id);
  CHECK(strstr(err, want) != NULL);
  CHECK_INT(job_check(k, JOB_ACT_RESUME, err, sizeof err), -1);
  CHECK(strstr(err, want) != NULL);
  check_unchanged(f, &s);

  job_changes_begin();
  CHECK_INT(job_retry(c, r, "bob", &retried, err, sizeof err), 0);
  size_t n;
  job_t **ch = job_changes_end(&n);
  CHECK(n == 2 && ch[0] == k && ch[1] == f);
  free(ch);
  CHECK_INT(k->state, JOB_QUEUED); /* waits frame-wise only */
  CHECK(!k->cause && !k->canceled_by);
  CHECK_INT(k->counts[TASK_SUCCEEDED], 2);
  CHECK_INT(k->counts[TASK_WAITING], 2);
  CHECK_INT(f->state, JOB_WAITING);
  CHECK_INT(f->deps_pending, 1);
  CHECK_INT(p->state, JOB_CANCELED); /* a person canceled it */
  dispatch_run(c);
  memcoord_end(c, r->tasks[1].live, ATTEMPT_SUCCEEDED);
  CHECK_INT(r->state, JOB_SUCCEEDED);
  end_live(c, k, ATTEMPT_SUCCEEDED);
  CHECK_INT(k->state, JOB_SUCCEEDED);
  CHECK_INT(f->state, JOB_QUEUED);

  /* After a failed job and one still running: revived, it waits for both
   * again, once each. */
  job_t *m = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"bad\",\"command\":[\"true\"],\"max_attempts\":1},"
                                "{\"name\":\"slow\",\"command\":[\"true\"]},"
                                "{\"name\":\"q\",\"command\":[\"true\"],"
                                "\"after\":[\"bad\",\"slow\"]}]}");
  job_t *slow = idmap_get(&c->jobs, m->id + 1), *q = idmap_get(&c->jobs, m->id + 2);
  end_live(c, m, ATTEMPT_FAILED);
  CHECK(q->state == JOB_CANCELED && q->cause == m);
  CHECK_INT(job_retry(c, m, "bob", &retried, err, sizeof err), 0);
  CHECK_INT(q->state, JOB_WAITING);
  CHECK_INT(q->deps_pending, 2);
  CHECK_INT(slow->ndependents, 1);
  end_live(c, slow, ATTEMPT_SUCCEEDED);
  CHECK_INT(q->state, JOB_WAITING);
  CHECK_INT(q->deps_pending, 1);
  end_live(c, m, ATTEMPT_SUCCEEDED);
  CHECK_INT(q->state, JOB_QUEUED);

  /* A person cancels a job canceled for a failed one: it stays canceled,
   * and so does the job canceled for it. */
  job_t *u = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"u\",\"command\":[\"true\"],\"max_attempts\":1},"
                                "{\"name\":\"v\",\"command\":[\"true\"],\"after\":[\"u\"]},"
                                "{\"name\":\"w\",\"command\":[\"true\"],\"after\":[\"v\"]}]}");
  job_t *v = idmap_get(&c->jobs, u->id + 1), *w = idmap_get(&c->jobs, u->id + 2);
  end_live(c, u, ATTEMPT_FAILED);
  CHECK(v->cause == u && w->cause == v);
  CHECK_INT(job_check(v, JOB_ACT_CANCEL, err, sizeof err), 0);
  CHECK_INT(job_cancel(c, v, "bob", "stop here", err, sizeof err), 0);
  CHECK_STR(v->reason, "canceled by bob: stop here");
  CHECK(!v->cause && !v->canceled_by && !w->cause);
  CHECK_INT(u->nrevivable, 0);
  CHECK_INT(job_retry(c, u, "bob", &retried, err, sizeof err), 0);
  CHECK_INT(v->state, JOB_CANCELED);
  CHECK_INT(w->state, JOB_CANCELED);
  s = snap(v);
  CHECK_INT(job_cancel(c, v, "bob", NULL, err, sizeof err), -1);
  check_refusal(v, err, "only unfinished jobs can be canceled");
  check_unchanged(v, &s);

  /* Canceled for a failed job, then a person cancels another job it runs
   * after: it can never run, so it does not come back. */
  job_t *a1 = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                 "{\"name\":\"a1\",\"command\":[\"true\"],\"max_attempts\":1},"
                                 "{\"name\":\"a2\",\"command\":[\"true\"]},"
                                 "{\"name\":\"d1\",\"command\":[\"true\"],"
                                 "\"after\":[\"a1\",\"a2\"]}]}");
  job_t *a2 = idmap_get(&c->jobs, a1->id + 1), *d1 = idmap_get(&c->jobs, a1->id + 2);
  end_live(c, a1, ATTEMPT_FAILED);
  CHECK(d1->state == JOB_CANCELED && d1->cause == a1);
  CHECK_INT(job_cancel(c, a2, "bob", NULL, err, sizeof err), 0);
  CHECK(!d1->cause && !d1->canceled_by);
  CHECK_INT(job_retry(c, a1, "bob", &retried, err, sizeof err), 0);
  CHECK_INT(d1->state, JOB_CANCELED);

  /* Canceling the failed job instead: those canceled for it stay so. */
  job_t *x = memcoord_submit(c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
                                "{\"name\":\"x\",\"command\":[\"true\"],\"max_attempts\":1},"
                                "{\"name\":\"y\",\"command\":[\"true\"],\"after\":[\"x\"]}]}");
  job_t *y = idmap_get(&c->jobs, x->id + 1);
  end_live(c, x, ATTEMPT_FAILED);
  CHECK(y->state == JOB_CANCELED && y->cause == x);
  CHECK_INT(job_cancel(c, x, "bob", NULL, err, sizeof err), 0);
  CHECK(!y->cause);
  CHECK_INT(x->nrevivable, 0);
  memcoord_free(c);
}

int main(void) {
  log_init("test_job", LOG_LVL_ERROR);
  test_new();
  test_after_same_file();
  test_after_by_id();
  test_after_ext();
  test_set_state();
  test_refresh();
  test_check();
  test_cancel();
  test_pause_resume();
  test_retry();
  test_after_frames();
  test_revive();
  test_worker_failures();
  test_hold_release();
  CHECK_INT(uv_loop_close(memcoord_loop()), 0);
  return check_report("test_job");
}
