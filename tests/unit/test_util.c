/*
 * test_util.c - the small helpers: identifier rules at their boundaries,
 * identifiers made from login and host names, bounded unsigned parsing,
 * whole-file and whole-descriptor reads with a limit, atomic file
 * replacement, error messages into a caller's buffer, the executable's
 * directory, mkdir -p, the growable string buffer, growable arrays
 * (util_grow, ARRAY_PUSH, ARRAY_RESERVE), ISO 8601 timestamps (also
 * before 1970), hex and the allocation helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "util.h"

static char dir[] = "/tmp/clapper-test-util-XXXXXX";

static void test_ident(void) {
  char s[IDENT_MAX + 2];
  memset(s, 'a', IDENT_MAX);
  s[IDENT_MAX] = '\0';
  CHECK(ident_valid(s)); /* 64 characters */
  s[IDENT_MAX] = 'a';
  s[IDENT_MAX + 1] = '\0';
  CHECK(!ident_valid(s)); /* 65 */
  s[IDENT_MAX - 1] = '\0';
  CHECK(ident_valid(s)); /* 63 */

  CHECK(!ident_valid(NULL));
  CHECK(!ident_valid(""));
  CHECK(ident_valid("a"));
  CHECK(ident_valid("0"));
  CHECK(ident_valid("sh0420"));
  CHECK(ident_valid("s02e03"));
  CHECK(ident_valid("a_b.c-d"));
  CHECK(ident_valid("9lives"));
  CHECK(ident_valid("a-"));
  /* The first character must be a letter (either case) or a digit. */
  CHECK(!ident_valid("_a"));
  CHECK(!ident_valid(".a"));
  CHECK(!ident_valid("-a"));
  CHECK(!ident_valid(".."));
  /* Capitals are kept (SH010), but no spaces, slashes or other
   * punctuation anywhere. */
  CHECK(ident_valid("A"));
  CHECK(ident_valid("aB"));
  CHECK(ident_valid("SH010"));
  CHECK(ident_valid("HOD_v2.Final-1"));
  CHECK(!ident_valid("_A"));
  CHECK(!ident_valid("SH010!"));
  CHECK(!ident_valid("sh0420 "));
  CHECK(!ident_valid("a b"));
  CHECK(!ident_valid("a/b"));
  CHECK(!ident_valid("a:b"));
  CHECK(!ident_valid("a+b"));
  CHECK(!ident_valid("caf\xc3\xa9"));
  CHECK(!ident_valid("a\tb"));
}

/* Checks that util_ident_from(in) is want (NULL: nothing usable) and that
 * whatever it returns is a valid identifier. */
static void check_ident_from(const char *in, const char *want) {
  char *got = util_ident_from(in);
  if (want) {
    CHECK_STR(got, want);
    CHECK(ident_valid(got));
  } else {
    CHECK(got == NULL);
  }
  free(got);
}

static void test_ident_from(void) {
  check_ident_from("alice", "alice");
  check_ident_from("sh0420", "sh0420");
  check_ident_from("a_b.c-d", "a_b.c-d");
  /* Uppercase is lowercased. */
  check_ident_from("Alice", "alice");
  check_ident_from("RENDER-01.Farm.Example.COM", "render-01.farm.example.com");
  /* Characters an identifier may not hold become '-', every byte of a
   * multi-byte UTF-8 character included. */
  check_ident_from("john doe", "john-doe");
  check_ident_from("a/b:c+d", "a-b-c-d");
  check_ident_from("caf\xc3\xa9", "caf--");
  check_ident_from("a\tb", "a-b");
  check_ident_from("a-", "a-");
  /* Leading characters up to the first letter or digit are dropped. */
  check_ident_from("_svc", "svc");
  check_ident_from("..-x", "x");
  check_ident_from(" \xc3\xa9t\xc3\xa9", "t--");
  check_ident_from("-9lives", "9lives");
  /* Nothing usable. */
  check_ident_from(NULL, NULL);
  check_ident_from("", NULL);
  check_ident_from("_", NULL);
  check_ident_from("._- ", NULL);
  check_ident_from("\xc3\xa9", NULL);
  /* Cut to IDENT_MAX bytes, counted after the dropped leading ones. */
  char s[IDENT_MAX + 8];
  memset(s, 'A', sizeof s - 1);
  s[sizeof s - 1] = '\0';
  char want[IDENT_MAX + 1];
  memset(want, 'a', IDENT_MAX);
  want[IDENT_MAX] = '\0';
  check_ident_from(s, want);
  s[0] = s[1] = '_';
  check_ident_from(s, want);
  s[IDENT_MAX + 1] = '\0'; /* 2 dropped + 63 letters */
  want[IDENT_MAX - 1] = '\0';
  check_ident_from(s, want);
}

