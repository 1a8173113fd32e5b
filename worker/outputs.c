/*
 * outputs.c - existence, size and SHA-256 of declared outputs, see outputs.h.
 */
#include "outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK (1u << 20)

int outputs_sha256_file(const char *path, char hex[OUTPUTS_SHA256_HEX], uint64_t *size) {
  unsigned char *buf = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    goto fail;
  buf = xmalloc(BLOCK);
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = util_read(fd, buf, BLOCK);
    if (n < 0)
      goto fail;
    if (n == 0)
      break;
    crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
    total += (uint64_t)n;
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, digest);
  util_hex(digest, sizeof digest, hex);
  *size = total;
  free(buf);
  close(fd);
  return 0;
fail: {
  int saved = errno;
  free(buf);
  if (fd >= 0)
    close(fd);
  errno = saved;
  return -1;
}
}

void outputs_check(outputs_file_t *files, size_t n) {
  for (size_t i = 0; i < n; i++) {
    outputs_file_t *f = &files[i];
    struct stat stt;
    f->present = 0;
    f->size = 0;
    f->sha256[0] = '\0';
    f->err = 0;
    if (stat(f->path, &stt) < 0) {
      f->err = errno;
      continue;
    }
    f->present = 1;
    f->size = (uint64_t)stt.st_size;
    if (!S_ISREG(stt.st_mode))
      continue;
    uint64_t size;
    if (outputs_sha256_file(f->path, f->sha256, &size) < 0) {
      f->err = errno;
      f->sha256[0] = '\0';
      continue;
    }
    f->size = size; /* what was hashed, should the file still be growing */
  }
}

char *outputs_resolve(const char *dir, const char *path) {
  if (path[0] == '/' || !dir || !dir[0])
    return xstrdup(path);
  size_t n = strlen(dir);
  return xasprintf("%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", path);
}
