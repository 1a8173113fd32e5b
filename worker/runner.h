/*
 * runner.h - running attempts: spawn through the shim, timeouts, cancel,
 * output checks and the Result of each attempt.
 *
 * Every attempt runs as `SHIM --shim --report FILE --parent-pid PID [--uid
 * U --gid G --groups LIST] -- argv` (see shim.h) in its own session, so its
 * process group id is the shim's pid.  The shim is the subreaper of
 * everything the task starts.  With a task user (runner_config_t) that is
 * not the worker's own, the shim's child becomes that user before exec,
 * and HOME, USER and LOGNAME are the task user's.  With a cgroup set
 * (cgroup.h) the task's child joins a cgroup of the attempt's own, with
 * memory.max and cpu.max from the task's memory_mb and cpus, killed as a
 * whole and removed when the shim exits.  stdout and stderr go to
 * WORKDIR/logs/ATTEMPT.log (appended; logs/ and run/ are mode 0700, the
 * log 0600: the task writes through the descriptor it inherits and reads
 * no other attempt's log), stdin is /dev/null, the working directory is the
 * task's output_dir: created first by the worker, opened (the outputs are
 * checked below that descriptor) and, with a task user, given to that
 * user when the worker owns it (its parents stay the worker's).  The
 * environment is the worker's, then Task.env, then CLAPPER_TASK_ID,
 * CLAPPER_ATTEMPT_ID, CLAPPER_JOB_ID, CLAPPER_OUTPUT_DIR and, when the task
 * has GPUs or the worker has any, CUDA_VISIBLE_DEVICES and
 * NVIDIA_VISIBLE_DEVICES (the task's GPU indices, comma-separated, "" for
 * none) with CUDA_DEVICE_ORDER=PCI_BUS_ID so that CUDA numbers GPUs as
 * NVML does.
 *
 * A timeout or a cancel sends SIGTERM to the group and, kill_grace_ms
 * later, SHIM_KILL_SIGNAL to the shim, which SIGKILLs every descendant
 * (those that left the group with setsid too); should the shim not exit
 * within 15 s, the group gets SIGKILL.  When the shim exits (having killed
 * whatever the task left) its report is read, declared outputs are checked
 * (outputs.h: inside output_dir, regular files, no links) and hashed on the
 * libuv thread pool, still under the attempt's timeout and cancel, which
 * stop the hashing; then the finished callback receives the Result.  An
 * output that is refused fails the attempt ("output refused: PATH: why",
 * also appended to the attempt's log).
 */
#ifndef CLAPPER_WORKER_RUNNER_H
#define CLAPPER_WORKER_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cgroup.h"
#include "clapper.pb-c.h"
#include "gpu.h"
#include "taskuser.h"
#include "util.h"

typedef struct runner runner_t;

/* Receives the Result of a finished attempt; the callee owns it (free with
 * clapper__result__free_unpacked).  Called from the loop, never from
 * inside a runner_* call. */
typedef void (*runner_finished_cb)(void *arg, Clapper__Result *result);

typedef struct runner_config {
  const char *shim;        /* path of the executable run with --shim */
  const char *workdir;     /* logs/ and run/ are created below it */
  uint64_t kill_grace_ms;  /* SIGTERM -> SIGKILL delay */
  const gpu_set_t *gpus;   /* this node's GPUs (borrowed; must outlive the runner) */
  const taskuser_t *task_user; /* run tasks as this user (copied); NULL or the worker's
                                  own uid: as the worker */
  const cgroup_t *cgroup;      /* a cgroup per attempt (borrowed; must outlive the runner),
                                  or NULL */
  runner_finished_cb finished;
  void *arg;
} runner_config_t;

/* Creates a runner on loop; copies cfg's strings.  Creates workdir/logs
 * and workdir/run.  Returns NULL with a one-line reason in err. */
runner_t *runner_new(uv_loop_t *loop, const runner_config_t *cfg, char *err, size_t errlen);

/* Starts task (not retained: everything needed is copied).  Returns 0 with
 * the shim's pid (= process group id) and the wall-clock start time, or -1
 * with a one-line reason in err when the attempt could not start (invalid
 * task, output_dir or log not creatable, spawn failure); the caller then
 * reports the attempt as failed, e.g. with runner_result_unstarted. */
int runner_start(runner_t *r, const Clapper__Task *task, uint32_t *pid, int64_t *started_at_us,
                 char *err, size_t errlen) MUSTCHECK;

/* The path of attempt_id's log, WORKDIR/logs/ATTEMPT.log, whether or not
 * it exists.  Caller frees. */
char *runner_log_path(const runner_t *r, uint64_t attempt_id);

/* True while the runner holds the attempt (running, stopping, or being
 * checked: its result not yet delivered). */
bool runner_has(const runner_t *r, uint64_t attempt_id);

/* Number of attempts whose result is not yet delivered. */
size_t runner_count(const runner_t *r);

/* The ids of those attempts into *ids (caller frees; NULL when none).
 * Returns their number. */
size_t runner_running_ids(const runner_t *r, uint64_t **ids);

/* Stops an attempt at the coordinator's request: SIGTERM to its group,
 * everything killed after the grace period, or, when its outputs are
 * being checked, the check stopped; its outcome becomes CANCELED with
 * error "canceled" (": reason" appended when reason is non-empty).
 * Returns 0, or -1 when the attempt is unknown or its outcome is already
 * decided. */
int runner_cancel(runner_t *r, uint64_t attempt_id, const char *reason);

/* Kills every attempt at once (the shims kill everything they reaped). */
void runner_kill_all(runner_t *r);

/* Kills every attempt (SIGKILL), drops results not yet delivered and
 * releases the runner once every process has exited and every handle is
 * closed (the loop keeps running until then).  Sets *r to NULL; no
 * callback runs afterwards. */
void runner_close(runner_t **r);

/* A Result for an attempt that never ran (exit_code -1, start = end = now).
 * Caller owns it (clapper__result__free_unpacked). */
Clapper__Result *runner_result_unstarted(uint64_t attempt_id, Clapper__Outcome outcome,
                                         const char *error);

#endif
