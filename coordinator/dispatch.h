/*
 * dispatch.h - the ready index and placement decisions, all in memory.
 *
 * Ready tasks wait in a FIFO per job; jobs with ready tasks sit in a heap
 * ordered by priority (high first) and then submission (job id).  A
 * dispatch round takes the best job, finds a worker whose free resources
 * fit the job's requirements (round-robin over workers), reserves them,
 * creates the attempt and queues the Assign in the worker's outbox (sent
 * after the batch commits).  A job no worker can take now is set aside for
 * the rest of the round.  Cost per dispatched task: O(log jobs) plus the
 * scan for a fitting worker; nothing here touches the database.
 *
 * Tasks backing off after a failure wait in a second heap keyed by time.
 */
#ifndef CLAPPER_DISPATCH_H
#define CLAPPER_DISPATCH_H

#include <stdint.h>

#include "model.h"

dispatch_t *dispatch_new(coord_t *c);
void dispatch_free(dispatch_t **d);

/* t just became ready (now, or at not_before, monotonic us, when later). */
void dispatch_task_ready(coord_t *c, task_t *t, uint64_t not_before);

/* j's state changed: it enters or leaves the heap accordingly. */
void dispatch_job_changed(coord_t *c, job_t *j);

/* j is about to be freed: drop every reference to it. */
void dispatch_forget_job(coord_t *c, job_t *j);

/* Dispatches as much as the free resources allow. */
void dispatch_run(coord_t *c);

/* Whether w's free resources fit req now; on success fills the GPU mask to
 * reserve.  Exposed for tests. */
bool dispatch_fits(const worker_t *w, const jf_requires_t *req, uint64_t *gpu_mask);

/* Effective CPU demand: a task asks for at least one CPU unless it asks
 * for GPUs, so that no task is free to run without bound. */
uint32_t dispatch_cpus(const jf_requires_t *req);

#endif
