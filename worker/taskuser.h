/*
 * taskuser.h - the user tasks run as.
 *
 * A worker that runs as root runs every task as --task-user (default
 * clapper-task), an unprivileged user that cannot read the worker's key,
 * its workdir or the farm's database files.  The shim drops to that user
 * in the task's child process only (setgroups, setgid, setuid, each
 * checked), so that the shim itself can still write its report and kill
 * what the task leaves behind.  A worker that does not run as root cannot
 * switch users: its tasks run as itself, and it says so at start.
 */
#ifndef CLAPPER_WORKER_TASKUSER_H
#define CLAPPER_WORKER_TASKUSER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util.h"

#define TASKUSER_DEFAULT "clapper-task"
#define TASKUSER_MAX_GROUPS 64

typedef struct taskuser {
  char *name; /* owned */
  uid_t uid;
  gid_t gid;
  gid_t groups[TASKUSER_MAX_GROUPS]; /* supplementary groups, gid included */
  size_t n_groups;
  char *home; /* owned; "/" when the account has none */
} taskuser_t;

/* Looks name up in the user database (a user name, or a number taken as a
 * uid) and fills *u (zeroed first) with its uid, primary group,
 * supplementary groups and home.  Returns 0, or -1 with a one-line reason
 * in err. */
int taskuser_lookup(const char *name, taskuser_t *u, char *err, size_t errlen) MUSTCHECK;

/* Fills *u with the worker's own user (geteuid), also when the user
 * database does not know it (then named "uid N", home $HOME or "/").
 * Returns 0, or -1 with err. */
int taskuser_lookup_self(taskuser_t *u, char *err, size_t errlen) MUSTCHECK;

/* Releases what u holds. */
void taskuser_free(taskuser_t *u);

/* Becomes uid:gid with exactly groups[0..n) as supplementary groups:
 * setgroups, setgid, setuid, in that order, each checked, then checks
 * that root cannot be regained.  Async-signal-safe (for a forked child).
 * Returns 0, or -1 with errno set (EPERM when root could be regained). */
int taskuser_become(uid_t uid, gid_t gid, const gid_t *groups, size_t n) MUSTCHECK;

/* True when u could open path for reading: probed in a child process that
 * becomes u.  False when it cannot, or the probe failed. */
bool taskuser_can_read(const taskuser_t *u, const char *path);

/* Parses "g1,g2,..." (decimal gids, at most max) into groups.  Returns
 * their number, or -1 when s is malformed. */
int taskuser_parse_groups(const char *s, gid_t *groups, size_t max);

/* Formats groups[0..n) as "g1,g2,..." (caller frees). */
char *taskuser_format_groups(const gid_t *groups, size_t n);

#endif
