/*
 * pgtest.h - a private PostgreSQL for the unit tests that need one.
 *
 * pgtest_start() makes a temporary directory (mode 755, so that "nobody"
 * can reach it when the test runs as root), starts tests/lib/pgtmp.sh in it
 * and returns the conninfo.  Before the server starts, a watchdog process
 * is forked that waits for the test process to go away - by returning from
 * main, by a failed CHECK, by _exit, by a sanitizer abort or by a ctest
 * timeout - and then stops the server and removes the directory, so no
 * server outlives its test.  pgtest_stop() does the same at once and waits
 * for it; it is registered with atexit.
 *
 * The remaining helpers run synchronous queries for checks; they abort the
 * test with a message when the query itself fails.
 */
#ifndef CLAPPER_PGTEST_H
#define CLAPPER_PGTEST_H

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char pgtest_dir[64];
static char pgtest_conninfo[512];
static char pgtest_script[PATH_MAX];
static pid_t pgtest_watchdog = -1;
static int pgtest_wfd = -1; /* write end of the watchdog's pipe */

/* Formats into buf (size bytes) as snprintf does, and exits with a message
 * when the result does not fit: no test runs with a cut path. */
static inline void pgtest_fmt(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void pgtest_fmt(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= size) {
    fprintf(stderr, "pgtest: too long (%d bytes, room for %zu): %s\n", n, size, buf);
    exit(1);
  }
}

/* The source tree (ctest sets CLAPPER_SOURCE_DIR; the build knows it too). */
static inline const char *pgtest_source_dir(void) {
  static char dir[PATH_MAX];
  const char *env = getenv("CLAPPER_SOURCE_DIR");
  if (env && *env)
    pgtest_fmt(dir, sizeof dir, "%s", env);
  else
    pgtest_fmt(dir, sizeof dir, "%s/..", CLAPPER_SQL_SOURCE_DIR);
  return dir;
}

/* The directory of the schema migrations in the source tree. */
static inline const char *pgtest_sql_dir(void) {
  static char dir[PATH_MAX];
  pgtest_fmt(dir, sizeof dir, "%s/sql", pgtest_source_dir());
  return dir;
}

static inline void pgtest_stop(void) {
  if (pgtest_watchdog <= 0)
    return;
  close(pgtest_wfd); /* the watchdog sees end of file and cleans up */
  pgtest_wfd = -1;
  int st;
  while (waitpid(pgtest_watchdog, &st, 0) < 0 && errno == EINTR)
    ;
  pgtest_watchdog = -1;
}

/* Forks the process that stops the server and removes the directory once
 * the pipe's write end (held by this process only) closes. */
static inline void pgtest_fork_watchdog(void) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    perror("pgtest: pipe2");
    exit(1);
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("pgtest: fork");
    exit(1);
  }
  if (pid == 0) {
    /* Its own session, so that whatever kills the test's process group
     * leaves it to clean up; quiet, so that nobody waits for its output. */
    close(p[1]);
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    for (;;) {
      char b;
      ssize_t n = read(p[0], &b, 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
    }
    char cmd[PATH_MAX + 256];
    snprintf(cmd, sizeof cmd, "bash '%s' stop '%s' >/dev/null 2>&1; rm -rf '%s'", pgtest_script,
             pgtest_dir, pgtest_dir);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  close(p[0]);
  pgtest_wfd = p[1];
  pgtest_watchdog = pid;
}

/* Starts a private server and returns its conninfo; exits on failure. */
static inline const char *pgtest_start(void) {
  pgtest_fmt(pgtest_script, sizeof pgtest_script, "%s/tests/lib/pgtmp.sh", pgtest_source_dir());
  snprintf(pgtest_dir, sizeof pgtest_dir, "/tmp/clapper-pgtest-XXXXXX");
  if (!mkdtemp(pgtest_dir) || chmod(pgtest_dir, 0755) < 0) {
    perror("pgtest: mkdtemp");
    exit(1);
  }
  pgtest_fork_watchdog();
  atexit(pgtest_stop);
  char cmd[PATH_MAX + 128];
  snprintf(cmd, sizeof cmd, "bash '%s' start '%s'", pgtest_script, pgtest_dir);
  FILE *f = popen(cmd, "r");
  if (!f) {
    perror("pgtest: popen");
    exit(1);
  }
  char line[512];
  pgtest_conninfo[0] = '\0';
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "host=", 5))
      snprintf(pgtest_conninfo, sizeof pgtest_conninfo, "%s", line);
  int st = pclose(f);
  pgtest_conninfo[strcspn(pgtest_conninfo, "\n")] = '\0';
  if (st != 0 || !pgtest_conninfo[0]) {
    fprintf(stderr, "pgtest: %s failed (status %d); is PostgreSQL installed?\n", cmd, st);
    exit(1);
  }
  return pgtest_conninfo;
}

