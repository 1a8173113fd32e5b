/*
 * test_migrate.c - schema migrations and the guarantees of the schema,
 * against a real private PostgreSQL.
 *
 * migrate_apply on a fresh database applies sql/ and records every file in
 * schema_migrations; a second run applies nothing; a broken migration
 * fails with a message naming the file and the error, leaves no trace (its
 * changes rolled back, no row recorded), and the fixed file applies later
 * (the broken one is numbered 900, after whatever sql/ holds).
 * Then the schema itself: the event log refuses UPDATE, DELETE and
 * TRUNCATE, and the partial unique index refuses a second live attempt of
 * one task but allows a new one once the first ended.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "migrate.h"
#include "pgtest.h"

static char tmp[] = "/tmp/clapper-test-migrate-XXXXXX";

static void write_file(const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", tmp, name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f)
    exit(1);
  fputs(text, f);
  fclose(f);
}

/* Copies every migration of the source tree into tmp. */
static int copy_sql_dir(void) {
  DIR *d = opendir(pgtest_sql_dir());
  if (!d)
    return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 4, ".sql"))
      continue;
    char path[PATH_MAX + 256];
    pgtest_fmt(path, sizeof path, "%s/%s", pgtest_sql_dir(), e->d_name);
    char *text = util_read_file(path, 16 << 20, NULL);
    if (text) {
      write_file(e->d_name, text);
      free(text);
      n++;
    }
  }
  closedir(d);
  return n;
}

static int count_sql_files(void) {
  DIR *d = opendir(pgtest_sql_dir());
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    n += len > 8 && !strcmp(e->d_name + len - 4, ".sql");
  }
  if (d)
    closedir(d);
  return n;
}

static void test_apply(PGconn *db) {
  char err[512] = "";
  int nfiles = count_sql_files();
  CHECK(nfiles >= 1);
  int n = migrate_apply(db, pgtest_sql_dir(), err, sizeof err);
  if (n < 0)
    fprintf(stderr, "migrate_apply: %s\n", err);
  CHECK_INT(n, nfiles);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM schema_migrations"), nfiles);
  CHECK_STR(pgtest_value(db, "SELECT name FROM schema_migrations WHERE version = 1"),
            "001_core.sql");
  CHECK_STR(pgtest_value(db, "SELECT applied_at IS NOT NULL FROM schema_migrations "
                             "WHERE version = 1"),
            "t");
  /* The schema is there. */
  CHECK_STR(pgtest_value(db, "SELECT to_regclass('attempts') IS NOT NULL AND "
                             "to_regclass('events') IS NOT NULL"),
            "t");
  /* A second run has nothing to do. */
  n = migrate_apply(db, pgtest_sql_dir(), err, sizeof err);
  CHECK_INT(n, 0);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM schema_migrations"), nfiles);
}

static void test_broken(PGconn *db) {
  char err[512] = "";
  CHECK(mkdtemp(tmp) != NULL);
  CHECK(copy_sql_dir() >= 1);
  /* Not migrations: ignored. */
  write_file("README.txt", "not sql");
  write_file("xyz_notes.sql", "SELECT broken syntax here");
  write_file("900_broken.sql",
             "CREATE TABLE t900 (a int);\n"
             "INSERT INTO t900 VALUES (1);\n"
             "ALTER TABLE jobs ADD COLUMN note900 text;\n"
             "SELECT 1 / 0;\n");
  int n = migrate_apply(db, tmp, err, sizeof err);
  CHECK_INT(n, -1);
  CHECK_CONTAINS(err, "900_broken.sql");
  CHECK_CONTAINS(err, "division by zero");
  CHECK(!strchr(err, '\n'));
  /* No trace of 900: its table and column were rolled back, no row. */
  CHECK_STR(pgtest_value(db, "SELECT to_regclass('t900') IS NULL"), "t");
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM information_schema.columns "
                           "WHERE table_name = 'jobs' AND column_name = 'note900'"),
            0);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM schema_migrations WHERE version = 900"), 0);
  /* The connection is usable (not left in an aborted transaction). */
  CHECK(pgtest_try(db, "SELECT 1") == NULL);
  CHECK_STR(pgtest_value(db, "SELECT pg_current_xact_id_if_assigned() IS NULL"), "t");

  /* A syntax error is reported the same way. */
  write_file("900_broken.sql", "CREATE TABLE t900 (a int;\n");
  n = migrate_apply(db, tmp, err, sizeof err);
  CHECK_INT(n, -1);
  CHECK_CONTAINS(err, "900_broken.sql");
  CHECK_CONTAINS(err, "syntax error");

  /* Fixed, it applies, once. */
  write_file("900_broken.sql",
             "CREATE TABLE t900 (a int);\n"
             "INSERT INTO t900 VALUES (1);\n");
  n = migrate_apply(db, tmp, err, sizeof err);
  if (n < 0)
    fprintf(stderr, "migrate_apply: %s\n", err);
  CHECK_INT(n, 1);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM t900"), 1);
  CHECK_STR(pgtest_value(db, "SELECT name FROM schema_migrations WHERE version = 900"),
            "900_broken.sql");
  CHECK_INT(migrate_apply(db, tmp, err, sizeof err), 0);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM t900"), 1);

  /* A directory that is missing, or holds no migration. */
  n = migrate_apply(db, "/nonexistent/clapper-sql", err, sizeof err);
  CHECK_INT(n, -1);
  CHECK_CONTAINS(err, "/nonexistent/clapper-sql");
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  CHECK(system(cmd) == 0);
  CHECK(mkdtemp(strcpy(tmp, "/tmp/clapper-test-migrate-XXXXXX")) != NULL);
  n = migrate_apply(db, tmp, err, sizeof err);
  CHECK_INT(n, -1);
  CHECK_CONTAINS(err, "no migrations");
  rmdir(tmp);
}

