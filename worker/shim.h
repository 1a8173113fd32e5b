/*
 * shim.h - the small process that stands between the worker and a task.
 *
 * The worker never executes a task directly: it runs its own executable as
 *   clapper-worker --shim --report FILE --parent-pid PID
 *                  [--uid U --gid G --groups G1,G2...] [--cgroup DIR] -- argv...
 * in a new session (so the shim's pid is the task's process group id).
 *
 * The shim is a child subreaper (PR_SET_CHILD_SUBREAPER): whatever the
 * task starts, even in a new session (setsid) or a new process group, stays
 * its descendant.  It forks the task's child, which joins DIR (a cgroup v2
 * directory the worker made for the attempt) when --cgroup is given, drops
 * to U:G with the supplementary groups G1,G2... when --uid is given
 * (taskuser_become: setgroups, setgid, setuid, checked), and execs argv.
 * The shim itself stays as the worker's user, so that it can write its
 * report and kill what the task leaves behind.
 *
 * Signals the shim takes (all others keep their default action):
 *   SIGTERM  ignored (the worker sends it to the whole group; the task gets
 *            it, the shim outlives it so that it can still report);
 *   SIGUSR1  from the worker when the grace period is over: SIGKILL to
 *            every descendant (and the cgroup);
 *   SIGHUP   the worker died (PR_SET_PDEATHSIG): the same, then exit.
 * When the task's child exits, every remaining descendant is killed with
 * SIGKILL (found by walking /proc for processes whose parent chain leads
 * to the shim, repeated until none is left, and through cgroup.kill),
 * every one is reaped, the report is written and the shim exits with the
 * child's status.  No process of an attempt outlives it.
 *
 * Report format, one line:
 *   "exit=%d signal=%d cpu_us=%llu max_rss_kb=%llu exec_errno=%d\n"
 * exit is the child's exit status (-1 when a signal ended it), signal the
 * terminating signal (0 when it exited), exec_errno the errno of a failed
 * execvp (then exit=127) or 0.  cpu_us and max_rss_kb cover the child and
 * every descendant the shim reaped.
 */
#ifndef CLAPPER_WORKER_SHIM_H
#define CLAPPER_WORKER_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* The flag that selects shim mode; it must be argv[1]. */
#define SHIM_FLAG "--shim"

/* The signal with which the worker tells the shim to kill everything. */
#define SHIM_KILL_SIGNAL SIGUSR1

typedef struct shim_report {
  int exit_code;       /* -1 when killed by a signal */
  int term_signal;     /* 0 when the child exited */
  uint64_t cpu_us;     /* user + system time of the child and its reaped descendants */
  uint64_t max_rss_kb; /* peak resident set of the largest of them */
  int exec_errno;      /* errno of a failed execvp, else 0 */
} shim_report_t;

/* Runs the shim (argv as described above; argv[1] is SHIM_FLAG) and never
 * returns: it exits with the child's exit status, 128 + signal when the
 * child was killed, 127 when exec failed, or 126 on a usage error or when
 * the task's child could not be set up (cgroup, user).  It must be called
 * before anything else in main() touches the process. */
__attribute__((noreturn)) void shim_main(int argc, char **argv);

/* Sends sig to every live descendant of pid (by walking /proc).  Returns
 * how many were signalled. */
int shim_signal_descendants(pid_t pid, int sig);

/* Reads and parses the report at path.  Returns 0 with *out filled, or -1
 * with errno set (ENOENT when the shim died before writing it, EINVAL when
 * the line is malformed). */
int shim_report_read(const char *path, shim_report_t *out) MUSTCHECK;

#endif
