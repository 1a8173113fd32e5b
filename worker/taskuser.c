/*
 * taskuser.c - the user tasks run as, see taskuser.h.
 */
#include "taskuser.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int taskuser_lookup(const char *name, taskuser_t *u, char *err, size_t errlen) {
  memset(u, 0, sizeof *u);
  if (!name || !name[0])
    return util_fail(err, errlen, "empty user name");
  struct passwd pw, *res = NULL;
  char buf[16384];
  int e = getpwnam_r(name, &pw, buf, sizeof buf, &res);
  if (!res) {
    uint64_t id;
    if (util_parse_u64(name, 0, (uid_t)-2, &id) == 0)
      e = getpwuid_r((uid_t)id, &pw, buf, sizeof buf, &res);
  }
  if (!res)
    return util_fail(err, errlen, "no user '%s'%s%s", name, e ? ": " : "", e ? strerror(e) : "");
  int n = TASKUSER_MAX_GROUPS;
  gid_t groups[TASKUSER_MAX_GROUPS];
  if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
    return util_fail(err, errlen, "user '%s' is in more than %d groups", name, TASKUSER_MAX_GROUPS);
  u->name = xstrdup(pw.pw_name);
  u->uid = pw.pw_uid;
  u->gid = pw.pw_gid;
  memcpy(u->groups, groups, (size_t)n * sizeof *groups);
  u->n_groups = (size_t)n;
  u->home = xstrdup(pw.pw_dir && pw.pw_dir[0] == '/' ? pw.pw_dir : "/");
  return 0;
}

int taskuser_lookup_self(taskuser_t *u, char *err, size_t errlen) {
  char num[32];
  snprintf(num, sizeof num, "%lu", (unsigned long)geteuid());
  if (taskuser_lookup(num, u, err, errlen) == 0)
    return 0;
  memset(u, 0, sizeof *u);
  u->uid = geteuid();
  u->gid = getegid();
  int n = getgroups(TASKUSER_MAX_GROUPS, u->groups);
  u->n_groups = n > 0 ? (size_t)n : 0;
  u->name = xasprintf("uid %s", num);
  const char *home = getenv("HOME");
  u->home = xstrdup(home && home[0] == '/' ? home : "/");
  return 0;
}

void taskuser_free(taskuser_t *u) {
  free(u->name);
  free(u->home);
  memset(u, 0, sizeof *u);
}

int taskuser_become(uid_t uid, gid_t gid, const gid_t *groups, size_t n) {
  if (setgroups(n, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
    return -1;
  if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid) {
    errno = EPERM;
    return -1;
  }
  /* A process that dropped root must not be able to take it back. */
  if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
    errno = EPERM;
    return -1;
  }
  return 0;
}

bool taskuser_can_read(const taskuser_t *u, const char *path) {
  pid_t pid = fork();
  if (pid < 0)
    return false;
  if (pid == 0) {
    if (taskuser_become(u->uid, u->gid, u->groups, u->n_groups) < 0)
      _exit(2);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    _exit(fd >= 0 ? 0 : 1);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return false;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int taskuser_parse_groups(const char *s, gid_t *groups, size_t max) {
  size_t n = 0;
  if (!*s)
    return 0;
  for (;;) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || v > (gid_t)-2 || n >= max || (*end && *end != ','))
      return -1;
    groups[n++] = (gid_t)v;
    if (!*end)
      return (int)n;
    s = end + 1;
  }
}

char *taskuser_format_groups(const gid_t *groups, size_t n) {
  sbuf_t sb = {0};
  sbuf_puts(&sb, "");
  for (size_t i = 0; i < n; i++)
    sbuf_printf(&sb, "%s%lu", i ? "," : "", (unsigned long)groups[i]);
  return sbuf_steal(&sb);
}
