/*
 * test_outputs.c - confinement and kind checks of declared outputs, on
 * crafted directories: relative and absolute paths inside the output
 * directory, "..", absolute paths elsewhere (/etc/shadow), symbolic links
 * (to a file outside, in the middle of a path, to a file inside), a FIFO
 * (refused without blocking), a directory, a device (/dev/null bound in
 * by a symlink, and the output directory itself), a missing file, the
 * SHA-256 of what was read, and the stop flag.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "outputs.h"

static char work[] = "/tmp/clapper-test-outputs-XXXXXX";
static char dir[1100];

static void put(const char *name, const char *text) {
  char *p = xasprintf("%s/%s", dir, name);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CHECK(fd >= 0);
  if (fd >= 0) {
    CHECK_INT(util_write_all(fd, text, strlen(text)), 0);
    close(fd);
  }
  free(p);
}

/* Checks one declared output; returns the file's record (path freed by
 * the caller through free_one). */
static outputs_file_t one(const char *declared) {
  outputs_file_t f;
  memset(&f, 0, sizeof f);
  f.path = xstrdup(declared);
  int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  CHECK(fd >= 0);
  CHECK_INT(outputs_check(fd, dir, &f, 1, NULL), 0);
  close(fd);
  return f;
}

static void refused(const char *declared, const char *why) {
  outputs_file_t f = one(declared);
  CHECK_STR(f.refused, why);
  CHECK_STR(f.sha256, "");
  if (!f.refused || strcmp(f.refused, why))
    fprintf(stderr, "  for output %s\n", declared);
  free(f.path);
}

static void test_relative(void) {
  const char *why = NULL;
  CHECK_STR(outputs_relative("/o/d", "a/b", &why), "a/b");
  CHECK_STR(outputs_relative("/o/d", "/o/d/a/b", &why), "a/b");
  CHECK_STR(outputs_relative("/o/d/", "/o/d//a", &why), "a");
  CHECK_STR(outputs_relative("/o/d", "/o/d", &why), "");
  CHECK(outputs_relative("/o/d", "/o/dx/a", &why) == NULL);
  CHECK_STR(why, "outside the output directory");
  CHECK(outputs_relative("/o/d", "/etc/shadow", &why) == NULL);
  CHECK(outputs_relative("/o/d", "/o/d/../../x", &why) == NULL);
  CHECK_STR(why, "'..' leaves the output directory");
  CHECK(outputs_relative("/o/d", "a/../b", &why) == NULL);
  CHECK(outputs_relative("/o/d", "..", &why) == NULL);
  CHECK_STR(outputs_relative("/o/d", "a/..b/.c", &why), "a/..b/.c");
  CHECK(outputs_relative("", "a", &why) == NULL);
  CHECK_STR(outputs_relative("/", "/etc/x", &why), "etc/x");
}

static void test_check(void) {
  char *sub = xasprintf("%s/sub", dir), *outside = xasprintf("%s/secret", work);
  CHECK_INT(mkdir(sub, 0755), 0);
  put("take.txt", "hello");
  put("sub/e", "");
  int fd = open(outside, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  CHECK(fd >= 0 && util_write_all(fd, "s3cret", 6) == 0);
  close(fd);
  char *p;
  p = xasprintf("%s/link", dir);
  CHECK_INT(symlink(outside, p), 0);
  free(p);
  p = xasprintf("%s/inner", dir);
  CHECK_INT(symlink("take.txt", p), 0);
  free(p);
  p = xasprintf("%s/up", dir);
  CHECK_INT(symlink(work, p), 0);
  free(p);
  p = xasprintf("%s/dev", dir);
  CHECK_INT(symlink("/dev/zero", p), 0);
  free(p);
  p = xasprintf("%s/fifo", dir);
  CHECK_INT(mkfifo(p, 0644), 0);
  free(p);

  outputs_file_t f = one("take.txt");
  CHECK(f.refused == NULL);
  CHECK_INT(f.present, 1);
  CHECK_INT(f.size, 5);
  CHECK_STR(f.sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  free(f.path);
  char *abs = xasprintf("%s/sub/e", dir);
  f = one(abs);
  CHECK(f.refused == NULL);
  CHECK_STR(f.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  free(f.path);
  free(abs);
  f = one("./sub/./e");
  CHECK(f.refused == NULL && f.present);
  free(f.path);
  f = one("missing");
  CHECK_INT(f.present, 0);
  CHECK_INT(f.err, ENOENT);
  CHECK(f.refused == NULL);
  free(f.path);

  refused("/etc/shadow", "outside the output directory");
  char *dotdot = xasprintf("%s/../secret", dir);
  refused(dotdot, "'..' leaves the output directory");
  free(dotdot);
  refused("link", "a symbolic link (links are not followed)");
  refused("inner", "a symbolic link (links are not followed)");
  refused("up/secret", "a symbolic link in its path (links are not followed)");
  refused("dev", "a symbolic link (links are not followed)");
  refused("fifo", "a FIFO, not a regular file"); /* and the open did not block */
  refused("sub", "a directory, not a regular file");
  refused(".", "a directory, not a regular file");
  refused(dir, "the output directory itself, not a regular file");
  refused("take.txt/x", "a path through something that is not a directory");
  refused("/dev/zero", "outside the output directory");

  /* A device below a directory descriptor: the check is by fstat. */
  outputs_file_t d;
  memset(&d, 0, sizeof d);
  d.path = xstrdup("/dev/zero");
  int devfd = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
  CHECK_INT(outputs_check(devfd, "/dev", &d, 1, NULL), 0);
  CHECK_STR(d.refused, "a device, not a regular file");
  free(d.path);
  close(devfd);

  /* A raised stop flag ends the check at once. */
  atomic_int stop = 1;
  outputs_file_t s;
  memset(&s, 0, sizeof s);
  s.path = xstrdup("take.txt");
  int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  CHECK_INT(outputs_check(dfd, dir, &s, 1, &stop), -1);
  CHECK_STR(s.sha256, "");
  close(dfd);
  free(s.path);
  free(sub);
  free(outside);
}

int main(void) {
  if (!mkdtemp(work)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(dir, sizeof dir, "%s/out", work);
  if (mkdir(dir, 0755) < 0) {
    perror(dir);
    return 1;
  }
  test_relative();
  test_check();
  char *cmd = xasprintf("rm -rf '%s'", work);
  if (system(cmd) != 0)
    fprintf(stderr, "cannot remove %s\n", work);
  free(cmd);
  return check_report("test_outputs");
}
