/*
 * test_cgroup.c - a cgroup v2 per attempt, where this process's cgroup is
 * writable (as root on most machines; skipped with the reason otherwise):
 * an attempt's cgroup is made, a process joins it, and removing it kills
 * that process (cgroup.kill) and the directory.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "check.h"

int main(void) {
  char why[512], err[512];
  cgroup_t *cg = cgroup_open(why, sizeof why);
  if (!cg) {
    fprintf(stderr, "no cgroups here (%s): skipped\n", why);
    return check_report("test_cgroup");
  }
  char *dir = cgroup_attempt_create(cg, 77, 2, 512, err, sizeof err);
  CHECK(dir != NULL);
  if (!dir) {
    fprintf(stderr, "%s\n", err);
    cgroup_close(&cg);
    return check_report("test_cgroup");
  }
  struct stat st;
  CHECK_INT(stat(dir, &st), 0);
  if (cgroup_has_memory(cg)) {
    char *p = xasprintf("%s/memory.max", dir), *v = util_read_file(p, 64, NULL);
    CHECK_STR(v, "536870912\n");
    free(v);
    free(p);
  }
  if (cgroup_has_cpu(cg)) {
    char *p = xasprintf("%s/cpu.max", dir), *v = util_read_file(p, 64, NULL);
    CHECK_STR(v, "200000 100000\n");
    free(v);
    free(p);
  }
  int pfd[2];
  CHECK_INT(pipe(pfd), 0);
  pid_t pid = fork();
  if (pid == 0) {
    char *procs = xasprintf("%s/cgroup.procs", dir);
    FILE *f = fopen(procs, "w");
    if (!f || fprintf(f, "0") < 0 || fclose(f) != 0)
      _exit(1);
    if (write(pfd[1], "j", 1) != 1)
      _exit(1);
    pause();
    _exit(0);
  }
  close(pfd[1]);
  char c = 0;
  CHECK_INT(read(pfd[0], &c, 1), 1);
  close(pfd[0]);
  char *path = xasprintf("/proc/%d/cgroup", (int)pid), *mine = util_read_file(path, 4096, NULL);
  char *want = xasprintf("/clapper-attempts-%ld/77\n", (long)getpid());
  CHECK_CONTAINS(mine, want);
  free(path);
  free(mine);
  free(want);
  CHECK_INT(cgroup_attempt_remove(dir), 0);
  int wst = 0;
  CHECK_INT(waitpid(pid, &wst, 0), pid);
  CHECK(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);
  CHECK(stat(dir, &st) < 0 && errno == ENOENT);
  free(dir);
  cgroup_close(&cg);
  return check_report("test_cgroup");
}
