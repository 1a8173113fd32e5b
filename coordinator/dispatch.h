/*
 * dispatch.h - the ready index and placement decisions, all in memory.
 *
 * Order: higher priority first; within a priority, episodes
 * share the farm in proportion to their weights, measured by what their
 * running attempts hold (dominant-resource share: the largest of the
 * fractions of the connected farm's CPUs, memory and GPUs, divided by the
 * weight); within an episode, first submitted first.
 *
 * Structure: ready tasks wait in a FIFO per job; a job with ready tasks
 * sits in the job heap (by id) of its episode at its priority (an epq);
 * each priority level is a heap of epqs ordered by their episode's share.
 * A dispatch round walks the levels from the top, takes the episode with
 * the smallest share, its first job that some worker can take now, places
 * one task (round-robin over fitting workers), and updates the episode's
 * share: O(log episodes + log jobs) per task plus the scan for a worker.
 * Jobs and episodes that cannot be placed are set aside for the rest of
 * the round, since resources only shrink within a round.  Nothing here
 * touches the database.
 *
 * Tasks backing off after a failure wait in a heap keyed by time.  Tasks
 * of a frame-wise `after` wait outside the index until the other job's
 * tasks covering their frames succeeded: job.c counts those down in
 * memory (task.fwait) and hands each task here when it reaches zero.
 */
#ifndef CLAPPER_DISPATCH_H
#define CLAPPER_DISPATCH_H

#include <stdint.h>

#include "model.h"

dispatch_t *dispatch_new(coord_t *c);
/* Releases the index and every episode. */
void dispatch_free(coord_t *c);

/* The episode "project/episode", created with weight 1 when new. */
episode_t *dispatch_episode(coord_t *c, const char *project, const char *episode);

/* Sets an episode's weight ([1, 1000]) and re-orders it. */
void dispatch_set_weight(coord_t *c, episode_t *ep, uint32_t weight);

/* a started holding its resources (+1) or released them (-1): its
 * episode's share changes. */
void dispatch_usage(coord_t *c, const attempt_t *a, int sign);

/* Workers came, went, or changed: recompute the farm's totals and every
 * episode's share, and re-check jobs that could not fit. */
void dispatch_farm_changed(coord_t *c);

/* t just became ready (now, or at not_before, monotonic us, when later). */
void dispatch_task_ready(coord_t *c, task_t *t, uint64_t not_before);

/* j's state changed: it enters or leaves the index accordingly. */
void dispatch_job_changed(coord_t *c, job_t *j);

/* j is about to be freed: drop every reference to it. */
void dispatch_forget_job(coord_t *c, job_t *j);

/* Dispatches as much as the free resources allow. */
void dispatch_run(coord_t *c);

/* Whether w's free resources fit req now; on success fills the GPU mask to
 * reserve.  Exposed for tests. */
bool dispatch_fits(const worker_t *w, const jf_requires_t *req, uint64_t *gpu_mask);

/* How the reason of a job that no worker can run any more begins: every
 * known worker that could run it is degraded, lost or excluded by the
 * job's failures there (see note_unfit in dispatch.c). */
#define DISPATCH_STRANDED STATES_STRANDED

/* Whether w could ever run req (its whole capacity, busy or not). */
bool dispatch_could_fit(const worker_t *w, const jf_requires_t *req);

/* Effective CPU demand: a task asks for at least one CPU unless it asks
 * for GPUs, so that no task is free to run without bound. */
uint32_t dispatch_cpus(const jf_requires_t *req);

#endif
