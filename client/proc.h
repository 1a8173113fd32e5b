/*
 * proc.h - starting, finding and stopping the processes of a local farm.
 *
 * Programs are always run from an argv array (fork + execv, no shell).  A
 * daemon runs in its own session with stdin on /dev/null and stdout and
 * stderr appended to its log; its pid goes to a pid file.  Before a pid
 * from a file is signalled, /proc/PID/cmdline must show that it is still
 * the same program working on the same directory (proc_matches), so that a
 * recycled pid is never hit.
 */
#ifndef CLAPPER_CLIENT_PROC_H
#define CLAPPER_CLIENT_PROC_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "util.h"

/* How proc_run runs a program. */
typedef struct proc_opts {
  bool as_nobody;   /* when root: run as nobody:nogroup with no supplementary groups */
  bool new_session; /* setsid(), so that a ^C on our terminal does not reach it */
  int out_fd;       /* its stdout and stderr, or -1 for /dev/null */
  sbuf_t *capture;  /* when not NULL, stdout and stderr are collected here instead
                       (the program must not leave a daemon holding them) */
} proc_opts_t;

/* Looks up the nobody user.  Returns 0, or -1 when it does not exist. */
int proc_nobody(uid_t *uid, gid_t *gid) MUSTCHECK;

/* True when the user nobody can search path (and every directory above it). */
bool proc_nobody_can_reach(const char *path);

/* True when uid:gid (no supplementary groups) can search path, asked in a
 * child that becomes that user; false too when the check cannot run. */
bool proc_user_can_reach(uid_t uid, gid_t gid, const char *path);

/* Runs argv[0] (an absolute path) and waits for it.  Returns its exit
 * status (0-255; 128 + N when killed by signal N; 127 when it could not be
 * executed, the reason then being in its output), or -1 with err when it
 * could not be started at all. */
int proc_run(char *const argv[], const proc_opts_t *o, char *err, size_t errlen) MUSTCHECK;

/* Starts argv[0] as a daemon: new session, cwd, stdin /dev/null, stdout
 * and stderr appended to logpath (after a line with the time and argv).  Returns its pid (a child of ours), or
 * -1 with err, also when execv failed (reported back through a
 * close-on-exec pipe). */
pid_t proc_spawn_daemon(char *const argv[], const char *cwd, const char *logpath, char *err,
                        size_t errlen);

/* Writes pid to path atomically (through a temporary file); 0 or -1. */
int proc_write_pidfile(const char *path, pid_t pid) MUSTCHECK;

/* Returns the pid in path, or 0 when the file is missing or malformed. */
pid_t proc_read_pidfile(const char *path);

/* True when pid is alive (not a zombie), the program it runs is named prog
 * (the last component of its argv[0]) and one of its arguments is needle
 * or ends in "=needle". */
bool proc_matches(pid_t pid, const char *prog, const char *needle);

/* The same test on the NUL-separated text of a /proc/PID/cmdline (len
 * bytes); exposed for tests. */
bool proc_cmdline_matches(const char *cmdline, size_t len, const char *prog,
                          const char *needle);

/* Waits until none of the n processes (pids[i] running progs[i] on
 * needles[i]) matches any more, or timeout_ms passed.  Pids that are our
 * own children are reaped.  Returns how many still match. */
size_t proc_wait_gone(const pid_t *pids, const char *const *progs,
                      const char *const *needles, size_t n, int timeout_ms);

/* Finds the program name: first next to the running executable
 * (/proc/self/exe), then in $PATH.  Returns its absolute path (caller
 * frees) or NULL. */
char *proc_find_program(const char *name);

/* Prints the last nlines lines of the file at path to f, each indented,
 * under a line naming the file.  Prints nothing when it cannot be read. */
void proc_log_tail(FILE *f, const char *path, int nlines);

#endif
