/*
 * shim.c - fork/exec/wait4 between the worker and a task, see shim.h.
 *
 * Only async-signal-safe, allocation-free code runs here: the shim lives
 * for the whole task and should cost nothing but a process slot.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* The worker died: nobody is left to account for the task. */
static void on_sighup(int sig) {
  (void)sig;
  kill(-getpgrp(), SIGKILL);
  _exit(128 + SIGHUP);
}

/* The shim outlives SIGTERM sent to the group (timeout, cancel, its own
 * clean-up) so that it can still report; exec resets the handler, so the
 * task keeps the default action. */
static void on_sigterm(int sig) { (void)sig; }

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
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    say("cannot write report ", path, NULL);
    return;
  }
  if (n < 0 || util_write_all(fd, line, (size_t)n) < 0)
    say("cannot write report ", path, NULL);
  close(fd);
}

void shim_main(int argc, char **argv) {
  const char *report = NULL;
  long parent = 0;
  int cmd = -1;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--report") && i + 1 < argc) {
      report = argv[++i];
    } else if (!strcmp(argv[i], "--parent-pid") && i + 1 < argc) {
      char *end = NULL;
      parent = strtol(argv[++i], &end, 10);
      if (!end || *end || parent <= 1)
        parent = 0;
    } else if (!strcmp(argv[i], "--")) {
      cmd = i + 1;
      break;
    } else {
      break;
    }
  }
  if (!report || !parent || cmd < 0 || cmd >= argc) {
    say("usage: clapper-worker --shim --report FILE --parent-pid PID -- COMMAND...", NULL,
        NULL);
    _exit(126);
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_sighup;
  sigaction(SIGHUP, &sa, NULL);
  sa.sa_handler = on_sigterm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, NULL);
  /* Die with the worker; a worker that died before this line is caught by
   * the getppid() check that follows it. */
  prctl(PR_SET_PDEATHSIG, SIGHUP);
  if (getppid() != (pid_t)parent) {
    kill(-getpgrp(), SIGKILL);
    _exit(128 + SIGKILL);
  }

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
    signal(SIGHUP, SIG_DFL);
    execvp(argv[cmd], &argv[cmd]);
    int e = errno;
    ssize_t w = write(pfd[1], &e, sizeof e);
    (void)w;
    say(e == ENOENT ? "command not found: " : "cannot execute ", argv[cmd], NULL);
    _exit(127);
  }
  close(pfd[1]);

  shim_report_t r = {0};
  int e = 0;
  ssize_t n = util_read(pfd[0], &e, sizeof e);
  close(pfd[0]);
  if (n == (ssize_t)sizeof e)
    r.exec_errno = e;

  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  pid_t got;
  do
    got = wait4(child, &status, 0, &ru);
  while (got < 0 && errno == EINTR);
  int code;
  if (got < 0) {
    r.exit_code = -1;
    code = 126;
  } else if (WIFSIGNALED(status)) {
    r.exit_code = -1;
    r.term_signal = WTERMSIG(status);
    code = 128 + r.term_signal;
  } else {
    r.exit_code = WEXITSTATUS(status);
    code = r.exit_code;
  }
  r.cpu_us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec +
             (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
  r.max_rss_kb = (uint64_t)ru.ru_maxrss;
  write_report(report, &r);

  /* End background leftovers of the task; the shim ignores its own. */
  kill(-getpgrp(), SIGTERM);
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
