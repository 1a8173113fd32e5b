/*
 * memcoord.h - a coordinator in memory for the module tests: no database,
 * no sockets, state built by hand the way the daemon would build it.
 *
 * Nothing is ever flushed (c->wdb is NULL): what the store marks dirty,
 * commit actions and outboxes stay queued, so a test sees every decision
 * a module made.  One loop per program (memcoord_loop), run by the tests
 * that need timers.
 */
#ifndef CLAPPER_TEST_MEMCOORD_H
#define CLAPPER_TEST_MEMCOORD_H

#include <stdint.h>

#include "model.h"

/* The loop every memcoord runs on (initialised on first use). */
uv_loop_t *memcoord_loop(void);

/* A coordinator as coord_init leaves it, with output_root set (caller
 * releases it with memcoord_free). */
coord_t *memcoord_new(void);

/* Releases c in coordinator/main.c's order (timers closed, loop run). */
void memcoord_free(coord_t *c);

/* An online, connected worker as a Hello would leave it: routing id =
 * name.  gpu_mb lists the memory of each GPU (ngpus entries, model "Test
 * GPU"); tags is a comma-separated list or NULL. */
worker_t *memcoord_worker(coord_t *c, const char *name, uint32_t cpus, uint64_t memory_mb,
                          uint32_t ngpus, const uint64_t *gpu_mb, const char *tags);

/* Submits a job file (JSON text) as "tester"; returns its first job.  A
 * file that does not parse fails the test and exits. */
job_t *memcoord_submit(coord_t *c, const char *json);

/* The same with the states of finished jobs an `after` or
 * `after_approval` names by id (job_create_all's ext). */
job_t *memcoord_submit_ext(coord_t *c, const char *json, const dep_state_t *ext, size_t next);

/* A one-job submission to proj/ep1 with command ["true"] and the given
 * extra job fields (JSON members, may be NULL). */
job_t *memcoord_submit1(coord_t *c, const char *name, const char *fields);

/* Ends attempt a in state `to` as a worker's result would. */
void memcoord_end(coord_t *c, attempt_t *a, attempt_state_t to);

/* Checks w's books: live attempts' GPU masks disjoint and their union
 * gpu_busy, held plus free resources equal the capacity. */
void memcoord_check_worker(const worker_t *w);

#endif
