/*
 * shim.c - fork/exec/wait between the worker and a task, a subreaper that
 * kills everything the task leaves behind, see shim.h.
 *
 * The shim is single-threaded and never returns to the worker's code, so
 * it may allocate after fork; it keeps to small, bounded work because it
 * lives as long as the task.  Its signals are blocked and taken one at a
 * time with sigtimedwait, so that no handler runs at an awkward moment.
 */
#include "shim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "taskuser.h"

/* How long the shim keeps killing and reaping before it gives up on a
 * process that does not die (uninterruptible sleep on a dead file server). */
#define KILL_ROUNDS 1000
#define KILL_ROUND_NS 10000000L

static void say(const char *a, const char *b, const char *c) {
  /* stderr is the attempt's log file */
  char line[1024];
  int n = snprintf(line, sizeof line, "clapper-shim: %s%s%s\n", a, b ? b : "", c ? c : "");
  if (n > 0) {
    ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)w;
  }
}

static void write_report(const char *path, const shim_report_t *r) {
  char line[256];
  int n = snprintf(line, sizeof line,
                   "exit=%d signal=%d cpu_us=%llu max_rss_kb=%llu exec_errno=%d\n",
                   r->exit_code, r->term_signal, (unsigned long long)r->cpu_us,
                   (unsigned long long)r->max_rss_kb, r->exec_errno);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    say("cannot write report ", path, NULL);
    return;
  }
  if (n < 0 || util_write_all(fd, line, (size_t)n) < 0)
    say("cannot write report ", path, NULL);
  close(fd);
}

typedef struct proc_entry {
  pid_t pid, ppid;
  bool live; /* not a zombie */
  bool mark; /* a descendant */
} proc_entry_t;

/* Reads pid, ppid and state of every process from /proc into *out. */
static size_t proc_scan(proc_entry_t **out) {
  size_t n = 0, cap = 0;
  proc_entry_t *v = NULL;
  DIR *d = opendir("/proc");
  struct dirent *de;
  while (d && (de = readdir(d))) {
    if (de->d_name[0] < '1' || de->d_name[0] > '9')
      continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%.20s/stat", de->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    ssize_t len = util_read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
      continue;
    buf[len] = '\0';
    char *paren = strrchr(buf, ')'), state = 0;
    int pid = atoi(buf), ppid = 0;
    if (!paren || sscanf(paren + 1, " %c %d", &state, &ppid) != 2)
      continue;
    ARRAY_RESERVE(v, n, cap, 1);
    v[n++] = (proc_entry_t){(pid_t)pid, (pid_t)ppid, state != 'Z' && state != 'X', false};
  }
  if (d)
    closedir(d);
  *out = v;
  return n;
}

int shim_signal_descendants(pid_t root, int sig) {
  proc_entry_t *v = NULL;
  size_t n = proc_scan(&v);
  /* Mark the subtree below root: repeat until no parent gains a child. */
  for (bool more = true; more;) {
    more = false;
    for (size_t i = 0; i < n; i++) {
      if (v[i].mark || v[i].pid == root)
        continue;
      bool parent_marked = v[i].ppid == root;
      for (size_t k = 0; k < n && !parent_marked; k++)
        parent_marked = v[k].mark && v[k].pid == v[i].ppid;
      if (parent_marked)
        v[i].mark = more = true;
    }
  }
  int count = 0;
  for (size_t i = 0; i < n; i++)
    if (v[i].mark && v[i].live && kill(v[i].pid, sig) == 0)
      count++;
  free(v);
  return count;
}

static void cgroup_kill(const char *cgroup) {
  if (!cgroup)
    return;
  char path[4096];
  snprintf(path, sizeof path, "%s/cgroup.kill", cgroup);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  if (util_write_all(fd, "1", 1) < 0)
    say("cannot write ", path, NULL);
  close(fd);
}

/* Reaps every child that has exited; records the task child's status. */
static void reap(pid_t child, bool *child_done, int *status) {
  pid_t got;
  int st;
  while ((got = waitpid(-1, &st, WNOHANG)) > 0) {
    if (got == child) {
      *child_done = true;
      *status = st;
    }
  }
}

/* SIGKILL to every descendant and the cgroup until none is left and all
 * are reaped (or KILL_ROUNDS rounds passed). */
static void kill_everything(pid_t child, const char *cgroup, bool *child_done, int *status) {
  for (int round = 0; round < KILL_ROUNDS; round++) {
    int n = shim_signal_descendants(getpid(), SIGKILL);
    cgroup_kill(cgroup);
    reap(child, child_done, status);
    /* Done when no child is left, zombie or not (WNOWAIT: nothing is
     * reaped here, so the task child's status is never lost). */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (n == 0 && waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
      return;
    struct timespec ts = {0, KILL_ROUND_NS};
    nanosleep(&ts, NULL);
  }
  say("some processes of the task did not die", NULL, NULL);
}

/* In the task's child: join the cgroup, become the task user, exec. */
__attribute__((noreturn)) static void run_child(char **argv, int pfd, const sigset_t *mask,
                                                const char *cgroup, long uid, long gid,
                                                const gid_t *groups, size_t n_groups) {
  int e;
  sigprocmask(SIG_SETMASK, mask, NULL);
  if (cgroup) {
    char path[4096];
    snprintf(path, sizeof path, "%s/cgroup.procs", cgroup);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || util_write_all(fd, "0", 1) < 0) {
      e = errno;
      say("cannot join the attempt's cgroup: ", path, strerror(e));
      _exit(126);
    }
    close(fd);
  }
  if (uid >= 0 && taskuser_become((uid_t)uid, (gid_t)gid, groups, n_groups) < 0) {
    e = errno;
    say("cannot become the task user: ", strerror(e), NULL);
    _exit(126);
  }
  execvp(argv[0], argv);
  e = errno;
  ssize_t w = write(pfd, &e, sizeof e);
  (void)w;
  say(e == ENOENT ? "command not found: " : "cannot execute ", argv[0], NULL);
  _exit(127);
}

