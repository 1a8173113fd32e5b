/*
 * test_journal.c - the result journal on a real file: append + fsync,
 * replay with ACKs, a torn tail, CRC corruption, compaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "journal.h"
#include "runner.h"

static char dir[] = "/tmp/clapper-test-journal-XXXXXX";
static char path[256];

static Clapper__Result *result(uint64_t id, const char *error) {
  Clapper__Result *r = runner_result_unstarted(
      id, error[0] ? CLAPPER__OUTCOME__OUTCOME_FAILED : CLAPPER__OUTCOME__OUTCOME_SUCCEEDED,
      error);
  r->exit_code = (int32_t)id;
  return r;
}

static off_t file_size(void) {
  struct stat st;
  return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Pending attempt ids as a string "1,2,3" for easy comparison. */
static const char *ids(journal_t *j) {
  static char buf[1024];
  size_t n, len = 0;
  Clapper__Result *const *p = journal_pending(j, &n);
  buf[0] = '\0';
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%llu", i ? "," : "",
                            (unsigned long long)p[i]->attempt_id);
  return buf;
}

static journal_t *reopen(journal_t **j) {
  journal_close(j);
  char err[256] = "";
  journal_t *n = NULL;
  int rc = journal_open(path, &n, err, sizeof err);
  CHECK_INT(rc, 0);
  if (rc)
    fprintf(stderr, "journal_open: %s\n", err);
  return n;
}

static void append_raw(const void *data, size_t len) {
  int fd = open(path, O_WRONLY | O_APPEND);
  CHECK(fd >= 0);
  CHECK_INT(write(fd, data, len), (long long)len);
  close(fd);
}

static void test_append_replay_ack(void) {
  char err[256];
  journal_t *j = NULL;
  CHECK_INT(journal_open(path, &j, err, sizeof err), 0);
  CHECK_INT(journal_pending_count(j), 0);
  CHECK_INT(file_size(), 0);

  Clapper__Result *batch[3] = {result(1, ""), result(2, "exit status 3"), result(3, "")};
  CHECK_INT(journal_append(j, batch, 3), 0);
  CHECK_STR(ids(j), "1,2,3");
  CHECK(file_size() > 0);
  CHECK_INT(file_size(), (long long)journal_file_size(j));

  /* A duplicate of a pending result is ignored (and freed). */
  Clapper__Result *dup[1] = {result(2, "other")};
  off_t before = file_size();
  CHECK_INT(journal_append(j, dup, 1), 0);
  CHECK_INT(file_size(), before);
  CHECK_STR(ids(j), "1,2,3");

  uint64_t ack[] = {2, 99};
  CHECK_INT(journal_ack(j, ack, 2), 1);
  CHECK_STR(ids(j), "1,3");
  CHECK_INT(file_size(), before + JOURNAL_HEADER + 8);
  CHECK(journal_known(j, 2));
  CHECK(journal_known(j, 1));
  CHECK(!journal_known(j, 99));
  CHECK_INT(journal_sync(j), 0);

  /* Replay: results without ACK stay pending, with their content. */
  j = reopen(&j);
  CHECK_STR(ids(j), "1,3");
  size_t n;
  Clapper__Result *const *p = journal_pending(j, &n);
  CHECK_INT(n, 2);
  CHECK_INT(p[0]->exit_code, 1);
  CHECK_INT(p[0]->outcome, CLAPPER__OUTCOME__OUTCOME_SUCCEEDED);
  CHECK_INT(p[1]->attempt_id, 3);
  /* Opening compacted the file: exactly the two pending records remain. */
  size_t expect = 2 * JOURNAL_HEADER + clapper__result__get_packed_size(p[0]) +
                  clapper__result__get_packed_size(p[1]);
  CHECK_INT(file_size(), (long long)expect);

  uint64_t all[] = {1, 3};
  CHECK_INT(journal_ack(j, all, 2), 2);
  j = reopen(&j);
  CHECK_INT(journal_pending_count(j), 0);
  CHECK_INT(file_size(), 0);
  journal_close(&j);
  CHECK(j == NULL);
}

static void test_torn_tail(void) {
  char err[256];
  unlink(path);
  journal_t *j = NULL;
  CHECK_INT(journal_open(path, &j, err, sizeof err), 0);
  Clapper__Result *batch[2] = {result(10, ""), result(11, "")};
  CHECK_INT(journal_append(j, batch, 2), 0);
  off_t good = file_size();
  journal_close(&j);

  /* A record header that promises more bytes than were written. */
  unsigned char torn[] = {200, 0, 0, 0, 1, 2, 3, 4, JOURNAL_RESULT, 0x08, 0x0c};
  append_raw(torn, sizeof torn);
  CHECK_INT(file_size(), good + (off_t)sizeof torn);
  CHECK_INT(journal_open(path, &j, err, sizeof err), 0);
  CHECK_STR(ids(j), "10,11");
  CHECK_INT(file_size(), good); /* the torn tail is gone */

  /* A few stray bytes, shorter than a header. */
  journal_close(&j);
  append_raw("\x01\x02\x03", 3);
  CHECK_INT(journal_open(path, &j, err, sizeof err), 0);
  CHECK_STR(ids(j), "10,11");
  CHECK_INT(file_size(), good);

  /* New appends after a truncated tail are replayed. */
  Clapper__Result *more[1] = {result(12, "")};
  CHECK_INT(journal_append(j, more, 1), 0);
  j = reopen(&j);
  CHECK_STR(ids(j), "10,11,12");
  journal_close(&j);
}

