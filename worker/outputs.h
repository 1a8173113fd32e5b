/*
 * outputs.h - checking a task's declared outputs: existence, size and
 * SHA-256 (libsodium, streamed in blocks).  These functions block on the
 * file system; the runner calls them on the libuv thread pool.
 */
#ifndef CLAPPER_WORKER_OUTPUTS_H
#define CLAPPER_WORKER_OUTPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define OUTPUTS_SHA256_HEX 65 /* 64 hex digits and a NUL */

typedef struct outputs_file {
  char *path;           /* as declared (owned) */
  int present;          /* 1 when stat() found it */
  uint64_t size;        /* st_size when present */
  char sha256[OUTPUTS_SHA256_HEX]; /* lowercase hex of a regular file, else "" */
  int err;              /* errno of a failed stat or read, else 0 */
} outputs_file_t;

/* Streams the file at path through SHA-256.  Returns 0 with the hex digest
 * in hex and the number of bytes read in *size, or -1 with errno set. */
int outputs_sha256_file(const char *path, char hex[OUTPUTS_SHA256_HEX], uint64_t *size) MUSTCHECK;

/* Stats every file of files[0..n) and hashes the regular ones, filling the
 * present, size, sha256 and err fields.  Thread-safe; touches nothing but
 * files[]. */
void outputs_check(outputs_file_t *files, size_t n);

/* Resolves a declared output path against dir when it is relative.
 * Returns a new string (caller frees). */
char *outputs_resolve(const char *dir, const char *path);

#endif