void shim_main(int argc, char **argv) {
  const char *report = NULL, *cgroup = NULL;
  long parent = 0, uid = -1, gid = -1;
  gid_t groups[TASKUSER_MAX_GROUPS];
  int n_groups = 0;
  int cmd = -1;
  bool bad = false;
  for (int i = 2; i < argc && !bad; i++) {
    char *end = NULL;
    if (!strcmp(argv[i], "--")) {
      cmd = i + 1;
      break;
    } else if (i + 1 >= argc) {
      bad = true;
    } else if (!strcmp(argv[i], "--report")) {
      report = argv[++i];
    } else if (!strcmp(argv[i], "--cgroup")) {
      cgroup = argv[++i];
    } else if (!strcmp(argv[i], "--parent-pid")) {
      parent = strtol(argv[++i], &end, 10);
      bad = !end || *end || parent <= 1;
    } else if (!strcmp(argv[i], "--uid")) {
      uid = strtol(argv[++i], &end, 10);
      bad = !end || *end || uid < 0;
    } else if (!strcmp(argv[i], "--gid")) {
      gid = strtol(argv[++i], &end, 10);
      bad = !end || *end || gid < 0;
    } else if (!strcmp(argv[i], "--groups")) {
      n_groups = taskuser_parse_groups(argv[++i], groups, TASKUSER_MAX_GROUPS);
      bad = n_groups < 0;
    } else {
      bad = true;
    }
  }
  if (bad || !report || !parent || cmd < 0 || cmd >= argc || (uid >= 0) != (gid >= 0)) {
    say("usage: clapper-worker --shim --report FILE --parent-pid PID [--uid U --gid G "
        "[--groups G1,G2]] [--cgroup DIR] -- COMMAND...",
        NULL, NULL);
    _exit(126);
  }

  /* Every signal the shim acts on is blocked and taken by sigtimedwait;
   * the child gets the mask it was started with back before exec. */
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SHIM_KILL_SIGNAL);
  sigprocmask(SIG_BLOCK, &set, &old);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
    say("PR_SET_CHILD_SUBREAPER: ", strerror(errno), NULL);
  /* Die with the worker; a worker that died before this line is caught by
   * the getppid() check that follows it. */
  prctl(PR_SET_PDEATHSIG, SIGHUP);
  if (getppid() != (pid_t)parent)
    _exit(128 + SIGHUP);

  /* A close-on-exec pipe tells the parent whether exec worked. */
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) {
    say("pipe: ", strerror(errno), NULL);
    _exit(126);
  }
  pid_t child = fork();
  if (child < 0) {
    say("fork: ", strerror(errno), NULL);
    _exit(126);
  }
  if (child == 0) {
    close(pfd[0]);
    run_child(&argv[cmd], pfd[1], &old, cgroup, uid, gid, groups, (size_t)n_groups);
  }
  close(pfd[1]);

  shim_report_t r = {0};
  int e = 0;
  ssize_t n = util_read(pfd[0], &e, sizeof e);
  close(pfd[0]);
  if (n == (ssize_t)sizeof e)
    r.exec_errno = e;

  bool child_done = false;
  int status = 0;
  for (;;) {
    reap(child, &child_done, &status);
    if (child_done)
      break;
    struct timespec ts = {1, 0};
    int sig = sigtimedwait(&set, NULL, &ts);
    if (sig == SHIM_KILL_SIGNAL || sig == SIGHUP)
      kill_everything(child, cgroup, &child_done, &status);
    /* SIGTERM: the task got it too; SIGCHLD or a timeout: reap above. */
  }
  /* Nothing of the attempt may outlive it. */
  kill_everything(child, cgroup, &child_done, &status);

  int code;
  if (!child_done) { /* it would not die: report it killed, never as a success */
    r.exit_code = -1;
    r.term_signal = SIGKILL;
    code = 128 + SIGKILL;
  } else if (WIFSIGNALED(status)) {
    r.exit_code = -1;
    r.term_signal = WTERMSIG(status);
    code = 128 + r.term_signal;
  } else {
    r.exit_code = WEXITSTATUS(status);
    code = r.exit_code;
  }
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  getrusage(RUSAGE_CHILDREN, &ru);
  r.cpu_us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec +
             (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
  r.max_rss_kb = (uint64_t)ru.ru_maxrss;
  write_report(report, &r);
  /* _exit: nothing to flush, and no sanitizer leak scan per task. */
  _exit(code);
}

int shim_report_read(const char *path, shim_report_t *out) {
  size_t len;
  char *text = util_read_file(path, 4096, &len);
  if (!text)
    return -1;
  unsigned long long cpu = 0, rss = 0;
  int code = 0, sig = 0, eno = 0, used = 0;
  int n = sscanf(text, "exit=%d signal=%d cpu_us=%llu max_rss_kb=%llu exec_errno=%d%n", &code,
                 &sig, &cpu, &rss, &eno, &used);
  bool ok = n == 5 && (text[used] == '\n' || text[used] == '\0');
  free(text);
  if (!ok) {
    errno = EINVAL;
    return -1;
  }
  out->exit_code = code;
  out->term_signal = sig;
  out->cpu_us = cpu;
  out->max_rss_kb = rss;
  out->exec_errno = eno;
  return 0;
}
