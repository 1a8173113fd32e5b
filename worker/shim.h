/*
 * shim.h - the small process that stands between the worker and a task.
 *
 * The worker never executes a task directly: it runs its own executable as
 *   clapper-worker --shim --report FILE --parent-pid PID -- argv...
 * in a new session (so the shim's pid is the task's process group id).  The
 * shim dies with the worker (PR_SET_PDEATHSIG, taking the whole group with
 * it), forks and execs argv, collects the child's resource usage with
 * wait4 (libuv's waitpid gives none), writes a one-line report, ends any
 * leftovers of the group with SIGTERM, and exits with the child's status.
 *
 * Report format, one line:
 *   "exit=%d signal=%d cpu_us=%llu max_rss_kb=%llu exec_errno=%d\n"
 * exit is the child's exit status (-1 when a signal ended it), signal the
 * terminating signal (0 when it exited), exec_errno the errno of a failed
 * execvp (then exit=127) or 0.
 */
#ifndef CLAPPER_WORKER_SHIM_H
#define CLAPPER_WORKER_SHIM_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* The flag that selects shim mode; it must be argv[1]. */
#define SHIM_FLAG "--shim"

typedef struct shim_report {
  int exit_code;       /* -1 when killed by a signal */
  int term_signal;     /* 0 when the child exited */
  uint64_t cpu_us;     /* user + system time of the child and its reaped descendants */
  uint64_t max_rss_kb; /* peak resident set of the largest of them */
  int exec_errno;      /* errno of a failed execvp, else 0 */
} shim_report_t;

/* Runs the shim (argv as described above; argv[1] is SHIM_FLAG) and never
 * returns: it exits with the child's exit status, 128 + signal when the
 * child was killed, 127 when exec failed, or 126 on a usage error.  It
 * must be called before anything else in main() touches the process. */
__attribute__((noreturn)) void shim_main(int argc, char **argv);

/* Reads and parses the report at path.  Returns 0 with *out filled, or -1
 * with errno set (ENOENT when the shim died before writing it, EINVAL when
 * the line is malformed). */
int shim_report_read(const char *path, shim_report_t *out) MUSTCHECK;

#endif
