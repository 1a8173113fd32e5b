/*
 * logstream.h - streaming each attempt's log (WORKDIR/logs/ATTEMPT.log,
 * its stdout and stderr) to the coordinator while it runs.
 *
 * Best effort: the whole log stays in the workdir; nothing is journaled.
 * What the coordinator receives, in Logs messages (LogChunk{attempt_id,
 * offset, data}):
 *   - every LOGSTREAM_TICK_MS while attempts are tracked, one Logs message
 *     with what each attempt's log gained since the bytes last sent: at
 *     most LOGSTREAM_CHUNK_BYTES per attempt per tick, at most about
 *     LOGSTREAM_MSG_BYTES per message (the rest goes next tick; the
 *     attempts served first rotate from tick to tick);
 *   - when an attempt ends (logstream_finish), everything it has not sent
 *     yet, in chunks of at most LOGSTREAM_CHUNK_BYTES, in as many Logs
 *     messages of about LOGSTREAM_MSG_BYTES as it takes, at once.
 * For one attempt, chunks are contiguous and in order: each starts where
 * the previous one ended, the first at offset 0.  Nothing beyond max_bytes
 * of a log is sent (the last chunk is cut at max_bytes; the attempt is
 * then no longer followed).  A send that fails (no coordinator connected)
 * sends nothing and leaves the offsets as they were: the same bytes are
 * read again and retried next tick, so at most one message's worth is
 * ever held in memory.  An ended attempt whose log could not all be sent
 * keeps being retried each tick for LOGSTREAM_LINGER_MS, then dropped.
 */
#ifndef CLAPPER_WORKER_LOGSTREAM_H
#define CLAPPER_WORKER_LOGSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "codec.h"

#define LOGSTREAM_TICK_MS 250
#define LOGSTREAM_CHUNK_BYTES ((size_t)64 << 10)
#define LOGSTREAM_MSG_BYTES ((size_t)1 << 20)
#define LOGSTREAM_LINGER_MS 30000

typedef struct logstream logstream_t;

/* Sends env (borrowed) now without blocking.  Returns 0, or -1 with errno
 * when nothing was sent. */
typedef int (*logstream_send_cb)(void *arg, envelope_t *env);

/* Creates a streamer on loop that sends through send(arg, ...) at most
 * max_bytes of each attempt's log; max_bytes 0 disables streaming
 * (logstream_add then does nothing).  Release with logstream_close. */
logstream_t *logstream_new(uv_loop_t *loop, uint64_t max_bytes, logstream_send_cb send, void *arg);

/* Starts following attempt_id's log at path (copied), opened read-only
 * here, from offset 0, and starts the tick timer if it is not running.
 * Returns 0, or -1 with errno when the file cannot be opened (the attempt
 * then runs without streaming; a warning is logged). */
int logstream_add(logstream_t *ls, uint64_t attempt_id, const char *path);

/* The attempts ids[0..n) ended: sends what each has not sent yet (up to
 * max_bytes), now, before the caller sends their Results, and stops
 * following them (their files are closed).  Ids not followed are ignored.
 * When a send fails, the unsent rest is retried by the ticks (see above).
 * With whole (n entries, may be NULL), whole[i] says whether ids[i]'s log
 * has now been sent to its end (not cut at max_bytes, nothing left to
 * retry). */
void logstream_finish(logstream_t *ls, const uint64_t *ids, size_t n, bool *whole);

/* Number of attempts followed (running, or ended with log still to send). */
size_t logstream_count(const logstream_t *ls);

/* Closes every file, drops what was not sent and releases the streamer
 * once libuv has closed its timer; sets *ls to NULL. */
void logstream_close(logstream_t **ls);

#endif
