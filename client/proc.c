/*
 * proc.c - running, finding and stopping local farm processes, see proc.h.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "output.h"

int proc_nobody(uid_t *uid, gid_t *gid) {
  struct passwd *pw = getpwnam("nobody");
  if (!pw)
    return -1;
  *uid = pw->pw_uid;
  *gid = pw->pw_gid;
  return 0;
}

/* In a child: become nobody.  Returns 0 or -1. */
static int drop_to_nobody(void) {
  uid_t uid;
  gid_t gid;
  if (proc_nobody(&uid, &gid) < 0)
    return -1;
  if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
    return -1;
  return 0;
}

/* In a child: default signal dispositions and an empty mask, so that the
 * program starts as if from a shell. */
static void reset_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP)
      signal(s, SIG_DFL);
}

bool proc_nobody_can_reach(const char *path) {
  uid_t uid;
  gid_t gid;
  return proc_nobody(&uid, &gid) == 0 && proc_user_can_reach(uid, gid, path);
}

bool proc_user_can_reach(uid_t uid, gid_t gid, const char *path) {
  pid_t pid = fork();
  if (pid < 0)
    return false;
  if (pid == 0) {
    if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
      _exit(2);
    _exit(access(path, X_OK) == 0 ? 0 : 1);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return false;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int exit_status(int st) {
  if (WIFEXITED(st))
    return WEXITSTATUS(st);
  if (WIFSIGNALED(st))
    return 128 + WTERMSIG(st);
  return 255;
}

int proc_run(char *const argv[], const proc_opts_t *o, char *err, size_t errlen) {
  int pipefd[2] = {-1, -1};
  int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nullfd < 0) {
    snprintf(err, errlen, "cannot open /dev/null: %s", strerror(errno));
    return -1;
  }
  if (o->capture && pipe2(pipefd, O_CLOEXEC) < 0) {
    snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
    close(nullfd);
    return -1;
  }
  int outfd = o->capture ? pipefd[1] : o->out_fd >= 0 ? o->out_fd : nullfd;
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "cannot fork to run %s: %s", argv[0], strerror(errno));
    close(nullfd);
    if (o->capture) {
      close(pipefd[0]);
      close(pipefd[1]);
    }
    return -1;
  }
  if (pid == 0) {
    reset_signals();
    if (o->new_session)
      setsid();
    if (dup2(nullfd, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
      _exit(127);
    if (o->as_nobody && geteuid() == 0) {
      if (drop_to_nobody() < 0) {
        dprintf(2, "clapper: cannot become user nobody to run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
      }
      if (chdir("/") < 0)
        _exit(127);
    }
    execv(argv[0], argv);
    dprintf(2, "clapper: cannot execute %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(nullfd);
  if (o->capture) {
    close(pipefd[1]);
    char buf[4096];
    for (;;) {
      ssize_t n = read(pipefd[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      if (o->capture->len < (64u << 10))
        sbuf_append(o->capture, buf, (size_t)n);
    }
    close(pipefd[0]);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) {
      snprintf(err, errlen, "waiting for %s: %s", argv[0], strerror(errno));
      return -1;
    }
  }
  return exit_status(st);
}

pid_t proc_spawn_daemon(char *const argv[], const char *cwd, const char *logpath, char *err,
                        size_t errlen) {
  int pipefd[2] = {-1, -1}, logfd = -1, nullfd = -1;
  pid_t pid = -1;
  logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logfd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", logpath, strerror(errno));
    goto fail;
  }
  /* A header, so that each start can be told apart in the log. */
  char when[40];
  util_iso8601(util_wall_us(), when, sizeof when);
  sbuf_t head = {0};
  sbuf_printf(&head, "---- %s clapper starts:", when);
  for (size_t i = 0; argv[i]; i++)
    sbuf_printf(&head, " %s", argv[i]);
  sbuf_putc(&head, '\n');
  int wrc = util_write_all(logfd, head.buf, head.len);
  sbuf_free(&head);
  if (wrc < 0) {
    snprintf(err, errlen, "cannot write %s: %s", logpath, strerror(errno));
    goto fail;
  }
  nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (nullfd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
    snprintf(err, errlen, "cannot prepare to start %s: %s", argv[0], strerror(errno));
    goto fail;
  }
  pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "cannot fork to start %s: %s", argv[0], strerror(errno));
    goto fail;
  }
  if (pid == 0) {
    int e = 0;
    reset_signals();
    setsid();
    if (dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
        (cwd && chdir(cwd) < 0)) {
      e = errno;
    } else {
      execv(argv[0], argv);
      e = errno;
    }
    ssize_t w = write(pipefd[1], &e, sizeof e);
    (void)w;
    _exit(127);
  }
  close(pipefd[1]);
  pipefd[1] = -1;
  int e = 0;
  ssize_t n;
  while ((n = read(pipefd[0], &e, sizeof e)) < 0 && errno == EINTR)
    ;
  if (n > 0) {
    /* The child failed before or in execv; collect it. */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    snprintf(err, errlen, "cannot execute %s: %s", argv[0], strerror(e));
    pid = -1;
    goto fail;
  }
  close(pipefd[0]);
  close(logfd);
  close(nullfd);
  return pid;
fail: {
  int saved = errno;
  if (pipefd[0] >= 0)
    close(pipefd[0]);
  if (pipefd[1] >= 0)
    close(pipefd[1]);
  if (logfd >= 0)
    close(logfd);
  if (nullfd >= 0)
    close(nullfd);
  errno = saved;
  return -1;
}
}

int proc_write_pidfile(const char *path, pid_t pid) {
  char line[32];
  int n = snprintf(line, sizeof line, "%ld\n", (long)pid);
  return util_write_atomic(path, line, (size_t)n, 0644, NULL, 0);
}

pid_t proc_read_pidfile(const char *path) {
  char *text = util_read_file(path, 4096, NULL); /* postmaster.pid has more lines */
  if (!text)
    return 0;
  char *nl = strchr(text, '\n');
  if (nl)
    *nl = '\0';
  uint64_t v = 0;
  pid_t pid = 0;
  if (util_parse_u64(text, 1, INT_MAX, &v) == 0)
    pid = (pid_t)v;
  free(text);
  return pid;
}

bool proc_cmdline_matches(const char *cmdline, size_t len, const char *prog,
                          const char *needle) {
  if (!len)
    return false; /* a zombie or a kernel thread */
  /* argv[0] is the first NUL-terminated string; a process that rewrote its
   * title may have one string with spaces, so cut there too. */
  size_t a0 = strnlen(cmdline, len);
  const char *sp = memchr(cmdline, ' ', a0);
  if (sp && a0 == len - (cmdline[len - 1] == '\0' ? 1 : 0))
    a0 = (size_t)(sp - cmdline);
  const char *base = cmdline;
  for (size_t i = 0; i < a0; i++)
    if (cmdline[i] == '/')
      base = cmdline + i + 1;
  size_t plen = strlen(prog);
  if ((size_t)(cmdline + a0 - base) != plen || memcmp(base, prog, plen) != 0)
    return false;

  /* Look for needle as a whole argument (or after '=' or a space). */
  size_t nlen = strlen(needle);
  if (!nlen)
    return true;
  for (size_t i = 0; i + nlen <= len; i++) {
    if (memcmp(cmdline + i, needle, nlen) != 0)
      continue;
    bool start = i == 0 || cmdline[i - 1] == '\0' || cmdline[i - 1] == '=' ||
                 cmdline[i - 1] == ' ';
    bool end = i + nlen == len || cmdline[i + nlen] == '\0' || cmdline[i + nlen] == ' ';
    if (start && end && i > 0)
      return true;
  }
  return false;
}

bool proc_matches(pid_t pid, const char *prog, const char *needle) {
  if (pid <= 0)
    return false;
  if (kill(pid, 0) < 0 && errno != EPERM)
    return false;
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
  size_t len = 0;
  char *cmd = util_read_file(path, 1 << 20, &len);
  if (!cmd)
    return false;
  bool ok = proc_cmdline_matches(cmd, len, prog, needle);
  free(cmd);
  return ok;
}

size_t proc_wait_gone(const pid_t *pids, const char *const *progs,
                      const char *const *needles, size_t n, int timeout_ms) {
  uint64_t deadline = util_mono_us() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
  for (;;) {
    size_t alive = 0;
    for (size_t i = 0; i < n; i++) {
      if (pids[i] <= 0)
        continue;
      waitpid(pids[i], NULL, WNOHANG); /* reap it if it is our child */
      if (proc_matches(pids[i], progs[i], needles[i]))
        alive++;
    }
    if (!alive || util_mono_us() >= deadline)
      return alive;
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

static bool executable(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *proc_find_program(const char *name) {
  char *self = util_exe_dir();
  if (self) {
    char *p = xasprintf("%s/%s", self, name);
    free(self);
    if (executable(p))
      return p;
    free(p);
  }
  const char *path = getenv("PATH");
  if (!path || !*path)
    return NULL;
  char *copy = xstrdup(path), *save = NULL;
  for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    if (d[0] != '/')
      continue; /* relative PATH entries would depend on our cwd */
    char *p = xasprintf("%s/%s", d, name);
    if (executable(p)) {
      free(copy);
      return p;
    }
    free(p);
  }
  free(copy);
  return NULL;
}

void proc_log_tail(FILE *f, const char *path, int nlines) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  struct stat st;
  off_t from = 0;
  if (fstat(fd, &st) == 0 && st.st_size > 16384)
    from = st.st_size - 16384;
  char buf[16385];
  ssize_t n = pread(fd, buf, sizeof buf - 1, from);
  close(fd);
  if (n <= 0)
    return;
  buf[n] = '\0';
  /* Walk back over nlines line ends (ignoring a final newline). */
  size_t end = (size_t)n;
  while (end && buf[end - 1] == '\n')
    buf[--end] = '\0';
  size_t start = end;
  int seen = 0;
  while (start > 0) {
    if (buf[start - 1] == '\n' && ++seen == nlines)
      break;
    start--;
  }
  fprintf(f, "last lines of %s:\n", path);
  char *save = NULL;
  for (char *line = strtok_r(buf + start, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    char *indented = xasprintf("  | %s", line);
    output_line(f, indented);
    free(indented);
  }
  fflush(f);
}
