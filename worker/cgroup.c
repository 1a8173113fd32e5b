/*
 * cgroup.c - a cgroup v2 per attempt, see cgroup.h.
 */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

struct cgroup {
  char *base;     /* the worker's cgroup directory */
  char *attempts; /* BASE/clapper-attempts-PID */
  bool memory, cpu;
};

/* Writes text to dir/file.  0, or -1 with errno. */
static int put(const char *dir, const char *file, const char *text) {
  char *path = xasprintf("%s/%s", dir, file);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  free(path);
  if (fd < 0)
    return -1;
  int rc = util_write_all(fd, text, strlen(text));
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

/* Whether the space-separated list has word. */
static bool has_word(const char *list, const char *word) {
  size_t n = strlen(word);
  for (const char *p = list; p && (p = strstr(p, word)); p += n)
    if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
      return true;
  return false;
}

/* The cgroup v2 directory of this process, or NULL. */
static char *own_dir(void) {
  char *cg = util_read_file("/proc/self/cgroup", 1 << 16, NULL);
  char *mi = util_read_file("/proc/self/mountinfo", 1 << 20, NULL);
  char *rel = NULL, *mnt = NULL, *out = NULL, *save = NULL;
  if (!cg || !mi)
    goto done;
  for (char *l = strtok_r(cg, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
    if (!strncmp(l, "0::", 3))
      rel = l + 3;
  for (char *l = strtok_r(mi, "\n", &save); l && !mnt; l = strtok_r(NULL, "\n", &save)) {
    /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPER */
    char root[4096], point[4096];
    const char *dash = strstr(l, " - ");
    if (dash && !strncmp(dash + 3, "cgroup2 ", 8) &&
        sscanf(l, "%*s %*s %*s %4095s %4095s", root, point) == 2 && !strcmp(root, "/") &&
        !strchr(point, '\\'))
      mnt = xstrdup(point);
  }
  if (rel && mnt && rel[0] == '/' && !strstr(rel, "/.."))
    out = xasprintf("%s%s", mnt, strcmp(rel, "/") ? rel : "");
done:
  free(mnt);
  free(cg);
  free(mi);
  return out;
}

/* Whether a child process can be moved into a new cgroup below dir. */
static bool probe(const char *dir) {
  char *p = xasprintf("%s/probe", dir);
  bool ok = false;
  if (mkdir(p, 0755) < 0)
    goto out;
  pid_t pid = fork();
  if (pid == 0)
    _exit(put(p, "cgroup.procs", "0") == 0 ? 0 : 1);
  int st = 0;
  while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  ok = pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  rmdir(p);
out:
  free(p);
  return ok;
}

/* Removes the cgroups of workers that are gone (killed before they could
 * clean up): BASE/clapper-attempts-PID with its children, and
 * BASE/clapper-worker-PID, where no process PID exists. */
static void sweep_stale(const char *base) {
  DIR *d = opendir(base);
  struct dirent *de;
  while (d && (de = readdir(d))) {
    long pid = 0;
    char tail;
    if ((sscanf(de->d_name, "clapper-attempts-%ld%c", &pid, &tail) != 1 &&
         sscanf(de->d_name, "clapper-worker-%ld%c", &pid, &tail) != 1) ||
        pid <= 1 ||
        pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
      continue;
    char *dir = xasprintf("%s/%s", base, de->d_name);
    DIR *sub = opendir(dir);
    struct dirent *se;
    while (sub && (se = readdir(sub))) {
      if (se->d_type != DT_DIR || se->d_name[0] == '.')
        continue;
      char *child = xasprintf("%s/%s", dir, se->d_name);
      if (put(child, "cgroup.kill", "1") == 0 || errno == ENOENT)
        rmdir(child);
      free(child);
    }
    if (sub)
      closedir(sub);
    if (rmdir(dir) == 0)
      log_info("removed the cgroups of a worker that is gone: %s", dir);
    free(dir);
  }
  if (d)
    closedir(d);
}

cgroup_t *cgroup_open(char *why, size_t whylen) {
  char *base = own_dir();
  if (!base) {
    util_fail(why, whylen, "no cgroup v2 hierarchy");
    return NULL;
  }
  if (access(base, W_OK) < 0) {
    util_fail(why, whylen, "%s is not writable (not delegated)", base);
    free(base);
    return NULL;
  }
  sweep_stale(base);
  cgroup_t *cg = xcalloc(1, sizeof *cg);
  cg->base = base;
  char *ctl = xasprintf("%s/cgroup.controllers", base);
  char *have = util_read_file(ctl, 4096, NULL);
  free(ctl);
  bool want_mem = has_word(have, "memory"), want_cpu = has_word(have, "cpu");
  free(have);
  if (want_mem || want_cpu) {
    /* A cgroup whose children get controllers may hold no process: the
     * worker moves to a leaf of its own first. */
    char *self = xasprintf("%s/clapper-worker-%ld", base, (long)getpid());
    char enable[64];
    snprintf(enable, sizeof enable, "%s%s", want_mem ? "+memory " : "", want_cpu ? "+cpu" : "");
    if ((mkdir(self, 0755) == 0 || errno == EEXIST) && put(self, "cgroup.procs", "0") == 0 &&
        put(base, "cgroup.subtree_control", enable) == 0) {
      cg->memory = want_mem;
      cg->cpu = want_cpu;
    } else {
      log_info("cgroup %s: no memory or cpu limits for tasks (%s)", base, strerror(errno));
    }
    free(self);
  }
  cg->attempts = xasprintf("%s/clapper-attempts-%ld", base, (long)getpid());
  if (mkdir(cg->attempts, 0755) < 0 && errno != EEXIST) {
    util_fail(why, whylen, "cannot create %s: %s", cg->attempts, strerror(errno));
    goto fail;
  }
  if (cg->memory || cg->cpu) {
    char enable[64];
    snprintf(enable, sizeof enable, "%s%s", cg->memory ? "+memory " : "", cg->cpu ? "+cpu" : "");
    if (put(cg->attempts, "cgroup.subtree_control", enable) < 0)
      cg->memory = cg->cpu = false;
  }
  if (!probe(cg->attempts)) {
    util_fail(why, whylen, "cannot move a process into a cgroup below %s", cg->attempts);
    rmdir(cg->attempts);
    goto fail;
  }
  return cg;
fail:
  free(cg->attempts);
  free(cg->base);
  free(cg);
  return NULL;
}

bool cgroup_has_memory(const cgroup_t *cg) { return cg->memory; }
bool cgroup_has_cpu(const cgroup_t *cg) { return cg->cpu; }

char *cgroup_attempt_create(const cgroup_t *cg, uint64_t attempt_id, uint32_t cpus,
                            uint64_t memory_mb, char *err, size_t errlen) {
  char *dir = xasprintf("%s/%llu", cg->attempts, (unsigned long long)attempt_id);
  char val[64];
  if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
    util_fail(err, errlen, "cannot create cgroup %s: %s", dir, strerror(errno));
    goto fail;
  }
  if (cg->memory && memory_mb) {
    snprintf(val, sizeof val, "%llu", (unsigned long long)memory_mb * 1024 * 1024);
    if (put(dir, "memory.max", val) < 0) {
      util_fail(err, errlen, "cannot set %s/memory.max: %s", dir, strerror(errno));
      goto fail;
    }
  }
  if (cg->cpu && cpus) {
    snprintf(val, sizeof val, "%llu 100000", (unsigned long long)cpus * 100000);
    if (put(dir, "cpu.max", val) < 0) {
      util_fail(err, errlen, "cannot set %s/cpu.max: %s", dir, strerror(errno));
      goto fail;
    }
  }
  return dir;
fail:
  rmdir(dir);
  free(dir);
  return NULL;
}

int cgroup_attempt_remove(const char *path) {
  if (put(path, "cgroup.kill", "1") < 0 && errno != ENOENT)
    log_debug("%s/cgroup.kill: %s", path, strerror(errno));
  for (int i = 0; i < 50; i++) {
    if (rmdir(path) == 0 || errno == ENOENT)
      return 0;
    if (errno != EBUSY)
      return -1;
    usleep(2000);
  }
  return -1;
}

void cgroup_close(cgroup_t **cgp) {
  cgroup_t *cg = *cgp;
  if (!cg)
    return;
  *cgp = NULL;
  rmdir(cg->attempts);
  free(cg->attempts);
  free(cg->base);
  free(cg);
}
