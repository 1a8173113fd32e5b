/*
 * test_review.c - approval gates in memory.
 *
 * Each scenario builds a coordinator by hand (no database, no sockets),
 * submits job files with after_approval and says a take was approved the
 * way review_decide does once the decision is durable: review_approved(c,
 * root, first output).  Covered: a job gated on a job of the same file
 * waits, and an approval of that root queues it with {approved_output}
 * set to the first approval's output; a job gated on two roots needs
 * both and takes its first gate's output; gates and `after` together;
 * review_forget_job (a job leaving memory waits for nothing, and an
 * approval after that does not touch it); a job submitted after an
 * approval (review_approved_output, or ext from the database) starts at
 * once with that output; a gate on a retake counts for the retake's root.
 * The verbs that read takes from the database (review_decide,
 * review_list, review_retake) are left to the integration tests.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dispatch.h"
#include "log.h"
#include "memcoord.h"
#include "model.h"
#include "review.h"

/* A job gated by id on root (after_approval: [root]). */
static job_t *gated_on(coord_t *c, const char *name, uint64_t root, const dep_state_t *ext,
                       size_t next) {
  char json[512];
  snprintf(json, sizeof json,
           "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":[{\"name\":\"%s\","
           "\"command\":[\"grade\",\"{approved_output}\"],\"after_approval\":[%" PRIu64 "]}]}",
           name, root);
  return memcoord_submit_ext(c, json, ext, next);
}

static bool tasks_all(const job_t *j, task_state_t s) { return j->counts[s] == j->ntasks; }

/* ------------------------------------------------------------ scenarios */

static void test_gate_same_file(void) {
  coord_t *c = memcoord_new();
  memcoord_worker(c, "w1", 8, 16000, 0, NULL, NULL);
  job_t *gen = memcoord_submit(
      c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
         "{\"name\":\"gen\",\"kind\":\"generate\",\"takes\":2,\"command\":[\"gen\"]},"
         "{\"name\":\"grade\",\"after_approval\":[\"gen\"],"
         "\"command\":[\"grade\",\"{approved_output}\"]}]}");
  job_t *grade = idmap_get(&c->jobs, gen->id + 1);
  CHECK_INT(gen->state, JOB_QUEUED);
  CHECK_INT(grade->state, JOB_WAITING);
  CHECK(tasks_all(grade, TASK_WAITING));
  CHECK_INT(grade->gates_pending, 1);
  CHECK_INT(grade->ngates, 1);
  CHECK_INT(grade->gates[0].root, gen->id);
  CHECK(grade->gates[0].pending);
  CHECK_INT(grade->deps_pending, 0);
  CHECK_INT(grade->ndeps, 0);
  CHECK(grade->approved_output == NULL);
  CHECK(review_approved_output(c, gen->id) == NULL);

  /* The takes run and succeed; without an approval grade still waits. */
  dispatch_run(c);
  for (uint32_t k = 0; k < gen->ntasks; k++)
    if (gen->tasks[k].live)
      memcoord_end(c, gen->tasks[k].live, ATTEMPT_SUCCEEDED);
  CHECK_INT(gen->state, JOB_SUCCEEDED);
  CHECK_INT(grade->state, JOB_WAITING);
  dispatch_run(c);
  CHECK(tasks_all(grade, TASK_WAITING));

  /* A take of gen approved: grade runs on its output. */
  free(grade->reason);
  grade->reason = xstrdup("no take of job 1 is approved or in review: waiting for a retake");
  review_approved(c, gen->id, "/out/gen/take-2/a.png");
  CHECK_INT(grade->state, JOB_QUEUED);
  CHECK(tasks_all(grade, TASK_READY));
  CHECK_STR(grade->approved_output, "/out/gen/take-2/a.png");
  CHECK_INT(grade->gates_pending, 0);
  CHECK(!grade->gates[0].pending);
  CHECK_STR(grade->reason, "");
  CHECK_STR(review_approved_output(c, gen->id), "/out/gen/take-2/a.png");
  dispatch_run(c);
  CHECK_INT(grade->counts[TASK_DISPATCHED], 1);

  /* Another approval of the same root changes neither. */
  review_approved(c, gen->id, "/out/gen/take-1/a.png");
  CHECK_STR(grade->approved_output, "/out/gen/take-2/a.png");
  CHECK_STR(review_approved_output(c, gen->id), "/out/gen/take-2/a.png");
  /* An approval of another root touches nothing here. */
  review_approved(c, gen->id + 100, "/elsewhere");
  CHECK_INT(grade->counts[TASK_DISPATCHED], 1);
  memcoord_free(c);
}

static void test_two_gates(void) {
  coord_t *c = memcoord_new();
  job_t *g1 = memcoord_submit(
      c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
         "{\"name\":\"g1\",\"kind\":\"generate\",\"takes\":1,\"command\":[\"gen\"]},"
         "{\"name\":\"g2\",\"kind\":\"generate\",\"takes\":1,\"command\":[\"gen\"]},"
         "{\"name\":\"final\",\"after_approval\":[\"g1\",\"g2\"],"
         "\"command\":[\"comp\",\"{approved_output}\"]}]}");
  job_t *g2 = idmap_get(&c->jobs, g1->id + 1), *fin = idmap_get(&c->jobs, g1->id + 2);
  CHECK_INT(fin->gates_pending, 2);
  CHECK_INT(fin->ngates, 2);
  CHECK_INT(fin->gates[0].root, g1->id);
  CHECK_INT(fin->gates[1].root, g2->id);

  /* The second gate first: still waiting, no output yet. */
  review_approved(c, g2->id, "/b.png");
  CHECK_INT(fin->state, JOB_WAITING);
  CHECK_INT(fin->gates_pending, 1);
  CHECK(fin->gates[0].pending);
  CHECK(!fin->gates[1].pending);
  CHECK(fin->approved_output == NULL);
  CHECK(tasks_all(fin, TASK_WAITING));
  /* Then the first: it runs, on the first gate's output. */
  review_approved(c, g1->id, "/a.png");
  CHECK_INT(fin->state, JOB_QUEUED);
  CHECK_INT(fin->gates_pending, 0);
  CHECK_STR(fin->approved_output, "/a.png");
  CHECK(tasks_all(fin, TASK_READY));

  /* A gate and an `after`: both must be met, in either order. */
  memcoord_worker(c, "w1", 8, 16000, 0, NULL, NULL);
  job_t *x = memcoord_submit(
      c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
         "{\"name\":\"x\",\"command\":[\"true\"]},"
         "{\"name\":\"g3\",\"kind\":\"generate\",\"takes\":1,\"command\":[\"gen\"]},"
         "{\"name\":\"k\",\"after\":[\"x\"],\"after_approval\":[\"g3\"],"
         "\"command\":[\"comp\",\"{approved_output}\"]}]}");
  job_t *g3 = idmap_get(&c->jobs, x->id + 1), *k = idmap_get(&c->jobs, x->id + 2);
  CHECK_INT(k->deps_pending, 1);
  CHECK_INT(k->gates_pending, 1);
  review_approved(c, g3->id, "/g3.png");
  CHECK_INT(k->state, JOB_WAITING);
  CHECK_INT(k->gates_pending, 0);
  CHECK_STR(k->approved_output, "/g3.png");
  dispatch_run(c);
  CHECK(x->tasks[0].live != NULL);
  if (x->tasks[0].live)
    memcoord_end(c, x->tasks[0].live, ATTEMPT_SUCCEEDED);
  CHECK_INT(k->state, JOB_QUEUED);
  CHECK(tasks_all(k, TASK_READY));
  memcoord_free(c);
}

/* What job.c's retirement does once a finished job's end is durable. */
static void retire(coord_t *c, job_t *j) {
  idmap_del(&c->jobs, j->id);
  dispatch_forget_job(c, j);
  review_forget_job(c, j);
  job_free(j);
}

static void test_forget(void) {
  coord_t *c = memcoord_new();
  job_t *g = memcoord_submit(
      c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
         "{\"name\":\"g\",\"kind\":\"generate\",\"takes\":1,\"command\":[\"gen\"]},"
         "{\"name\":\"a\",\"after_approval\":[\"g\"],\"command\":[\"true\"]},"
         "{\"name\":\"b\",\"after_approval\":[\"g\"],\"command\":[\"true\"]}]}");
  job_t *a = idmap_get(&c->jobs, g->id + 1), *b = idmap_get(&c->jobs, g->id + 2);
  /* a no longer waits; b still does. */
  review_forget_job(c, a);
  review_approved(c, g->id, "/g.png");
  CHECK_INT(a->state, JOB_WAITING);
  CHECK_INT(a->gates_pending, 1);
  CHECK(a->approved_output == NULL);
  CHECK_INT(b->state, JOB_QUEUED);
  CHECK_STR(b->approved_output, "/g.png");

  /* A gated job canceled and released: the approval that comes later
   * must not reach it (ASan would see the freed job). */
  job_t *h = memcoord_submit(
      c, "{\"project\":\"proj\",\"episode\":\"ep1\",\"jobs\":["
         "{\"name\":\"h\",\"kind\":\"generate\",\"takes\":1,\"command\":[\"gen\"]},"
         "{\"name\":\"v\",\"after_approval\":[\"h\"],\"command\":[\"true\"]},"
         "{\"name\":\"u\",\"after_approval\":[\"h\"],\"command\":[\"true\"]}]}");
  job_t *v = idmap_get(&c->jobs, h->id + 1), *u = idmap_get(&c->jobs, h->id + 2);
  char err[200];
  CHECK_INT(job_cancel(c, v, "alice", NULL, err, sizeof err), 0);
  CHECK_INT(v->state, JOB_CANCELED);
  uint64_t vid = v->id;
  retire(c, v);
  CHECK(idmap_get(&c->jobs, vid) == NULL);
  review_approved(c, h->id, "/h.png");
  CHECK_INT(u->state, JOB_QUEUED);
  CHECK_STR(u->approved_output, "/h.png");
  memcoord_free(c);
}

/* Approved before the gated job was submitted: it starts at once. */
static void test_approved_before(void) {
  coord_t *c = memcoord_new();
  review_approved(c, 500, "/approved/take.png");
  CHECK_STR(review_approved_output(c, 500), "/approved/take.png");
  CHECK(review_approved_output(c, 501) == NULL);
  job_t *j = gated_on(c, "late", 500, NULL, 0);
  CHECK_INT(j->state, JOB_QUEUED);
  CHECK(tasks_all(j, TASK_READY));
  CHECK_INT(j->ngates, 1);
  CHECK_INT(j->gates[0].root, 500);
  CHECK(!j->gates[0].pending);
  CHECK_INT(j->gates_pending, 0);
  CHECK_STR(j->approved_output, "/approved/take.png");
  /* The first approval is the one remembered. */
  review_approved(c, 500, "/later.png");
  CHECK_STR(review_approved_output(c, 500), "/approved/take.png");

  /* From the database (ext): approved already, or a retake of a root
   * nothing of which is approved yet. */
  const dep_state_t ext[] = {
      {.id = 900, .state = JOB_SUCCEEDED, .gate_root = 900, .approved_output = "/db/take.png"},
      {.id = 901, .state = JOB_SUCCEEDED, .gate_root = 800, .approved_output = NULL}};
  job_t *d = gated_on(c, "fromdb", 900, ext, 2);
  CHECK_INT(d->state, JOB_QUEUED);
  CHECK_STR(d->approved_output, "/db/take.png");
  job_t *r = gated_on(c, "onretake", 901, ext, 2);
  CHECK_INT(r->state, JOB_WAITING);
  CHECK_INT(r->gates[0].root, 800);
  review_approved(c, 901, "/not-a-root.png");
  CHECK_INT(r->state, JOB_WAITING);
  review_approved(c, 800, "/root.png");
  CHECK_INT(r->state, JOB_QUEUED);
  CHECK_STR(r->approved_output, "/root.png");
  memcoord_free(c);
}

/* A retake (gate_root set as review_retake sets it) counts for its root. */
static void test_retake_root(void) {
  coord_t *c = memcoord_new();
  job_t *orig = memcoord_submit1(c, "gen", "\"kind\":\"generate\",\"takes\":1");
  job_t *retake = memcoord_submit1(c, "gen-r1", "\"kind\":\"generate\",\"takes\":1,\"seed\":1");
  retake->retake_of = 1;
  retake->gate_root = orig->id;

  /* Gated on the original: an approved take of the retake, whose root
   * is the original, releases it. */
  job_t *a = gated_on(c, "a", orig->id, NULL, 0);
  CHECK_INT(a->state, JOB_WAITING);
  review_approved(c, retake->gate_root, "/retake.png");
  CHECK_INT(a->state, JOB_QUEUED);
  CHECK_STR(a->approved_output, "/retake.png");

  /* Gated on the retake itself (in memory, not yet in the database): it
   * waits on the same root. */
  job_t *orig2 = memcoord_submit1(c, "gen2", "\"kind\":\"generate\",\"takes\":1");
  job_t *retake2 = memcoord_submit1(c, "gen2-r1", "\"kind\":\"generate\",\"takes\":1");
  retake2->retake_of = 2;
  retake2->gate_root = orig2->id;
  job_t *b = gated_on(c, "b", retake2->id, NULL, 0);
  CHECK_INT(b->state, JOB_WAITING);
  CHECK_INT(b->gates[0].root, orig2->id);
  review_approved(c, orig2->id, "/orig2.png");
  CHECK_INT(b->state, JOB_QUEUED);
  CHECK_STR(b->approved_output, "/orig2.png");
  memcoord_free(c);
}

int main(void) {
  log_init("test_review", LOG_LVL_ERROR);
  test_gate_same_file();
  test_two_gates();
  test_forget();
  test_approved_before();
  test_retake_root();
  CHECK_INT(uv_loop_close(memcoord_loop()), 0);
  return check_report("test_review");
}
