/*
 * runner.h - running attempts: spawn through the shim, timeouts, cancel,
 * output checks and the Result of each attempt.
 *
 * Every attempt runs as `SHIM --shim --report FILE --parent-pid PID -- argv`
 * (see shim.h) in its own session, so its process group id is the shim's
 * pid and the whole tree can be signalled at once.  stdout and stderr go to
 * WORKDIR/logs/ATTEMPT.log (appended), stdin is /dev/null, the working
 * directory is the task's output_dir (created first).  The environment is
 * the worker's, then Task.env, then CLAPPER_TASK_ID, CLAPPER_ATTEMPT_ID,
 * CLAPPER_JOB_ID, CLAPPER_OUTPUT_DIR and, when the task has GPUs or the
 * worker has any, CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES (the
 * task's GPU indices, comma-separated, "" for none) with
 * CUDA_DEVICE_ORDER=PCI_BUS_ID so that CUDA numbers GPUs as NVML does.
 *
 * A timeout or a cancel sends SIGTERM to the group and, kill_grace_ms
 * later, SIGKILL.  When the shim exits its report is read, the group gets
 * SIGKILL (nothing may outlive an attempt), declared outputs are checked
 * and hashed on the libuv thread pool, and the finished callback receives
 * the Result.
 */
#ifndef CLAPPER_WORKER_RUNNER_H
#define CLAPPER_WORKER_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "clapper.pb-c.h"
#include "gpu.h"
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
 * SIGKILL after the grace period; its outcome becomes CANCELED with error
 * "canceled" (": reason" appended when reason is non-empty).  Returns 0,
 * or -1 when the attempt is unknown or has already ended. */
int runner_cancel(runner_t *r, uint64_t attempt_id, const char *reason);

/* Sends SIGKILL to every attempt's process group at once. */
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
