/*
 * migrate.c - numbered schema migrations, see migrate.h.
 */
#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int is_migration(const char *name, int *version) {
  size_t n = strlen(name);
  if (n < 9 || strcmp(name + n - 4, ".sql") != 0)
    return 0;
  for (int i = 0; i < 3; i++)
    if (name[i] < '0' || name[i] > '9')
      return 0;
  if (name[3] != '_')
    return 0;
  for (size_t i = 4; i < n - 4; i++) {
    char ch = name[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
      return 0;
  }
  *version = (name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0');
  return 1;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int exec_ok(PGconn *conn, const char *sql, char *err, size_t errlen) {
  PGresult *r = PQexec(conn, sql);
  ExecStatusType st = PQresultStatus(r);
  int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (!ok) {
    snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    for (char *p = err; *p; p++)
      if (*p == '\n')
        *p = ' ';
  }
  PQclear(r);
  return ok ? 0 : -1;
}

int migrate_apply(PGconn *conn, const char *dir, char *err, size_t errlen) {
  char **names = NULL;
  size_t n = 0, cap = 0;
  int applied = 0;
  DIR *d = opendir(dir);
  if (!d) {
    snprintf(err, errlen, "cannot open the SQL directory %s: %s", dir, strerror(errno));
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    int v;
    if (is_migration(e->d_name, &v)) {
      ARRAY_PUSH(names, n, cap, xstrdup(e->d_name));
    }
  }
  closedir(d);
  if (n == 0) {
    snprintf(err, errlen, "no migrations (NNN_name.sql) in %s", dir);
    applied = -1;
    goto out;
  }
  qsort(names, n, sizeof *names, cmp_names);
  /* Created only when missing: a coordinator whose role may not create
   * tables (deploy/: the schema has another owner) still starts. */
  PGresult *have = PQexec(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
  bool exists = PQresultStatus(have) == PGRES_TUPLES_OK && PQntuples(have) == 1 &&
                !strcmp(PQgetvalue(have, 0, 0), "t");
  PQclear(have);
  if (!exists &&
      exec_ok(conn,
              "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
              "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
              err, errlen) < 0) {
    applied = -1;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    int version;
    is_migration(names[i], &version);
    char vbuf[16];
    snprintf(vbuf, sizeof vbuf, "%d", version);
    const char *pv[1] = {vbuf};
    PGresult *r = PQexecParams(conn, "SELECT 1 FROM schema_migrations WHERE version = $1", 1,
                               NULL, pv, NULL, NULL, 0);
    int done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
    PQclear(r);
    if (done)
      continue;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    char *sql = util_read_file(path, 16 << 20, NULL);
    if (!sql) {
      snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
      applied = -1;
      goto out;
    }
    char msg[400];
    int rc = exec_ok(conn, "BEGIN", msg, sizeof msg);
    if (rc == 0)
      rc = exec_ok(conn, sql, msg, sizeof msg);
    free(sql);
    if (rc == 0) {
      const char *pp[2] = {vbuf, names[i]};
      r = PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                       2, NULL, pp, NULL, NULL, 0);
      if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        rc = -1;
      }
      PQclear(r);
    }
    if (rc == 0)
      rc = exec_ok(conn, "COMMIT", msg, sizeof msg);
    if (rc < 0) {
      char ignored[64];
      (void)exec_ok(conn, "ROLLBACK", ignored, sizeof ignored);
      snprintf(err, errlen, "migration %s failed: %s", names[i], msg);
      applied = -1;
      goto out;
    }
    log_info("applied migration %s", names[i]);
    applied++;
  }
out:
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  return applied;
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

char *migrate_default_dir(void) {
  char *exe = util_exe_dir();
  if (exe) {
    char *cand = xasprintf("%s/../share/clapper/sql", exe);
    free(exe);
    if (is_dir(cand))
      return cand;
    free(cand);
  }
  if (is_dir(CLAPPER_SQL_SOURCE_DIR))
    return xstrdup(CLAPPER_SQL_SOURCE_DIR);
  return xstrdup(CLAPPER_SQL_INSTALL_DIR);
}
