/*
 * test_logkeep.c - --log-retention: parsing ages and sizes, the plan
 * (stored logs past the age, then the oldest over the size, stored ones
 * first, busy ones never), and a sweep of a real directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "logkeep.h"

static void test_parse(void) {
  char err[256];
  uint64_t age, bytes;
  CHECK_INT(logkeep_parse("7d", &age, &bytes, err, sizeof err), 0);
  CHECK(age == 7 * 86400 && bytes == 0);
  CHECK_INT(logkeep_parse("20G", &age, &bytes, err, sizeof err), 0);
  CHECK(age == 0 && bytes == (uint64_t)20 << 30);
  CHECK_INT(logkeep_parse("12h,500M", &age, &bytes, err, sizeof err), 0);
  CHECK(age == 12 * 3600 && bytes == (uint64_t)500 << 20);
  CHECK_INT(logkeep_parse("1K,90s", &age, &bytes, err, sizeof err), 0);
  CHECK(age == 90 && bytes == 1024);
  CHECK_INT(logkeep_parse("30m", &age, &bytes, err, sizeof err), 0);
  CHECK(age == 1800);
  CHECK_INT(logkeep_parse("off", &age, &bytes, err, sizeof err), 0);
  CHECK(age == 0 && bytes == 0);
  CHECK_INT(logkeep_parse(LOGKEEP_DEFAULT, &age, &bytes, err, sizeof err), 0);

  const char *bad[] = {"",
                       "7",
                       "7x",
                       "d",
                       "0d",
                       "-1d",
                       "7d,",
                       "7d,8d",
                       "1G,2G",
                       " 7d",
                       "99999999999999999999d",
                       "5000000d"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err[0] = '\0';
    CHECK_INT(logkeep_parse(bad[i], &age, &bytes, err, sizeof err), -1);
    CHECK_CONTAINS(err, "--log-retention");
  }
  CHECK_INT(logkeep_parse("7x", &age, &bytes, err, sizeof err), -1);
  CHECK_STR(err, "--log-retention: '7x' has no unit (s, m, h, d for an age; K, M, G, T for a "
                 "size)");
  CHECK_INT(logkeep_parse("7d,8d", &age, &bytes, err, sizeof err), -1);
  CHECK_STR(err, "--log-retention: two ages");
}

static const logkeep_entry_t *by_id(const logkeep_entry_t *e, size_t n, uint64_t id) {
  for (size_t i = 0; i < n; i++)
    if (e[i].id == id)
      return &e[i];
  return NULL;
}

static void test_plan(void) {
  /* now = 1000; ages in seconds: 1: 900 old stored, 2: 500 old stored,
   * 3: 900 old not stored, 4: 900 old stored but busy, 5: 10 old stored. */
  logkeep_entry_t e[] = {
      {.id = 5, .mtime = 990, .size = 100, .stored = true},
      {.id = 1, .mtime = 100, .size = 100, .stored = true},
      {.id = 3, .mtime = 100, .size = 100, .stored = false},
      {.id = 2, .mtime = 500, .size = 100, .stored = true},
      {.id = 4, .mtime = 100, .size = 100, .stored = true, .busy = true},
  };
  size_t n = sizeof e / sizeof *e;
  /* Age 600: only 1 (stored, old enough, not busy). */
  CHECK_INT(logkeep_plan(e, n, 1000, 600, 0), 1);
  CHECK(by_id(e, n, 1)->remove);
  CHECK(!by_id(e, n, 3)->remove && !by_id(e, n, 4)->remove && !by_id(e, n, 2)->remove);
  /* Exactly at the age counts as over. */
  CHECK_INT(logkeep_plan(e, n, 1000, 500, 0), 2);
  CHECK(by_id(e, n, 2)->remove);
  /* No limits: nothing. */
  CHECK_INT(logkeep_plan(e, n, 1000, 0, 0), 0);
  /* Size 250 alone (500 in all): stored first, oldest first (1, 2), then
   * 5 is the next stored; busy 4 stays; 3 (not stored) goes last. */
  CHECK_INT(logkeep_plan(e, n, 1000, 0, 250), 3);
  CHECK(by_id(e, n, 1)->remove && by_id(e, n, 2)->remove && by_id(e, n, 5)->remove);
  CHECK(!by_id(e, n, 3)->remove && !by_id(e, n, 4)->remove);
  /* Size 50: everything but the busy one, the unstored one included. */
  CHECK_INT(logkeep_plan(e, n, 1000, 0, 50), 4);
  CHECK(by_id(e, n, 3)->remove && !by_id(e, n, 4)->remove);
  /* Age and size: 1 by age, then 2 for the size (400 left > 350). */
  CHECK_INT(logkeep_plan(e, n, 1000, 600, 350), 2);
  CHECK(by_id(e, n, 1)->remove && by_id(e, n, 2)->remove);
  CHECK_INT(logkeep_plan(NULL, 0, 1000, 600, 1), 0);
}

