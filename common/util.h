/*
 * util.h - small helpers every clapper program uses: allocation that never
 * returns NULL, a growable string buffer, error messages, clocks,
 * identifier checks and file helpers.
 */
#ifndef CLAPPER_UTIL_H
#define CLAPPER_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MUSTCHECK __attribute__((warn_unused_result))

/* Allocation: abort with a message on exhaustion; callers own the result. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray: p resized to nmemb * size, aborting on overflow. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf: a newly allocated formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Frees the *n strings of *v and the array itself, and sets *v to NULL and
 * *n to 0 (an array of owned strings: char **v; size_t n). */
void util_strv_free(char ***v, size_t *n);

/* Growable arrays: an element pointer with a count and a capacity,
 *   worker_t **workers; size_t nworkers, capworkers;
 *   ARRAY_PUSH(c->workers, c->nworkers, c->capworkers, w);
 * util_grow returns p resized to hold at least need elements of size bytes,
 * at least doubling *cap (from 8), and stores the new capacity in *cap; it
 * aborts on overflow.  ARRAY_RESERVE makes room for extra more elements,
 * ARRAY_PUSH appends one (a and n are evaluated more than once). */
void *util_grow(void *p, size_t need, size_t *cap, size_t size);
#define ARRAY_RESERVE(a, n, cap, extra)                                                            \
  ((n) + (extra) > (cap) ? (void)((a) = util_grow((a), (n) + (extra), &(cap), sizeof *(a)))       \
                         : (void)0)
#define ARRAY_PUSH(a, n, cap, v) (ARRAY_RESERVE(a, n, cap, 1), (void)((a)[(n)++] = (v)))

/* A growable NUL-terminated byte buffer.  Zero-initialise, append, and
 * release with sbuf_free (or take buf with sbuf_steal). */
typedef struct sbuf {
  char *buf;
  size_t len;
  size_t cap;
} sbuf_t;

void sbuf_reserve(sbuf_t *sb, size_t extra);
void sbuf_append(sbuf_t *sb, const char *data, size_t len);
void sbuf_puts(sbuf_t *sb, const char *s);
void sbuf_putc(sbuf_t *sb, char c);
void sbuf_printf(sbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_reset(sbuf_t *sb);
/* sbuf_steal: returns the buffer (caller owns it, never NULL) and empties sb. */
char *sbuf_steal(sbuf_t *sb);
void sbuf_free(sbuf_t *sb);

/* Clocks.  Wall time is for records, monotonic time for durations. */
int64_t util_wall_us(void);
uint64_t util_mono_us(void);
/* util_iso8601: formats unix microseconds as "2026-11-26T04:10:10.123456Z"
 * into out (at least 32 bytes). */
void util_iso8601(int64_t us, char *out, size_t outlen);

/* Error messages for functions that report into a caller's buffer
 * (char *err, size_t errlen).  util_fail formats the message into err
 * (nothing when err is NULL or errlen is 0, cut to errlen - 1 bytes) and
 * returns -1, so that such a function can end with
 * `return util_fail(err, errlen, "cannot open %s: %s", path, strerror(errno))`.
 * util_fail_line does the same and then turns control characters into
 * spaces, for messages that quote user text and must stay one line;
 * util_vfail_line is its va_list form. */
int util_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int util_fail_line(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int util_vfail_line(char *err, size_t errlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Identifiers (project, episode, shot, job and worker names, tags, key
 * names) match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}; they keep their case and
 * are compared as bytes (SH010 and sh010 differ). */
/* True when s is one or more ASCII digits and nothing else. */
bool util_all_digits(const char *s);

#define IDENT_MAX 64
bool ident_valid(const char *s);
/* The rule ident_valid checks, as error messages print it. */
#define IDENT_PATTERN "[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"

/* An identifier made from a free-form name (a login name, a hostname):
 * uppercase ASCII letters lowercased, leading characters up to the first
 * letter or digit dropped, every other character an identifier may not
 * contain (bytes of multi-byte UTF-8 included) replaced by '-', and the
 * result cut to IDENT_MAX bytes.  Returns a valid identifier (caller
 * frees), or NULL when s is NULL or holds no ASCII letter or digit. */
char *util_ident_from(const char *s) MUSTCHECK;

/* Reads fd to its end, at most max bytes, into a NUL-terminated buffer
 * (caller frees) and stores the number of bytes read in *len unless len is
 * NULL.  Returns NULL with errno set (EFBIG when there is more than max).
 * Retries on EINTR; does not close fd. */
char *util_read_fd(int fd, size_t max, size_t *len) MUSTCHECK;

/* Reads a whole file of at most max bytes as util_read_fd does (caller
 * frees).  Returns NULL with errno set (EFBIG when larger). */
char *util_read_file(const char *path, size_t max, size_t *len);

/* The directory that holds the running executable (/proc/self/exe without
 * its last component; caller frees), or NULL with errno set. */
char *util_exe_dir(void);

/* Creates dir and its parents with the given mode; 0 or -1 with errno. */
int util_mkdir_p(const char *dir, unsigned mode) MUSTCHECK;

/* read(2) retried on EINTR: the number of bytes read (0 at end of file),
 * or -1 with errno set. */
ssize_t util_read(int fd, void *buf, size_t len) MUSTCHECK;

/* Writes len bytes to fd, retrying on EINTR and short writes; 0 or -1. */
int util_write_all(int fd, const void *buf, size_t len) MUSTCHECK;

/* Replaces path with len bytes of data: writes and fsyncs path.tmp (created
 * with mode), then renames it over path, so that readers see the old file
 * or the new one, never a part.  Returns 0, or -1 with errno set, path.tmp
 * removed and "cannot write FILE: reason" (FILE the one that failed) in err
 * unless err is NULL. */
int util_write_atomic(const char *path, const void *data, size_t len, unsigned mode, char *err,
                      size_t errlen) MUSTCHECK;

/* Parses a decimal unsigned integer within [min, max]; 0 or -1. */
int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) MUSTCHECK;

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void util_hex(const unsigned char *in, size_t n, char *out);

#endif
