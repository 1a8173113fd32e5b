/*
 * test_taskuser.c - the task user: lookup by name and by uid, the worker's
 * own user, group lists, and (as root) becoming an unprivileged user in a
 * child: root cannot be regained and a 0600 file of root's is unreadable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "taskuser.h"

static void test_lookup(void) {
  char err[512];
  taskuser_t u;
  CHECK_INT(taskuser_lookup("root", &u, err, sizeof err), 0);
  CHECK_INT(u.uid, 0);
  CHECK_STR(u.name, "root");
  CHECK(u.n_groups >= 1);
  taskuser_free(&u);
  CHECK_INT(taskuser_lookup("0", &u, err, sizeof err), 0);
  CHECK_STR(u.name, "root");
  taskuser_free(&u);
  CHECK_INT(taskuser_lookup("no-such-user-xyz", &u, err, sizeof err), -1);
  CHECK_CONTAINS(err, "no user 'no-such-user-xyz'");
  CHECK_INT(taskuser_lookup("", &u, err, sizeof err), -1);
  CHECK_INT(taskuser_lookup_self(&u, err, sizeof err), 0);
  CHECK_INT(u.uid, geteuid());
  taskuser_free(&u);
}

static void test_groups(void) {
  gid_t g[4];
  CHECK_INT(taskuser_parse_groups("", g, 4), 0);
  CHECK_INT(taskuser_parse_groups("5,44,100", g, 4), 3);
  CHECK_INT(g[1], 44);
  CHECK_INT(taskuser_parse_groups("1,2,3,4,5", g, 4), -1);
  CHECK_INT(taskuser_parse_groups("1,,2", g, 4), -1);
  CHECK_INT(taskuser_parse_groups("x", g, 4), -1);
  gid_t h[] = {7, 8};
  char *s = taskuser_format_groups(h, 2);
  CHECK_STR(s, "7,8");
  free(s);
}

static void test_become(void) {
  if (geteuid() != 0) {
    fprintf(stderr, "not root: taskuser_become not tried\n");
    return;
  }
  char err[512];
  taskuser_t u;
  if (taskuser_lookup("nobody", &u, err, sizeof err) < 0) {
    fprintf(stderr, "no user nobody: %s\n", err);
    return;
  }
  char path[] = "/tmp/clapper-test-taskuser-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK_INT(fchmod(fd, 0600), 0);
  close(fd);
  CHECK(!taskuser_can_read(&u, path));
  CHECK_INT(chmod(path, 0644), 0);
  CHECK(taskuser_can_read(&u, path));
  unlink(path);
  pid_t pid = fork();
  if (pid == 0) {
    if (taskuser_become(u.uid, u.gid, u.groups, u.n_groups) < 0)
      _exit(2);
    if (getuid() != u.uid || geteuid() != u.uid || setuid(0) == 0)
      _exit(3);
    gid_t gs[64];
    int n = getgroups(64, gs);
    for (int i = 0; i < n; i++)
      if (gs[i] == 0)
        _exit(4);
    _exit(0);
  }
  int st = 0;
  CHECK_INT(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  taskuser_free(&u);
}

int main(void) {
  test_lookup();
  test_groups();
  test_become();
  return check_report("test_taskuser");
}