static void put(const char *dir, const char *name, mode_t mode, time_t mtime, size_t size) {
  char path[300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  char buf[64] = {0};
  for (size_t k = 0; k < size; k += sizeof buf)
    CHECK(write(fd, buf, size - k < sizeof buf ? size - k : sizeof buf) > 0);
  close(fd);
  CHECK_INT(chmod(path, mode), 0);
  struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
  CHECK_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static bool exists(const char *dir, const char *name) {
  char path[300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

static bool busy7(void *arg, uint64_t id) {
  (void)arg;
  return id == 7;
}

static void test_sweep(void) {
  char dir[] = "/tmp/clapper-test-logkeep-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  time_t now = time(NULL);
  put(dir, "1.log", 0600, now - 100, 10); /* old, not stored: kept */
  put(dir, "2.log", 0600, now - 100, 10);
  char p2[300];
  snprintf(p2, sizeof p2, "%s/2.log", dir);
  CHECK_INT(logkeep_mark_stored(p2), 0);  /* old, stored: deleted */
  put(dir, "3.log", 0400, now - 5, 10);   /* new, stored: kept */
  put(dir, "7.log", 0400, now - 100, 10); /* old, stored, busy: kept */
  put(dir, "x.log", 0400, now - 100, 10); /* not an attempt log: ignored */
  put(dir, "8.report", 0400, now - 100, 10);
  uint64_t freed = 0;
  CHECK_INT(logkeep_sweep(dir, (int64_t)now, 60, 0, busy7, NULL, &freed), 1);
  CHECK(freed == 10);
  CHECK(exists(dir, "1.log") && !exists(dir, "2.log") && exists(dir, "3.log") &&
        exists(dir, "7.log") && exists(dir, "x.log") && exists(dir, "8.report"));
  /* No limits: nothing is even read. */
  CHECK_INT(logkeep_sweep(dir, (int64_t)now, 0, 0, busy7, NULL, &freed), 0);
  /* A size of 15 bytes: 3 (stored) goes, then 1; 7 is busy. */
  CHECK_INT(logkeep_sweep(dir, (int64_t)now, 0, 15, busy7, NULL, &freed), 2);
  CHECK(!exists(dir, "1.log") && !exists(dir, "3.log") && exists(dir, "7.log"));
  const char *left[] = {"7.log", "x.log", "8.report"};
  for (size_t i = 0; i < 3; i++) {
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, left[i]);
    unlink(path);
  }
  CHECK_INT(rmdir(dir), 0);
  CHECK_INT(logkeep_sweep(dir, (int64_t)now, 60, 0, NULL, NULL, &freed), -1);
  CHECK_INT(errno, ENOENT);
}

int main(void) {
  test_parse();
  test_plan();
  test_sweep();
  return check_report("test_logkeep");
}
