/*
 * test_health.c - the worker's health verdict: the reasons health_judge
 * gives (workdir gone or replaced, disk under the floor, journal), and
 * health_check on a real directory (removed, replaced, floor above the
 * disk's free space, journal failure and recovery).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "health.h"

static void test_judge(void) {
  char why[HEALTH_REASON_MAX];
  health_facts_t f = {.workdir = "/w", .free_bytes = 100 << 20, .floor_bytes = 64 << 20};
  CHECK(!health_judge(&f, why, sizeof why));
  CHECK_STR(why, "");

  /* Under the floor: the disk, its free space and the floor are named. */
  f.free_bytes = 3 << 20;
  CHECK(health_judge(&f, why, sizeof why));
  CHECK_STR(why, "disk full: 3 MiB free on the disk of workdir /w, under the floor of 64 MiB "
                 "(--min-free-mb)");
  f.free_bytes = 0;
  CHECK(health_judge(&f, why, sizeof why));
  CHECK_CONTAINS(why, "disk full: 0 bytes free");
  f.free_bytes = 2048;
  CHECK(health_judge(&f, why, sizeof why));
  CHECK_CONTAINS(why, "2 KiB free");
  /* Exactly at the floor is healthy; a floor of 0 never trips. */
  f.free_bytes = f.floor_bytes;
  CHECK(!health_judge(&f, why, sizeof why));
  f.floor_bytes = 0;
  f.free_bytes = 0;
  CHECK(!health_judge(&f, why, sizeof why));

  /* Both causes, joined. */
  f.floor_bytes = 1 << 20;
  f.journal_err = "No space left on device";
  CHECK(health_judge(&f, why, sizeof why));
  CHECK_CONTAINS(why, "disk full: 0 bytes free");
  CHECK_CONTAINS(why, "; journal cannot be written (No space left on device): results are "
                      "not durable");

  /* A workdir that is gone says so, whatever statvfs said. */
  f.journal_err = NULL;
  f.workdir_errno = ENOENT;
  CHECK(health_judge(&f, why, sizeof why));
  CHECK_STR(why, "workdir /w is gone (No such file or directory)");
  f.workdir_errno = 0;
  f.workdir_replaced = true;
  f.free_bytes = UINT64_MAX;
  CHECK(health_judge(&f, why, sizeof why));
  CHECK_CONTAINS(why, "workdir /w is gone (replaced");

  /* A short buffer is cut, never overrun. */
  char tiny[8];
  CHECK(health_judge(&f, tiny, sizeof tiny));
  CHECK_INT(strlen(tiny), 7);
}

static void test_check(void) {
  char dir[] = "/tmp/clapper-test-health-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  health_t h;
  CHECK_INT(health_init(&h, dir, 0), 0);
  CHECK(!health_check(&h)); /* healthy, as it was */
  CHECK(health_ok(&h));

  /* A floor above what any disk has. */
  h.floor_bytes = UINT64_MAX - 1;
  CHECK(health_check(&h));
  CHECK(!health_ok(&h));
  CHECK_CONTAINS(h.reason, "disk full");
  CHECK_CONTAINS(h.reason, dir);
  CHECK(!health_check(&h)); /* no change */
  h.floor_bytes = 0;
  CHECK(health_check(&h));
  CHECK(health_ok(&h));

  /* The journal failed, then was written again. */
  health_journal(&h, ENOSPC);
  CHECK(health_check(&h));
  CHECK_CONTAINS(h.reason, "journal cannot be written (No space left on device)");
  health_journal(&h, 0);
  CHECK(health_check(&h));
  CHECK(health_ok(&h));

  /* Removed, then replaced by another directory of the same name (made
   * while the first existed, so its inode differs). */
  char other[300];
  snprintf(other, sizeof other, "%s.x", dir);
  CHECK_INT(mkdir(other, 0700), 0);
  CHECK_INT(rmdir(dir), 0);
  CHECK(health_check(&h));
  CHECK_CONTAINS(h.reason, "is gone (No such file or directory)");
  CHECK_INT(rename(other, dir), 0);
  CHECK(health_check(&h));
  CHECK_CONTAINS(h.reason, "replaced by another directory");
  rmdir(dir);
  health_free(&h);

  CHECK_INT(health_init(&h, "/nonexistent-clapper-dir", 0), -1);
  CHECK_INT(errno, ENOENT);
  CHECK(health_free_bytes("/nonexistent-clapper-dir") == UINT64_MAX);
  CHECK(health_free_bytes("/") < UINT64_MAX);
}

int main(void) {
  test_judge();
  test_check();
  return check_report("test_health");
}
