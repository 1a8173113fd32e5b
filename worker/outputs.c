/*
 * outputs.c - confinement, kind, size and SHA-256 of declared outputs, see
 * outputs.h.
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

int outputs_sha256_fd(int fd, uint64_t st_size, const atomic_int *stop,
                      char hex[OUTPUTS_SHA256_HEX], uint64_t *size) {
  unsigned char *buf = xmalloc(BLOCK);
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  uint64_t total = 0;
  int rc = -1, saved = 0;
  while (total < st_size) {
    if (stop && atomic_load(stop)) {
      saved = EINTR;
      goto out;
    }
    size_t want = st_size - total < BLOCK ? (size_t)(st_size - total) : BLOCK;
    ssize_t n = util_read(fd, buf, want);
    if (n < 0) {
      saved = errno;
      goto out;
    }
    if (n == 0) { /* shorter than fstat said: truncated meanwhile */
      saved = ESTALE;
      goto out;
    }
    crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
    total += (uint64_t)n;
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, digest);
  util_hex(digest, sizeof digest, hex);
  *size = total;
  rc = 0;
out:
  free(buf);
  errno = saved;
  return rc;
}

const char *outputs_relative(const char *output_dir, const char *declared, const char **why) {
  const char *rel = declared;
  if (declared[0] == '/') {
    size_t n = output_dir ? strlen(output_dir) : 0;
    while (n > 1 && output_dir[n - 1] == '/')
      n--;
    if (!n || output_dir[0] != '/' || strncmp(declared, output_dir, n) != 0 ||
        (declared[n] != '/' && declared[n] != '\0' && n > 1)) {
      *why = "outside the output directory";
      return NULL;
    }
    rel = declared + n;
  } else if (!output_dir || !output_dir[0]) {
    *why = "relative, and the task has no output directory";
    return NULL;
  }
  while (*rel == '/')
    rel++;
  for (const char *p = rel; *p;) {
    size_t len = strcspn(p, "/");
    if (len == 2 && p[0] == '.' && p[1] == '.') {
      *why = "'..' leaves the output directory";
      return NULL;
    }
    p += len;
    while (*p == '/')
      p++;
  }
  return rel;
}

/* What a file that is not regular is, for the refusal. */
static const char *kind_of(mode_t m) {
  if (S_ISDIR(m))
    return "a directory, not a regular file";
  if (S_ISFIFO(m))
    return "a FIFO, not a regular file";
  if (S_ISCHR(m) || S_ISBLK(m))
    return "a device, not a regular file";
  if (S_ISSOCK(m))
    return "a socket, not a regular file";
  if (S_ISLNK(m))
    return "a symbolic link (links are not followed)";
  return "not a regular file";
}

/* Opens the file rel names below dirfd without following any link.
 * Returns the descriptor, or -1 with f's fields set. */
static int open_below(int dirfd, const char *rel, outputs_file_t *f) {
  int cur = dirfd;
  char name[4096];
  const char *p = rel;
  int fd = -1;
  if (!*rel) {
    f->present = 1;
    f->refused = "the output directory itself, not a regular file";
    return -1;
  }
  for (;;) {
    size_t len = strcspn(p, "/");
    const char *next = p + len;
    while (*next == '/')
      next++;
    if (len == 1 && p[0] == '.') { /* "." stays where it is */
      if (!*next) {
        f->present = 1;
        f->refused = kind_of(S_IFDIR);
        break;
      }
      p = next;
      continue;
    }
    if (len >= sizeof name) {
      f->err = ENAMETOOLONG;
      break;
    }
    memcpy(name, p, len);
    name[len] = '\0';
    struct stat st;
    if (fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      f->err = errno;
      break;
    }
    f->present = 1;
    if (S_ISLNK(st.st_mode)) {
      f->refused =
          *next ? "a symbolic link in its path (links are not followed)" : kind_of(st.st_mode);
      break;
    }
    if (*next) {
      if (!S_ISDIR(st.st_mode)) {
        f->refused = "a path through something that is not a directory";
        break;
      }
      int d = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (d < 0) {
        f->err = errno;
        break;
      }
      if (cur != dirfd)
        close(cur);
      cur = d;
      p = next;
      continue;
    }
    /* The file: whatever it became since fstatat, O_NOFOLLOW keeps links
     * out, O_NONBLOCK keeps a FIFO from blocking, fstat decides. */
    fd = openat(cur, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ELOOP)
        f->refused = kind_of(S_IFLNK);
      else if (errno == ENXIO)
        f->refused = kind_of(S_IFSOCK);
      else
        f->err = errno;
    }
    break;
  }
  if (cur != dirfd)
    close(cur);
  return fd;
}

int outputs_check(int dirfd, const char *output_dir, outputs_file_t *files, size_t n,
                  const atomic_int *stop) {
  for (size_t i = 0; i < n; i++) {
    outputs_file_t *f = &files[i];
    f->present = 0;
    f->size = 0;
    f->sha256[0] = '\0';
    f->err = 0;
    f->refused = NULL;
    if (stop && atomic_load(stop))
      return -1;
    const char *rel = outputs_relative(output_dir, f->path, &f->refused);
    if (!rel)
      continue;
    if (dirfd < 0) {
      f->err = EBADF;
      continue;
    }
    int fd = open_below(dirfd, rel, f);
    if (fd < 0)
      continue;
    struct stat st;
    if (fstat(fd, &st) < 0) {
      f->err = errno;
    } else if (!S_ISREG(st.st_mode)) {
      f->refused = kind_of(st.st_mode);
    } else if (outputs_sha256_fd(fd, (uint64_t)st.st_size, stop, f->sha256, &f->size) < 0) {
      int e = errno;
      f->sha256[0] = '\0';
      f->size = 0;
      if (e == EINTR) {
        close(fd);
        return -1;
      }
      if (e == ESTALE)
        f->refused = "changed while it was read";
      else
        f->err = e;
    }
    close(fd);
  }
  return 0;
}
