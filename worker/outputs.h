/*
 * outputs.h - checking a task's declared outputs: confinement to the
 * task's output directory, the kind of file, size and SHA-256 (libsodium,
 * streamed in blocks).  These functions block on the file system; the
 * runner calls them on the libuv thread pool.
 *
 * An output is accepted only when it names a regular file inside the
 * output directory: a relative path is taken below it, an absolute one
 * must start with it; no component may be "..", and no component may be a
 * symbolic link (each directory is opened with O_NOFOLLOW relative to the
 * one before, starting from a descriptor of the output directory that the
 * runner opened before the task ran).  The file itself is opened with
 * O_NOFOLLOW|O_NONBLOCK (a FIFO neither blocks the open nor is read),
 * checked with fstat, and exactly the st_size bytes that fstat reported
 * are hashed from that descriptor: what is recorded is what was read.
 */
#ifndef CLAPPER_WORKER_OUTPUTS_H
#define CLAPPER_WORKER_OUTPUTS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define OUTPUTS_SHA256_HEX 65 /* 64 hex digits and a NUL */

typedef struct outputs_file {
  char *path;           /* as declared (owned) */
  int present;          /* 1 when the file was found (even if refused) */
  uint64_t size;        /* bytes hashed */
  char sha256[OUTPUTS_SHA256_HEX]; /* lowercase hex of an accepted file, else "" */
  int err;                         /* errno of a failed open or read, else 0 */
  const char *refused;             /* why the output is not accepted (static text), else NULL */
} outputs_file_t;

/* Streams the st_size bytes of the regular file open on fd through
 * SHA-256, checking *stop (when not NULL) between blocks.  Returns 0 with
 * the hex digest and the bytes read in *size; -1 with errno set (EINTR
 * when *stop became non-zero, ESTALE when the file ended early). */
int outputs_sha256_fd(int fd, uint64_t st_size, const atomic_int *stop,
                      char hex[OUTPUTS_SHA256_HEX], uint64_t *size) MUSTCHECK;

/* Checks every file of files[0..n) against the output directory
 * output_dir, open on dirfd (O_PATH is enough), as described above,
 * filling the present, size, sha256, err and refused fields.  Stops early
 * when *stop (may be NULL) becomes non-zero, returning -1; else 0.
 * Thread-safe; touches nothing but files[]. */
int outputs_check(int dirfd, const char *output_dir, outputs_file_t *files, size_t n,
                  const atomic_int *stop);

/* The path of declared below output_dir: a pointer into declared (the
 * part after output_dir and its slashes for an absolute path, declared
 * itself for a relative one), or NULL with *why set when it points
 * elsewhere or contains "..".  An empty result names output_dir itself. */
const char *outputs_relative(const char *output_dir, const char *declared, const char **why);

#endif