static void test_parse_u64(void) {
  uint64_t v = 7;
  CHECK_INT(util_parse_u64("0", 0, 10, &v), 0);
  CHECK_INT(v, 0);
  CHECK_INT(util_parse_u64("42", 0, UINT64_MAX, &v), 0);
  CHECK_INT(v, 42);
  CHECK_INT(util_parse_u64("007", 0, 10, &v), 0);
  CHECK_INT(v, 7);
  CHECK_INT(util_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
  CHECK(v == UINT64_MAX);
  CHECK_INT(util_parse_u64("1844674407370955161", 0, UINT64_MAX, &v), 0);
  CHECK(v == 1844674407370955161ull);

  /* Refusals leave *out alone. */
  v = 99;
  CHECK_INT(util_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -1);
  CHECK_INT(util_parse_u64("18446744073709551620", 0, UINT64_MAX, &v), -1);
  CHECK_INT(util_parse_u64("99999999999999999999", 0, UINT64_MAX, &v), -1);
  CHECK_INT(util_parse_u64("184467440737095516150", 0, UINT64_MAX, &v), -1);
  CHECK_INT(util_parse_u64("", 0, 10, &v), -1);
  CHECK_INT(util_parse_u64(NULL, 0, 10, &v), -1);
  CHECK_INT(util_parse_u64("-1", 0, 10, &v), -1);
  CHECK_INT(util_parse_u64("+1", 0, 10, &v), -1);
  CHECK_INT(util_parse_u64(" 1", 0, 10, &v), -1);
  CHECK_INT(util_parse_u64("1 ", 0, 10, &v), -1);
  CHECK_INT(util_parse_u64("1x", 0, 10, &v), -1);
  CHECK_INT(util_parse_u64("0x10", 0, 100, &v), -1);
  CHECK_INT(util_parse_u64("1.5", 0, 10, &v), -1);
  CHECK_INT(v, 99);

  /* Range, inclusive at both ends. */
  CHECK_INT(util_parse_u64("5", 5, 10, &v), 0);
  CHECK_INT(v, 5);
  CHECK_INT(util_parse_u64("10", 5, 10, &v), 0);
  CHECK_INT(v, 10);
  v = 99;
  CHECK_INT(util_parse_u64("4", 5, 10, &v), -1);
  CHECK_INT(util_parse_u64("11", 5, 10, &v), -1);
  CHECK_INT(util_parse_u64("0", 1, 10, &v), -1);
  CHECK_INT(v, 99);
}

static void write_file(const char *path, const char *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  if (fd < 0)
    return;
  CHECK_INT(util_write_all(fd, data, len), 0);
  close(fd);
}

static void test_read_file(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/f", dir);

  /* Larger than one read chunk, with a NUL inside. */
  size_t big = 200000;
  char *data = xmalloc(big);
  for (size_t i = 0; i < big; i++)
    data[i] = (char)('a' + i % 26);
  data[1000] = '\0';
  write_file(path, data, big);

  size_t len = 0;
  char *got = util_read_file(path, big, &len); /* exactly the limit */
  CHECK(got != NULL);
  CHECK_INT(len, big);
  CHECK(got && memcmp(got, data, big) == 0);
  CHECK(got && got[big] == '\0');
  free(got);

  len = 12345;
  errno = 0;
  CHECK(util_read_file(path, big - 1, &len) == NULL);
  CHECK_INT(errno, EFBIG);
  CHECK_INT(len, 12345); /* untouched on failure */
  errno = 0;
  CHECK(util_read_file(path, 10, NULL) == NULL);
  CHECK_INT(errno, EFBIG);
  free(data);

  /* An empty file is an empty string, not NULL. */
  write_file(path, "", 0);
  got = util_read_file(path, 0, &len);
  CHECK(got != NULL);
  CHECK_INT(len, 0);
  CHECK_STR(got, "");
  free(got);

  write_file(path, "abc", 3);
  got = util_read_file(path, 3, NULL);
  CHECK_STR(got, "abc");
  free(got);
  errno = 0;
  CHECK(util_read_file(path, 2, &len) == NULL);
  CHECK_INT(errno, EFBIG);

  char missing[256];
  snprintf(missing, sizeof missing, "%s/no-such-file", dir);
  errno = 0;
  CHECK(util_read_file(missing, 100, &len) == NULL);
  CHECK_INT(errno, ENOENT);
  unlink(path);
}

/* Fills a pipe from a child process so that the reader sees many short
 * reads; returns the read end (the child exits after writing n bytes). */
static int pipe_from_child(const char *data, size_t n, pid_t *child) {
  int p[2];
  CHECK_INT(pipe(p), 0);
  *child = fork();
  CHECK(*child >= 0);
  if (*child == 0) {
    close(p[0]);
    _exit(util_write_all(p[1], data, n) == 0 ? 0 : 1);
  }
  close(p[1]);
  return p[0];
}

static void reap(pid_t child) {
  int st = 0;
  CHECK_INT(waitpid(child, &st, 0), child);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_read_fd(void) {
  /* Several pipe buffers' worth, exactly max bytes, with a NUL inside. */
  size_t big = 300000;
  char *data = xmalloc(big);
  for (size_t i = 0; i < big; i++)
    data[i] = (char)('A' + i % 26);
  data[70000] = '\0';
  pid_t child;
  int fd = pipe_from_child(data, big, &child);
  size_t len = 0;
  char *got = util_read_fd(fd, big, &len);
  CHECK(got != NULL);
  CHECK_INT(len, big);
  CHECK(got && memcmp(got, data, big) == 0);
  CHECK(got && got[big] == '\0');
  free(got);
  reap(child);
  CHECK(fcntl(fd, F_GETFD) >= 0); /* not closed */
  got = util_read_fd(fd, 0, NULL); /* at its end: an empty string */
  CHECK_STR(got, "");
  free(got);
  close(fd);

  /* More than max bytes: EFBIG, len untouched, fd still open. */
  int p[2];
  CHECK_INT(pipe(p), 0);
  CHECK_INT(util_write_all(p[1], "0123456789", 10), 0);
  close(p[1]);
  len = 777;
  errno = 0;
  CHECK(util_read_fd(p[0], 9, &len) == NULL);
  CHECK_INT(errno, EFBIG);
  CHECK_INT(len, 777);
  CHECK(fcntl(p[0], F_GETFD) >= 0);
  close(p[0]);

  /* The same through a child, the excess spread over many reads. */
  fd = pipe_from_child(data, big, &child);
  errno = 0;
  CHECK(util_read_fd(fd, big - 1, &len) == NULL);
  CHECK_INT(errno, EFBIG);
  close(fd); /* the child may still be writing: SIGPIPE ends it */
  int st = 0;
  CHECK_INT(waitpid(child, &st, 0), child);
  free(data);

  /* A bad descriptor. */
  errno = 0;
  CHECK(util_read_fd(-1, 10, &len) == NULL);
  CHECK_INT(errno, EBADF);
}

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_write_atomic(void) {
  char path[256], tmp[300], err[512];
  snprintf(path, sizeof path, "%s/atomic", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);

  CHECK_INT(util_write_atomic(path, "first\n", 6, 0600, err, sizeof err), 0);
  size_t len = 0;
  char *got = util_read_file(path, 100, &len);
  CHECK_STR(got, "first\n");
  free(got);
  struct stat st;
  CHECK_INT(stat(path, &st), 0);
  CHECK_INT(st.st_mode & 0777, 0600);
  CHECK(access(tmp, F_OK) < 0); /* renamed away */

  /* Replaces the whole file, also with a shorter text; NUL bytes kept. */
  CHECK_INT(util_write_atomic(path, "a\0b", 3, 0600, NULL, 0), 0);
  got = util_read_file(path, 100, &len);
  CHECK_INT(len, 3);
  CHECK(got && memcmp(got, "a\0b", 3) == 0);
  free(got);
  unlink(path);

  /* The temporary file cannot be created: its name in the message. */
  char missing[256];
  snprintf(missing, sizeof missing, "%s/no-such-dir/f", dir);
  err[0] = '\0';
  errno = 0;
  CHECK_INT(util_write_atomic(missing, "x", 1, 0644, err, sizeof err), -1);
  CHECK_INT(errno, ENOENT);
  CHECK_CONTAINS(err, "cannot write ");
  CHECK_CONTAINS(err, "/no-such-dir/f.tmp: ");

  /* The rename fails (a directory is in the way): the target named, the
   * temporary file removed, errno kept; no message without err. */
  CHECK_INT(mkdir(path, 0700), 0);
  err[0] = '\0';
  errno = 0;
  CHECK_INT(util_write_atomic(path, "x", 1, 0644, err, sizeof err), -1);
  CHECK_INT(errno, EISDIR);
  CHECK_CONTAINS(err, "/atomic: ");
  CHECK(strstr(err, ".tmp") == NULL);
  CHECK(access(tmp, F_OK) < 0);
  errno = 0;
  CHECK_INT(util_write_atomic(path, "x", 1, 0644, NULL, 0), -1);
  CHECK_INT(errno, EISDIR);
  CHECK(is_dir(path));
  rmdir(path);
}

static void test_exe_dir(void) {
  char *d = util_exe_dir();
  CHECK(d != NULL && d[0] == '/');
  if (!d)
    return;
  char *self = xasprintf("%s/test_util", d); /* this program */
  CHECK_INT(access(self, X_OK), 0);
  CHECK(is_dir(d));
  free(self);
  free(d);
}

static void test_fail(void) {
  char err[16] = "untouched";
  CHECK_INT(util_fail(err, sizeof err, "code %d: %s", 42, "no"), -1);
  CHECK_STR(err, "code 42: no");
  CHECK_INT(util_fail(err, sizeof err, "%s", "a message longer than the buffer"), -1);
  CHECK_STR(err, "a message longe"); /* cut to errlen - 1 bytes */
  CHECK_INT(util_fail(NULL, 0, "ignored %d", 1), -1);
  strcpy(err, "kept");
  CHECK_INT(util_fail(err, 0, "ignored"), -1);
  CHECK_STR(err, "kept");

  /* util_fail_line: control characters (user text) become spaces. */
  CHECK_INT(util_fail_line(err, sizeof err, "bad '%s'", "a\nb\tc\x7f"), -1);
  CHECK_STR(err, "bad 'a b c '");
  CHECK_INT(util_fail_line(NULL, 0, "ignored %s", "x"), -1);
  strcpy(err, "kept");
  CHECK_INT(util_fail_line(err, 0, "ignored"), -1);
  CHECK_STR(err, "kept");
}

static void test_mkdir_p(void) {
  char path[256], p2[256];
  snprintf(path, sizeof path, "%s/a/b/c/d", dir);
  CHECK_INT(util_mkdir_p(path, 0700), 0);
  CHECK(is_dir(path));
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
  /* Existing: fine, again and again. */
  CHECK_INT(util_mkdir_p(path, 0700), 0);
  snprintf(p2, sizeof p2, "%s/a/b", dir);
  CHECK_INT(util_mkdir_p(p2, 0700), 0);
  CHECK_INT(util_mkdir_p(dir, 0700), 0);
  /* Trailing and doubled slashes. */
  snprintf(p2, sizeof p2, "%s/a/x//y/", dir);
  CHECK_INT(util_mkdir_p(p2, 0755), 0);
  snprintf(p2, sizeof p2, "%s/a/x/y", dir);
  CHECK(is_dir(p2));

  /* A file in the way is an error, at the end or in the middle. */
  char file[256];
  snprintf(file, sizeof file, "%s/plain", dir);
  write_file(file, "x", 1);
  errno = 0;
  CHECK_INT(util_mkdir_p(file, 0700), -1);
  CHECK_INT(errno, ENOTDIR);
  snprintf(p2, sizeof p2, "%s/plain/sub", dir);
  errno = 0;
  CHECK_INT(util_mkdir_p(p2, 0700), -1);
  CHECK_INT(errno, ENOTDIR);
  CHECK(!is_dir(p2));
  unlink(file);
}

static void test_sbuf(void) {
  sbuf_t sb = {0};
  /* Reset and steal of a never-used buffer. */
  sbuf_reset(&sb);
  CHECK(sb.buf == NULL && sb.len == 0);
  char *p = sbuf_steal(&sb);
  CHECK_STR(p, "");
  free(p);

  /* Growth past several doublings keeps content and the terminator. */
  for (int i = 0; i < 10000; i++)
    sbuf_putc(&sb, (char)('0' + i % 10));
  CHECK_INT(sb.len, 10000);
  CHECK(sb.cap > sb.len);
  CHECK(sb.buf[9999] == '9' && sb.buf[10000] == '\0');
  CHECK(sb.buf[1234] == '4');
  sbuf_free(&sb);
  CHECK(sb.buf == NULL && sb.len == 0 && sb.cap == 0);

  sbuf_puts(&sb, "hello");
  sbuf_append(&sb, ", world", 7);
  sbuf_append(&sb, "", 0);
  CHECK_STR(sb.buf, "hello, world");
  CHECK_INT(sb.len, 12);
  sbuf_append(&sb, "a\0b", 3); /* binary-safe */
  CHECK_INT(sb.len, 15);
  CHECK(memcmp(sb.buf + 12, "a\0b", 4) == 0);

  /* printf: short, exactly at the internal 256-byte boundary, and long. */
  sbuf_reset(&sb);
  CHECK_INT(sb.len, 0);
  CHECK_STR(sb.buf, "");
  sbuf_printf(&sb, "%d-%s", 42, "x");
  CHECK_STR(sb.buf, "42-x");
  for (size_t n = 250; n <= 260; n++) {
    char *s = xmalloc(n + 1);
    memset(s, 'q', n);
    s[n] = '\0';
    sbuf_reset(&sb);
    sbuf_puts(&sb, "<");
    sbuf_printf(&sb, "%s", s);
    sbuf_putc(&sb, '>');
    CHECK_INT(sb.len, n + 2);
    CHECK(sb.buf[0] == '<' && sb.buf[n + 1] == '>' && sb.buf[n + 2] == '\0');
    CHECK(memcmp(sb.buf + 1, s, n) == 0);
    free(s);
  }
  size_t big = 100000;
  char *s = xmalloc(big + 1);
  for (size_t i = 0; i < big; i++)
    s[i] = (char)('a' + i % 26);
  s[big] = '\0';
  sbuf_reset(&sb);
  sbuf_puts(&sb, "head:");
  sbuf_printf(&sb, "[%s|%zu]", s, big);
  char tail[64];
  snprintf(tail, sizeof tail, "|%zu]", big);
  CHECK_INT(sb.len, 5 + 1 + big + strlen(tail));
  CHECK(memcmp(sb.buf, "head:[", 6) == 0);
  CHECK(memcmp(sb.buf + 6, s, big) == 0);
  CHECK_STR(sb.buf + 6 + big, tail);
  free(s);

  /* Steal hands over the buffer and leaves an empty, reusable sbuf. */
  char *stolen = sbuf_steal(&sb);
  CHECK(memcmp(stolen, "head:[abc", 9) == 0);
  CHECK(sb.buf == NULL && sb.len == 0 && sb.cap == 0);
  free(stolen);
  sbuf_printf(&sb, "%s", "again");
  CHECK_STR(sb.buf, "again");
  stolen = sbuf_steal(&sb);
  CHECK_STR(stolen, "again");
  free(stolen);
  sbuf_free(&sb);
}

/* Growable arrays: the capacity starts at 8 and doubles, never changes
 * while there is room, jumps far enough for a large reserve, and every
 * element survives each move. */
static void test_grow(void) {
  int *v = NULL;
  size_t n = 0, cap = 0, grew = 0;
  bool doubled = true, fits = true;
  for (int i = 0; i < 1000; i++) {
    size_t before = cap;
    ARRAY_PUSH(v, n, cap, 3 * i);
    if (cap != before) {
      grew++;
      doubled = doubled && cap == (before ? 2 * before : 8);
    }
    fits = fits && n <= cap;
  }
  CHECK(doubled);
  CHECK(fits);
  CHECK_INT(n, 1000);
  CHECK_INT(cap, 1024);
  CHECK_INT(grew, 8); /* 8, 16, ..., 1024 */
  bool kept = true;
  for (size_t i = 0; i < n; i++)
    kept = kept && v[i] == 3 * (int)i;
  CHECK(kept);

  /* Room for 24 more is there already: nothing moves. */
  int *same = v;
  ARRAY_RESERVE(v, n, cap, 24);
  CHECK(v == same);
  CHECK_INT(cap, 1024);
  /* 5000 more: doubled until it fits, in one step. */
  ARRAY_RESERVE(v, n, cap, 5000);
  CHECK_INT(cap, 8192);
  CHECK_INT(n, 1000);
  kept = true;
  for (size_t i = 0; i < n; i++)
    kept = kept && v[i] == 3 * (int)i;
  CHECK(kept);
  free(v);

  /* util_grow itself, with elements of another size and an odd capacity. */
  size_t c = 0;
  char *p = util_grow(NULL, 1, &c, 1);
  CHECK_INT(c, 8);
  p = util_grow(p, 9, &c, 1);
  CHECK_INT(c, 16);
  p = util_grow(p, 100, &c, 1);
  CHECK_INT(c, 128);
  free(p);
  typedef struct {
    uint64_t id;
    char name[24];
  } item_t;
  item_t *items = NULL;
  size_t nitems = 0;
  c = 10;
  items = util_grow(NULL, 11, &c, sizeof *items);
  CHECK_INT(c, 20);
  for (int i = 0; i < 20; i++) {
    item_t it = {.id = (uint64_t)i};
    snprintf(it.name, sizeof it.name, "item-%d", i);
    ARRAY_PUSH(items, nitems, c, it);
  }
  CHECK_INT(c, 20);
  ARRAY_PUSH(items, nitems, c, ((item_t){.id = 20, .name = "last"}));
  CHECK_INT(c, 40);
  CHECK_INT(nitems, 21);
  CHECK_INT(items[7].id, 7);
  CHECK_STR(items[19].name, "item-19");
  CHECK_STR(items[20].name, "last");
  free(items);

  /* util_strv_free empties an array of owned strings. */
  char **strv = NULL;
  size_t nstrv = 0, capstrv = 0;
  ARRAY_PUSH(strv, nstrv, capstrv, xstrdup("a"));
  ARRAY_PUSH(strv, nstrv, capstrv, xstrdup("b"));
  util_strv_free(&strv, &nstrv);
  CHECK(strv == NULL);
  CHECK_INT(nstrv, 0);
  util_strv_free(&strv, &nstrv); /* an empty one too */
}

static void test_iso8601(void) {
  char out[40];
  util_iso8601(0, out, sizeof out);
  CHECK_STR(out, "1970-01-01T00:00:00.000000Z");
  util_iso8601(1700000000123456LL, out, sizeof out);
  CHECK_STR(out, "2023-11-14T22:13:20.123456Z");
  util_iso8601(951782400000001LL, out, sizeof out); /* leap day 2000 */
  CHECK_STR(out, "2000-02-29T00:00:00.000001Z");
  util_iso8601(-1, out, sizeof out);
  CHECK_STR(out, "1969-12-31T23:59:59.999999Z");
  util_iso8601(-1000000, out, sizeof out);
  CHECK_STR(out, "1969-12-31T23:59:59.000000Z");
  util_iso8601(-1500000, out, sizeof out);
  CHECK_STR(out, "1969-12-31T23:59:58.500000Z");
  /* A short buffer truncates and stays terminated. */
  char small[11];
  util_iso8601(0, small, sizeof small);
  CHECK_STR(small, "1970-01-01");

  int64_t w = util_wall_us();
  CHECK(w > 1600000000000000LL);
  uint64_t m1 = util_mono_us(), m2 = util_mono_us();
  CHECK(m2 >= m1);
}

static void test_hex_and_alloc(void) {
  const unsigned char in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff, 0x10};
  char out[2 * sizeof in + 1];
  memset(out, 'z', sizeof out);
  util_hex(in, sizeof in, out);
  CHECK_STR(out, "00017f80abff10");
  util_hex(in, 0, out);
  CHECK_STR(out, "");

  char *d = xstrndup("abcdef", 3);
  CHECK_STR(d, "abc");
  free(d);
  d = xstrndup("ab", 10);
  CHECK_STR(d, "ab");
  free(d);
  d = xasprintf("%s=%d", "n", -5);
  CHECK_STR(d, "n=-5");
  free(d);
  int *a = xcalloc(4, sizeof *a);
  CHECK(a[0] == 0 && a[3] == 0);
  a = xreallocarray(a, 1000, sizeof *a);
  a[999] = 1;
  free(a);
  void *z = xmalloc(0); /* never NULL */
  CHECK(z != NULL);
  free(z);
}

int main(void) {
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_ident();
  test_ident_from();
  test_parse_u64();
  test_read_file();
  test_read_fd();
  test_write_atomic();
  test_fail();
  test_exe_dir();
  test_mkdir_p();
  test_sbuf();
  test_grow();
  test_iso8601();
  test_hex_and_alloc();
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK_INT(system(cmd), 0);
  return check_report("util");
}
