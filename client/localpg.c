/*
 * localpg.c - the private PostgreSQL of a local farm, see localpg.h.
 */
#include "localpg.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"

static bool has_program(const char *bindir, const char *name) {
  char *p = xasprintf("%s/%s", bindir, name);
  bool ok = access(p, X_OK) == 0;
  free(p);
  return ok;
}

char *localpg_bindir(char *err, size_t errlen) {
  const char *env = getenv("CLAPPER_PG_BINDIR");
  if (env && *env) {
    if (env[0] == '/' && has_program(env, "initdb") && has_program(env, "pg_ctl"))
      return xstrdup(env);
    util_fail(err, errlen, "CLAPPER_PG_BINDIR=%s does not hold initdb and pg_ctl", env);
    return NULL;
  }
  glob_t g;
  char *best = NULL;
  long best_version = -1;
  if (glob("/usr/lib/postgresql/*/bin", GLOB_ONLYDIR, NULL, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; i++) {
      const char *ver = g.gl_pathv[i] + strlen("/usr/lib/postgresql/");
      long v = strtol(ver, NULL, 10);
      if (v > best_version && has_program(g.gl_pathv[i], "initdb") &&
          has_program(g.gl_pathv[i], "pg_ctl")) {
        free(best);
        best = xstrdup(g.gl_pathv[i]);
        best_version = v;
      }
    }
    globfree(&g);
  }
  if (best)
    return best;
  char *pg_ctl = proc_find_program("pg_ctl");
  if (pg_ctl) {
    *strrchr(pg_ctl, '/') = '\0';
    if (has_program(pg_ctl, "initdb"))
      return pg_ctl;
    free(pg_ctl);
  }
  util_fail(err, errlen,
            "the PostgreSQL server programs (initdb, pg_ctl) were not found in "
            "/usr/lib/postgresql/*/bin or $PATH; install them (apt-get install postgresql) or "
            "set CLAPPER_PG_BINDIR");
  return NULL;
}

bool localpg_exists(const farm_t *f) {
  char *p = xasprintf("%s/PG_VERSION", f->pgdata);
  struct stat st;
  bool ok = stat(p, &st) == 0;
  free(p);
  return ok;
}

char *localpg_logfile(const farm_t *f) { return xasprintf("%s/postgresql.log", f->logdir); }

/* Runs a PostgreSQL program (as nobody when root) with its output appended
 * to the server log.  Returns its exit status or -1 with err. */
static int run_logged(const farm_t *f, char *const argv[], bool new_session, char *err,
                      size_t errlen) {
  char *log = localpg_logfile(f);
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    util_fail(err, errlen, "cannot open %s: %s", log, strerror(errno));
    free(log);
    return -1;
  }
  proc_opts_t o = {.as_nobody = f->pg_as_nobody, .new_session = new_session, .out_fd = fd};
  int rc = proc_run(argv, &o, err, errlen);
  close(fd);
  free(log);
  return rc;
}

/* Appends s as a single-quoted postgresql.conf string. */
static void conf_quote(sbuf_t *sb, const char *s) {
  sbuf_putc(sb, '\'');
  for (; *s; s++) {
    if (*s == '\'' || *s == '\\')
      sbuf_putc(sb, *s);
    sbuf_putc(sb, *s);
  }
  sbuf_putc(sb, '\'');
}

int localpg_init(const farm_t *f, const char *bindir, char *err, size_t errlen) {
  char *initdb = xasprintf("%s/initdb", bindir);
  char *const argv[] = {initdb,      "-D",   f->pgdata, "-U", "clapper", "-A", "trust",
                        "--no-locale", "-E", "UTF8",    NULL};
  char *conf = NULL;
  sbuf_t sb = {0};
  int rc = -1, fd = -1;
  int st = run_logged(f, argv, false, err, errlen);
  if (st < 0)
    goto out;
  if (st != 0) {
    util_fail(err, errlen, "initdb %s failed with status %d", f->pgdata, st);
    goto out;
  }
  sbuf_puts(&sb, "\n# added by clapper local up: a private server on a unix socket\n"
                 "listen_addresses = ''\nunix_socket_directories = ");
  conf_quote(&sb, f->pgsock);
  sbuf_puts(&sb, "\nunix_socket_permissions = 0700\njit = off\n");
  conf = xasprintf("%s/postgresql.conf", f->pgdata);
  fd = open(conf, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0 || util_write_all(fd, sb.buf, sb.len) < 0) {
    util_fail(err, errlen, "cannot append to %s: %s", conf, strerror(errno));
    goto out;
  }
  rc = 0;
out:
  if (fd >= 0)
    close(fd);
  sbuf_free(&sb);
  free(conf);
  free(initdb);
  return rc;
}

int localpg_start(const farm_t *f, const char *bindir, char *err, size_t errlen) {
  char *pg_ctl = xasprintf("%s/pg_ctl", bindir);
  char *const argv[] = {pg_ctl, "-D", f->pgdata, "-w", "-t", "60", "start", NULL};
  /* A session of its own: the server outlives us and ignores our ^C. */
  int st = run_logged(f, argv, true, err, errlen);
  free(pg_ctl);
  if (st < 0)
    return -1;
  if (st != 0)
    return util_fail(err, errlen, "PostgreSQL did not start (pg_ctl status %d)", st);
  return 0;
}

int localpg_createdb(const farm_t *f, const char *bindir, char *err, size_t errlen) {
  char *createdb = xasprintf("%s/createdb", bindir);
  char *const argv[] = {createdb, "-h", f->pgsock, "-U", "clapper", "clapper", NULL};
  sbuf_t out = {0};
  /* A client program: it may run as root. */
  proc_opts_t o = {.capture = &out, .out_fd = -1};
  int rc = -1;
  int st = proc_run(argv, &o, err, errlen);
  if (st < 0)
    goto done;
  if (st != 0 && !(out.buf && strstr(out.buf, "already exists"))) {
    char *nl = out.buf ? strchr(out.buf, '\n') : NULL;
    if (nl)
      *nl = '\0';
    util_fail(err, errlen, "createdb clapper failed: %s", out.buf ? out.buf : "no output");
    goto done;
  }
  rc = 0;
done:
  sbuf_free(&out);
  free(createdb);
  return rc;
}

pid_t localpg_pid(const farm_t *f) {
  char *path = xasprintf("%s/postmaster.pid", f->pgdata);
  pid_t pid = proc_read_pidfile(path);
  free(path);
  return pid > 0 && proc_matches(pid, "postgres", f->pgdata) ? pid : 0;
}

int localpg_stop(const farm_t *f, const char *bindir, char *err, size_t errlen) {
  if (!localpg_pid(f))
    return 0;
  char *pg_ctl = xasprintf("%s/pg_ctl", bindir);
  char *const argv[] = {pg_ctl, "-D", f->pgdata, "-m", "fast", "-w", "-t", "60", "stop", NULL};
  int st = run_logged(f, argv, false, err, errlen);
  free(pg_ctl);
  if (st < 0)
    return -1;
  if (st != 0)
    return util_fail(err, errlen, "pg_ctl stop failed with status %d (see %s/postgresql.log)", st,
                     f->logdir);
  return 0;
}