static void test_event_log(PGconn *db) {
  /* The coordinator chains events (006): a row names its chain and
   * position and brings its hashes. */
  const char *e = pgtest_try(db, "INSERT INTO events (actor, kind, subject_type, subject_id) "
                                 "VALUES ('alice', 'job.submitted', 'job', '1')");
  CHECK_CONTAINS(e, "null value");
  e = pgtest_try(db, "INSERT INTO events (actor, kind, subject_type, subject_id, chain, "
                     "prev_hash, hash) VALUES ('alice', 'x', 'job', '1', 'sha256', '', "
                     "sha256('x'))");
  CHECK_CONTAINS(e, "events_seq_set"); /* a chained row has its position */
  pgtest_exec(db, "INSERT INTO events (actor, kind, subject_type, subject_id, details, seq, "
                  "chain, prev_hash, hash) VALUES ('alice', 'job.submitted', 'job', '1', "
                  "'{\"tasks\": 3}', 1, 'hmac-sha256', '', sha256('x'))");
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM events"), 1);
  e = pgtest_try(db, "UPDATE events SET actor = 'mallory'");
  CHECK_CONTAINS(e, "append-only");
  e = pgtest_try(db, "DELETE FROM events");
  CHECK_CONTAINS(e, "append-only");
  e = pgtest_try(db, "TRUNCATE events");
  CHECK_CONTAINS(e, "append-only");
  CHECK_STR(pgtest_value(db, "SELECT actor FROM events"), "alice");
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM events"), 1);
}

static void test_one_live_attempt(PGconn *db) {
  pgtest_exec(db, "INSERT INTO projects (name) VALUES ('proj')");
  pgtest_exec(db, "INSERT INTO episodes (project_id, name) SELECT id, 'ep1' FROM projects");
  pgtest_exec(db, "INSERT INTO workers (name, state, cpus, memory_mb) VALUES ('w1', 'online', 4, "
                  "1000), ('w2', 'online', 4, 1000)");
  pgtest_exec(db, "INSERT INTO jobs (id, episode_id, name, kind, state, priority, max_attempts, "
                  "max_lost, retry_backoff_s, timeout_s, requires, spec, output_dir, ntasks, "
                  "submitted_by) SELECT 1, id, 'job', 'process', 'running', 50, 3, 5, 10, 0, "
                  "'{}', '{}', '/tmp/out', 2, 'alice' FROM episodes");
  pgtest_exec(db, "INSERT INTO tasks (id, job_id, seq, state) VALUES (1, 1, 0, 'dispatched'), "
                  "(2, 1, 1, 'dispatched')");
  pgtest_exec(db, "INSERT INTO attempts (id, task_id, worker, state, dispatched_at) "
                  "VALUES (1, 1, 'w1', 'dispatched', now())");
  /* A second live attempt of task 1, on another worker: refused. */
  const char *e = pgtest_try(db, "INSERT INTO attempts (id, task_id, worker, state, "
                                 "dispatched_at) VALUES (2, 1, 'w2', 'running', now())");
  CHECK_CONTAINS(e, "attempts_one_live_per_task");
  /* Another task is independent. */
  CHECK(pgtest_try(db, "INSERT INTO attempts (id, task_id, worker, state, dispatched_at) "
                       "VALUES (3, 2, 'w2', 'running', now())") == NULL);
  /* Moving a second one to live by UPDATE is refused as well. */
  pgtest_exec(db, "INSERT INTO attempts (id, task_id, worker, state, dispatched_at, ended_at) "
                  "VALUES (4, 1, 'w2', 'lost', now(), now())");
  e = pgtest_try(db, "UPDATE attempts SET state = 'running', ended_at = NULL WHERE id = 4");
  CHECK_CONTAINS(e, "attempts_one_live_per_task");
  /* An ended attempt needs an end time, a live one none. */
  e = pgtest_try(db, "UPDATE attempts SET state = 'failed' WHERE id = 1");
  CHECK(e != NULL);
  /* Once the first ended, a new live attempt is allowed. */
  pgtest_exec(db, "UPDATE attempts SET state = 'failed', ended_at = now() WHERE id = 1");
  CHECK(pgtest_try(db, "INSERT INTO attempts (id, task_id, worker, state, dispatched_at) "
                       "VALUES (2, 1, 'w2', 'dispatched', now())") == NULL);
  CHECK_INT(pgtest_int(db, "SELECT count(*) FROM attempts WHERE task_id = 1 AND "
                           "state IN ('dispatched', 'running')"),
            1);
  /* Unknown states are refused. */
  e = pgtest_try(db, "UPDATE tasks SET state = 'exploded' WHERE id = 2");
  CHECK(e != NULL);
}

int main(void) {
  log_init("test_migrate", LOG_LVL_WARN);
  pgtest_start();
  PGconn *db = pgtest_connect();
  test_apply(db);
  test_broken(db);
  test_event_log(db);
  test_one_live_attempt(db);
  PQfinish(db);
  pgtest_stop();
  return check_report("test_migrate");
}
