/*
 * util.c - allocation, string buffers, error messages, clocks, identifiers,
 * files.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n) {
  fprintf(stderr, "clapper: out of memory allocating %zu bytes\n", n);
  abort();
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p)
    oom(n);
  return p;
}

void *xcalloc(size_t nmemb, size_t size) {
  void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
  if (!p)
    oom(nmemb * size);
  return p;
}

void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q)
    oom(n);
  return q;
}

void *xreallocarray(void *p, size_t nmemb, size_t size) {
  if (size && nmemb > SIZE_MAX / size)
    oom(SIZE_MAX);
  return xrealloc(p, nmemb * size);
}

void *util_grow(void *p, size_t need, size_t *cap, size_t size) {
  size_t n = *cap ? *cap : 4;
  do
    n = n <= SIZE_MAX / 2 ? n * 2 : SIZE_MAX;
  while (n < need);
  p = xreallocarray(p, n, size); /* aborts when n * size overflows */
  *cap = n;
  return p;
}

char *xstrdup(const char *s) {
  size_t n = strlen(s);
  char *p = xmalloc(n + 1);
  memcpy(p, s, n + 1);
  return p;
}

char *xstrndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *p = xmalloc(len + 1);
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

char *xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *out = NULL;
  int n = vasprintf(&out, fmt, ap);
  va_end(ap);
  if (n < 0)
    oom(0);
  return out;
}

void util_strv_free(char ***v, size_t *n) {
  for (size_t i = 0; i < *n; i++)
    free((*v)[i]);
  free(*v);
  *v = NULL;
  *n = 0;
}

int util_fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

int util_vfail_line(char *err, size_t errlen, const char *fmt, va_list ap) {
  if (err && errlen) {
    vsnprintf(err, errlen, fmt, ap);
    for (char *p = err; *p; p++)
      if ((unsigned char)*p < 0x20 || *p == 0x7f)
        *p = ' ';
  }
  return -1;
}

int util_fail_line(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  util_vfail_line(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

void sbuf_reserve(sbuf_t *sb, size_t extra) {
  if (sb->len + extra + 1 > sb->cap) /* + 1: the terminating NUL */
    sb->buf = util_grow(sb->buf, sb->len + extra + 1, &sb->cap, 1);
}

void sbuf_append(sbuf_t *sb, const char *data, size_t len) {
  sbuf_reserve(sb, len);
  memcpy(sb->buf + sb->len, data, len);
  sb->len += len;
  sb->buf[sb->len] = '\0';
}

void sbuf_puts(sbuf_t *sb, const char *s) { sbuf_append(sb, s, strlen(s)); }

void sbuf_putc(sbuf_t *sb, char c) {
  sbuf_reserve(sb, 1);
  sb->buf[sb->len++] = c;
  sb->buf[sb->len] = '\0';
}

void sbuf_printf(sbuf_t *sb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list ap2;
  va_copy(ap2, ap);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    va_end(ap2);
    return;
  }
  if ((size_t)n < sizeof small) {
    sbuf_append(sb, small, (size_t)n);
  } else {
    sbuf_reserve(sb, (size_t)n);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap2);
    sb->len += (size_t)n;
  }
  va_end(ap2);
}

void sbuf_reset(sbuf_t *sb) {
  sb->len = 0;
  if (sb->buf)
    sb->buf[0] = '\0';
}

char *sbuf_steal(sbuf_t *sb) {
  char *p = sb->buf ? sb->buf : xstrdup("");
  sb->buf = NULL;
  sb->len = sb->cap = 0;
  return p;
}

void sbuf_free(sbuf_t *sb) {
  free(sb->buf);
  sb->buf = NULL;
  sb->len = sb->cap = 0;
}