static void test_crc_corruption(void) {
  char err[256];
  unlink(path);
  journal_t *j = NULL;
  CHECK_INT(journal_open(path, &j, err, sizeof err), 0);
  Clapper__Result *a[1] = {result(20, "")};
  CHECK_INT(journal_append(j, a, 1), 0);
  off_t first = file_size();
  Clapper__Result *b[1] = {result(21, "exit status 1")};
  CHECK_INT(journal_append(j, b, 1), 0);
  journal_close(&j);

  /* Flip one payload byte of the last record: its CRC no longer matches. */
  int fd = open(path, O_RDWR);
  CHECK(fd >= 0);
  unsigned char c;
  off_t at = first + JOURNAL_HEADER + 2;
  CHECK_INT(pread(fd, &c, 1, at), 1);
  c ^= 0x40;
  CHECK_INT(pwrite(fd, &c, 1, at), 1);
  close(fd);
  CHECK_INT(journal_open(path, &j, err, sizeof err), 0);
  CHECK_STR(ids(j), "20");
  CHECK_INT(file_size(), first);
  journal_close(&j);

  /* A record with a valid CRC but an unknown type also ends the replay. */
  unsigned char rec[JOURNAL_HEADER + 1];
  unsigned char type = 77, payload = 5;
  uLong crc = crc32(crc32(0L, &type, 1), &payload, 1);
  rec[0] = 1, rec[1] = rec[2] = rec[3] = 0;
  rec[4] = (unsigned char)crc, rec[5] = (unsigned char)(crc >> 8);
  rec[6] = (unsigned char)(crc >> 16), rec[7] = (unsigned char)(crc >> 24);
  rec[8] = type, rec[9] = payload;
  append_raw(rec, sizeof rec);
  CHECK_INT(journal_open(path, &j, err, sizeof err), 0);
  CHECK_STR(ids(j), "20");
  CHECK_INT(file_size(), first);
  journal_close(&j);

  /* An ACK record written by hand (valid CRC) is honoured on replay. */
  unsigned char ack[JOURNAL_HEADER + 8] = {8, 0, 0, 0};
  unsigned char pl[9] = {JOURNAL_ACK, 20, 0, 0, 0, 0, 0, 0, 0};
  crc = crc32(0L, pl, 9);
  ack[4] = (unsigned char)crc, ack[5] = (unsigned char)(crc >> 8);
  ack[6] = (unsigned char)(crc >> 16), ack[7] = (unsigned char)(crc >> 24);
  memcpy(ack + 8, pl, 9);
  append_raw(ack, sizeof ack);
  CHECK_INT(journal_open(path, &j, err, sizeof err), 0);
  CHECK_INT(journal_pending_count(j), 0);
  CHECK_INT(file_size(), 0);
  journal_close(&j);
}

static void test_compaction(void) {
  char err[256];
  unlink(path);
  journal_t *j = NULL;
  CHECK_INT(journal_open(path, &j, err, sizeof err), 0);
  /* Results with a 2 KiB error each; ack all but every 50th. */
  char big[2048];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  uint64_t id = 1000;
  bool compacted = false;
  off_t max_seen = 0;
  for (int round = 0; round < 20; round++) {
    Clapper__Result *batch[50];
    uint64_t acks[50];
    size_t na = 0;
    for (int i = 0; i < 50; i++, id++) {
      batch[i] = result(id, big);
      if (id % 50 != 0)
        acks[na++] = id;
    }
    CHECK_INT(journal_append(j, batch, 50), 0);
    CHECK_INT(journal_ack(j, acks, na), (long long)na);
    off_t sz = file_size();
    if (sz < max_seen)
      compacted = true;
    if (sz > max_seen)
      max_seen = sz;
    CHECK(sz <= (off_t)(2 * JOURNAL_COMPACT_AT));
  }
  CHECK(compacted);
  CHECK_INT(journal_pending_count(j), 20);
  /* An explicit compaction keeps exactly the unacknowledged ones. */
  CHECK_INT(journal_compact(j), 0);
  size_t n;
  Clapper__Result *const *p = journal_pending(j, &n);
  size_t expect = 0;
  for (size_t i = 0; i < n; i++) {
    CHECK_INT(p[i]->attempt_id % 50, 0);
    expect += JOURNAL_HEADER + clapper__result__get_packed_size(p[i]);
  }
  CHECK_INT(file_size(), (long long)expect);
  j = reopen(&j);
  CHECK_INT(journal_pending_count(j), 20);
  p = journal_pending(j, &n);
  CHECK_INT(p[0]->attempt_id, 1000);
  CHECK_INT(p[19]->attempt_id, 1950);
  CHECK_STR(p[3]->error, big);
  /* No temporary file is left behind. */
  char tmp[300];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  CHECK(access(tmp, F_OK) < 0 && errno == ENOENT);
  journal_close(&j);
}

static void test_unwritable(void) {
  char err[256] = "";
  journal_t *j = NULL;
  CHECK_INT(journal_open("/nonexistent-dir/journal", &j, err, sizeof err), -1);
  CHECK(j == NULL);
  CHECK_CONTAINS(err, "/nonexistent-dir/journal");
}

int main(void) {
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(path, sizeof path, "%s/journal", dir);
  test_append_replay_ack();
  test_torn_tail();
  test_crc_corruption();
  test_compaction();
  test_unwritable();
  unlink(path);
  rmdir(dir);
  return check_report("test_journal");
}
