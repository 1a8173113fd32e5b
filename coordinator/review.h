/*
 * review.h - takes, their review by people, and approval gates.
 *
 * A succeeded task of a generate job makes a take; a render job makes one
 * take when all its tasks succeeded.  Takes live in PostgreSQL (written in
 * the batch that records the success, from the attempt's outputs and the
 * job's provenance).  People with the supervisor role approve, reject or
 * request changes; decisions are final.  A job with `after_approval` waits
 * until a take of each named job (or of a retake of it) is approved and
 * then runs with {approved_output} = that take's first output.
 */
#ifndef CLAPPER_REVIEW_H
#define CLAPPER_REVIEW_H

#include "clients.h"
#include "jsondoc.h"
#include "model.h"

/* A take as the CLI's --json shows it, from takes t, jobs j, shots s. */
#define TAKE_OBJ                                                                               \
  "json_build_object('take_id', t.id, 'job_id', t.job_id, 'job', j.name, 'task_id', "         \
  "t.task_id, 'shot', s.name, 'kind', t.kind, 'state', t.state, 'seed', t.seed, 'take', "     \
  "t.take, 'outputs', t.outputs, 'provenance', t.provenance, 'decided_by', t.decided_by, "    \
  "'decided_at', " JSONDOC_TIME("t.decided_at") ", 'note', t.note, 'created_at', "            \
  JSONDOC_TIME("t.created_at") ")"
#define TAKE_FROM                                                                              \
  " FROM takes t JOIN jobs j ON j.id = t.job_id LEFT JOIN shots s ON s.id = j.shot_id"

/* t of a generate job succeeded with attempt a: its take is recorded. */
void review_task_succeeded(coord_t *c, task_t *t, attempt_t *a);

/* The render job j succeeded: its take is recorded. */
void review_job_succeeded(coord_t *c, job_t *j);

/* j waits for an approved take of gate root (a pending gate of j). */
void review_wait_for(coord_t *c, job_t *j, uint64_t root);

/* A take of root (first output path) is approved: the jobs waiting for it
 * move on. */
void review_approved(coord_t *c, uint64_t root, const char *output);

/* The first output of a take of root approved since the coordinator
 * started, or NULL. */
const char *review_approved_output(coord_t *c, uint64_t root);

/* j leaves memory: it waits for nothing any more. */
void review_forget_job(coord_t *c, job_t *j);

/* Verb handlers (verbs.c). */

/* approve, reject, request-changes (v->spec->arg: a review_decision_t) of
 * take v->req->ids[0] with v->req->note, answered once the decision is
 * durable. */
typedef enum review_decision {
  REVIEW_APPROVE,
  REVIEW_REJECT,
  REVIEW_REQUEST_CHANGES
} review_decision_t;
void review_decide(coord_t *c, creq_t *r, const verb_call_t *v);

/* Queues a new take (the next seed) of generated take v->req->ids[0]'s job. */
void review_retake(coord_t *c, creq_t *r, const verb_call_t *v);

/* {"takes": [...]} filtered by req->name ("p/e"), shot, state and ids[0]
 * (a job). */
void review_list(coord_t *c, creq_t *r, const verb_call_t *v);

/* The review state (gates, decisions and retake seeds remembered since
 * start) of c: made by coord_init, released with the coordinator. */
void review_new(coord_t *c);
void review_free(coord_t *c);

#endif