/* A synchronous connection for checks; exits on failure. */
static inline PGconn *pgtest_connect(void) {
  PGconn *conn = PQconnectdb(pgtest_conninfo);
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "pgtest: cannot connect (%s): %s", pgtest_conninfo, PQerrorMessage(conn));
    exit(1);
  }
  PQclear(PQexec(conn, "SET TimeZone = 'UTC'"));
  return conn;
}

/* Runs sql; returns NULL on success or the error message (static buffer)
 * when the server refused it. */
static inline const char *pgtest_try(PGconn *conn, const char *sql) {
  static char msg[1024];
  PGresult *r = PQexec(conn, sql);
  ExecStatusType st = PQresultStatus(r);
  const char *out = NULL;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
    out = msg;
  }
  PQclear(r);
  return out;
}

/* Runs sql that must succeed; exits otherwise. */
static inline void pgtest_exec(PGconn *conn, const char *sql) {
  const char *err = pgtest_try(conn, sql);
  if (err) {
    fprintf(stderr, "pgtest: %s: %s", sql, err);
    exit(1);
  }
}

/* The first column of the first row of a formatted query, copied into a
 * static buffer; "(null)" for SQL NULL, "(none)" for no row.  Exits when
 * the query fails. */
static inline const char *pgtest_value(PGconn *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline const char *pgtest_value(PGconn *conn, const char *fmt, ...) {
  static char out[4096];
  char sql[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  PGresult *r = PQexec(conn, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    fprintf(stderr, "pgtest: %s: %s", sql, PQresultErrorMessage(r));
    exit(1);
  }
  if (PQntuples(r) == 0)
    snprintf(out, sizeof out, "(none)");
  else if (PQgetisnull(r, 0, 0))
    snprintf(out, sizeof out, "(null)");
  else
    snprintf(out, sizeof out, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
  return out;
}

/* The same, read as an integer (-1 for NULL or no row). */
#define pgtest_int(conn, ...) pgtest_atoll(pgtest_value(conn, __VA_ARGS__))
static inline long long pgtest_atoll(const char *s) {
  return (*s == '(' ? -1 : strtoll(s, NULL, 10));
}

/* Tests with a libuv loop: runs loop until cond(arg) holds, at most ms
 * (a 10 ms timer keeps the loop turning); returns cond(arg). */
#ifdef UV_VERSION_MAJOR
static void pgtest_on_guard(uv_timer_t *t) { (void)t; }
static inline bool pgtest_run_until(uv_loop_t *loop, bool (*cond)(void *), void *arg,
                                    uint64_t ms) {
  uv_timer_t guard;
  uv_timer_init(loop, &guard);
  uv_timer_start(&guard, pgtest_on_guard, 10, 10);
  uint64_t deadline = util_mono_us() + ms * 1000;
  while (!cond(arg) && util_mono_us() < deadline)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return cond(arg);
}
#endif

/* Coordinator module tests: flushes c's store and runs loop until nothing
 * is accumulated or in flight (at most 10 s); true when it got there.
 * Only for tests that include store.h. */
#ifdef CLAPPER_STORE_H
static inline bool pgtest_store_idle(void *c) { return store_idle(c); }
static inline bool pgtest_flush(coord_t *c, uv_loop_t *loop) {
  store_flush(c);
  return pgtest_run_until(loop, pgtest_store_idle, c, 10 * 1000);
}
#endif

#endif
