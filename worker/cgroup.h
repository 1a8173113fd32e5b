/*
 * cgroup.h - a cgroup v2 per attempt, where the worker's cgroup is
 * delegated to it (systemd Delegate=yes; found by being writable).
 *
 * Layout below the worker's own cgroup BASE (from /proc/self/cgroup and
 * the cgroup2 mount in /proc/self/mountinfo):
 *   BASE/clapper-worker-PID/      the worker itself, moved there when the
 *                                 memory or cpu controller is to be enabled
 *                                 (a cgroup with controllers for its
 *                                 children may hold no process)
 *   BASE/clapper-attempts-PID/N/  attempt N's task (the shim's child joins
 *                                 it before exec), with memory.max =
 *                                 requires.memory_mb MiB and cpu.max =
 *                                 requires.cpus CPUs when those controllers
 *                                 are available; the shim kills it as a
 *                                 whole (cgroup.kill) when the attempt
 *                                 ends, and the runner removes it.
 * Attempt cgroups of workers that died (no process of that PID) are
 * removed at start.  Where there is no writable cgroup v2 directory, or moving a process into
 * a new cgroup fails when tried at start, attempts run without one (the
 * shim's subreaper walk still kills every process of the attempt).
 */
#ifndef CLAPPER_WORKER_CGROUP_H
#define CLAPPER_WORKER_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct cgroup cgroup_t;

/* Sets up the layout above.  Returns the cgroup set, or NULL with a
 * one-line reason in why (no cgroup v2, not writable, the probe failed). */
cgroup_t *cgroup_open(char *why, size_t whylen);

/* Whether limits can be set: the memory and cpu controllers. */
bool cgroup_has_memory(const cgroup_t *cg);
bool cgroup_has_cpu(const cgroup_t *cg);

/* Makes attempt_id's cgroup with the limits (0: none).  Returns its path
 * (caller frees), or NULL with err. */
char *cgroup_attempt_create(const cgroup_t *cg, uint64_t attempt_id, uint32_t cpus,
                            uint64_t memory_mb, char *err, size_t errlen);

/* Kills what is left in path (cgroup.kill) and removes it.  0, or -1
 * with errno (EBUSY while processes are still leaving). */
int cgroup_attempt_remove(const char *path);

/* Removes the attempts directory (when empty) and releases cg; sets *cg
 * to NULL. */
void cgroup_close(cgroup_t **cg);

#endif