int64_t util_wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t util_mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void util_iso8601(int64_t us, char *out, size_t outlen) {
  time_t sec = (time_t)(us / 1000000);
  long frac = (long)(us % 1000000);
  if (frac < 0) {
    frac += 1000000;
    sec -= 1;
  }
  struct tm tm;
  gmtime_r(&sec, &tm);
  snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

bool ident_valid(const char *s) {
  if (!s || !*s)
    return false;
  size_t n = 0;
  for (const char *p = s; *p; p++, n++) {
    char c = *p;
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (n == 0 ? !alnum : !(alnum || c == '_' || c == '.' || c == '-'))
      return false;
  }
  return n <= IDENT_MAX;
}

char *util_ident_from(const char *s) {
  if (!s)
    return NULL;
  sbuf_t sb = {0};
  for (const char *p = s; *p && sb.len < IDENT_MAX; p++) {
    char c = *p;
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (sb.len == 0 && !alnum)
      continue;
    sbuf_putc(&sb, alnum || c == '_' || c == '.' || c == '-' ? c : '-');
  }
  if (sb.len == 0) {
    sbuf_free(&sb);
    return NULL;
  }
  return sbuf_steal(&sb);
}

char *util_read_fd(int fd, size_t max, size_t *len) {
  sbuf_t sb = {0};
  char chunk[65536];
  for (;;) {
    ssize_t n = util_read(fd, chunk, sizeof chunk);
    if (n < 0)
      goto fail;
    if (n == 0)
      break;
    if (sb.len + (size_t)n > max) {
      errno = EFBIG;
      goto fail;
    }
    sbuf_append(&sb, chunk, (size_t)n);
  }
  if (len)
    *len = sb.len;
  return sbuf_steal(&sb);
fail: {
  int saved = errno;
  sbuf_free(&sb);
  errno = saved;
  return NULL;
}
}

char *util_read_file(const char *path, size_t max, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  char *text = util_read_fd(fd, max, len);
  int saved = errno;
  close(fd);
  errno = saved;
  return text;
}

char *util_exe_dir(void) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0)
    return NULL;
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (!slash) {
    errno = ENOENT;
    return NULL;
  }
  *slash = '\0';
  return xstrdup(self);
}

int util_mkdir_p(const char *dir, unsigned mode) {
  char *p = xstrdup(dir);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/')
      continue;
    *s = '\0';
    if (mkdir(p, mode) < 0 && errno != EEXIST) {
      int saved = errno;
      free(p);
      errno = saved;
      return -1;
    }
    *s = '/';
  }
  int rc = mkdir(p, mode);
  int saved = errno;
  /* Something already there must be a directory (or lead to one). */
  struct stat st;
  if (rc < 0 && saved == EEXIST && stat(p, &st) == 0 && !S_ISDIR(st.st_mode))
    saved = ENOTDIR;
  free(p);
  if (rc < 0 && saved != EEXIST) {
    errno = saved;
    return -1;
  }
  return 0;
}

ssize_t util_read(int fd, void *buf, size_t len) {
  ssize_t n;
  do
    n = read(fd, buf, len);
  while (n < 0 && errno == EINTR);
  return n;
}

int util_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int util_write_atomic(const char *path, const void *data, size_t len, unsigned mode, char *err,
                      size_t errlen) {
  char *tmp = xasprintf("%s.tmp", path);
  const char *failed = tmp;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
  if (fd < 0)
    goto fail;
  if (util_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
    int saved = errno;
    close(fd);
    unlink(tmp);
    errno = saved;
    goto fail;
  }
  if (close(fd) < 0 || rename(tmp, path) < 0) {
    int saved = errno;
    failed = path;
    unlink(tmp);
    errno = saved;
    goto fail;
  }
  free(tmp);
  return 0;
fail: {
  int saved = errno;
  util_fail(err, errlen, "cannot write %s: %s", failed, strerror(saved));
  free(tmp);
  errno = saved;
  return -1;
}
}

int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  if (!s || *s < '0' || *s > '9')
    return -1;
  uint64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9')
      return -1;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  if (v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

void util_hex(const unsigned char *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

bool util_all_digits(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return false;
  return true;
}
