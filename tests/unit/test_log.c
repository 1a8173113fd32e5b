/*
 * test_log.c - log records and rate-limited warnings: a record is one line
 * with its level and function; a limiter writes the first record of an
 * interval at once, holds back the rest, and then writes one line with
 * their count and the last of them (at the next record or at
 * log_limit_tick), so that 10,000 refusals in one interval are two lines.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

static char path[] = "/tmp/clapper-test-log-XXXXXX";
static int saved_stderr = -1;

/* stderr goes to a file from here on; returns the bytes written to it so
 * far (caller frees). */
static void capture(void) {
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  saved_stderr = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  close(fd);
}

static char *captured(void) {
  char *text = util_read_file(path, 1 << 20, NULL);
  CHECK(text != NULL);
  return text ? text : xstrdup("");
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

static void restore(void) {
  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  unlink(path);
}

int main(void) {
  log_init("test", LOG_LVL_INFO);
  CHECK_INT(log_level_parse("warn"), LOG_LVL_WARN);
  CHECK_INT(log_level_parse("loud"), -1);
  capture();

  log_warn("plain %d", 1);
  log_debug("not kept at info");
  char *t = captured();
  CHECK_CONTAINS(t, " test[");
  CHECK_CONTAINS(t, "] warn main: plain 1\n");
  CHECK_INT(count_lines(t), 1);
  free(t);

  /* 10,000 refusals within 10 s: the first at once, the rest held back. */
  log_limit_t l = LOG_LIMIT_INIT("refused worker messages", 10);
  int64_t t0 = 1000000000;
  for (int i = 0; i < 10000; i++)
    log_limited(&l, t0 + i * 100, "on_msg", "from %d: bad %d", 7, i);
  t = captured();
  CHECK_INT(count_lines(t), 2);
  CHECK_CONTAINS(t, "warn on_msg: refused worker messages: from 7: bad 0\n");
  free(t);
  /* Before the interval is over a tick writes nothing; after it, the count. */
  log_limit_tick(t0 + 9 * 1000000);
  t = captured();
  CHECK_INT(count_lines(t), 2);
  free(t);
  log_limit_tick(t0 + 10 * 1000000);
  t = captured();
  CHECK_INT(count_lines(t), 3);
  CHECK_CONTAINS(t, "refused worker messages: 9999 more in the last 10 s, the last: from 7: "
                    "bad 9999\n");
  free(t);
  /* A tick with nothing held back writes nothing; the next record is
   * written at once. */
  log_limit_tick(t0 + 30 * 1000000);
  log_limited(&l, t0 + 31 * 1000000, "on_msg", "again");
  t = captured();
  CHECK_INT(count_lines(t), 4);
  CHECK_CONTAINS(t, "refused worker messages: again\n");
  free(t);
  /* Without a tick, the count comes with the first record after the
   * interval, before it. */
  log_limited(&l, t0 + 32 * 1000000, "on_msg", "held");
  log_limited(&l, t0 + 45 * 1000000, "on_msg", "next");
  t = captured();
  CHECK_INT(count_lines(t), 6);
  CHECK_CONTAINS(t, "refused worker messages: 1 more in the last 14 s, the last: held\n");
  CHECK(strstr(t, "the last: held\n") < strstr(t, "refused worker messages: next\n"));
  free(t);
  /* Two limiters count apart. */
  log_limit_t z = LOG_LIMIT_INIT("refused handshakes", 10);
  log_limited(&z, t0 + 46 * 1000000, "on_zap", "unknown key");
  log_limited(&l, t0 + 46 * 1000000, "on_msg", "held 2");
  t = captured();
  CHECK_INT(count_lines(t), 7);
  CHECK_CONTAINS(t, "refused handshakes: unknown key\n");
  free(t);

  restore();
  return check_report("log");
}
